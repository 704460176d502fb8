using System.Text;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Identity;
using Vellum.Storage.Ledger;

namespace Vellum.Storage.Tests;

/// <summary>A data folder in a temp directory with real identities, deleted at the end of the test.</summary>
internal sealed class TestLedger : IDisposable
{
    public TestLedger(bool isPrivate = false, string? root = null)
    {
        Root = root ?? Path.Combine(Path.GetTempPath(), "vellum-test-" + Guid.NewGuid().ToString("N"));
        Data = new DataDirectory(Root);
        (Service, Node, Secret, IsPrivate) = Data.OpenOrCreate(isPrivate);
    }

    public string Root { get; }

    public DataDirectory Data { get; }

    public ServiceIdentity Service { get; }

    public NodeIdentity Node { get; }

    public LedgerSecret Secret { get; }

    public bool IsPrivate { get; }

    public LedgerStoreOptions Options(long chunkSize = 16 * 1024, int signatureInterval = 20, bool durable = true) => new()
    {
        LedgerDirectory = Data.Ledger,
        StateDirectory = Data.State,
        IsPrivate = IsPrivate,
        ChunkSizeThreshold = chunkSize,
        SignatureInterval = signatureInterval,
        SignatureDelay = TimeSpan.FromMilliseconds(20),
        Durable = durable,
    };

    public LedgerStore Open(LedgerStoreOptions? options = null) => LedgerStore.Open(options ?? Options(), Secret, new NodeRootSigner(Node));

    public static UserEntry Entry(int i, string? collection = null, params string[] tags) =>
        new(collection ?? $"collection-{i % 3}", tags, Encoding.UTF8.GetBytes($"entry {i} " + new string('z', i % 200)), []);

    /// <summary>Appends <paramref name="count"/> entries with <paramref name="concurrency"/> writers and waits for commit.</summary>
    public static async Task<List<(long Seqno, int Index)>> AppendMany(LedgerStore store, int count, int concurrency = 32, int start = 0)
    {
        var acked = new List<(long, int)>();
        var next = start - 1;
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < start + count)
            {
                var id = await store.AppendAsync(Entry(i, tags: i % 4 == 0 ? ["quarter"] : []));
                lock (acked)
                {
                    acked.Add((id.Seqno, i));
                }
            }
        })).ToArray();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));
        await store.WaitForCommitAsync(store.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        return acked;
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
