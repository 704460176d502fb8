using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Vellum.Storage;
using Vellum.Storage.IO;

namespace Vellum.Node.Ledgers;

/// <summary>
/// The deployment's own TLS certificate: what a client gets that asks for the deployment's domain by name (SNI
/// <c>{domain}</c>), or that names nothing while the node serves no ledger <c>default</c>. Clients trust it through a CA,
/// not by pinning a ledger's service certificate, and reach any ledger through it by the path prefix
/// <c>/ledgers/{name}/…</c>. It is the operator's (<c>--tls-cert</c>/<c>--tls-key</c>), or else issued at start by a
/// development CA kept in the data folder's <c>credentials/</c>.
/// </summary>
public sealed class DeploymentCertificate
{
    private static readonly TimeSpan LeafValidity = TimeSpan.FromDays(365);
    private static readonly TimeSpan CaValidity = TimeSpan.FromDays(3650);

    private readonly Func<Current>? _reissue;
    private volatile Current _current;

    private DeploymentCertificate(Current current, Func<Current>? reissue)
    {
        _current = current;
        _reissue = reissue;
    }

    /// <summary>The certificate presented (with its private key).</summary>
    public X509Certificate2 Certificate => _current.Certificate;

    /// <summary>The same as a server certificate context, with the chain the operator gave.</summary>
    public SslStreamCertificateContext Context => _current.Context;

    /// <summary>True when the certificate is the operator's; false when the development CA issued it.</summary>
    public bool IsOperators => _reissue is null;

    /// <summary>
    /// The operator's certificate: <paramref name="certificatePath"/> holds the leaf then its chain (PEM), and
    /// <paramref name="keyPath"/> the leaf's private key (PEM).
    /// </summary>
    /// <exception cref="CryptographicException">The files hold no certificate, no key, or a key that is not the leaf's.</exception>
    public static DeploymentCertificate FromFiles(string certificatePath, string keyPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(certificatePath);
        ArgumentException.ThrowIfNullOrEmpty(keyPath);
        var all = new X509Certificate2Collection();
        all.ImportFromPemFile(certificatePath);
        if (all.Count == 0)
        {
            throw new CryptographicException($"--tls-cert {certificatePath} holds no PEM certificate");
        }

        X509Certificate2 leaf;
        try
        {
            leaf = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            throw new CryptographicException($"--tls-key {keyPath} is not a PEM private key of the first certificate in --tls-cert {certificatePath}: {ex.Message}", ex);
        }

        using var _ = leaf;
        var chain = new X509Certificate2Collection();
        for (var i = 1; i < all.Count; i++)
        {
            chain.Add(all[i]);
        }

        return new DeploymentCertificate(Make(leaf, chain), reissue: null);
    }

    /// <summary>
    /// A certificate for <paramref name="domain"/>, <c>localhost</c>, 127.0.0.1, ::1 (and <paramref name="listen"/> when it
    /// is one address), issued now by the data folder's development CA, which is made on first use.
    /// </summary>
    public static DeploymentCertificate Development(DataDirectory data, string domain, IPAddress? listen)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrEmpty(domain);
        EnsureDevelopmentCa(data, domain);
        Current Issue() => IssueFromDevelopmentCa(data, domain, listen);
        return new DeploymentCertificate(Issue(), Issue);
    }

    /// <summary>
    /// Issues a new development certificate once less than a third of the current one's lifetime is left (the
    /// operator's is the operator's to replace); new connections get the new one. True when it renewed.
    /// </summary>
    public bool RenewIfDue(DateTimeOffset now)
    {
        if (_reissue is null)
        {
            return false;
        }

        if (!Vellum.Core.Identity.CertificateRenewal.IsDue(_current.Certificate, now))
        {
            return false;
        }

        _current = _reissue();
        return true;
    }

    private static void EnsureDevelopmentCa(DataDirectory data, string domain)
    {
        if (File.Exists(data.DeploymentCaCertificate) && File.Exists(data.DeploymentCaPrivateKey))
        {
            return;
        }

        OwnerOnly.CreateDirectory(data.Root);
        OwnerOnly.CreateDirectory(data.Credentials);
        if (File.Exists(data.DeploymentCaPrivateKey))
        {
            // Made by a start that stopped before the certificate was written.
            File.Delete(data.DeploymentCaPrivateKey);
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var request = new CertificateRequest($"CN=Vellum development CA for {domain}", key, HashAlgorithmName.SHA384);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var now = DateTimeOffset.UtcNow;
        using var ca = request.CreateSelfSigned(now.AddMinutes(-5), now.Add(CaValidity));
        DataDirectory.WriteSecretFile(data.DeploymentCaPrivateKey, key.ExportPkcs8PrivateKeyPem() + "\n");
        OwnerOnly.WriteAllText(data.DeploymentCaCertificate, ca.ExportCertificatePem() + "\n");
    }

    private static Current IssueFromDevelopmentCa(DataDirectory data, string domain, IPAddress? listen)
    {
        using var ca = X509Certificate2.CreateFromPemFile(data.DeploymentCaCertificate, data.DeploymentCaPrivateKey);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var request = new CertificateRequest($"CN={domain}", key, HashAlgorithmName.SHA384);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(domain);
        if (!domain.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            names.AddDnsName("localhost");
        }

        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        if (listen is not null && !listen.Equals(IPAddress.Any) && !listen.Equals(IPAddress.IPv6Any) && !IPAddress.IsLoopback(listen))
        {
            names.AddIpAddress(listen);
        }

        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x01);
        var now = DateTimeOffset.UtcNow;
        var notAfter = now.Add(LeafValidity) < ca.NotAfter ? now.Add(LeafValidity) : new DateTimeOffset(ca.NotAfter.ToUniversalTime());
        using var issued = request.Create(ca, now.AddMinutes(-5), notAfter, serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        return Make(withKey, chain: null);
    }

    /// <summary>The certificate loaded as SslStream wants it on every platform (a PKCS#12 round trip), and its context.</summary>
    private static Current Make(X509Certificate2 leafWithKey, X509Certificate2Collection? chain)
    {
        var loaded = X509CertificateLoader.LoadPkcs12(leafWithKey.Export(X509ContentType.Pkcs12), password: null);
        return new Current(loaded, SslStreamCertificateContext.Create(loaded, chain, offline: true));
    }

    private sealed record Current(X509Certificate2 Certificate, SslStreamCertificateContext Context);
}
