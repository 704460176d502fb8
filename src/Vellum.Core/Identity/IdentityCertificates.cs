using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Vellum.Core.Identity;

/// <summary>Plumbing shared by the service and node identities: serials, PEM loading, key checks.</summary>
internal static class IdentityCertificates
{
    /// <summary>ACL's service and node certificates are P-384 signed with ecdsa-with-SHA384; so are ours.</summary>
    public static readonly HashAlgorithmName SignatureHash = HashAlgorithmName.SHA384;

    /// <summary>How far back a default NotBefore is set, so a peer whose clock lags a little still accepts the cert.</summary>
    public static readonly TimeSpan ClockSkewAllowance = TimeSpan.FromMinutes(5);

    public static ECDsa NewKey() => ECDsa.Create(ECCurve.NamedCurves.nistP384);

    /// <summary>A random positive 16-byte serial whose first byte is non-zero, so its DER form is exactly 16 bytes.</summary>
    public static byte[] NewSerialNumber()
    {
        var serial = new byte[16];
        RandomNumberGenerator.Fill(serial);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x40);
        return serial;
    }

    public static DateTimeOffset DefaultNotBefore() =>
        DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()) - ClockSkewAllowance;

    /// <summary>Loads the first certificate in a PEM string; false (never an exception) on anything unusable.</summary>
    public static bool TryLoadCertificatePem(string? pem, [NotNullWhen(true)] out X509Certificate2? certificate)
    {
        certificate = null;
        if (string.IsNullOrEmpty(pem))
        {
            return false;
        }

        try
        {
            certificate = X509Certificate2.CreateFromPem(pem);
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    public static X509Certificate2 LoadCertificatePem(string pem, string paramName)
    {
        ArgumentNullException.ThrowIfNull(pem, paramName);
        return TryLoadCertificatePem(pem, out var certificate)
            ? certificate
            : throw new ArgumentException("The text does not contain a PEM certificate.", paramName);
    }

    /// <summary>
    /// Imports an EC private key (PKCS#8 <c>PRIVATE KEY</c> or SEC1 <c>EC PRIVATE KEY</c>) and checks it belongs to
    /// <paramref name="certificate"/>.
    /// </summary>
    public static ECDsa LoadMatchingPrivateKey(string privateKeyPem, X509Certificate2 certificate, string paramName)
    {
        ArgumentNullException.ThrowIfNull(privateKeyPem, paramName);
        if (!PemEncoding.TryFind(privateKeyPem, out var fields)
            || privateKeyPem.AsSpan()[fields.Label] is not ("PRIVATE KEY" or "EC PRIVATE KEY"))
        {
            throw new ArgumentException("The text does not contain a PEM EC private key.", paramName);
        }

        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(privateKeyPem.AsSpan()[fields.Location]);
            using var certificateKey = certificate.GetECDsaPublicKey()
                ?? throw new ArgumentException("The certificate's public key is not an EC key.", paramName);
            if (!key.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(certificateKey.ExportSubjectPublicKeyInfo()))
            {
                throw new ArgumentException("The private key does not belong to the certificate.", paramName);
            }

            return key;
        }
        catch (CryptographicException e)
        {
            key.Dispose();
            throw new ArgumentException("The private key could not be imported.", paramName, e);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    public static string ToPem(X509Certificate2 certificate) => certificate.ExportCertificatePem() + "\n";

    public static string ToPem(ECDsa privateKey) => privateKey.ExportPkcs8PrivateKeyPem() + "\n";
}
