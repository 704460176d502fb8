using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Vellum.Core.Identity;
using Vellum.Node.Endpoints;

namespace Vellum.Node.Management;

/// <summary>Callers, lookups and the wire shapes of the control plane.</summary>
public sealed partial class ManagementApi
{
    /// <summary>Answers <paramref name="check"/>'s refusal in ARM's shape.</summary>
    private static Task Refuse(HttpContext context, OperatorCheck check)
    {
        check.Challenge(context.Response);
        return Error(context, check.Status, check.Refusal switch
        {
            OperatorRefusal.Unauthenticated or OperatorRefusal.InvalidToken => "AuthenticationFailed",
            OperatorRefusal.Damaged => "InvalidRequestContent",
            _ => "AuthorizationFailed",
        }, check.Message!);
    }

    /// <summary>The header in which a member names the host its caller used (the URLs the answer holds point there).</summary>
    private const string ForwardedHostHeader = "x-vellum-forwarded-host";

    /// <summary>The host the caller used: the request's, or the one a forwarding member named.</summary>
    private static HostString HostOf(HttpContext context) =>
        context.Items.TryGetValue(ForwardedHostHeader, out var named) && named is HostString host ? host : context.Request.Host;

    private static async Task<bool> RequireOwnerAsync(HttpContext context, OperatorCaller caller)
    {
        if (caller.Role == OperatorRole.Owner)
        {
            return true;
        }

        await Error(context, 403, "AuthorizationFailed", $"The operator '{caller.Id}' is a Reader; creating, changing and deleting ledgers is an Owner's.").ConfigureAwait(false);
        return false;
    }

    /// <summary>The resource of ledger <paramref name="name"/> and its provisioning state, or null when the control plane has none.</summary>
    private (LedgerResource Resource, string State)? Find(LedgerName name)
    {
        if (_busy.TryGetValue(name.Value, out var busy))
        {
            return (busy.Resource, busy.Operation.Kind == OperationKind.Create ? "Creating" : "Deleting");
        }

        if (!_ledgers.TryGet(name.Value, out var ledger) || ledger.IsClosing)
        {
            return null;
        }

        // The file is the truth (on a cluster the apply path rewrites it); the copy read is kept while the file is unchanged.
        var written = File.GetLastWriteTimeUtc(ledger.Folder.ResourceFile);
        if (!_resources.TryGetValue(name.Value, out var cached) || !ReferenceEquals(cached.Ledger, ledger) || cached.Written != written)
        {
            cached = (ledger, LedgerResource.Read(ledger.Folder.ResourceFile), written);
            _resources[name.Value] = cached;
        }

        return cached.Resource is { } resource ? (resource, "Succeeded") : null;
    }

    private IEnumerable<(LedgerResource Resource, string State)> Resources()
    {
        foreach (var name in _ledgers.All.Select(l => l.Name.Value).Concat(_busy.Keys).Distinct(StringComparer.Ordinal))
        {
            if (Find(LedgerName.Parse(name)) is { } found)
            {
                yield return found;
            }
        }
    }

    /// <summary>Whether a ledger of the name exists here (made by the control plane or not) or an operation holds it.</summary>
    private bool IsTaken(LedgerName name) => _busy.ContainsKey(name.Value) || _ledgers.TryGet(name.Value, out _);

    /// <summary>
    /// The port part of the URLs a resource names (<c>ledgerUri</c>, <c>identityServiceUri</c>): the port the caller
    /// reached the deployment on, none for 443.
    /// </summary>
    /// <summary>
    /// The port part of a ledger's URLs: the caller's (<see cref="PortOf"/>) when the main listener answers the control
    /// plane, else the main listener's, where the ledgers are (the control plane's own listener serves no ledger).
    /// </summary>
    private string LedgerPortOf(HttpContext context) =>
        _settings.Listen is null ? PortOf(context)
        : _listenPort() is var port && port == 443 ? string.Empty : string.Create(CultureInfo.InvariantCulture, $":{port}");

    private static string PortOf(HttpContext context) =>
        HostOf(context).Port is { } port && port != 443 ? string.Create(CultureInfo.InvariantCulture, $":{port}") : string.Empty;

    private void WriteResource(Utf8JsonWriter writer, LedgerResource resource, string state, string port)
    {
        var name = resource.Name.Value;
        writer.WriteString("id", $"/subscriptions/{resource.SubscriptionId}/resourceGroups/{resource.ResourceGroup}/providers/{ResourceType}/{name}");
        writer.WriteString("name", name);
        writer.WriteString("type", ResourceType);
        writer.WriteString("location", resource.Location);
        writer.WriteStartObject("tags");
        foreach (var (key, value) in resource.Tags)
        {
            writer.WriteString(key, value);
        }

        writer.WriteEndObject();
        writer.WriteStartObject("systemData");
        writer.WriteString("createdBy", resource.CreatedBy);
        writer.WriteString("createdByType", resource.CreatedByType);
        writer.WriteString("createdAt", resource.CreatedAt);
        writer.WriteString("lastModifiedBy", resource.LastModifiedBy);
        writer.WriteString("lastModifiedByType", resource.LastModifiedByType);
        writer.WriteString("lastModifiedAt", resource.LastModifiedAt);
        writer.WriteEndObject();
        writer.WriteStartObject("properties");
        writer.WriteString("ledgerName", name);
        writer.WriteString("ledgerUri", $"https://{name}.{_options.Domain}{port}");
        writer.WriteString("identityServiceUri", $"https://{_options.Domain}{port}/ledgerIdentity/{name}");
        writer.WriteString("ledgerInternalNamespace", name);
        writer.WriteString("ledgerType", resource.IsPrivate ? "Private" : "Public");
        writer.WriteString("provisioningState", state);
        writer.WriteString("runningState", state == "Succeeded" ? "Active" : "Unknown");
        writer.WriteString("ledgerSku", "Standard");
        writer.WriteStartArray("aadBasedSecurityPrincipals");
        foreach (var principal in resource.AadPrincipals)
        {
            writer.WriteStartObject();
            writer.WriteString("principalId", principal.PrincipalId);
            if (principal.TenantId is { } tenant)
            {
                writer.WriteString("tenantId", tenant);
            }

            writer.WriteString("ledgerRoleName", principal.Role);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteStartArray("certBasedSecurityPrincipals");
        foreach (var principal in resource.CertPrincipals)
        {
            writer.WriteStartObject();
            writer.WriteString("cert", principal.CertificatePem);
            writer.WriteString("ledgerRoleName", principal.Role);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static string OperationPath(ManagementOperation operation, bool asStatus) =>
        $"/subscriptions/{operation.SubscriptionId}/providers/{Provider}/locations/{Uri.EscapeDataString(operation.Location)}/{(asStatus ? "operationStatuses" : "operationResults")}/{operation.Id}";

    private static void WriteOperation(Utf8JsonWriter writer, ManagementOperation operation)
    {
        writer.WriteString("id", OperationPath(operation, asStatus: true));
        writer.WriteString("name", operation.Id);
        writer.WriteString("status", operation.Status);
        writer.WriteString("startTime", operation.StartTime);
        if (operation.EndTime is { } end)
        {
            writer.WriteString("endTime", end);
        }

        writer.WriteNumber("percentComplete", operation.IsDone ? 100 : 0);
        if (operation.Error is { } error)
        {
            writer.WriteStartObject("error");
            writer.WriteString("code", error.Code);
            writer.WriteString("message", error.Message);
            writer.WriteEndObject();
        }
    }

    /// <summary><c>Azure-AsyncOperation</c> (the status resource) or <c>Location</c> (the result), absolute, and <c>Retry-After</c>.</summary>
    private static void SetPollHeaders(HttpContext context, ManagementOperation operation, bool asyncOperation)
    {
        var url = $"https://{HostOf(context)}{OperationPath(operation, asyncOperation)}?api-version={Uri.EscapeDataString(context.Request.Query["api-version"].ToString())}";
        context.Response.Headers[asyncOperation ? "Azure-AsyncOperation" : "Location"] = url;
        context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
    }

    private static async Task<JsonDocument?> ReadBodyAsync(HttpContext context)
    {
        try
        {
            return await JsonDocument.ParseAsync(context.Request.Body, new JsonDocumentOptions { MaxDepth = 16 }, context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            await Error(context, 400, "InvalidRequestContent", $"The body is not JSON: {ex.Message}").ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>Answers ARM's error shape, <c>{"error":{"code","message"}}</c>.</summary>
    private static Task Error(HttpContext context, int status, string code, string message) =>
        AclResponses.Json(context, writer =>
        {
            writer.WriteStartObject("error");
            writer.WriteString("code", code);
            writer.WriteString("message", message);
            writer.WriteEndObject();
        }, status);

    private static Task Json(HttpContext context, int status, Action<Utf8JsonWriter> build) => AclResponses.Json(context, build, status);

    private static Task NotFound(HttpContext context) =>
        Error(context, 404, "NotFound", $"No control-plane resource at {context.Request.Method} {context.Request.Path}.");

    private static Task ResourceNotFound(HttpContext context, string resourceGroup, LedgerName name) =>
        Error(context, 404, "ResourceNotFound", $"The Resource '{ResourceType}/{name}' under resource group '{resourceGroup}' was not found.");

    private static Task MethodNotAllowed(HttpContext context) =>
        Error(context, 405, "MethodNotAllowed", $"{context.Request.Method} is not allowed on {context.Request.Path}.");
}
