using Vellum.Core.Crypto;
using Vellum.Core.Identity;

namespace Vellum.Storage.Tests.Folder;

/// <summary>The deployment identity in <c>node/deployment/</c>: made, adopted on upgrade, provisioned whole.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // file modes are Unix permissions
public sealed class DeploymentFolderTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vellum-deployment-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void A_new_folder_gets_a_key_of_its_own_owner_only_and_the_same_one_on_every_open()
    {
        var data = new DataDirectory(Path.Combine(_root, "new"));
        using var held = data.Lock();
        var (service, node, secret, adopted) = data.OpenOrCreateDeployment();
        using (service)
        using (node)
        {
            Assert.False(adopted);
            Assert.True(service.HasPrivateKey);
            Assert.Equal(LedgerSecret.Size, secret.Length);
            Assert.True(CertificateEndorsement.IsEndorsedBy(node.Certificate, service.Certificate));
            foreach (var file in new[] { data.DeploymentServicePrivateKey, data.DeploymentSecretFile })
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(data.Deployment));

            // A ledger made after it is endorsed by a key of its own, and by the same node key.
            var (ledgerService, ledgerNode, ledgerSecret, _) = data.OpenOrCreate(LedgerName.Default, isPrivate: null);
            using (ledgerService)
            using (ledgerNode)
            using (ledgerSecret)
            {
                Assert.NotEqual(service.Certificate.Thumbprint, ledgerService.Certificate.Thumbprint);
                Assert.Equal(node.NodeId, ledgerNode.NodeId);
                Assert.False(CertificateEndorsement.IsEndorsedBy(ledgerNode.Certificate, service.Certificate));
            }

            var (again, againNode, againSecret, againAdopted) = data.OpenOrCreateDeployment();
            using (again)
            using (againNode)
            {
                Assert.False(againAdopted);
                Assert.Equal(service.Certificate.Thumbprint, again.Certificate.Thumbprint);
                Assert.Equal(node.Certificate.Thumbprint, againNode.Certificate.Thumbprint);
                Assert.Equal(secret, againSecret);
            }
        }
    }

    [Fact]
    public void A_folder_that_holds_default_adopts_its_service_key_with_a_secret_derived_from_its_secret_not_a_copy()
    {
        // Two members of a cluster made before deployment identities: the same default, each its own node key.
        var first = new DataDirectory(Path.Combine(_root, "first"));
        var second = new DataDirectory(Path.Combine(_root, "second"));
        byte[] expectedSecret;
        string ledgerSecretHex;
        using (first.Lock())
        {
            var (service, node, ledgerSecret, _) = first.OpenOrCreate(LedgerName.Default, isPrivate: null);
            service.Dispose();
            node.Dispose();
            expectedSecret = ledgerSecret.DeriveKey(DataDirectory.AdoptedSecretPurpose);
            ledgerSecret.Dispose();
            ledgerSecretHex = File.ReadAllText(first.Default.LedgerSecretFile).Trim();
        }

        using (second.Lock())
        {
            second.ProvisionFrom(first);
        }

        var seen = new List<(string Service, byte[] Secret, string NodeId)>();
        foreach (var data in new[] { first, second })
        {
            using var held = data.Lock();
            var (service, node, secret, adopted) = data.OpenOrCreateDeployment();
            using (service)
            using (node)
            {
                Assert.True(adopted);
                Assert.Equal(File.ReadAllText(data.Default.ServiceCertificate), File.ReadAllText(data.DeploymentServiceCertificate));
                Assert.Equal(expectedSecret, secret);
                Assert.NotEqual(ledgerSecretHex, File.ReadAllText(data.DeploymentSecretFile).Trim(), StringComparer.OrdinalIgnoreCase);
                Assert.True(CertificateEndorsement.IsEndorsedBy(node.Certificate, service.Certificate));
                seen.Add((service.Certificate.Thumbprint, secret, node.NodeId));
            }
        }

        // Both members agree on the deployment without having talked, and keep their own node keys.
        Assert.Equal(seen[0].Service, seen[1].Service);
        Assert.Equal(seen[0].Secret, seen[1].Secret);
        Assert.NotEqual(seen[0].NodeId, seen[1].NodeId);
    }

    [Fact]
    public void Provisioning_copies_the_deployment_before_any_ledger_and_refuses_another_deployments_folder()
    {
        var first = new DataDirectory(Path.Combine(_root, "first"));
        var second = new DataDirectory(Path.Combine(_root, "second"));
        var stranger = new DataDirectory(Path.Combine(_root, "stranger"));
        foreach (var data in new[] { first, stranger })
        {
            using var held = data.Lock();
            var (service, node, _, _) = data.OpenOrCreateDeployment();
            service.Dispose();
            node.Dispose();
            var made = data.OpenOrCreate(LedgerName.Default, isPrivate: null);
            made.Service.Dispose();
            made.Node.Dispose();
            made.Secret.Dispose();
        }

        using (second.Lock())
        {
            second.ProvisionFrom(first);
            second.ProvisionFrom(first); // a provisioning cut short is finished by the next
        }

        Assert.Equal(File.ReadAllText(first.DeploymentServiceCertificate), File.ReadAllText(second.DeploymentServiceCertificate));
        Assert.Equal(File.ReadAllText(first.DeploymentSecretFile), File.ReadAllText(second.DeploymentSecretFile));
        Assert.False(File.Exists(second.DeploymentNodeCertificate)); // each node endorses its own key when it opens it
        using (second.Lock())
        {
            var (service, node, _, adopted) = second.OpenOrCreateDeployment();
            using (service)
            using (node)
            {
                Assert.False(adopted); // default is there, but so is the deployment it was given
                Assert.True(CertificateEndorsement.IsEndorsedBy(node.Certificate, service.Certificate));
            }
        }

        using (stranger.Lock())
        {
            var before = File.ReadAllText(stranger.DeploymentServiceCertificate);
            Assert.Throws<InvalidOperationException>(() => stranger.ProvisionFrom(first));
            Assert.Equal(before, File.ReadAllText(stranger.DeploymentServiceCertificate));
        }
    }

    [Fact]
    public void A_damaged_deployment_secret_is_refused_at_open_and_nothing_is_made_over_it()
    {
        var data = new DataDirectory(Path.Combine(_root, "damaged"));
        using var held = data.Lock();
        var (service, node, _, _) = data.OpenOrCreateDeployment();
        service.Dispose();
        node.Dispose();
        File.WriteAllText(data.DeploymentSecretFile, new string('z', 64) + "\n");
        Assert.Throws<InvalidDataException>(() => data.OpenOrCreateDeployment());
        File.WriteAllText(data.DeploymentSecretFile, "00ff\n");
        Assert.Throws<InvalidDataException>(() => data.OpenOrCreateDeployment());
        Assert.Equal("00ff\n", File.ReadAllText(data.DeploymentSecretFile));
    }

    [Fact]
    public void A_provisioning_that_stopped_before_its_rename_leaves_no_deployment_and_the_next_one_finishes()
    {
        var data = new DataDirectory(Path.Combine(_root, "cut"));
        using var held = data.Lock();
        using var identity = ServiceIdentity.Create();

        // What a stop between the files and the rename leaves: a folder beside the deployment's, not the deployment.
        Directory.CreateDirectory(data.Deployment + ".new");
        File.WriteAllText(Path.Combine(data.Deployment + ".new", "service_privk.pem"), "half");
        Assert.False(data.HasDeployment);

        var secret = Convert.ToHexStringLower(new byte[32]);
        data.ProvisionDeployment(identity.ExportCertificatePem(), identity.ExportPrivateKeyPem(), secret);
        Assert.True(data.HasDeployment);
        Assert.False(Directory.Exists(data.Deployment + ".new"));
        Assert.Equal(identity.ExportPrivateKeyPem(), File.ReadAllText(data.DeploymentServicePrivateKey));
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}
