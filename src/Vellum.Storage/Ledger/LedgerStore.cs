using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Merkle;
using Vellum.Storage.Indexing;
using Vellum.Storage.Tiles;

namespace Vellum.Storage.Ledger;

/// <summary>
/// One ledger on local disk: sequences transactions, appends them durably with group commit, writes signature
/// transactions, closes chunks, keeps the Merkle tree and the indexes, and reads transactions back.
/// </summary>
/// <remarks>
/// Threads: any number of appenders and readers. Sequencing (seqno, encoding, Merkle append) happens under one lock,
/// which is held for microseconds; one flusher task writes and fsyncs whole batches outside it. An append completes
/// only after the fsync that made its bytes durable. Files: see docs/ledger-format.md. Split by concern into
/// LedgerStore.Append.cs (sequencer and flusher), LedgerStore.Recovery.cs (open) and LedgerStore.Read.cs.
/// </remarks>
public sealed partial class LedgerStore : IAsyncDisposable
{
    private readonly LedgerStoreOptions _options;
    private readonly LedgerSecret _secret;
    private readonly IRootSigner _signer;
    private readonly Lock _sequenceLock = new();
    private readonly Lock _readLock = new();
    private readonly FileTileStore _tiles;
    private readonly LedgerIndex _index;
    private readonly List<ChunkInfo> _committedChunks = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _flushSignal = new(0, int.MaxValue);
    private readonly LedgerStoreMetrics _metrics;
    private readonly ILogger _logger;

    // Sequencer state, guarded by _sequenceLock.
    private MerkleTree _tree;
    private long _view;
    private long _lastSeqno;
    private long _lastSignatureSeqno;
    private long _unsignedCount;
    private long _bytesInChunk;
    private PendingBatch _current = new();
    private readonly Queue<PendingBatch> _sealed = new();
    private Exception? _fault;

    // Durable state: written by the flusher, read under _readLock.
    private OpenChunk? _openChunk;
    private long _durableSeqno;
    private long _committedSeqno;
    private TaskCompletionSource _commitChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly TaskCompletionSource _flusherExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _flushRequested;
    private Task _signatureTimer = Task.CompletedTask;

    private LedgerStore(LedgerStoreOptions options, LedgerSecret secret, IRootSigner signer, FileTileStore tiles, LedgerIndex index, MerkleTree tree, ILogger logger)
    {
        _logger = logger;
        _options = options;
        _secret = secret;
        _signer = signer;
        _tiles = tiles;
        _index = index;
        _tree = tree;
        _metrics = new LedgerStoreMetrics(this);
    }

    /// <summary>The options this store was opened with.</summary>
    public LedgerStoreOptions Options => _options;

    /// <summary>The view (term) new transactions get: one more than any view in the ledger, bumped on every open.</summary>
    public long View => _view;

    /// <summary>Seqno of the last transaction whose bytes are durable.</summary>
    public long DurableSeqno => Volatile.Read(ref _durableSeqno);

    /// <summary>
    /// Seqno of the last durable signature transaction: every transaction up to it is Committed (on a single node,
    /// global commit is exactly this). Receipts exist for transactions at or below it.
    /// </summary>
    public long CommittedSeqno => Volatile.Read(ref _committedSeqno);

    /// <summary>The last seqno assigned (durable or not).</summary>
    public long LastSeqno
    {
        get
        {
            lock (_sequenceLock)
            {
                return _lastSeqno;
            }
        }
    }

    /// <summary>The indexes by collection and tag.</summary>
    public LedgerIndex Index => _index;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _flushSignal.Release();
        try
        {
            await _signatureTimer.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await _flusherExited.Task.ConfigureAwait(false);

        // Batches still in consensus: their replication was started with the stopping token, so it ends now (or
        // consensus, stopped first, has ended it).
        Task[] replications;
        lock (_applyLock)
        {
            replications = [.. _replications];
        }

        await Task.WhenAll(replications).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        lock (_sequenceLock)
        {
            // An append that raced with shutdown sequenced into a batch no flusher will write (or the flusher stopped
            // while consensus was full): fail them rather than leave their callers waiting.
            var disposed = new ObjectDisposedException(nameof(LedgerStore));
            while (_sealed.Count > 0)
            {
                var batch = _sealed.Dequeue();
                batch.Durable.TrySetException(disposed);
                batch.Release();
            }

            _current.Durable.TrySetException(disposed);
            _current.Release();
        }

        if (_openChunk is { } open)
        {
            // Applied batches that consensus holds may not be fsynced yet (IBatchReplicator.KeepsBatchesDurably);
            // a clean stop leaves the files complete on their own.
            if (_options.Durable && _fault is null)
            {
                RandomAccess.FlushToDisk(open.Handle);
            }

            open.Handle.Dispose();
        }

        lock (_readLock)
        {
            foreach (var handle in _committedHandles.Values)
            {
                handle.Dispose();
            }

            _committedHandles.Clear();
        }

        _index.Flush(DurableSeqno);
        _tiles.Flush();
        _stopping.Dispose();
        _flushSignal.Dispose();
        _metrics.Dispose();
    }

    /// <summary>A committed chunk: its seqno range and where its positions table starts.</summary>
    internal sealed record ChunkInfo(string Path, long FirstSeqno, long LastSeqno, long PositionsOffset);

    /// <summary>The chunk being appended to. Positions grow with the chunk only, so they stay bounded.</summary>
    internal sealed class OpenChunk(string path, long firstSeqno, SafeFileHandle handle, long length)
    {
        public string Path { get; } = path;

        public long FirstSeqno { get; } = firstSeqno;

        public SafeFileHandle Handle { get; } = handle;

        public long Length { get; set; } = length;

        public List<long> Positions { get; } = [];

        public long LastSeqno => FirstSeqno + Positions.Count - 1;
    }
}
