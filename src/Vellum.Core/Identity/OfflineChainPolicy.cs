using System.Security.Cryptography.X509Certificates;

namespace Vellum.Core.Identity;

/// <summary>
/// The X.509 chain policy for every TLS handshake a node takes part in (client port, node channel, and the node's own
/// HTTPS clients), and for pinning: a chain may be built, but never online.
/// </summary>
/// <remarks>
/// By default SslStream builds a chain for the peer's certificate before any callback runs, and that chain fetches
/// the missing issuers named in the certificate's AIA "CA Issuers" URLs (and, unless told otherwise, revocation
/// lists). A peer chooses those URLs, so the default turns every handshake into a request the peer aims from the
/// node's network position (a blind SSRF) and a wait the peer controls (a pre-authentication DoS). Nothing the node
/// decides depends on such a chain: users are authorized by fingerprint, nodes by endorsement of the service key,
/// and the service CA publishes no revocation lists.
/// </remarks>
public static class OfflineChainPolicy
{
    /// <summary>A new policy: no certificate downloads, no revocation checks (each options object owns its copy).</summary>
    public static X509ChainPolicy Create() => new()
    {
        DisableCertificateDownloads = true,
        RevocationMode = X509RevocationMode.NoCheck,
    };
}
