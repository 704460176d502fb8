using System.Security.Cryptography.X509Certificates;

namespace Vellum.Core.Identity;

/// <summary>When a certificate a node issues for itself (its node certificate, a development TLS certificate) is renewed.</summary>
public static class CertificateRenewal
{
    /// <summary>True once less than a third of <paramref name="certificate"/>'s lifetime is left at <paramref name="now"/>.</summary>
    public static bool IsDue(X509Certificate2 certificate, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime());
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
        return notAfter - now < (notAfter - notBefore) / 3;
    }
}
