using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Vellum.Core.Identity;

/// <summary>
/// The service identity: a self-signed P-384 CA certificate (ACL's "ledger identity certificate"). It issues node
/// certificates, and clients pin it to verify TLS connections and receipts.
/// </summary>
/// <remarks>
/// An instance either holds the private key (the service itself) or only the certificate (verifiers); see
/// <see cref="HasPrivateKey"/> and <see cref="ToPublicOnly"/>.
/// </remarks>
public sealed class ServiceIdentity : IDisposable
{
    private readonly ECDsa? _privateKey;

    private ServiceIdentity(X509Certificate2 certificate, ECDsa? privateKey)
    {
        Certificate = certificate;
        _privateKey = privateKey;
    }

    /// <summary>The service certificate, without its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>True when this instance can issue node certificates and endorsements.</summary>
    public bool HasPrivateKey => _privateKey is not null;

    /// <summary>
    /// Creates a new key and self-signed certificate: basicConstraints CA:TRUE pathLen 0 (critical),
    /// keyUsage keyCertSign (critical), SKI, and AKI equal to the SKI as in ACL's service certificates.
    /// </summary>
    public static ServiceIdentity Create(ServiceIdentityOptions? options = null)
    {
        options ??= new ServiceIdentityOptions();
        ArgumentException.ThrowIfNullOrWhiteSpace(options.SubjectName, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.Validity, TimeSpan.Zero, nameof(options));

        var subject = new X500DistinguishedName(options.SubjectName);
        var key = IdentityCertificates.NewKey();
        try
        {
            var request = new CertificateRequest(subject, key, IdentityCertificates.SignatureHash);
            AddCaExtensions(request);
            var ski = new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false);
            request.CertificateExtensions.Add(ski);
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(ski));

            var notBefore = options.NotBefore ?? IdentityCertificates.DefaultNotBefore();
            var certificate = request.Create(
                subject,
                X509SignatureGenerator.CreateForECDsa(key),
                notBefore,
                notBefore + options.Validity,
                IdentityCertificates.NewSerialNumber());
            return new ServiceIdentity(certificate, key);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Imports a service identity from a PEM certificate and, optionally, its PEM private key (PKCS#8 or SEC1).
    /// Without a key the result is public-only, which is all a verifier needs.
    /// </summary>
    /// <exception cref="ArgumentException">The PEM text is not a certificate, the key is unusable or does not match.</exception>
    public static ServiceIdentity FromPem(string certificatePem, string? privateKeyPem = null)
    {
        var certificate = IdentityCertificates.LoadCertificatePem(certificatePem, nameof(certificatePem));
        try
        {
            using (var publicKey = certificate.GetECDsaPublicKey())
            {
                if (publicKey is null)
                {
                    throw new ArgumentException("A service identity certificate has an EC key.", nameof(certificatePem));
                }
            }

            var key = privateKeyPem is null
                ? null
                : IdentityCertificates.LoadMatchingPrivateKey(privateKeyPem, certificate, nameof(privateKeyPem));
            return new ServiceIdentity(certificate, key);
        }
        catch
        {
            certificate.Dispose();
            throw;
        }
    }

    /// <summary>Reads <see cref="FromPem"/>'s inputs from files.</summary>
    public static ServiceIdentity LoadPemFiles(string certificatePath, string? privateKeyPath = null) =>
        FromPem(File.ReadAllText(certificatePath), privateKeyPath is null ? null : File.ReadAllText(privateKeyPath));

    /// <summary>A public-only copy (certificate, no key) to hand to verifiers.</summary>
    public ServiceIdentity ToPublicOnly() => new(X509CertificateLoader.LoadCertificate(Certificate.RawDataMemory.Span), null);

    /// <summary>The certificate as PEM, ending in a newline.</summary>
    public string ExportCertificatePem() => IdentityCertificates.ToPem(Certificate);

    /// <summary>The private key as PKCS#8 PEM (<c>-----BEGIN PRIVATE KEY-----</c>), ending in a newline.</summary>
    /// <exception cref="InvalidOperationException">This identity is public-only.</exception>
    public string ExportPrivateKeyPem() => IdentityCertificates.ToPem(RequirePrivateKey());

    /// <summary>
    /// Endorses a previous service identity after a renewal or recovery: a certificate with the previous service's
    /// subject and public key, signed by this identity. Such certificates are what a receipt's
    /// <c>serviceEndorsements</c> carries (oldest to latest) so that receipts signed under the old identity still
    /// verify against the current one.
    /// </summary>
    /// <returns>The endorsement certificate as PEM.</returns>
    public string CreateEndorsement(X509Certificate2 previousServiceCertificate)
    {
        ArgumentNullException.ThrowIfNull(previousServiceCertificate);
        var issuerKey = RequirePrivateKey();
        var request = new CertificateRequest(
            previousServiceCertificate.SubjectName, previousServiceCertificate.PublicKey, IdentityCertificates.SignatureHash);
        AddCaExtensions(request);
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(
            X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));

        using var endorsement = request.Create(
            Certificate.SubjectName,
            X509SignatureGenerator.CreateForECDsa(issuerKey),
            IdentityCertificates.DefaultNotBefore(),
            new DateTimeOffset(Certificate.NotAfter.ToUniversalTime()),
            IdentityCertificates.NewSerialNumber());
        return IdentityCertificates.ToPem(endorsement);
    }

    /// <summary>The key that signs node certificates; only <see cref="NodeIdentity"/> uses it.</summary>
    internal ECDsa RequirePrivateKey() =>
        _privateKey ?? throw new InvalidOperationException("This service identity is public-only; it has no private key.");

    /// <inheritdoc />
    public void Dispose()
    {
        _privateKey?.Dispose();
        Certificate.Dispose();
    }

    private static void AddCaExtensions(CertificateRequest request)
    {
        request.CertificateExtensions.Add(
            new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, critical: true));
    }
}
