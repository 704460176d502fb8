using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Identity;
using Vellum.Ledger;
using Vellum.Storage;
using Vellum.Storage.Ledger;

namespace Vellum.Benchmarks;

/// <summary>
/// A data folder in a temp directory with real identities (as test/Vellum.Storage.Tests/TestLedger.cs builds it),
/// deleted on dispose. On the machine's real disk, not tmpfs, when /tmp is on disk: the fsync figures depend on it.
/// </summary>
internal sealed class TempLedger : IDisposable
{
    public TempLedger(bool isPrivate)
    {
        Root = Path.Combine(Path.GetTempPath(), "vellum-bench-" + Guid.NewGuid().ToString("N"));
        Data = new DataDirectory(Root);
        (Service, Node, Secret, IsPrivate) = Data.OpenOrCreate(isPrivate);
    }

    public string Root { get; }

    public DataDirectory Data { get; }

    public ServiceIdentity Service { get; }

    public NodeIdentity Node { get; }

    public LedgerSecret Secret { get; }

    public bool IsPrivate { get; }

    /// <summary>Opens the ledger through the node's write path (sequencer, single-node consensus, applier).</summary>
    public SingleNodeLedger Open(bool durable) => SingleNodeLedger.OpenAsync(
        new LedgerStoreOptions
        {
            LedgerDirectory = Data.Default.Chunks,
            StateDirectory = Data.Default.State,
            IsPrivate = IsPrivate,
            Durable = durable,
        },
        new SequencerOptions { IsPrivate = IsPrivate },
        Secret,
        Service.Certificate,
        new NodeRootSigner(Node)).GetAwaiter().GetResult();

    /// <summary>256 bytes of printable contents, as <c>vellum generate --contents-size 256</c> writes.</summary>
    public static byte[] Contents(int size = 256)
    {
        var contents = new byte[size];
        for (var i = 0; i < contents.Length; i++)
        {
            contents[i] = (byte)('a' + (i % 26));
        }

        return contents;
    }

    /// <summary>Appends <paramref name="count"/> entries with <paramref name="concurrency"/> appenders.</summary>
    public static async Task AppendMany(SingleNodeLedger store, UserEntry entry, int count, int concurrency)
    {
        var next = -1;
        var workers = new Task[concurrency];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                while (Interlocked.Increment(ref next) < count)
                {
                    await store.AppendAsync(entry);
                }
            });
        }

        await Task.WhenAll(workers);
    }

    public void Dispose()
    {
        Service.Dispose();
        Node.Dispose();
        Secret.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
