using System.Text;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Identity;
using Vellum.Ledger;
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

    public LedgerStoreOptions Options(long chunkSize = 16 * 1024, bool durable = true) => new()
    {
        LedgerDirectory = Data.Default.Chunks,
        StateDirectory = Data.Default.State,
        IsPrivate = IsPrivate,
        ChunkSizeThreshold = chunkSize,
        Durable = durable,
    };

    public SequencerOptions SequencerOptions(int signatureInterval = 20) => new()
    {
        IsPrivate = IsPrivate,
        SignatureInterval = signatureInterval,
        SignatureDelay = TimeSpan.FromMilliseconds(20),
    };

    /// <summary>Opens the ledger through the node's write path: sequencer, single-node consensus, applier, store.</summary>
    public TestStore Open(LedgerStoreOptions? options = null, int signatureInterval = 20) =>
        new(SingleNodeLedger.OpenAsync(options ?? Options(), SequencerOptions(signatureInterval), Secret, Service.Certificate, new NodeRootSigner(Node)).GetAwaiter().GetResult());

    public static UserEntry Entry(int i, string? collection = null, params string[] tags) =>
        new(collection ?? $"collection-{i % 3}", tags, Encoding.UTF8.GetBytes($"entry {i} " + new string('z', i % 200)), []);

    /// <summary>Appends <paramref name="count"/> entries with <paramref name="concurrency"/> writers and waits for commit.</summary>
    public static Task<List<(long Seqno, int Index)>> AppendMany(TestStore ledger, int count, int concurrency = 32, int start = 0) =>
        AppendMany(ledger.Sequencer, count, concurrency, start);

    /// <summary>Appends <paramref name="count"/> entries with <paramref name="concurrency"/> writers and waits for commit.</summary>
    public static async Task<List<(long Seqno, int Index)>> AppendMany(Sequencer store, int count, int concurrency = 32, int start = 0)
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

/// <summary>
/// A ledger opened by a test: the store (reads, receipts, indexes) and the sequencer (appends) of one
/// <see cref="SingleNodeLedger"/>, under the names the tests use.
/// </summary>
internal sealed class TestStore(SingleNodeLedger ledger) : IAsyncDisposable
{
    public SingleNodeLedger Ledger => ledger;

    public LedgerStore Store => ledger.Store;

    public Sequencer Sequencer => ledger.Sequencer;

    public LedgerStoreOptions Options => ledger.Store.Options;

    public long LastSeqno => ledger.Sequencer.LastSeqno;

    public long View => ledger.Sequencer.View;

    public long DurableSeqno => ledger.Store.DurableSeqno;

    public long CommittedSeqno => ledger.Store.CommittedSeqno;

    public Vellum.Storage.Indexing.LedgerIndex Index => ledger.Store.Index;

    public ValueTask<Vellum.Core.Primitives.TxId> AppendAsync(ITransactionBody entry, CancellationToken cancellationToken = default) =>
        ledger.Sequencer.AppendAsync(entry, cancellationToken);

    public ValueTask<Vellum.Core.Primitives.TxId?> SignAsync(CancellationToken cancellationToken = default) => ledger.Sequencer.SignAsync(cancellationToken);

    public ValueTask WaitForCommitAsync(long seqno, CancellationToken cancellationToken = default) =>
        ledger.Sequencer.WaitForCommitAsync(seqno, cancellationToken);

    public byte[] ReadBody(long seqno) => ledger.Store.ReadBody(seqno);

    public byte[] ReadFrames(long fromSeqno, int maxBytes, out long lastSeqno) => ledger.Store.ReadFrames(fromSeqno, maxBytes, out lastSeqno);

    public EntryHeader ReadHeader(long seqno) => ledger.Store.ReadHeader(seqno);

    public (Vellum.Core.Primitives.TxId Id, UserEntry Entry) ReadUserEntry(long seqno) => ledger.Store.ReadUserEntry(seqno);

    public List<(Vellum.Core.Primitives.TxId Id, UserEntry Entry)> ReadEntries(
        string collectionId, string? tag, long fromSeqno, long toSeqno, int pageSize, int examineLimit, out long nextSeqno) =>
        ledger.Store.ReadEntries(collectionId, tag, fromSeqno, toSeqno, pageSize, examineLimit, out nextSeqno);

    public Vellum.Core.Receipts.TransactionReceipt GetReceipt(long seqno, bool includeClaims = true) => ledger.Store.GetReceipt(seqno, includeClaims);

    public ValueTask DisposeAsync() => ledger.DisposeAsync();
}
