using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;
using Vellum.Core.Identity;

namespace Vellum.Node.Auth;

/// <summary>
/// Whether the caller is another member of this service: its TLS client certificate is a node certificate endorsed
/// (signed) by the service identity — the same test the Raft node channel applies to its peers. Only such a caller
/// may name the user it acts for (<see cref="ForwardedUserHeader"/>), and a write it sends is never forwarded again.
/// </summary>
/// <remarks>
/// The answer is kept per certificate instance: Kestrel hands the same instance to every request of a connection,
/// and a backup forwards over a few long-lived connections, so the ECDSA verification runs once per connection
/// rather than once per forwarded write. The table holds the certificates weakly, so it empties as connections close.
/// </remarks>
internal static class NodeCaller
{
    /// <summary>The header in which a backup names the caller it authenticated (the certificate fingerprint).</summary>
    public const string ForwardedUserHeader = "x-vellum-forwarded-user";

    private static readonly ConditionalWeakTable<X509Certificate2, StrongBox<bool>> Endorsed = new();

    /// <summary>True when <paramref name="certificate"/> is present and endorsed by <paramref name="serviceCertificate"/>.</summary>
    public static bool IsEndorsedNode(X509Certificate2? certificate, X509Certificate2 serviceCertificate)
    {
        if (certificate is null)
        {
            return false;
        }

        return Endorsed.GetValue(certificate, c => new StrongBox<bool>(CertificateEndorsement.IsEndorsedBy(c, serviceCertificate))).Value;
    }

    /// <summary>True when the request came over TLS with an endorsed node certificate (asks for it if not yet known).</summary>
    public static async Task<bool> IsFromNodeAsync(HttpContext context, X509Certificate2 serviceCertificate)
    {
        return IsEndorsedNode(await ClientIdentity.CertificateAsync(context).ConfigureAwait(false), serviceCertificate);
    }
}
