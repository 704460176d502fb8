using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Vellum.Core.Identity;
using Vellum.Node.Forwarding;
using Vellum.Node.Ledgers;
using Vellum.Node.Service;

namespace Vellum.Node.Management;

/// <summary>
/// The control plane, shaped as Azure Resource Manager's <c>Microsoft.ConfidentialLedger</c> provider (api-versions
/// 2022-05-13 and 2026-02-23), so that Azure's management clients create, read, list, update and delete ledgers here:
/// <c>/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ConfidentialLedger/ledgers/{name}</c>, the lists by
/// resource group and subscription, <c>checkNameAvailability</c>, <c>operations</c> and the operation-status resources.
/// Answered on the deployment's host name only (a ledger's host name gets 404), in ARM's error shape. A ledger belongs
/// to the caller's tenant; another tenant's ledgers are not found. Creation and deletion are long-running operations
/// (<see cref="ManagementOperation"/>); a change is answered when done.
/// </summary>
public sealed partial class ManagementApi : IDisposable
{
    private const string Provider = "Microsoft.ConfidentialLedger";
    private const string ResourceType = "Microsoft.ConfidentialLedger/ledgers";
    private const int RetryAfterSeconds = 1;
    private const int MaxTags = 50;
    private const int MaxPrincipals = 100;
    private static readonly string[] Versions = ["2022-05-13", "2026-02-23"];
    private static readonly TimeSpan FirstUsersTimeout = TimeSpan.FromSeconds(30);

    private readonly LedgerRegistry _ledgers;
    private readonly NodeOptions _options;
    private readonly ManagementOptions _settings;
    private readonly ILogger _logger;
    private readonly Func<string, bool> _isLedgerHost;
    private readonly Func<int> _listenPort;
    private readonly OperationStore _operations;
    private readonly DeploymentOperators _operators;
    private readonly ConcurrentDictionary<string, (ManagementOperation Operation, LedgerResource Resource)> _busy = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (LedgerService Ledger, LedgerResource? Resource, DateTime Written)> _resources = new(StringComparer.Ordinal);
    private readonly Lock _reserving = new();
    private readonly SemaphoreSlim _changing = new(1, 1); // one change (PATCH) at a time: each reads the resource the last wrote
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, byte> _running = new();

    /// <param name="ledgers">The node's ledgers (opened).</param>
    /// <param name="options">The node's options (its <see cref="NodeOptions.Management"/> validated).</param>
    /// <param name="operators">Who the deployment's operators are.</param>
    /// <param name="isLedgerHost">Whether a host name is a ledger's (<c>{name}.{domain}</c>).</param>
    /// <param name="listenPort">The main listener's port as bound (the ledgers' URLs name it when the control plane has a listener of its own).</param>
    /// <param name="logger">Where operations are logged.</param>
    internal ManagementApi(LedgerRegistry ledgers, NodeOptions options, DeploymentOperators operators, Func<string, bool> isLedgerHost, Func<int> listenPort, ILogger logger)
    {
        _listenPort = listenPort;
        _ledgers = ledgers;
        _options = options;
        _settings = options.Management;
        _operators = operators;
        _isLedgerHost = isLedgerHost;
        _logger = logger;
        _operations = OperationStore.Open(Path.Combine(options.DataDirectory, "node", "operations"));
    }

    /// <summary>Whether <paramref name="path"/> is the control plane's.</summary>
    public static bool IsManagementPath(PathString path) =>
        path.StartsWithSegments("/subscriptions", StringComparison.OrdinalIgnoreCase) ||
        path.StartsWithSegments("/providers/" + Provider, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// With a listener of the control plane's own (<see cref="ManagementOptions.Listen"/>): 404, in ARM's shape, for the
    /// control plane on the main listener and for anything else on the control plane's.
    /// </summary>
    public static Task NotOnThisListenerAsync(HttpContext context) =>
        Error(context, 404, "NotFound", IsManagementPath(context.Request.Path)
            ? "The control plane is served on its own listener (--management-listen), not on this one."
            : "This listener serves the control plane only; ledgers are served on the node's main listener.");

    /// <summary>Answers a control-plane request (<see cref="IsManagementPath"/>).</summary>
    public async Task HandleAsync(HttpContext context)
    {
        // A member forwarding an operator's request names the operator and the host the operator used; only a member
        // node may (checked before anything else is read).
        var fromMember = DeploymentOperators.IsFromMember(context);
        OperatorCheck? early = null;
        if (fromMember)
        {
            early = await _operators.AuthenticateAsync(context).ConfigureAwait(false);
            if (early.Value.Caller is null)
            {
                await Refuse(context, early.Value).ConfigureAwait(false);
                return;
            }
        }

        var onOwnListener = _settings.Listen is { } own && context.Connection.LocalPort == own.Port; // any host name there
        if (!fromMember && !onOwnListener && (_isLedgerHost(context.Request.Host.Host) ||
            context.Features.Get<Microsoft.AspNetCore.Connections.Features.ITlsHandshakeFeature>()?.HostName is { Length: > 0 } serverName && _isLedgerHost(serverName)))
        {
            await Error(context, 404, "NotFound", "The control plane is served on the deployment's host name, not on a ledger's.").ConfigureAwait(false);
            return;
        }

        var segments = context.Request.Path.Value!.Trim('/').Split('/');
        var version = context.Request.Query["api-version"];
        if (version.Count == 0 || string.IsNullOrEmpty(version[0]))
        {
            await Error(context, 400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.").ConfigureAwait(false);
            return;
        }

        if (version.Count != 1 || !Versions.Contains(version[0], StringComparer.OrdinalIgnoreCase))
        {
            await Error(context, 400, "InvalidApiVersionParameter",
                $"The api-version '{version}' is invalid. The supported versions are '{string.Join(",", Versions)}'.").ConfigureAwait(false);
            return;
        }

        var authenticated = early ?? await _operators.AuthenticateAsync(context).ConfigureAwait(false);
        if (authenticated.Caller is not { } caller)
        {
            await Refuse(context, authenticated).ConfigureAwait(false);
            return;
        }

        if (fromMember && context.Request.Headers[ForwardedHostHeader].ToString() is { Length: > 0 } forwardedHost)
        {
            context.Items[ForwardedHostHeader] = new HostString(forwardedHost);
        }

        if (_options.NodeListen is not null)
        {
            // A cluster member may send a change (or a status request) on to the primary: the body must be readable twice.
            WriteForwarder.PrepareReplay(context, _options.MaxRequestBodyBytes);
        }

        var method = context.Request.Method;
        if (Is(segments, 0, "providers") && segments.Length == 3 && Is(segments, 2, "operations") && HttpMethods.IsGet(method))
        {
            await ListOperationsAsync(context).ConfigureAwait(false);
            return;
        }

        if (segments.Length < 4 || !Is(segments, 0, "subscriptions"))
        {
            await NotFound(context).ConfigureAwait(false);
            return;
        }

        var subscription = segments[1];
        if (!IsSubscriptionId(subscription))
        {
            await Error(context, 400, "InvalidSubscriptionId", $"The subscription '{subscription}' is not 1 to 64 of A-Z a-z 0-9 and -.").ConfigureAwait(false);
            return;
        }

        // /subscriptions/{sub}/providers/Microsoft.ConfidentialLedger/…
        if (Is(segments, 2, "providers") && Is(segments, 3, Provider))
        {
            var rest = segments[4..];
            if (rest.Length == 1 && Is(rest, 0, "checkNameAvailability") && HttpMethods.IsPost(method))
            {
                await CheckNameAvailabilityAsync(context).ConfigureAwait(false);
            }
            else if ((rest.Length == 1 || (rest.Length == 2 && rest[1].Length == 0)) && Is(rest, 0, "ledgers") && HttpMethods.IsGet(method))
            {
                await ListAsync(context, caller, subscription, resourceGroup: null).ConfigureAwait(false);
            }
            else if (rest.Length == 4 && Is(rest, 0, "locations") && (Is(rest, 2, "operationStatuses") || Is(rest, 2, "operationResults")) && HttpMethods.IsGet(method))
            {
                await OperationAsync(context, caller, subscription, rest[1], rest[3], asStatus: Is(rest, 2, "operationStatuses")).ConfigureAwait(false);
            }
            else
            {
                await NotFound(context).ConfigureAwait(false);
            }

            return;
        }

        // /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ConfidentialLedger/ledgers[/{name}]
        if (segments.Length >= 7 && Is(segments, 2, "resourceGroups") && Is(segments, 4, "providers") && Is(segments, 5, Provider) && Is(segments, 6, "ledgers"))
        {
            var resourceGroup = segments[3];
            if (!IsResourceGroup(resourceGroup))
            {
                await Error(context, 400, "InvalidResourceGroupName", $"The resource group '{resourceGroup}' is not 1 to 90 of letters, digits, '-', '_', '.', '(' and ')' not ending in '.'.").ConfigureAwait(false);
                return;
            }

            if (segments.Length == 7 || (segments.Length == 8 && segments[7].Length == 0))
            {
                if (HttpMethods.IsGet(method))
                {
                    await ListAsync(context, caller, subscription, resourceGroup).ConfigureAwait(false);
                }
                else
                {
                    await MethodNotAllowed(context).ConfigureAwait(false);
                }

                return;
            }

            if (segments.Length == 8)
            {
                await LedgerAsync(context, caller, subscription, resourceGroup, segments[7]).ConfigureAwait(false);
                return;
            }
        }

        await NotFound(context).ConfigureAwait(false);
    }

    private async Task LedgerAsync(HttpContext context, OperatorCaller caller, string subscription, string resourceGroup, string nameText)
    {
        if (!LedgerName.TryParse(nameText, out var name, out var nameError))
        {
            await Error(context, 400, "InvalidResourceName", $"The ledger name '{nameText}' is not valid: {nameError}.").ConfigureAwait(false);
            return;
        }

        var method = context.Request.Method;
        if (HttpMethods.IsGet(method))
        {
            await GetAsync(context, caller, subscription, resourceGroup, name).ConfigureAwait(false);
        }
        else if (HttpMethods.IsPut(method) || HttpMethods.IsPatch(method))
        {
            if (!await RequireOwnerAsync(context, caller).ConfigureAwait(false))
            {
                return;
            }

            await PutAsync(context, caller, subscription, resourceGroup, name, isPatch: HttpMethods.IsPatch(method)).ConfigureAwait(false);
        }
        else if (HttpMethods.IsDelete(method))
        {
            if (!await RequireOwnerAsync(context, caller).ConfigureAwait(false))
            {
                return;
            }

            await DeleteAsync(context, caller, subscription, resourceGroup, name).ConfigureAwait(false);
        }
        else
        {
            await MethodNotAllowed(context).ConfigureAwait(false);
        }
    }

    private async Task GetAsync(HttpContext context, OperatorCaller caller, string subscription, string resourceGroup, LedgerName name)
    {
        if (Find(name) is not ({ } resource, var state) || !resource.IsAt(caller.TenantId, subscription, resourceGroup))
        {
            await ResourceNotFound(context, resourceGroup, name).ConfigureAwait(false);
            return;
        }

        await Json(context, 200, writer => WriteResource(writer, resource, state, LedgerPortOf(context))).ConfigureAwait(false);
    }

    private async Task ListAsync(HttpContext context, OperatorCaller caller, string subscription, string? resourceGroup)
    {
        bool? privateOnly = null;
        if (context.Request.Query["$filter"] is { Count: > 0 } filters)
        {
            var match = FilterPattern().Match(filters[0] ?? string.Empty);
            if (filters.Count != 1 || !match.Success)
            {
                await Error(context, 400, "InvalidFilter", $"The filter '{filters}' is not supported; use $filter=ledgerType eq 'Public' or 'Private'.").ConfigureAwait(false);
                return;
            }

            privateOnly = string.Equals(match.Groups[1].Value, "Private", StringComparison.OrdinalIgnoreCase);
        }

        var listed = Resources()
            .Where(r => r.Resource.IsAt(caller.TenantId, subscription, resourceGroup) && (privateOnly is null || r.Resource.IsPrivate == privateOnly))
            .OrderBy(r => r.Resource.Name.Value, StringComparer.Ordinal)
            .ToList();
        await Json(context, 200, writer =>
        {
            writer.WriteStartArray("value");
            foreach (var (resource, state) in listed)
            {
                writer.WriteStartObject();
                WriteResource(writer, resource, state, LedgerPortOf(context));
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }).ConfigureAwait(false);
    }

    private async Task CheckNameAvailabilityAsync(HttpContext context)
    {
        using var body = await ReadBodyAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        var root = body.RootElement;
        if (!root.TryGetProperty("name", out var nameElement) || nameElement.ValueKind != JsonValueKind.String)
        {
            await Error(context, 400, "InvalidRequestContent", "The body names no ledger: {\"name\": \"…\", \"type\": \"Microsoft.ConfidentialLedger/ledgers\"}.").ConfigureAwait(false);
            return;
        }

        if (root.TryGetProperty("type", out var type) && !string.Equals(type.GetString(), ResourceType, StringComparison.OrdinalIgnoreCase))
        {
            await Error(context, 400, "InvalidResourceType", $"Only names of '{ResourceType}' are checked here, not of '{type}'.").ConfigureAwait(false);
            return;
        }

        var text = nameElement.GetString()!;
        string? reason = null, message = null;
        if (!LedgerName.TryParse(text, out var name, out var nameError))
        {
            (reason, message) = ("Invalid", $"The name '{text}' is not valid: {nameError}.");
        }
        else if (IsTaken(name))
        {
            (reason, message) = ("AlreadyExists", $"The name '{name}' is taken: names are unique across the deployment, whatever the type.");
        }

        await Json(context, 200, writer =>
        {
            writer.WriteBoolean("nameAvailable", reason is null);
            if (reason is not null)
            {
                writer.WriteString("reason", reason);
                writer.WriteString("message", message);
            }
        }).ConfigureAwait(false);
    }

    private static async Task ListOperationsAsync(HttpContext context)
    {
        (string Name, string Operation, string Description)[] operations =
        [
            ($"{ResourceType}/read", "Read a ledger", "Reads a ledger or lists ledgers."),
            ($"{ResourceType}/write", "Create or update a ledger", "Creates a ledger or changes its principals and tags."),
            ($"{ResourceType}/delete", "Delete a ledger", "Deletes a ledger and all of its contents, irreversibly."),
            ($"{Provider}/checkNameAvailability/action", "Check a ledger name", "Says whether a ledger name is valid and free."),
            ($"{Provider}/operations/read", "List operations", "Lists the operations of this provider."),
        ];
        await Json(context, 200, writer =>
        {
            writer.WriteStartArray("value");
            foreach (var (name, operation, description) in operations)
            {
                writer.WriteStartObject();
                writer.WriteString("name", name);
                writer.WriteBoolean("isDataAction", false);
                writer.WriteStartObject("display");
                writer.WriteString("provider", Provider);
                writer.WriteString("resource", "Ledger");
                writer.WriteString("operation", operation);
                writer.WriteString("description", description);
                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }).ConfigureAwait(false);
    }

    private async Task OperationAsync(HttpContext context, OperatorCaller caller, string subscription, string location, string id, bool asStatus)
    {
        // A backup asks the primary about any operation it did not see end: the primary ran it, or judges it.
        if (!(_operations.TryGet(id, out var known) && known.IsDone) && await ForwardedAsync(context, caller).ConfigureAwait(false))
        {
            return;
        }

        var operation = Current(known, id, subscription, location, caller.TenantId);
        if (operation is null ||
            !string.Equals(operation.TenantId, caller.TenantId, StringComparison.OrdinalIgnoreCase) ||
            !string.Equals(operation.SubscriptionId, subscription, StringComparison.OrdinalIgnoreCase))
        {
            await Error(context, 404, "OperationNotFound", $"No operation '{id}' here.").ConfigureAwait(false);
            return;
        }

        if (asStatus)
        {
            await Json(context, 200, writer => WriteOperation(writer, operation)).ConfigureAwait(false);
            return;
        }

        // The Location URL: 202 while running, then what the request would have answered had it run synchronously.
        if (!operation.IsDone)
        {
            SetPollHeaders(context, operation, asyncOperation: false);
            context.Response.StatusCode = 202;
            return;
        }

        if (operation.Error is { } error)
        {
            await Error(context, error.Code == "Conflict" ? 409 : 500, error.Code, error.Message).ConfigureAwait(false);
            return;
        }

        if (operation.Kind == OperationKind.Create && _ledgers.TryGet(operation.LedgerName, out _) &&
            Find(LedgerName.Parse(operation.LedgerName)) is ({ } resource, var state))
        {
            await Json(context, 200, writer => WriteResource(writer, resource, state, LedgerPortOf(context))).ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = 200;
    }

    private static bool Is(string[] segments, int index, string value) =>
        segments.Length > index && string.Equals(segments[index], value, StringComparison.OrdinalIgnoreCase);

    private static bool IsSubscriptionId(string text) =>
        text.Length is > 0 and <= 64 && text.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');

    private static bool IsResourceGroup(string text) =>
        text.Length is > 0 and <= 90 && !text.EndsWith('.') && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '(' or ')');

    [System.Text.RegularExpressions.GeneratedRegex(@"^\s*ledgerType\s+eq\s+'(Public|Private)'\s*$", System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex FilterPattern();

    /// <summary>Stops taking operations and waits (at most 10 s) for those running.</summary>
    public async Task StopAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_running.Keys).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public void Dispose()
    {
        _stopping.Dispose();
        _changing.Dispose();
    }
}
