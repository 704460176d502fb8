using System.Security.Cryptography.X509Certificates;

namespace Vellum.Core.Identity;

/// <summary>Whether a certificate is within its validity period, give or take the clock skew peers may have.</summary>
/// <remarks>
/// For authentication only (users, nodes). Receipts are verified without it, as ACL and CCF verify them: a receipt
/// stays checkable after the node certificate in it has expired.
/// </remarks>
public static class CertificateValidity
{
    /// <summary>How far a peer's clock may be off: five minutes, as node certificates' NotBefore allows for.</summary>
    public static readonly TimeSpan ClockSkew = IdentityCertificates.ClockSkewAllowance;

    /// <summary>True when <paramref name="now"/> is within NotBefore − <see cref="ClockSkew"/> … NotAfter + <see cref="ClockSkew"/>.</summary>
    public static bool IsCurrent(X509Certificate2 certificate, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var utc = now.UtcDateTime;
        return certificate.NotBefore.ToUniversalTime() - ClockSkew <= utc && utc <= certificate.NotAfter.ToUniversalTime() + ClockSkew;
    }
}
