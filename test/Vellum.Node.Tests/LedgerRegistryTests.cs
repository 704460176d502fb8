using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;
using Vellum.Core.Identity;
using Vellum.Node.Ledgers;
using Vellum.Node.Service;

namespace Vellum.Node.Tests;

/// <summary>
/// Ledgers open in parallel: what a data folder holds once for all of them (the node key, the development Administrator)
/// is made once, and each ledger is opened exactly as it would be alone.
/// </summary>
public sealed class LedgerRegistryTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vellum-registry-").FullName;

    [Fact]
    public async Task Ledgers_created_together_share_one_node_key_and_one_development_administrator()
    {
        var names = Enumerable.Range(0, 24).Select(i => $"ledger{i:D2}").ToArray();
        var options = Options([.. names.Select(n => new LedgerSpec(LedgerName.Parse(n), n.EndsWith('1')))]);

        string administrator;
        await using (var registry = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
        {
            Assert.Equal(names, registry.All.Select(l => l.Name.Value));
            Assert.Single(Directory.GetFiles(Path.Combine(_root, "credentials"), "admin_cert.pem"));
            using var adminCertificate = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(_root, "credentials", "admin_cert.pem")));
            administrator = CertificateFingerprint.Compute(adminCertificate);

            var nodeIds = registry.All.Select(l => l.Node.NodeId).Distinct().ToArray();
            Assert.Single(nodeIds);
            foreach (var ledger in registry.All)
            {
                Assert.Equal([Roles.Administrator], ledger.Users.RolesOf(administrator));
                Assert.Equal(ledger.Name.Value.EndsWith('1'), ledger.IsPrivate);
                Assert.True(CertificateEndorsement.IsEndorsedBy(ledger.Node.Certificate, ledger.Service.Certificate), ledger.Name.Value);
                Assert.False(ledger.Tls.IsMade); // nobody connected: no TLS form was made
                Assert.True(ledger.Store.SignaturesSkippedAsOwn > 0, ledger.Name.Value); // its own signatures were recognised
            }
        }

        // A restart opens them again, in parallel, as they were.
        await using (var reopened = await LedgerRegistry.OpenAsync(Options([]), NullLogger.Instance))
        {
            Assert.Equal(names, reopened.All.Select(l => l.Name.Value));
            foreach (var ledger in reopened.All)
            {
                Assert.Equal([Roles.Administrator], ledger.Users.RolesOf(administrator));
                Assert.Equal(1, ledger.Users.Count);
            }
        }
    }

    private NodeOptions Options(IReadOnlyList<LedgerSpec> ledgers) => new()
    {
        DataDirectory = _root,
        Listen = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0),
        SignatureDelay = TimeSpan.FromMilliseconds(20),
        Ledgers = ledgers,
    };

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
