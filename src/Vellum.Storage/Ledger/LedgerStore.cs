using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using Vellum.Core.Crypto;
using Vellum.Core.Merkle;
using Vellum.Core.Verification;
using Vellum.Storage.Indexing;
using Vellum.Storage.Tiles;

namespace Vellum.Storage.Ledger;

/// <summary>
/// One ledger on local disk, below consensus: applies committed batches of frames (checking each against the ledger
/// before any of it is written), closes chunks, keeps the Merkle tree and the indexes, and reads transactions and
/// receipts back. It sequences nothing: the sequencer above consensus does, and every batch, this node's own
/// included, reaches the store only once consensus has committed it.
/// </summary>
/// <remarks>
/// Threads: one applier at a time (consensus applies in log order; catch-up applies before consensus starts or inside
/// consensus's own restore), any number of readers. Files: see docs/ledger-format.md. Split by concern into
/// LedgerStore.Apply.cs (checks and writes), LedgerStore.Recovery.cs (open), LedgerStore.Read.cs and
/// LedgerStore.Receipts.cs.
/// </remarks>
public sealed partial class LedgerStore : IAsyncDisposable
{
    private readonly LedgerStoreOptions _options;
    private readonly LedgerSecret _secret;

    // Serialises everything that changes durable state (applying, closing chunks, syncing).
    private readonly Lock _applyLock = new();

    // Guards the Merkle tree: the applier appends leaves and writes tiles under it, receipts read proofs under it.
    private readonly Lock _treeLock = new();
    private readonly Lock _readLock = new();
    private readonly FileTileStore _tiles;
    private readonly LedgerIndex _index;
    private readonly List<ChunkInfo> _committedChunks = [];
    private readonly LedgerStoreMetrics _metrics;
    private readonly ILogger _logger;

    // Applied state, written under _applyLock. The tree holds exactly the applied leaves; the validator holds their
    // frontier (what the sequencer starts from and what a batch's signatures are checked against), the last view and
    // the last signature. _checked is its scratch list, reused from batch to batch.
    private MerkleTree _tree;
    private ChainValidator _validator = null!;
    private readonly List<CheckedFrame> _checked = [];
    private readonly List<ReadOnlyMemory<byte>> _gather = new(2);
    private long _lastView;
    private long _lastUserChangeSeqno;
    private long _lastGovernanceSeqno;
    private long _bytesInChunk;
    private Exception? _fault;
    private int _disposed;

    // Whether the open chunk may hold written bytes no fsync has covered (true at first: what recovery left is synced
    // once more rather than assumed), and how many fsyncs SyncToDisk has issued (for tests).
    private bool _unsynced = true;
    internal int SnapshotSyncs;

    // Durable state: written by the applier, read under _readLock.
    private OpenChunk? _openChunk;
    private long _durableSeqno;
    private long _committedSeqno;
    private TaskCompletionSource _commitChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private LedgerStore(LedgerStoreOptions options, LedgerSecret secret, FileTileStore tiles, LedgerIndex index, MerkleTree tree, ILogger logger)
    {
        _logger = logger;
        _options = options;
        _secret = secret;
        _tiles = tiles;
        _index = index;
        _tree = tree;
        _metrics = new LedgerStoreMetrics(this, options.LedgerName);
    }

    /// <summary>The options this store was opened with.</summary>
    public LedgerStoreOptions Options => _options;

    /// <summary>The highest view of any transaction applied (0 for an empty ledger).</summary>
    public long LastView => Volatile.Read(ref _lastView);

    /// <summary>Seqno of the last transaction whose bytes are applied (and durable, or held by a durable consensus log).</summary>
    public long DurableSeqno => Volatile.Read(ref _durableSeqno);

    /// <summary>Signatures applied without their ECDSA verification, as this process's own (a diagnostic).</summary>
    public long SignaturesSkippedAsOwn => _validator.SignaturesSkippedAsOwn;

    /// <summary>
    /// Seqno of the last applied signature transaction: every transaction up to it is Committed. Receipts exist for
    /// transactions at or below it.
    /// </summary>
    public long CommittedSeqno => Volatile.Read(ref _committedSeqno);

    /// <summary>Seqno of the last user-management transaction applied (0 if none), for callers that keep a user table.</summary>
    public long LastUserChangeSeqno => Volatile.Read(ref _lastUserChangeSeqno);

    /// <summary>Seqno of the last governance transaction applied (0 if none), for callers that keep governance state.</summary>
    public long LastGovernanceSeqno => Volatile.Read(ref _lastGovernanceSeqno);

    /// <summary>Completes the next time <see cref="CommittedSeqno"/> moves (or the store faults); read it before the seqno.</summary>
    public Task CommitChanged => Volatile.Read(ref _commitChanged).Task;

    /// <summary>The write failure that stopped this store (it applies nothing more until reopened), or null.</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

    /// <summary>The indexes by collection and tag.</summary>
    public LedgerIndex Index => _index;

    /// <summary>
    /// Where a new primary starts: a copy of the Merkle tree's right edge over every applied transaction (its size is
    /// the last applied seqno) and the last applied signature, read together.
    /// </summary>
    public AppliedLedgerState AppliedState()
    {
        lock (_applyLock)
        {
            return new AppliedLedgerState(_validator.CopyFrontier(), _validator.LastSignatureSeqno);
        }
    }

    /// <summary>Waits until <paramref name="seqno"/> is Committed here (no signature is asked for: the sequencer does that).</summary>
    public async ValueTask WaitForCommittedAsync(long seqno, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var changed = CommitChanged;
            if (CommittedSeqno >= seqno)
            {
                return;
            }

            ThrowIfFaulted();
            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }

        lock (_applyLock)
        {
            if (_openChunk is { } open)
            {
                // Applied batches that a durable consensus log holds may still be gathered in memory, or not fsynced
                // yet (LedgerStoreOptions.SyncEachBatch): a clean stop leaves the files complete on their own.
                if (_fault is null)
                {
                    if (_options.Durable)
                    {
                        SyncOpenChunk(open);
                    }
                    else
                    {
                        WriteTail(open);
                    }
                }

                open.Close();
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
            lock (_treeLock)
            {
                _tiles.Flush();
            }
        }

        Interlocked.Exchange(ref _commitChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))
            .TrySetException(new ObjectDisposedException(nameof(LedgerStore)));
        _metrics.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>A committed chunk: its seqno range and where its positions table starts.</summary>
    internal sealed record ChunkInfo(string Path, long FirstSeqno, long LastSeqno, long PositionsOffset);

    /// <summary>
    /// The chunk being appended to. Positions grow with the chunk only, so they stay bounded. Its file is opened at
    /// first use (a write, a read or a sync): a ledger that is only opened, as most of a node's many ledgers are at a
    /// time, holds no file descriptor.
    /// </summary>
    internal sealed class OpenChunk(string path, long firstSeqno, SafeFileHandle? handle, long length)
    {
        private SafeFileHandle? _handle = handle;
        private byte[]? _tail;

        public string Path { get; } = path;

        public long FirstSeqno { get; } = firstSeqno;

        /// <summary>The chunk's handle (read and write), opened now if it is not yet.</summary>
        public SafeFileHandle Handle => Volatile.Read(ref _handle) ?? OpenHandle();

        /// <summary>Whether the file is open (nothing was written or read through it since the store opened, when not).</summary>
        public bool IsOpen => Volatile.Read(ref _handle) is not null;

        /// <summary>The chunk's length: what is in the file (<see cref="FileLength"/>) and the gathered tail after it.</summary>
        public long Length { get; set; } = length;

        /// <summary>Bytes written to the file; the rest up to <see cref="Length"/> is the tail, in memory (write-behind).</summary>
        public long FileLength { get; set; } = length;

        /// <summary>The gathered bytes not yet in the file, from <see cref="FileLength"/> on (read under the store's read lock).</summary>
        public ReadOnlyMemory<byte> Tail => _tail.AsMemory(0, (int)(Length - FileLength));

        public List<long> Positions { get; } = [];

        public long LastSeqno => FirstSeqno + Positions.Count - 1;

        /// <summary>Closes the file, if open. The tail must be written first (<see cref="LedgerStore.WriteTail"/>).</summary>
        public void Close() => Interlocked.Exchange(ref _handle, null)?.Dispose();

        /// <summary>
        /// Adds <paramref name="bytes"/> to the tail, renting a buffer of <paramref name="capacity"/> bytes for the first.
        /// Caller holds the store's read lock and then adds the bytes' positions and length.
        /// </summary>
        public void AppendTail(ReadOnlySpan<byte> bytes, int capacity)
        {
            var count = (int)(Length - FileLength);
            _tail ??= System.Buffers.ArrayPool<byte>.Shared.Rent(capacity);
            bytes.CopyTo(_tail.AsSpan(count));
        }

        /// <summary>The tail is in the file: its buffer goes back to the pool. Caller holds the store's read lock.</summary>
        public void TailWritten()
        {
            FileLength = Length;
            if (_tail is { } tail)
            {
                _tail = null;
                System.Buffers.ArrayPool<byte>.Shared.Return(tail);
            }
        }

        private SafeFileHandle OpenHandle()
        {
            // A reader and the applier may both get here first: one handle is kept, the other closed.
            var opened = File.OpenHandle(Path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
            if (Interlocked.CompareExchange(ref _handle, opened, null) is { } first)
            {
                opened.Dispose();
                return first;
            }

            return opened;
        }
    }
}

/// <summary>The applied end of a ledger: the Merkle frontier over every applied transaction and the last signature's seqno.</summary>
public sealed record AppliedLedgerState(MerkleFrontier Frontier, long LastSignatureSeqno);
