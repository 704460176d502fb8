using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using DotNext.Net.Security;
using Microsoft.Extensions.Logging;
using Vellum.Core.Identity;

namespace Vellum.Consensus.Raft;

/// <summary>
/// Mutual TLS on the node channel: each side presents its node certificate, and accepts the other only if the
/// service identity endorsed (signed) the peer's certificate and the peer's node key is not retired.
/// </summary>
/// <remarks>
/// Chain and name errors are ignored on purpose: node certificates are issued by the service's own CA, which is in
/// no trust store, and carry no name that matches how peers address each other. Endorsement by the service key is
/// the trust decision, as it is for receipts (<see cref="CertificateEndorsement"/>), together with the certificate's
/// validity period (<see cref="CertificateValidity"/>, five minutes of clock skew) and the retired node keys
/// (<see cref="IRetiredNodes"/>: checked at each handshake, so a connection opened before a retirement lasts until
/// it closes; by then consensus has removed that member). What it does not check: which
/// endorsed node sits at which address (any endorsed node can claim any member address).
/// </remarks>
internal static class PeerAuthentication
{
    // Sent as SNI only; no certificate name is checked against it.
    private const string TargetHost = "vellum-node";

    public static SslOptions CreateOptions(NodeTlsCertificate nodeCertificate, X509Certificate2 serviceCertificate, IRetiredNodes? retired, ILogger logger)
    {
        bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
            IsEndorsedPeer(certificate, serviceCertificate, retired, errors, logger);

        // Selected per handshake, so that a renewed node certificate is presented from the next connection on.
        return new SslOptions
        {
            ServerOptions = new SslServerAuthenticationOptions
            {
                ServerCertificateSelectionCallback = (_, _) => nodeCertificate.Certificate,
                ClientCertificateRequired = true,
                RemoteCertificateValidationCallback = Validate,
                // Our CA publishes no revocation lists; checking would only wait on the network and fail. And the
                // chain SslStream builds before Validate runs must not fetch the AIA URLs a peer put in its certificate.
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                CertificateChainPolicy = OfflineChainPolicy.Create(),
            },
            ClientOptions = new SslClientAuthenticationOptions
            {
                TargetHost = TargetHost,
                LocalCertificateSelectionCallback = (_, _, _, _, _) => nodeCertificate.Certificate,
                RemoteCertificateValidationCallback = Validate,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                CertificateChainPolicy = OfflineChainPolicy.Create(),
            },
        };
    }

    /// <summary>
    /// True when <paramref name="certificate"/> is present, endorsed by <paramref name="serviceCertificate"/>, current,
    /// and not of a node key in <paramref name="retired"/>.
    /// </summary>
    internal static bool IsEndorsedPeer(X509Certificate? certificate, X509Certificate2 serviceCertificate, IRetiredNodes? retired, SslPolicyErrors errors, ILogger logger)
    {
        if (certificate is null)
        {
            LogMessages.PeerWithoutCertificate(logger, errors.ToString());
            return false;
        }

        // SslStream hands over an X509Certificate2 in practice; load one from the DER bytes if it ever does not.
        var peer = certificate as X509Certificate2;
        using var loaded = peer is null ? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()) : null;
        peer ??= loaded!;
        // Endorsed and current: node certificates expire (and are renewed before they do), so an old one, found or
        // kept, stops working.
        if (CertificateEndorsement.IsEndorsedBy(peer, serviceCertificate) && CertificateValidity.IsCurrent(peer, DateTimeOffset.UtcNow))
        {
            if (retired is null || (NodeIdentity.TryComputeNodeId(peer, out var nodeId) && !retired.IsRetired(nodeId)))
            {
                return true;
            }

            LogMessages.RetiredPeerRejected(logger, peer.Subject, peer.Thumbprint);
            return false;
        }

        LogMessages.PeerRejected(logger, peer.Subject, peer.Thumbprint);
        return false;
    }
}
