using System.Security.Cryptography.X509Certificates;

namespace Vellum.Core.Identity;

/// <summary>
/// How a client trusts a node, as ACL clients do: the node's TLS certificate must chain to exactly the service
/// certificate it was given (custom root trust, no system roots, no revocation lists, nothing downloaded, host name
/// not checked). The chain also checks each certificate's validity period.
/// </summary>
public static class ServiceCertificatePin
{
    /// <summary>True when <paramref name="presented"/> chains to <paramref name="serviceCertificate"/>.</summary>
    public static bool Accepts(X509Certificate? presented, X509Certificate2 serviceCertificate)
    {
        ArgumentNullException.ThrowIfNull(serviceCertificate);
        if (presented is not X509Certificate2 certificate)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(serviceCertificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;

        // The presented certificate is the peer's choice: its AIA URLs must not make this process fetch anything.
        chain.ChainPolicy.DisableCertificateDownloads = true;
        return chain.Build(certificate);
    }
}
