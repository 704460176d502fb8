using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Identity;

namespace Vellum.Core.Tests.Identity;

public sealed class ServiceIdentityTests
{
    [Fact]
    public void Default_certificate_is_a_p384_self_signed_ca()
    {
        using var service = ServiceIdentity.Create();
        var cert = service.Certificate;

        Assert.True(service.HasPrivateKey);
        Assert.False(cert.HasPrivateKey);
        Assert.Equal("CN=Vellum Service", cert.Subject);
        Assert.Equal(cert.Subject, cert.Issuer);
        Assert.Equal("1.2.840.10045.4.3.3", cert.SignatureAlgorithm.Value);
        using (var key = cert.GetECDsaPublicKey())
        {
            Assert.NotNull(key);
            Assert.Equal(384, key.KeySize);
        }

        var basic = Assert.Single(cert.Extensions.OfType<X509BasicConstraintsExtension>());
        Assert.True(basic.Critical);
        Assert.True(basic.CertificateAuthority);
        Assert.True(basic.HasPathLengthConstraint);
        Assert.Equal(0, basic.PathLengthConstraint);

        var usage = Assert.Single(cert.Extensions.OfType<X509KeyUsageExtension>());
        Assert.True(usage.Critical);
        Assert.Equal(X509KeyUsageFlags.KeyCertSign, usage.KeyUsages);

        var ski = Assert.Single(cert.Extensions.OfType<X509SubjectKeyIdentifierExtension>());
        var aki = Assert.Single(cert.Extensions.OfType<X509AuthorityKeyIdentifierExtension>());
        Assert.Equal(ski.SubjectKeyIdentifierBytes.ToArray(), aki.KeyIdentifier!.Value.ToArray());

        Assert.Equal(TimeSpan.FromDays(3653), cert.NotAfter - cert.NotBefore);
        Assert.InRange(cert.NotBefore.ToUniversalTime(), DateTime.UtcNow.AddMinutes(-10), DateTime.UtcNow);
        Assert.True(CertificateEndorsement.IsEndorsedBy(cert, cert));
    }

    [Fact]
    public void Options_set_subject_and_validity()
    {
        var notBefore = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
        using var service = ServiceIdentity.Create(new ServiceIdentityOptions
        {
            SubjectName = "CN=Test Ledger, O=Vellum",
            Validity = TimeSpan.FromDays(30),
            NotBefore = notBefore,
        });

        Assert.Equal("CN=Test Ledger, O=Vellum", service.Certificate.Subject);
        Assert.Equal(notBefore.UtcDateTime, service.Certificate.NotBefore.ToUniversalTime());
        Assert.Equal(notBefore.AddDays(30).UtcDateTime, service.Certificate.NotAfter.ToUniversalTime());
    }

    [Fact]
    public void Defaults_are_documented_values()
    {
        var options = new ServiceIdentityOptions();
        Assert.Equal("CN=Vellum Service", options.SubjectName);
        Assert.Equal(TimeSpan.FromDays(3653), options.Validity);
        Assert.Null(options.NotBefore);
    }

    [Fact]
    public void Pem_round_trip_keeps_certificate_and_key()
    {
        using var service = ServiceIdentity.Create();
        var certPem = service.ExportCertificatePem();
        var keyPem = service.ExportPrivateKeyPem();
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", certPem, StringComparison.Ordinal);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", keyPem, StringComparison.Ordinal);

        using var loaded = ServiceIdentity.FromPem(certPem, keyPem);
        Assert.True(loaded.HasPrivateKey);
        Assert.Equal(service.Certificate.RawData, loaded.Certificate.RawData);

        // The reloaded key really is the issuer key.
        using var node = NodeIdentity.Create(loaded);
        Assert.True(CertificateEndorsement.IsEndorsedBy(node.Certificate, service.Certificate));
    }

    [Fact]
    public void Sec1_private_key_pem_is_accepted()
    {
        using var service = ServiceIdentity.Create();
        using var key = ECDsa.Create();
        key.ImportFromPem(service.ExportPrivateKeyPem());
        using var loaded = ServiceIdentity.FromPem(service.ExportCertificatePem(), key.ExportECPrivateKeyPem());
        Assert.True(loaded.HasPrivateKey);
    }

    [Fact]
    public void Pem_files_load()
    {
        using var service = ServiceIdentity.Create();
        var dir = Directory.CreateTempSubdirectory("vellum-identity-");
        try
        {
            var certPath = Path.Combine(dir.FullName, "service.pem");
            var keyPath = Path.Combine(dir.FullName, "service.key");
            File.WriteAllText(certPath, service.ExportCertificatePem());
            File.WriteAllText(keyPath, service.ExportPrivateKeyPem());

            using var withKey = ServiceIdentity.LoadPemFiles(certPath, keyPath);
            using var publicOnly = ServiceIdentity.LoadPemFiles(certPath);
            Assert.True(withKey.HasPrivateKey);
            Assert.False(publicOnly.HasPrivateKey);
            Assert.Equal(service.Certificate.RawData, publicOnly.Certificate.RawData);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Public_only_form_cannot_sign()
    {
        using var service = ServiceIdentity.Create();
        using var publicOnly = service.ToPublicOnly();
        Assert.False(publicOnly.HasPrivateKey);
        Assert.Equal(service.Certificate.RawData, publicOnly.Certificate.RawData);
        Assert.Throws<InvalidOperationException>(() => publicOnly.ExportPrivateKeyPem());
        Assert.Throws<InvalidOperationException>(() => NodeIdentity.Create(publicOnly));
        Assert.Throws<InvalidOperationException>(() => publicOnly.CreateEndorsement(service.Certificate));
    }

    [Fact]
    public void Mismatched_or_garbage_pem_is_rejected()
    {
        using var a = ServiceIdentity.Create();
        using var b = ServiceIdentity.Create();
        Assert.Throws<ArgumentException>(() => ServiceIdentity.FromPem(a.ExportCertificatePem(), b.ExportPrivateKeyPem()));
        Assert.Throws<ArgumentException>(() => ServiceIdentity.FromPem("not a pem"));
        Assert.Throws<ArgumentException>(() => ServiceIdentity.FromPem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
        Assert.Throws<ArgumentException>(() => ServiceIdentity.FromPem(a.ExportCertificatePem(), "garbage"));

        // A public key is not a private key.
        using var publicKey = a.Certificate.GetECDsaPublicKey()!;
        Assert.Throws<ArgumentException>(() => ServiceIdentity.FromPem(a.ExportCertificatePem(), publicKey.ExportSubjectPublicKeyInfoPem()));
    }

    [Fact]
    public void Endorsement_of_a_previous_identity_carries_its_key_and_is_signed_by_the_new_one()
    {
        using var previous = ServiceIdentity.Create();
        using var current = ServiceIdentity.Create();
        using var endorsement = X509Certificate2.CreateFromPem(current.CreateEndorsement(previous.Certificate));

        Assert.Equal(previous.Certificate.Subject, endorsement.Subject);
        Assert.Equal(current.Certificate.Subject, endorsement.Issuer);
        Assert.Equal(previous.Certificate.PublicKey.EncodedKeyValue.RawData, endorsement.PublicKey.EncodedKeyValue.RawData);
        Assert.True(CertificateEndorsement.IsEndorsedBy(endorsement, current.Certificate));
        Assert.False(CertificateEndorsement.IsEndorsedBy(endorsement, previous.Certificate));
    }
}
