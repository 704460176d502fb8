using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Vellum.Node.Ledgers;
using Vellum.Storage;

namespace Vellum.Node.Tests;

public sealed class DeploymentCertificateTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vellum-deployment-").FullName;

    [Fact]
    public void The_development_ca_is_made_once_and_issues_a_certificate_for_the_domain_and_the_local_addresses()
    {
        var data = new DataDirectory(_root);
        var listen = IPAddress.Parse("10.1.2.3");
        var first = DeploymentCertificate.Development(data, "ledgers.example", listen);
        var caPem = File.ReadAllText(data.DeploymentCaCertificate);
        using var ca = X509Certificate2.CreateFromPem(caPem);

        Assert.False(first.IsOperators);
        Assert.True(first.Certificate.HasPrivateKey);
        foreach (var name in new[] { "ledgers.example", "localhost", "127.0.0.1", "::1", "10.1.2.3" })
        {
            Assert.True(ChainsTo(first.Certificate, ca, name), name);
        }

        Assert.False(ChainsTo(first.Certificate, ca, "alpha.ledgers.example"));
        Assert.Same(first.Certificate, first.Context.TargetCertificate);

        // Another start: the same CA, a new certificate.
        var second = DeploymentCertificate.Development(data, "ledgers.example", listen);
        Assert.Equal(caPem, File.ReadAllText(data.DeploymentCaCertificate));
        Assert.NotEqual(first.Certificate.Thumbprint, second.Certificate.Thumbprint);
        Assert.True(ChainsTo(second.Certificate, ca, "ledgers.example"));
    }

    [Fact]
    public void A_development_certificate_is_reissued_once_a_third_of_its_lifetime_is_left_and_an_operators_never()
    {
        var data = new DataDirectory(_root);
        var deployment = DeploymentCertificate.Development(data, "localhost", null);
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(data.DeploymentCaCertificate));
        var before = deployment.Certificate.Thumbprint;
        var now = DateTimeOffset.UtcNow;

        Assert.False(deployment.RenewIfDue(now.AddDays(200)));
        Assert.Equal(before, deployment.Certificate.Thumbprint);
        Assert.True(deployment.RenewIfDue(now.AddDays(250)));
        Assert.NotEqual(before, deployment.Certificate.Thumbprint);
        Assert.True(ChainsTo(deployment.Certificate, ca, "localhost"));

        // The operator's: loaded from its files as given, never replaced by the node.
        var certificateFile = Path.Combine(_root, "tls.pem");
        var keyFile = Path.Combine(_root, "tls.key");
        using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            var request = new CertificateRequest("CN=ledgers.example", key, HashAlgorithmName.SHA256);
            using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(3));
            File.WriteAllText(certificateFile, certificate.ExportCertificatePem());
            File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        }

        var operators = DeploymentCertificate.FromFiles(certificateFile, keyFile);
        Assert.True(operators.IsOperators);
        Assert.False(operators.RenewIfDue(now.AddDays(3)));

        // A key that is not the certificate's is refused.
        using (var other = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            File.WriteAllText(keyFile, other.ExportPkcs8PrivateKeyPem());
        }

        Assert.ThrowsAny<CryptographicException>(() => DeploymentCertificate.FromFiles(certificateFile, keyFile));
    }

    private static bool ChainsTo(X509Certificate2 leaf, X509Certificate2 root, string name)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        return chain.Build(leaf) && leaf.MatchesHostname(name);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
