using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Vellum.Node.Auth;
using Vellum.Node.Ledgers;
using Vellum.Node.Service;

namespace Vellum.Node.Endpoints;

/// <summary>Collections, governance, enclave quotes, the identity service and health.</summary>
internal static class ServiceEndpoints
{
    /// <summary>
    /// The constitution: the rules this node enforces, in words. There is no governance (proposals, votes) yet, so
    /// this is a description, not a script that runs.
    /// </summary>
    public const string Constitution =
        "Vellum constitution v1 (descriptive; no governance engine runs yet).\n" +
        "1. Users are identified by the SHA-256 fingerprint of their TLS client certificate, or an object id.\n" +
        "2. Reader may read entries, receipts, status, collections, users and governance.\n" +
        "3. Contributor may also write entries.\n" +
        "4. Administrator may also add, change and remove users; the last Administrator cannot be removed.\n" +
        "5. Every user change and every entry is a ledger transaction; nothing is updated or deleted in place.\n" +
        "6. The members are the bootstrap Administrators named when the ledger was created.\n";

    public static void Map(IEndpointRouteBuilder app, LedgerRegistry ledgers)
    {
        app.MapGet("/app/collections", context => Collections(context, LedgerRouting.Of(context))).Requires(EndpointAccess.DataPlane, LedgerActions.EntriesRead)
            .Describe("Collections that have entries.");
        app.MapGet("/app/governance/constitution", context => GetConstitution(context)).Requires(EndpointAccess.DataPlane, LedgerActions.EntriesRead)
            .Describe("The rules this node enforces (descriptive).");
        app.MapGet("/app/governance/members", context => Members(context, LedgerRouting.Of(context))).Requires(EndpointAccess.DataPlane, LedgerActions.EntriesRead)
            .Describe("The bootstrap Administrators' certificates.");
        app.MapGet("/app/enclaveQuotes", context => Quotes(context, LedgerRouting.Of(context))).Requires(EndpointAccess.DataPlane, LedgerActions.EntriesRead)
            .Describe("A virtual quote: a measurement of the running binary, no hardware root of trust.");
        app.MapGet("/ledgerIdentity/{ledgerId}", context => Identity(context, ledgers)).Requires(EndpointAccess.Open)
            .Describe("The service certificate clients pin.");
        app.MapGet("/node/health/live", context => AclResponses.Json(context, writer => writer.WriteString("status", "Live"))).Requires(EndpointAccess.Open)
            .Describe("Liveness.");
        app.MapGet("/node/health/ready", context => context.Features.Get<LedgerService>() is { } ledger ? Ready(context, ledger) : NodeReady(context)).Requires(EndpointAccess.Open)
            .Describe("Readiness (503 while a cluster member catches up), with the last and committed seqno.");
        app.MapGet("/node/network", Network).Requires(EndpointAccess.Open)
            .Describe("The cluster as this node sees it: members (with node ids), primary, view, this node's progress.");
    }

    private static async Task Collections(HttpContext context, LedgerService ledger)
    {
        var collections = ledger.Collections();
        await AclResponses.Json(context, writer =>
        {
            writer.WriteStartArray("collections");
            foreach (var id in collections)
            {
                writer.WriteStartObject();
                writer.WriteString("collectionId", id);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }).ConfigureAwait(false);
    }

    private static async Task GetConstitution(HttpContext context)
    {
        var digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Constitution)));
        await AclResponses.Json(context, writer =>
        {
            writer.WriteString("digest", digest);
            writer.WriteString("script", Constitution);
        }).ConfigureAwait(false);
    }

    private static async Task Members(HttpContext context, LedgerService ledger)
    {
        var members = ledger.Members();
        await AclResponses.Json(context, writer =>
        {
            writer.WriteStartArray("members");
            foreach (var (id, pem) in members)
            {
                writer.WriteStartObject();
                writer.WriteString("certificate", pem);
                writer.WriteString("id", id);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// A <b>virtual</b> quote: the SHA-256 of the running node binary and of the node's public key, with no hardware
    /// root of trust. It tells an auditor which build answered; it does not protect memory from the operator.
    /// </summary>
    private static async Task Quotes(HttpContext context, LedgerService ledger)
    {
        var nodeId = ledger.Node.NodeId;
        var measurement = VirtualAttestation.Measurement;
        var report = Encoding.UTF8.GetBytes(
            $"{{\"format\":\"vellum-virtual-v1\",\"platform\":\"virtual (no TEE: the operator can read node memory)\",\"measurement\":\"{measurement}\",\"nodeId\":\"{nodeId}\"}}");
        await AclResponses.Json(context, writer =>
        {
            writer.WriteString("currentNodeId", nodeId);
            writer.WriteStartObject("enclaveQuotes");
            writer.WriteStartObject(nodeId);
            writer.WriteString("nodeId", nodeId);
            writer.WriteString("mrenclave", measurement);
            writer.WriteString("quoteVersion", "virtual");
            writer.WriteString("raw", Convert.ToHexStringLower(report));
            writer.WriteEndObject();
            writer.WriteEndObject();
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>GET /ledgerIdentity/{name}</c>, on any host and without authentication: the ledger's service certificate,
    /// which its clients pin (404 <c>LedgerNotFound</c> for a name not served here).
    /// </summary>
    private static Task Identity(HttpContext context, LedgerRegistry ledgers)
    {
        var id = (string?)context.Request.RouteValues["ledgerId"];
        if (!ledgers.TryGet(id, out var ledger))
        {
            return AclResponses.Error(context, AclErrors.LedgerNotFound, $"No ledger '{id}' here.");
        }

        var pem = ledger.Service.ExportCertificatePem();
        var name = ledger.Name.Value;
        return AclResponses.Json(context, writer =>
        {
            writer.WriteString("ledgerId", name);
            writer.WriteString("ledgerTlsCertificate", pem);
        });
    }

    /// <summary>
    /// Ready when this node can serve what it holds: a single node at once; a cluster member when it is the primary,
    /// or a backup that knows a primary and has applied everything consensus has committed (so a node catching up
    /// answers 503).
    /// </summary>
    private static Task Ready(HttpContext context, LedgerService ledger)
    {
        var store = ledger.Store;
        var ready = IsReady(ledger);
        if (!ready)
        {
            context.Response.StatusCode = 503;
        }

        return AclResponses.Json(context, writer =>
        {
            writer.WriteString("status", ready ? "Ready" : "CatchingUp");
            writer.WriteNumber("lastSeqno", ledger.LastSeqno);
            writer.WriteNumber("committedSeqno", store.CommittedSeqno);
        });
    }

    private static bool IsReady(LedgerService ledger)
    {
        if (!ledger.IsCluster)
        {
            return true;
        }

        // A member that knows no users yet (the first primary's Administrators not yet committed, or not yet applied
        // here) can authorize nothing, so it is not ready either.
        var consensus = ledger.Consensus;
        return ledger.Users.Count > 0 &&
            (ledger.IsPrimary || (consensus.LeaderEndPoint is not null && consensus.AppliedIndex >= consensus.CommitIndex));
    }

    /// <summary>
    /// The node's readiness when no ledger is named and there is no <c>default</c>: a cluster member is ready once it
    /// leads, or knows the leader and has applied what is committed; a single node always.
    /// </summary>
    private static Task NodeReady(HttpContext context)
    {
        var ready = IsNodeReady(context.RequestServices.GetRequiredService<LedgerRegistry>());
        return AclResponses.Json(context, writer => writer.WriteString("status", ready ? "Ready" : "CatchingUp"), ready ? 200 : 503);
    }

    private static bool IsNodeReady(LedgerRegistry registry) =>
        registry.Membership?.Log is not { } log || log.IsLeader || (log.LeaderEndPoint is not null && log.AppliedIndex >= log.CommitIndex);

    /// <summary>
    /// The cluster as this node sees it: members, the primary, and this node's own progress — of the ledger the request
    /// names (<c>default</c>'s when it names none); asked as the deployment (discovery between members,
    /// <see cref="DeploymentIdentity.ServerName"/>), or naming none on a node without <c>default</c>, the consensus
    /// group's alone.
    /// </summary>
    private static Task Network(HttpContext context)
    {
        var registry = context.RequestServices.GetRequiredService<LedgerRegistry>();
        var ledger = context.Features.Get<LedgerService>();
        var membership = registry.Membership;
        var log = membership?.Log;
        var options = context.RequestServices.GetRequiredService<NodeOptions>();
        var isPrimary = ledger?.IsPrimary ?? membership?.IsPrimary ?? true;
        var primaryUrl = ledger is not null ? ledger.PrimaryUrl : membership?.PrimaryUrl;
        var nodeId = ledger?.Node.NodeId ?? registry.Identity?.Node.NodeId ?? (registry.All.Count > 0 ? registry.All[0].Node.NodeId : null);
        return AclResponses.Json(context, writer =>
        {
            writer.WriteString("role", isPrimary ? "Primary" : "Backup");
            if (ledger is not null)
            {
                writer.WriteNumber("view", ledger.View);
                writer.WriteNumber("durableSeqno", ledger.Store.DurableSeqno);
                writer.WriteNumber("committedSeqno", ledger.Store.CommittedSeqno);
                writer.WriteBoolean("ready", IsReady(ledger));
            }
            else
            {
                // The node's own readiness, as /node/health/ready answers it naming no ledger.
                writer.WriteBoolean("ready", IsNodeReady(registry));
            }

            if (log is not null)
            {
                // The Raft term this member is in: it changes only with an election, so watchers can tell one happened.
                writer.WriteNumber("term", log.Term);
                writer.WriteNumber("consensusCommitIndex", log.CommitIndex);
                writer.WriteNumber("appliedIndex", log.AppliedIndex);
                // The log holds no entries before the snapshot; a member behind it catches up from a peer's ledger.
                writer.WriteNumber("snapshotIndex", log.SnapshotIndex);
                if (ledger is not null)
                {
                    writer.WriteNumber("transactionsFetchedFromPeers", ledger.TransactionsFetched);
                }
            }

            var self = options.ClientUrl.ToString().TrimEnd('/');
            var primary = isPrimary ? self : primaryUrl?.ToString().TrimEnd('/');
            if (primary is null)
            {
                writer.WriteNull("primary");
            }
            else
            {
                writer.WriteString("primary", primary);
            }

            writer.WriteStartArray("nodes");
            writer.WriteStartObject();
            writer.WriteString("url", self);
            writer.WriteString("nodeAddress", options.NodeListen?.ToString());
            writer.WriteString("nodeId", nodeId);
            writer.WriteBoolean("isLocal", true);
            writer.WriteBoolean("isPrimary", isPrimary);
            writer.WriteEndObject();
            var leader = log?.LeaderEndPoint?.ToString();
            foreach (var (nodeAddress, url) in (membership?.Peers ?? ledger?.Peers ?? new Dictionary<string, Uri>()).OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                writer.WriteStartObject();
                writer.WriteString("url", url.ToString().TrimEnd('/'));
                writer.WriteString("nodeAddress", nodeAddress);
                if (membership?.NodeIdOf(nodeAddress) is { } peerId)
                {
                    // As discovery learnt it: what an operator's DELETE /node/members/{nodeAddress} retires.
                    writer.WriteString("nodeId", peerId.ToString());
                }

                writer.WriteBoolean("isLocal", false);
                writer.WriteBoolean("isPrimary", !isPrimary && nodeAddress == leader);
                if (membership is not null && membership.Statuses.TryGetValue(url.ToString().TrimEnd('/'), out var status))
                {
                    // As that member last reported it (members ask each other every 2 s).
                    writer.WriteString("reportedRole", status.Role);
                    writer.WriteNumber("reportedConsensusCommitIndex", status.ConsensusCommitIndex);
                    writer.WriteNumber("reportedMillisecondsAgo", (long)(DateTimeOffset.UtcNow - status.HeardAt).TotalMilliseconds);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        });
    }
}

/// <summary>The virtual attestation platform: a measurement of the running binary and nothing more.</summary>
internal static class VirtualAttestation
{
    private static readonly Lazy<string> LazyMeasurement = new(() =>
    {
        var path = typeof(VirtualAttestation).Assembly.Location;
        return string.IsNullOrEmpty(path) || !File.Exists(path)
            ? new string('0', 64)
            : Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
    });

    public static string Measurement => LazyMeasurement.Value;
}
