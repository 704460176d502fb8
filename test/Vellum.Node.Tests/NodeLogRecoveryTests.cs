using Microsoft.Extensions.Logging.Abstractions;
using Vellum.Core.Entries;
using Vellum.Core.Identity;
using Vellum.Node.Ledgers;
using Vellum.Storage.Verification;

namespace Vellum.Node.Tests;

/// <summary>
/// A single node's ledgers write their files without an fsync per batch: the node log holds every acknowledged batch
/// until the files are synced. Here the files lose everything after their last sync, as they would in a power cut, while
/// the node log keeps what it fsynced: every acknowledged write of every ledger comes back, and each ledger verifies.
/// </summary>
public sealed class NodeLogRecoveryTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vellum-nodelog-").FullName;

    [Fact]
    public async Task Acknowledged_writes_of_every_ledger_survive_the_loss_of_the_ledger_files_unsynced_tails()
    {
        var data = Path.Combine(_root, "data");
        var image = Path.Combine(_root, "image");
        var options = Options(data, [new LedgerSpec(LedgerName.Parse("alpha"), null), new LedgerSpec(LedgerName.Parse("beta"), true)]);

        // Made, then stopped cleanly: the files are complete and synced. The power-cut image starts as this copy.
        await using (var first = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
        {
        }

        CopyFolder(data, image);

        // Writes after that reach the ledgers' files (not synced) and the node log (synced before each is acknowledged).
        var acknowledged = new Dictionary<string, List<(long Seqno, string Contents)>>();
        await using (var second = await LedgerRegistry.OpenAsync(Options(data, []), NullLogger.Instance))
        {
            foreach (var ledger in second.All)
            {
                var list = acknowledged[ledger.Name.Value] = [];
                var writes = Enumerable.Range(0, 200).Select(async i =>
                {
                    var contents = $"{ledger.Name} entry {i}";
                    var id = await ledger.AppendEntryAsync("c", System.Text.Encoding.UTF8.GetBytes(contents), [], default);
                    lock (list)
                    {
                        list.Add((id.Seqno, contents));
                    }
                });
                await Task.WhenAll(writes).WaitAsync(TimeSpan.FromSeconds(30));
            }

            // The power cut: the image keeps its old ledger files and takes the node log as it is now.
            var log = Path.Combine(image, "node", "log");
            Directory.Delete(log, recursive: true);
            CopyFolder(Path.Combine(data, "node", "log"), log);
        }

        await using (var recovered = await LedgerRegistry.OpenAsync(Options(image, []), NullLogger.Instance))
        {
            Assert.Equal(["alpha", "beta"], recovered.All.Select(l => l.Name.Value));
            foreach (var ledger in recovered.All)
            {
                var list = acknowledged[ledger.Name.Value];
                Assert.Equal(200, list.Count);
                Assert.True(ledger.Store.DurableSeqno >= list.Max(w => w.Seqno), $"{ledger.Name} ends at {ledger.Store.DurableSeqno}");
                foreach (var (seqno, contents) in list)
                {
                    Assert.Equal(EntryKind.UserEntry, ledger.Store.ReadHeader(seqno).Kind);
                    Assert.Equal(contents, ledger.Store.ReadUserEntry(seqno).Entry.ContentsText);
                }

                // And the node log let go of what it replayed.
                Assert.Single(Directory.GetFiles(Path.Combine(image, "node", "log"), "*.wal"));
            }
        }

        foreach (var name in new[] { "alpha", "beta" })
        {
            using var service = RunningLedgerCertificate(image, name);
            var (_, failure) = LedgerDirectoryVerifier.Verify(Path.Combine(image, "ledgers", name, "ledger"), service);
            Assert.Null(failure);
        }
    }

    private static NodeOptions Options(string data, IReadOnlyList<LedgerSpec> ledgers) => new()
    {
        DataDirectory = data,
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

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 RunningLedgerCertificate(string data, string ledger) =>
        System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(data, "ledgers", ledger, "credentials", "service_cert.pem")));

    private static void CopyFolder(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var directory in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(source, directory)));
        }

        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(target, Path.GetRelativePath(source, file)), overwrite: true);
        }
    }
}
