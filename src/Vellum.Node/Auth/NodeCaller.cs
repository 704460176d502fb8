using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;
using Vellum.Core.Identity;
using Vellum.Node.Service;

namespace Vellum.Node.Auth;

/// <summary>
/// Whether the caller is another member of this service: its TLS client certificate is a node certificate endorsed
/// (signed) by the service identity and within its validity period (five minutes of clock skew allowed) — the same
/// test the Raft node channel applies to its peers. Only such a caller may name the user it acts for
/// (<see cref="ForwardedUserHeader"/>), fetch ledger frames, and a write it sends is never forwarded again.
/// </summary>
/// <remarks>
/// The endorsement is kept per (certificate instance, service certificate): Kestrel hands the same instance to every
/// request of a connection, and a backup forwards over a few long-lived connections, so the ECDSA verification runs
/// once per connection rather than once per forwarded write. Keyed by the service certificate too, because a node
/// hosting several ledgers checks callers against each ledger's own identity: a certificate endorsed by one ledger's
/// service key must never pass for another's. The validity dates are compared on every request, so a certificate
/// that expires while its connection stays open stops working there too. Both tables hold their keys weakly, so they
/// empty as connections close.
/// </remarks>
internal static class NodeCaller
{
    /// <summary>The header in which a backup names the caller it authenticated (the certificate fingerprint).</summary>
    public const string ForwardedUserHeader = "x-vellum-forwarded-user";

    private static readonly ConditionalWeakTable<X509Certificate2, ConditionalWeakTable<X509Certificate2, StrongBox<bool>>> Endorsed = new();

    /// <summary>True when <paramref name="certificate"/> is present, endorsed by the ledger's service identity and current.</summary>
    public static bool IsEndorsedNode(X509Certificate2? certificate, LedgerService ledger) =>
        IsEndorsedNode(certificate, ledger.Service.Certificate);

    /// <summary>True when <paramref name="certificate"/> is present, endorsed by <paramref name="serviceCertificate"/> and current.</summary>
    public static bool IsEndorsedNode(X509Certificate2? certificate, X509Certificate2 serviceCertificate)
    {
        if (certificate is null || !CertificateValidity.IsCurrent(certificate, DateTimeOffset.UtcNow))
        {
            return false;
        }

        var byService = Endorsed.GetValue(certificate, static _ => new ConditionalWeakTable<X509Certificate2, StrongBox<bool>>());
        return byService.GetValue(serviceCertificate, service => new StrongBox<bool>(CertificateEndorsement.IsEndorsedBy(certificate, service))).Value;
    }

    /// <summary>True when the request came over TLS with a current, endorsed node certificate (asks for it if not yet known).</summary>
    public static async Task<bool> IsFromNodeAsync(HttpContext context, LedgerService ledger)
    {
        return IsEndorsedNode(await ClientIdentity.CertificateAsync(context).ConfigureAwait(false), ledger);
    }
}
