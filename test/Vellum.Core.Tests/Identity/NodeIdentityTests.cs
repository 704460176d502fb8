using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;

namespace Vellum.Core.Tests.Identity;

public sealed class NodeIdentityTests
{
    private static NodeIdentityOptions WithSans()
    {
        var options = new NodeIdentityOptions();
        options.DnsNames.Add("ledger.example.test");
        options.DnsNames.Add("ledger");
        options.IPAddresses.Add(IPAddress.Loopback);
        options.IPAddresses.Add(IPAddress.IPv6Loopback);
        return options;
    }

    [Fact]
    public void Certificate_is_issued_by_the_service_with_the_required_extensions()
    {
        using var service = ServiceIdentity.Create();
        using var node = NodeIdentity.Create(service, WithSans());
        var cert = node.Certificate;

        Assert.Equal("CN=Vellum Node", cert.Subject);
        Assert.Equal(service.Certificate.Subject, cert.Issuer);
        Assert.Equal("1.2.840.10045.4.3.3", cert.SignatureAlgorithm.Value);
        using (var key = cert.GetECDsaPublicKey())
        {
            Assert.Equal(384, key!.KeySize);
        }

        var basic = Assert.Single(cert.Extensions.OfType<X509BasicConstraintsExtension>());
        Assert.True(basic.Critical);
        Assert.False(basic.CertificateAuthority);

        var eku = Assert.Single(cert.Extensions.OfType<X509EnhancedKeyUsageExtension>());
        Assert.Equal(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], eku.EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value!).ToArray());

        var aki = Assert.Single(cert.Extensions.OfType<X509AuthorityKeyIdentifierExtension>());
        var serviceSki = Assert.Single(service.Certificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>());
        Assert.Equal(serviceSki.SubjectKeyIdentifierBytes.ToArray(), aki.KeyIdentifier!.Value.ToArray());
        Assert.Single(cert.Extensions.OfType<X509SubjectKeyIdentifierExtension>());

        var san = Assert.Single(cert.Extensions.OfType<X509SubjectAlternativeNameExtension>());
        Assert.Equal(["ledger.example.test", "ledger"], san.EnumerateDnsNames().ToArray());
        Assert.Equal([IPAddress.Loopback, IPAddress.IPv6Loopback], san.EnumerateIPAddresses().ToArray());

        Assert.True(CertificateEndorsement.IsEndorsedBy(cert, service.Certificate));
    }

    [Fact]
    public void Chain_builds_to_the_pinned_service_certificate()
    {
        using var service = ServiceIdentity.Create();
        using var node = NodeIdentity.Create(service, WithSans());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(service.Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.1"));
        Assert.True(chain.Build(node.Certificate), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));
    }

    [Fact]
    public void Node_id_is_the_hash_of_the_subject_public_key_info()
    {
        using var service = ServiceIdentity.Create();
        using var node = NodeIdentity.Create(service);
        var expected = Convert.ToHexStringLower(SHA256.HashData(node.Certificate.PublicKey.ExportSubjectPublicKeyInfo()));
        Assert.Equal(expected, node.NodeId);
        Assert.Equal(expected, NodeIdentity.ComputeNodeId(node.Certificate));
        Assert.Equal(64, node.NodeId.Length);
    }

    [Fact]
    public void Validity_defaults_and_is_clamped_to_the_issuer()
    {
        Assert.Equal(TimeSpan.FromDays(365), new NodeIdentityOptions().Validity);
        Assert.Equal("CN=Vellum Node", new NodeIdentityOptions().SubjectName);

        var start = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
        using var service = ServiceIdentity.Create(new ServiceIdentityOptions { NotBefore = start, Validity = TimeSpan.FromDays(100) });
        using var shortNode = NodeIdentity.Create(service, new NodeIdentityOptions { NotBefore = start, Validity = TimeSpan.FromDays(10), SubjectName = "CN=n1" });
        using var longNode = NodeIdentity.Create(service, new NodeIdentityOptions { NotBefore = start, Validity = TimeSpan.FromDays(1000) });

        Assert.Equal("CN=n1", shortNode.Certificate.Subject);
        Assert.Equal(start.AddDays(10).UtcDateTime, shortNode.Certificate.NotAfter.ToUniversalTime());
        Assert.Equal(service.Certificate.NotAfter, longNode.Certificate.NotAfter);
    }

    [Fact]
    public void Root_signatures_verify_with_the_certificate_only()
    {
        using var service = ServiceIdentity.Create();
        using var node = NodeIdentity.Create(service);
        using var other = NodeIdentity.Create(service);
        var root = Hash32.Compute("root"u8);
        var signature = node.SignRoot(root);

        Assert.True(NodeIdentity.VerifyRootSignature(node.Certificate, root, signature));
        using (var key = node.Certificate.GetECDsaPublicKey())
        {
            Assert.True(NodeIdentity.VerifyRootSignature(key, root, signature));

            // The root is the digest itself: it is not hashed again.
            Assert.True(key!.VerifyHash(root.ToArray(), signature, DSASignatureFormat.Rfc3279DerSequence));
            Assert.False(key.VerifyData(root.ToArray(), signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
        }

        Assert.False(NodeIdentity.VerifyRootSignature(node.Certificate, Hash32.Compute("other"u8), signature));
        Assert.False(NodeIdentity.VerifyRootSignature(other.Certificate, root, signature));
        Assert.False(NodeIdentity.VerifyRootSignature(node.Certificate, root, [1, 2, 3]));
        Assert.False(NodeIdentity.VerifyRootSignature(node.Certificate, root, []));
        Assert.False(NodeIdentity.VerifyRootSignature((X509Certificate2?)null, root, signature));
        Assert.False(NodeIdentity.VerifyRootSignature((ECDsa?)null, root, signature));
    }

    [Fact]
    public void Pem_round_trip_keeps_the_identity()
    {
        using var service = ServiceIdentity.Create();
        using var node = NodeIdentity.Create(service, WithSans());
        using var loaded = NodeIdentity.FromPem(node.ExportCertificatePem(), node.ExportPrivateKeyPem());

        Assert.Equal(node.NodeId, loaded.NodeId);
        Assert.Equal(node.Certificate.RawData, loaded.Certificate.RawData);
        var root = Hash32.Compute("r"u8);
        Assert.True(NodeIdentity.VerifyRootSignature(node.Certificate, root, loaded.SignRoot(root)));

        using var other = NodeIdentity.Create(service);
        Assert.Throws<ArgumentException>(() => NodeIdentity.FromPem(node.ExportCertificatePem(), other.ExportPrivateKeyPem()));
        Assert.Throws<ArgumentException>(() => NodeIdentity.FromPem("garbage", node.ExportPrivateKeyPem()));
    }

    [Fact]
    public void Pem_files_load()
    {
        using var service = ServiceIdentity.Create();
        using var node = NodeIdentity.Create(service);
        var dir = Directory.CreateTempSubdirectory("vellum-node-");
        try
        {
            var certPath = Path.Combine(dir.FullName, "node.pem");
            var keyPath = Path.Combine(dir.FullName, "node.key");
            File.WriteAllText(certPath, node.ExportCertificatePem());
            File.WriteAllText(keyPath, node.ExportPrivateKeyPem());
            using var loaded = NodeIdentity.LoadPemFiles(certPath, keyPath);
            Assert.Equal(node.NodeId, loaded.NodeId);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
