using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Primitives;

namespace Vellum.Core.Identity;

/// <summary>
/// A node's P-384 key and its certificate issued by the service identity. The node signs Merkle roots with it,
/// and a receipt carries the certificate so verifiers can check the signature and the endorsement.
/// </summary>
public sealed class NodeIdentity : IDisposable
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1", "Server Authentication");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2", "Client Authentication");

    private readonly ECDsa _privateKey;

    // An ECDsa instance is not documented as safe for concurrent use; signatures are rare (one per signature
    // transaction), so a lock costs nothing that matters.
    private readonly Lock _signLock = new();

    private NodeIdentity(X509Certificate2 certificate, ECDsa privateKey)
    {
        Certificate = certificate;
        _privateKey = privateKey;
        NodeId = ComputeNodeId(certificate);
    }

    /// <summary>The node certificate, without its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>Lower-case hex SHA-256 of the certificate's DER SubjectPublicKeyInfo, as in a receipt's <c>nodeId</c>.</summary>
    public string NodeId { get; }

    /// <summary>
    /// Creates a key and a certificate issued by <paramref name="issuer"/>: basicConstraints CA:FALSE (critical),
    /// keyUsage digitalSignature, EKU serverAuth and clientAuth, SKI, AKI = the service SKI, and the given SANs.
    /// </summary>
    /// <exception cref="InvalidOperationException"><paramref name="issuer"/> is public-only.</exception>
    public static NodeIdentity Create(ServiceIdentity issuer, NodeIdentityOptions? options = null) =>
        Issue(issuer, options, IdentityCertificates.NewKey());

    /// <summary>
    /// As <see cref="Create"/>, for a key the node already has (PEM, PKCS#8 or SEC1): how one node key is endorsed by
    /// each ledger it hosts, so that every ledger's signatures name the same node id.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="privateKeyPem"/> holds no usable P-384 key.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="issuer"/> is public-only.</exception>
    public static NodeIdentity CreateForKey(ServiceIdentity issuer, string privateKeyPem, NodeIdentityOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(privateKeyPem);
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(privateKeyPem);
            if (key.KeySize != 384)
            {
                throw new ArgumentException($"a node key is a P-384 key, not a {key.KeySize}-bit one", nameof(privateKeyPem));
            }
        }
        catch (CryptographicException ex)
        {
            key.Dispose();
            throw new ArgumentException($"the node key is unusable: {ex.Message}", nameof(privateKeyPem), ex);
        }
        catch
        {
            key.Dispose();
            throw;
        }

        return Issue(issuer, options, key);
    }

    /// <summary>Issues the node certificate for <paramref name="key"/>, which the identity then owns (disposed on failure).</summary>
    private static NodeIdentity Issue(ServiceIdentity issuer, NodeIdentityOptions? options, ECDsa key)
    {
        try
        {
            ArgumentNullException.ThrowIfNull(issuer);
            options ??= new NodeIdentityOptions();
            ArgumentException.ThrowIfNullOrWhiteSpace(options.SubjectName, nameof(options));
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.Validity, TimeSpan.Zero, nameof(options));
            var issuerKey = issuer.RequirePrivateKey();
            var request = new CertificateRequest(new X500DistinguishedName(options.SubjectName), key, IdentityCertificates.SignatureHash);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: false));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuth, ClientAuth], critical: false));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
            request.CertificateExtensions.Add(
                X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer.Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
            if (options.DnsNames.Count > 0 || options.IPAddresses.Count > 0)
            {
                var san = new SubjectAlternativeNameBuilder();
                foreach (var name in options.DnsNames)
                {
                    san.AddDnsName(name);
                }

                foreach (var address in options.IPAddresses)
                {
                    san.AddIpAddress(address);
                }

                request.CertificateExtensions.Add(san.Build());
            }

            var notBefore = options.NotBefore ?? IdentityCertificates.DefaultNotBefore();
            var issuerNotAfter = new DateTimeOffset(issuer.Certificate.NotAfter.ToUniversalTime());
            var notAfter = notBefore + options.Validity;
            if (notAfter > issuerNotAfter)
            {
                notAfter = issuerNotAfter;
            }

            var certificate = request.Create(
                issuer.Certificate.SubjectName,
                X509SignatureGenerator.CreateForECDsa(issuerKey),
                notBefore,
                notAfter,
                IdentityCertificates.NewSerialNumber());
            return new NodeIdentity(certificate, key);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Whether the certificate should be renewed at <paramref name="now"/>: less than a third of its lifetime is left
    /// (about four months of the default year), or it has expired.
    /// </summary>
    public bool ShouldRenew(DateTimeOffset now) => CertificateRenewal.IsDue(Certificate, now);

    /// <summary>
    /// A new certificate for the same key, issued by <paramref name="issuer"/> with the same subject and subjectAltNames
    /// and a fresh validity period (<paramref name="validity"/>, default <see cref="NodeIdentityOptions.DefaultValidity"/>).
    /// The key, and so <see cref="NodeId"/>, stays: signatures the node made before still name it.
    /// </summary>
    /// <exception cref="InvalidOperationException"><paramref name="issuer"/> is public-only.</exception>
    public NodeIdentity Renew(ServiceIdentity issuer, TimeSpan? validity = null)
    {
        ArgumentNullException.ThrowIfNull(issuer);
        var issuerKey = issuer.RequirePrivateKey();
        var key = ECDsa.Create();
        try
        {
            key.ImportPkcs8PrivateKey(_privateKey.ExportPkcs8PrivateKey(), out _);
            var request = new CertificateRequest(Certificate.SubjectName, key, IdentityCertificates.SignatureHash);
            foreach (var extension in Certificate.Extensions)
            {
                // The same extensions (constraints, key usage, EKU, SKI, SANs); the AKI is made for the issuer anew.
                if (extension is not X509AuthorityKeyIdentifierExtension)
                {
                    request.CertificateExtensions.Add(extension);
                }
            }

            request.CertificateExtensions.Add(
                X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer.Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
            var notBefore = IdentityCertificates.DefaultNotBefore();
            var notAfter = notBefore + (validity ?? NodeIdentityOptions.DefaultValidity);
            var issuerNotAfter = new DateTimeOffset(issuer.Certificate.NotAfter.ToUniversalTime());
            if (notAfter > issuerNotAfter)
            {
                notAfter = issuerNotAfter;
            }

            var certificate = request.Create(
                issuer.Certificate.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey), notBefore, notAfter, IdentityCertificates.NewSerialNumber());
            return new NodeIdentity(certificate, key);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>Imports a node identity from its PEM certificate and PEM private key (PKCS#8 or SEC1).</summary>
    /// <exception cref="ArgumentException">The PEM text is unusable or the key does not match the certificate.</exception>
    public static NodeIdentity FromPem(string certificatePem, string privateKeyPem)
    {
        var certificate = IdentityCertificates.LoadCertificatePem(certificatePem, nameof(certificatePem));
        try
        {
            return new NodeIdentity(certificate, IdentityCertificates.LoadMatchingPrivateKey(privateKeyPem, certificate, nameof(privateKeyPem)));
        }
        catch
        {
            certificate.Dispose();
            throw;
        }
    }

    /// <summary>Reads <see cref="FromPem"/>'s inputs from files.</summary>
    public static NodeIdentity LoadPemFiles(string certificatePath, string privateKeyPath) =>
        FromPem(File.ReadAllText(certificatePath), File.ReadAllText(privateKeyPath));

    /// <summary>The certificate as PEM, ending in a newline (the form a receipt's <c>cert</c> carries).</summary>
    public string ExportCertificatePem() => IdentityCertificates.ToPem(Certificate);

    /// <summary>The private key as PKCS#8 PEM, ending in a newline.</summary>
    public string ExportPrivateKeyPem() => IdentityCertificates.ToPem(_privateKey);

    /// <summary>
    /// A new copy of the certificate with its private key, loaded the way SslStream wants it on every platform (an
    /// ephemeral key is not usable for TLS everywhere): the node's TLS certificate, as server and as client. The
    /// caller owns and disposes it.
    /// </summary>
    public X509Certificate2 CreateTlsCertificate()
    {
        using var withKey = X509Certificate2.CreateFromPem(ExportCertificatePem(), ExportPrivateKeyPem());
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), password: null);
    }

    /// <summary>
    /// Signs a Merkle root the way CCF does: the 32-byte root is used directly as the ECDSA message digest (no
    /// further hashing), and the signature is DER encoded.
    /// </summary>
    public byte[] SignRoot(Hash32 root)
    {
        Span<byte> digest = stackalloc byte[Hash32.Size];
        root.CopyTo(digest);
        lock (_signLock)
        {
            return _privateKey.SignHash(digest, DSASignatureFormat.Rfc3279DerSequence);
        }
    }

    /// <summary>Verifies a <see cref="SignRoot"/> signature with a node certificate's EC key; false on any malformed input.</summary>
    public static bool VerifyRootSignature(X509Certificate2? certificate, Hash32 root, ReadOnlySpan<byte> signature)
    {
        if (certificate is null)
        {
            return false;
        }

        ECDsa? key;
        try
        {
            key = certificate.GetECDsaPublicKey();
        }
        catch (CryptographicException)
        {
            return false;
        }

        using (key)
        {
            return VerifyRootSignature(key, root, signature);
        }
    }

    /// <summary>Verifies a <see cref="SignRoot"/> signature with an EC public key; false on any malformed input.</summary>
    public static bool VerifyRootSignature(ECDsa? publicKey, Hash32 root, ReadOnlySpan<byte> signature)
    {
        if (publicKey is null)
        {
            return false;
        }

        Span<byte> digest = stackalloc byte[Hash32.Size];
        root.CopyTo(digest);
        try
        {
            return publicKey.VerifyHash(digest, signature, DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>Lower-case hex SHA-256 of the certificate's DER SubjectPublicKeyInfo, byte for byte as encoded in it.</summary>
    public static string ComputeNodeId(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return TryComputeNodeId(certificate.RawDataMemory, out var id)
            ? id.ToString()
            : throw new ArgumentException("The certificate's SubjectPublicKeyInfo could not be read.", nameof(certificate));
    }

    /// <summary>The node id of <paramref name="certificate"/> as a digest; false when its public key cannot be read.</summary>
    public static bool TryComputeNodeId(X509Certificate2 certificate, out Hash32 nodeId)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return TryComputeNodeId(certificate.RawDataMemory, out nodeId);
    }

    /// <summary>The node id of a DER certificate as a digest; false when the DER cannot be read.</summary>
    internal static bool TryComputeNodeId(ReadOnlyMemory<byte> certificateDer, out Hash32 nodeId)
    {
        if (!CertificateDer.TryGetSubjectPublicKeyInfo(certificateDer, out var spki))
        {
            nodeId = default;
            return false;
        }

        nodeId = Hash32.Compute(spki.Span);
        return true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _privateKey.Dispose();
        Certificate.Dispose();
    }
}
