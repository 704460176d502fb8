using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Identity;

namespace Vellum.Core.Tests.Identity;

public sealed class CertificateEndorsementTests
{
    [Fact]
    public void Issuer_endorses_and_strangers_do_not()
    {
        using var service = ServiceIdentity.Create();
        using var stranger = ServiceIdentity.Create();
        using var node = NodeIdentity.Create(service);

        Assert.True(CertificateEndorsement.IsEndorsedBy(node.Certificate, service.Certificate));
        Assert.False(CertificateEndorsement.IsEndorsedBy(node.Certificate, stranger.Certificate));
        Assert.False(CertificateEndorsement.IsEndorsedBy(service.Certificate, node.Certificate));
    }

    [Fact]
    public void Dates_and_names_are_not_checked()
    {
        // An expired certificate with an unrelated issuer name still counts, exactly as in the ACL verifier.
        using var issuerKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var subjectKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=whatever", subjectKey, HashAlgorithmName.SHA256);
        using var expired = request.Create(
            new X500DistinguishedName("CN=someone else"),
            X509SignatureGenerator.CreateForECDsa(issuerKey),
            new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(2000, 1, 2, 0, 0, 0, TimeSpan.Zero),
            [1, 2, 3]);
        Assert.True(CertificateEndorsement.IsEndorsedBy(expired.RawDataMemory, issuerKey));
    }

    [Fact]
    public void Sha512_signatures_are_supported()
    {
        using var issuerKey = ECDsa.Create(ECCurve.NamedCurves.nistP521);
        using var subjectKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var cert = new CertificateRequest("CN=s", subjectKey, HashAlgorithmName.SHA512).Create(
            new X500DistinguishedName("CN=i"), X509SignatureGenerator.CreateForECDsa(issuerKey),
            DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1), [7]);
        Assert.Equal("1.2.840.10045.4.3.4", cert.SignatureAlgorithm.Value);
        Assert.True(CertificateEndorsement.IsEndorsedBy(cert.RawDataMemory, issuerKey));
    }

    [Fact]
    public void Garbage_returns_false_without_throwing()
    {
        using var service = ServiceIdentity.Create();
        using var node = NodeIdentity.Create(service);
        using var key = service.Certificate.GetECDsaPublicKey()!;
        var der = node.Certificate.RawData;

        Assert.False(CertificateEndorsement.IsEndorsedBy(ReadOnlyMemory<byte>.Empty, key));
        Assert.False(CertificateEndorsement.IsEndorsedBy(new byte[] { 0x30, 0x03, 0x02, 0x01 }, key));
        Assert.False(CertificateEndorsement.IsEndorsedBy("not a certificate at all"u8.ToArray(), key));
        Assert.False(CertificateEndorsement.IsEndorsedBy(der.AsMemory(0, der.Length - 1), key));
        Assert.False(CertificateEndorsement.IsEndorsedBy(der.Concat(new byte[] { 0 }).ToArray(), key));
        Assert.False(CertificateEndorsement.IsEndorsedBy(der, null));
        Assert.False(CertificateEndorsement.IsEndorsedBy(null, service.Certificate));
        Assert.False(CertificateEndorsement.IsEndorsedBy(node.Certificate, null));

        // Every single-byte corruption of a valid certificate is either rejected or (if in unused bytes) harmless,
        // but never throws.
        for (var i = 0; i < der.Length; i++)
        {
            var copy = (byte[])der.Clone();
            copy[i] ^= 0x5A;
            _ = CertificateEndorsement.IsEndorsedBy(copy, key);
        }

        // Flipping a signature byte or a TBS byte breaks the endorsement.
        var tbsFlip = (byte[])der.Clone();
        tbsFlip[40] ^= 1;
        Assert.False(CertificateEndorsement.IsEndorsedBy(tbsFlip, key));
        var signatureFlip = (byte[])der.Clone();
        signatureFlip[^3] ^= 1;
        Assert.False(CertificateEndorsement.IsEndorsedBy(signatureFlip, key));
        Assert.True(CertificateEndorsement.IsEndorsedBy(der, key));
    }

    [Fact]
    public void Rsa_certificates_return_false()
    {
        using var rsa = RSA.Create(2048);
        using var rsaCert = new CertificateRequest("CN=rsa", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            .CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
        using var service = ServiceIdentity.Create();

        // An RSA endorser has no EC key; an RSA-signed subject has no ECDSA algorithm.
        Assert.False(CertificateEndorsement.IsEndorsedBy(service.Certificate, rsaCert));
        Assert.False(CertificateEndorsement.IsEndorsedBy(rsaCert, service.Certificate));
        Assert.False(CertificateEndorsement.IsEndorsedBy(rsaCert, rsaCert));
    }
}
