using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;
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

    [Fact]
    public async Task A_retired_node_stays_retired_across_a_restart_and_no_ledger_records_it()
    {
        var retired = Hash32.Compute("a retired member's public key"u8);
        var other = Hash32.Compute("a member's public key"u8);
        var options = ClusterNodeFixture.MemberOptions(_root);
        await using (var registry = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
        {
            await WaitForPrimaryAsync(registry);
            Assert.False(registry.RetiredNodes.IsRetired(retired));
            await registry.RetireNodeAsync(retired, "10.0.0.4:9443", default).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(registry.RetiredNodes.IsRetired(retired));
            Assert.False(registry.RetiredNodes.IsRetired(other));
            Assert.Equal($"{retired} 10.0.0.4:9443\n", File.ReadAllText(Path.Combine(_root, "node", "retired")));

            // A deployment entry of the consensus log, not a transaction of default's.
            Assert.Equal(0, registry.Default!.Store.LastGovernanceSeqno);

            // Retiring it again writes nothing.
            var file = File.GetLastWriteTimeUtc(Path.Combine(_root, "node", "retired"));
            await registry.RetireNodeAsync(retired, "10.0.0.4:9443", default).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(file, File.GetLastWriteTimeUtc(Path.Combine(_root, "node", "retired")));
        }

        await using (var reopened = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
        {
            Assert.True(reopened.RetiredNodes.IsRetired(retired));
            Assert.False(reopened.RetiredNodes.IsRetired(other));
        }
    }

    [Fact]
    public async Task A_retirement_an_earlier_version_wrote_into_defaults_governance_still_counts_and_joins_the_deployments_list()
    {
        var retired = Hash32.Compute("retired before the upgrade"u8);
        var options = ClusterNodeFixture.MemberOptions(_root);
        long governance;
        await using (var registry = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
        {
            // What the version before wrote: a governance transaction of default's.
            await WaitForPrimaryAsync(registry);
            var ledger = registry.Default!;
            var id = await ledger.Sequencer.AppendAsync(new Vellum.Core.Entries.NodeRetirementEntry(retired, "10.0.0.9:9443"), default).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            await ledger.Sequencer.WaitForCommitAsync(id.Seqno, default).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            governance = ledger.Store.LastGovernanceSeqno;
            Assert.True(governance > 0);
            Assert.True(registry.RetiredNodes.IsRetired(retired)); // read through default while the node runs
        }

        File.Delete(Path.Combine(_root, "node", "retired"));
        await using (var reopened = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
        {
            Assert.True(reopened.RetiredNodes.IsRetired(retired));
            Assert.Equal($"{retired}\n", File.ReadAllText(Path.Combine(_root, "node", "retired"))); // kept beyond default
        }

        using var service = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(_root, "ledgers", "default", "credentials", "service_cert.pem")));
        var (summary, failure) = Vellum.Storage.Verification.LedgerDirectoryVerifier.Verify(Path.Combine(_root, "ledgers", "default", "ledger"), service);
        Assert.Null(failure);
        Assert.True(summary!.LastSignedSeqno >= governance);
    }

    private static async Task WaitForPrimaryAsync(LedgerRegistry registry)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (registry.Default is not { IsPrimary: true })
        {
            Assert.True(DateTime.UtcNow < deadline, "the only member did not lead within 30 s");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task The_node_log_holds_no_entry_contents_in_clear_while_a_public_ledgers_files_do()
    {
        var marker = $"marker-{Guid.NewGuid():N}";
        await using (var registry = await LedgerRegistry.OpenAsync(Options([new LedgerSpec(LedgerName.Parse("alpha"), false)]), NullLogger.Instance))
        {
            var ledger = registry.All.Single();
            for (var i = 0; i < 20; i++)
            {
                await ledger.AppendEntryAsync("c", System.Text.Encoding.UTF8.GetBytes($"{marker} {i}"), [], default).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            }

            // While the node runs, its log holds these batches (a clean stop lets them go).
            var segments = Directory.GetFiles(Path.Combine(_root, "node", "log"), "*.wal");
            Assert.NotEmpty(segments);
            Assert.True(segments.Sum(f => new FileInfo(f).Length) > 20 * marker.Length, "the node log holds the batches");
            Assert.All(segments, f => Assert.DoesNotContain(marker, ReadAll(f), StringComparison.Ordinal));
        }

        // The ledger's own files hold them in clear (a Public ledger); written out by the stop at the latest (while
        // the node runs, a ledger's newest entries may still be gathered in memory: LedgerStoreOptions.WriteBehindBytes).
        Assert.Contains(Directory.GetFiles(Path.Combine(_root, "ledgers", "alpha", "ledger")), f => ReadAll(f).Contains(marker, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Every_ledger_of_a_node_keeps_its_tiles_in_one_cache_within_one_budget()
    {
        var names = new[] { "alpha", "beta", "gamma" };
        var options = Options([.. names.Select(n => new LedgerSpec(LedgerName.Parse(n), false))], tileCacheTiles: 4);
        await using var registry = await LedgerRegistry.OpenAsync(options, NullLogger.Instance);
        Assert.Equal(4, registry.Tiles.Capacity);

        // 600 transactions a ledger fill two leaf tiles each: six tiles for a budget of four.
        var appends = registry.All.SelectMany(ledger => Enumerable.Range(0, 600).Select(i =>
            ledger.AppendEntryAsync("c", System.Text.Encoding.UTF8.GetBytes($"{ledger.Name} {i}"), [], default).AsTask()));
        await Task.WhenAll(appends).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(4, registry.Tiles.Count);

        // Every ledger still proves its early transactions (a tile evicted is read back from its own files).
        foreach (var ledger in registry.All)
        {
            await ledger.Sequencer.WaitForCommitAsync(ledger.LastSeqno, default).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            var outcome = ledger.Reads.Transaction(new Vellum.Core.Primitives.TxId(ledger.View, 3), userEntriesOnly: false);
            Assert.Equal(Vellum.Ledger.ReadOutcome.Ready, outcome.Outcome);
            var receipt = ledger.Reads.Receipt(outcome);
            Assert.Equal(Vellum.Core.Receipts.ReceiptState.Ready, receipt.State);
            Assert.True(Vellum.Core.Receipts.ReceiptVerifier.Verify(receipt, ledger.Service.Certificate).IsValid, ledger.Name.Value);
        }

        Assert.InRange(registry.Tiles.Count, 1, 4);
    }

    private static string ReadAll(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream, System.Text.Encoding.Latin1);
        return reader.ReadToEnd();
    }

    private NodeOptions Options(IReadOnlyList<LedgerSpec> ledgers, int tileCacheTiles = 2048) => new()
    {
        TileCacheTiles = tileCacheTiles,
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
