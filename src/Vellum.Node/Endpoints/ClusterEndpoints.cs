using System.Buffers;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Vellum.Node.Auth;
using Vellum.Node.Ledgers;
using Vellum.Node.Management;
using Vellum.Node.Service;

namespace Vellum.Node.Endpoints;

/// <summary>
/// Membership of a cluster, the deployment's (no ledger's): an operator (an Owner, <see cref="Management.DeploymentOperators"/>)
/// issues a join token; a new node trades it for the deployment's material (<c>POST /node/join</c>) and asks the primary
/// to add it (<c>POST /node/members</c>); an operator retires a member (<c>DELETE /node/members/{nodeAddress}</c>).
/// Served to requests that name no ledger (see <see cref="LedgerRouting"/>). Not in ACL's API (ACL manages nodes itself).
/// </summary>
internal static class ClusterEndpoints
{
    private const int BodyLimit = 4096;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/node/join-tokens", IssueToken).RequiresOperator(OperatorRole.Owner)
            .Describe("Operator (Owner): a join token for a new node.", 200, "lifetimeMinutes");
        app.MapPost("/node/join", Join).Requires(EndpointAccess.JoinToken)
            .Describe("A new node trades a join token for the deployment's material (token-authenticated).");
        app.MapPost("/node/members", AddMember).Requires(EndpointAccess.JoinToken)
            .Describe("A joined node asks the primary to add it (token-authenticated; backups forward or redirect).");
        app.MapDelete("/node/members/{nodeAddress}", RemoveMember).RequiresOperator(OperatorRole.Owner)
            .Describe("Operator (Owner): retire a member's node key, then remove it (primary; backups forward or redirect).");
    }

    private static async Task IssueToken(HttpContext context)
    {
        if (!await IsCluster(context).ConfigureAwait(false))
        {
            return;
        }

        var minutes = 60;
        if (context.Request.Query.TryGetValue("lifetimeMinutes", out var text) &&
            (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out minutes) || minutes is < 1 or > 7 * 24 * 60))
        {
            await AclResponses.Error(context, AclErrors.InvalidQueryParameterValue, "lifetimeMinutes is a whole number from 1 to 10080.").ConfigureAwait(false);
            return;
        }

        var expires = DateTimeOffset.UtcNow.AddMinutes(minutes);
        var token = JoinToken.Issue(Identity(context).JoinKey, expires);
        await AclResponses.Json(context, writer =>
        {
            writer.WriteString("token", token);
            writer.WriteString("expires", expires.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        }).ConfigureAwait(false);
    }

    /// <summary>Trades a valid token for what a new member needs. Authenticated by the token, not a client certificate.</summary>
    private static async Task Join(HttpContext context)
    {
        if (!await IsCluster(context).ConfigureAwait(false) || await ReadTokenRequest(context) is null)
        {
            return;
        }

        // The deployment's identity, whose service certificate the joining node pinned (join --service-cert), and every
        // ledger of the node: a member serves them all.
        var registry = context.RequestServices.GetRequiredService<LedgerRegistry>();
        var materials = registry.All.Where(l => !l.IsClosing).Select(l => l.Material()).ToList();
        var deployment = Identity(context).Material();
        var options = context.RequestServices.GetRequiredService<NodeOptions>();
        var developerFile = new Vellum.Storage.DataDirectory(options.DataDirectory).DevelopmentAdminCertificate;
        var developer = File.Exists(developerFile) ? await File.ReadAllTextAsync(developerFile, context.RequestAborted).ConfigureAwait(false) : null;
        await AclResponses.Json(context, writer =>
        {
            writer.WriteStartObject("deployment");
            writer.WriteString("serviceCertificate", deployment.ServiceCertificatePem);
            writer.WriteString("servicePrivateKey", deployment.ServicePrivateKeyPem);
            writer.WriteString("secret", deployment.SecretHex);
            writer.WriteEndObject();
            if (developer is not null)
            {
                // The development Administrator's certificate (public; its key stays here): an operator of the new
                // member as of this one where no operator is named.
                writer.WriteString("developmentAdministrator", developer);
            }

            writer.WriteStartArray("ledgers");
            foreach (var each in materials)
            {
                writer.WriteStartObject();
                writer.WriteString("name", each.Name);
                each.WriteFields(writer);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteStartArray("members");
            if (options.NodeListen is { } self)
            {
                Member(writer, self.ToString(), options.ClientUrl);
            }

            foreach (var (nodeAddress, url) in Membership(context).Peers)
            {
                Member(writer, nodeAddress, url);
            }

            writer.WriteEndArray();
        }).ConfigureAwait(false);
    }

    /// <summary>The deployment's identity (the caller checked that the node is a cluster member).</summary>
    private static DeploymentIdentity Identity(HttpContext context) =>
        context.RequestServices.GetRequiredService<LedgerRegistry>().Identity ?? throw new InvalidOperationException("this node is not a cluster member");

    /// <summary>The node's membership (the caller checked that the node is a cluster member).</summary>
    private static NodeMembership Membership(HttpContext context) =>
        context.RequestServices.GetRequiredService<LedgerRegistry>().Membership ?? throw new InvalidOperationException("this node is not a cluster member");

    private static void Member(Utf8JsonWriter writer, string nodeAddress, Uri url)
    {
        writer.WriteStartObject();
        writer.WriteString("nodeAddress", nodeAddress);
        writer.WriteString("url", url.ToString().TrimEnd('/'));
        writer.WriteEndObject();
    }

    /// <summary>Adds the node named in the body (on the primary; a backup redirects, as for any write).</summary>
    private static async Task AddMember(HttpContext context)
    {
        if (!await IsCluster(context).ConfigureAwait(false) || await ReadTokenRequest(context) is not { } request)
        {
            return;
        }

        if (request.NodeAddress is null || !IPEndPoint.TryParse(request.NodeAddress, out var nodeAddress) || nodeAddress.Port == 0 ||
            request.Url is null || !Uri.TryCreate(request.Url, UriKind.Absolute, out var url) || url.Scheme != Uri.UriSchemeHttps)
        {
            await AclResponses.Error(context, AclErrors.InvalidInput, "The body needs nodeAddress (ip:port) and url (https://…).").ConfigureAwait(false);
            return;
        }

        if (!await Membership(context).AddMemberAsync(nodeAddress, url, context.RequestAborted).ConfigureAwait(false))
        {
            await AclResponses.Error(context, AclErrors.MembershipChangeFailed, $"{nodeAddress} was not added (already a member, or another change is in progress).").ConfigureAwait(false);
            return;
        }

        await AclResponses.Json(context, writer => writer.WriteString("added", nodeAddress.ToString())).ConfigureAwait(false);
    }

    private static async Task RemoveMember(HttpContext context)
    {
        if (!await IsCluster(context).ConfigureAwait(false))
        {
            return;
        }

        var text = (string?)context.Request.RouteValues["nodeAddress"];
        if (!IPEndPoint.TryParse(text ?? string.Empty, out var nodeAddress) || nodeAddress.Port == 0)
        {
            await AclResponses.Error(context, AclErrors.InvalidInput, $"'{text}' is not a node address (ip:port).").ConfigureAwait(false);
            return;
        }

        var membership = Membership(context);
        if (!membership.IsPrimary)
        {
            // Retiring is a write: a backup forwards, redirects or refuses it like any other (see NodeHost).
            throw new Vellum.Storage.Ledger.NotPrimaryException();
        }

        // Retire the node's key first (committed, so every member refuses its certificates from then on), then take it
        // out of the configuration. A retry after a failed removal finds the key retired and only removes.
        var address = nodeAddress.ToString();
        if (address == context.RequestServices.GetRequiredService<NodeOptions>().NodeListen?.ToString())
        {
            await AclResponses.Error(context, AclErrors.MembershipChangeFailed,
                $"{address} is the primary, which cannot retire itself: stop it, and retire it through the member that becomes primary.").ConfigureAwait(false);
            return;
        }

        var nodeId = membership.NodeIdOf(address);
        if (nodeId is { } id)
        {
            await context.RequestServices.GetRequiredService<LedgerRegistry>().RetireNodeAsync(id, address, context.RequestAborted).ConfigureAwait(false);
        }

        if (!await membership.RemoveMemberAsync(nodeAddress, context.RequestAborted).ConfigureAwait(false))
        {
            await AclResponses.Error(context, AclErrors.MembershipChangeFailed,
                $"{nodeAddress} was not removed (not a member, or another change is in progress){(nodeId is null ? "" : "; its node key is retired")}.").ConfigureAwait(false);
            return;
        }

        // The others forget it as their discovery meets its retirement (within a round, 2 s); this node at once.
        membership.Forget(address);
        await AclResponses.Json(context, writer =>
        {
            writer.WriteString("removed", address);
            if (nodeId is { } retired)
            {
                writer.WriteString("retiredNodeId", retired.ToString());
            }
            else
            {
                // No member ever reported its id to this node (it was down since before this node started, and
                // node/peers does not name it): its certificates stay valid until they expire.
                writer.WriteNull("retiredNodeId");
            }
        }).ConfigureAwait(false);
    }

    /// <summary>True when the node is a cluster member; answered 400 <c>NotACluster</c> when not.</summary>
    private static async Task<bool> IsCluster(HttpContext context)
    {
        if (context.RequestServices.GetRequiredService<LedgerRegistry>().Membership is null)
        {
            await AclResponses.Error(context, AclErrors.NotACluster, "This node was started without --node-listen: it has no cluster to join or leave.").ConfigureAwait(false);
            return false;
        }

        return true;
    }

    private sealed record TokenRequest(string? Token, string? NodeAddress, string? Url);

    private static async Task<TokenRequest?> ReadTokenRequest(HttpContext context)
    {
        if (await RequestBody.ReadJsonAsync(context, BodyLimit).ConfigureAwait(false) is not { } body)
        {
            return null;
        }

        TokenRequest request;
        try
        {
            using var document = JsonDocument.Parse(body.AsMemory());
            var root = document.RootElement;
            string? Field(string name) => root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
            request = new TokenRequest(Field("token"), Field("nodeAddress"), Field("url"));
        }
        catch (JsonException)
        {
            await AclResponses.Error(context, AclErrors.InvalidInput, "The body is not JSON.").ConfigureAwait(false);
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body.Array!);
        }

        if (!JoinToken.IsValid(Identity(context).JoinKey, request.Token, DateTimeOffset.UtcNow))
        {
            await AclResponses.Error(context, AclErrors.InvalidJoinToken, "The join token is missing, malformed, not this service's, or expired.").ConfigureAwait(false);
            return null;
        }

        return request;
    }
}
