using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;
using Vellum.Node.Ledgers;
using Vellum.Node.Service;

namespace Vellum.Node.Auth;

/// <summary>
/// Whether the caller is another member of this service: its TLS client certificate is a node certificate endorsed
/// (signed) by the service identity, within its validity period (five minutes of clock skew allowed), and of a node
/// key the deployment has not retired — the same test the Raft node channel applies to its peers. Only such a caller
/// may name the user it acts for (<see cref="ForwardedUserHeader"/>), fetch ledger frames, and a write it sends is
/// never forwarded again.
/// </summary>
/// <remarks>
/// The endorsement is kept per (certificate instance, service certificate): Kestrel hands the same instance to every
/// request of a connection, and a backup forwards over a few long-lived connections, so the ECDSA verification runs
/// once per connection rather than once per forwarded write. Keyed by the service certificate too, because a node
/// hosting several ledgers checks callers against each ledger's own identity: a certificate endorsed by one ledger's
/// service key must never pass for another's. The validity dates and the retired list are checked on every request,
/// so a certificate that expires, or a node retired, while its connection stays open stops working there too. Both
/// tables hold their keys weakly, so they empty as connections close.
/// </remarks>
internal static class NodeCaller
{
    /// <summary>The header in which a backup names the caller it authenticated (the certificate fingerprint).</summary>
    public const string ForwardedUserHeader = "x-vellum-forwarded-user";

    private static readonly ConditionalWeakTable<X509Certificate2, ConditionalWeakTable<X509Certificate2, Endorsement>> Endorsed = new();

    /// <summary>
    /// True when <paramref name="certificate"/> is present, endorsed by the ledger's service identity, current, and not
    /// of a node the deployment retired (<see cref="LedgerRegistry.RetiredNodes"/>).
    /// </summary>
    public static bool IsEndorsedNode(HttpContext context, X509Certificate2? certificate, LedgerService ledger) =>
        IsEndorsedNode(certificate, ledger.Service.Certificate, context.RequestServices.GetRequiredService<LedgerRegistry>().RetiredNodes);

    /// <summary>
    /// True when <paramref name="certificate"/> is present, endorsed by <paramref name="serviceCertificate"/>, current,
    /// and not of a node key in <paramref name="retired"/> (none when null).
    /// </summary>
    public static bool IsEndorsedNode(X509Certificate2? certificate, X509Certificate2 serviceCertificate, IRetiredNodes? retired = null)
    {
        if (certificate is null || !CertificateValidity.IsCurrent(certificate, DateTimeOffset.UtcNow))
        {
            return false;
        }

        var byService = Endorsed.GetValue(certificate, static _ => new ConditionalWeakTable<X509Certificate2, Endorsement>());
        var endorsement = byService.GetValue(serviceCertificate, service => Endorsement.Of(certificate, service));
        return endorsement.IsEndorsed && (retired is null || !retired.IsRetired(endorsement.NodeId));
    }

    /// <summary>True when the request came over TLS with a current, endorsed, unretired node certificate (asks for it if not yet known).</summary>
    public static async Task<bool> IsFromNodeAsync(HttpContext context, LedgerService ledger)
    {
        return IsEndorsedNode(context, await ClientIdentity.CertificateAsync(context).ConfigureAwait(false), ledger);
    }

    /// <summary>Whether a certificate is endorsed by one service identity, and its node id (of its public key).</summary>
    private sealed class Endorsement(bool isEndorsed, Hash32 nodeId)
    {
        public bool IsEndorsed { get; } = isEndorsed;

        public Hash32 NodeId { get; } = nodeId;

        public static Endorsement Of(X509Certificate2 certificate, X509Certificate2 service) =>
            CertificateEndorsement.IsEndorsedBy(certificate, service) && NodeIdentity.TryComputeNodeId(certificate, out var nodeId)
                ? new Endorsement(true, nodeId)
                : new Endorsement(false, default);
    }
}
