using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Identity;

namespace Vellum.Node.Forwarding;

/// <summary>The client for member-to-member HTTPS other than forwarded writes (<see cref="WriteForwarder"/> has its own).</summary>
internal static class PeerHttp
{
    /// <summary>
    /// A client that presents <paramref name="tls"/>'s certificate (selected per handshake, so a renewed one is presented
    /// on new connections) and accepts a server only with a current certificate <paramref name="service"/> endorsed.
    /// </summary>
    public static HttpClient Create(NodeTlsCertificate tls, X509Certificate2 service)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(2),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            SslOptions = new System.Net.Security.SslClientAuthenticationOptions
            {
                LocalCertificateSelectionCallback = (_, _, _, _, _) => tls.Certificate,
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is X509Certificate2 c && CertificateEndorsement.IsEndorsedBy(c, service) && CertificateValidity.IsCurrent(c, DateTimeOffset.UtcNow),
                // The chain SslStream builds before that callback must not go online (AIA URLs, revocation lists).
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                CertificateChainPolicy = OfflineChainPolicy.Create(),
            },
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>
    /// The client kept in <paramref name="field"/>, made there (<see cref="Create"/>) at the first call; one made by a
    /// call that lost a race is disposed. Kept until its owner disposes it.
    /// </summary>
    public static HttpClient Ensure(ref HttpClient? field, NodeTlsCertificate tls, X509Certificate2 service)
    {
        if (Volatile.Read(ref field) is { } existing)
        {
            return existing;
        }

        var client = Create(tls, service);
        if (Interlocked.CompareExchange(ref field, client, null) is { } raced)
        {
            client.Dispose();
            return raced;
        }

        return client;
    }
}
