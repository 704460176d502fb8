using System.Security.Cryptography;
using Vellum.Core.Identity;

namespace Vellum.Core.Tests.Identity;

public sealed class CertificateFingerprintTests
{
    private const string Canonical = "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";

    [Theory]
    [InlineData(Canonical)]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("0123456789aBcDeF0123456789AbCdEf0123456789abcdef0123456789ABCDEF")]
    [InlineData("01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF")]
    [InlineData("01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef")]
    public void Accepted_forms_normalize_to_upper_case_without_colons(string input)
    {
        Assert.True(CertificateFingerprint.TryNormalize(input, out var fingerprint));
        Assert.Equal(Canonical, fingerprint);
        Assert.Equal(Canonical, CertificateFingerprint.Normalize(input));
    }

    [Theory]
    [InlineData("")]
    [InlineData("0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDE")]
    [InlineData("0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0")]
    [InlineData("0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEG")]
    [InlineData(" 123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF")]
    [InlineData("0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDE:")]
    [InlineData("01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD")]
    [InlineData("01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:")]
    [InlineData("012:3:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF")]
    [InlineData("01-23-45-67-89-AB-CD-EF-01-23-45-67-89-AB-CD-EF-01-23-45-67-89-AB-CD-EF-01-23-45-67-89-AB-CD-EF")]
    [InlineData("01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:C:F")]
    [InlineData("0123:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:")]
    [InlineData("０1:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF")]
    [InlineData(null)]
    public void Everything_else_is_rejected(string? input)
    {
        Assert.False(CertificateFingerprint.TryNormalize(input, out var fingerprint));
        Assert.Null(fingerprint);
        if (input is not null)
        {
            Assert.Throws<FormatException>(() => CertificateFingerprint.Normalize(input));
        }
    }

    [Fact]
    public void Compute_is_upper_case_sha256_of_the_der()
    {
        using var service = ServiceIdentity.Create();
        var fingerprint = CertificateFingerprint.Compute(service.Certificate);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(service.Certificate.RawData)), fingerprint);
        Assert.Equal(fingerprint, CertificateFingerprint.Normalize(fingerprint.ToLowerInvariant()));
    }
}
