using Vellum.Core.Entries;
using Vellum.Core.Format;
using Vellum.Core.Merkle;
using Vellum.Core.Primitives;

namespace Vellum.Storage.Ledger;

/// <summary>
/// The replicated mode. A store opened with an <see cref="IBatchReplicator"/> starts as a backup: it sequences
/// nothing and only applies committed batches (<see cref="ApplyCommitted"/>). <see cref="BecomePrimary"/> lets it
/// sequence in a new view; its flusher then hands each batch to consensus, and the batch is written when consensus
/// passes it back as committed. The Merkle tree runs ahead of the files on a primary (signatures need the root of
/// what is sequenced); <see cref="BecomeBackup"/> or a batch from another primary rolls it back to what is durable,
/// which is always committed and so never rolled back itself.
/// </summary>
public sealed partial class LedgerStore
{
    // Serialises everything that changes durable state: applying committed batches and rolling back. Taken before
    // _sequenceLock when both are needed.
    private readonly Lock _applyLock = new();
    private IBatchReplicator? _replicator;
    private volatile bool _isPrimary = true;

    // Batches handed to consensus and not yet passed back, oldest first (under _applyLock): ApplyCommitted recognises
    // the oldest when consensus passes it back. _batchesInFlight is its count, for the flusher to read without the lock.
    private readonly List<PendingBatch> _inFlight = [];
    private int _batchesInFlight;

    // Bumped by every rollback (under both locks); a batch sequenced before a rollback is never handed to consensus.
    private long _epoch;

    // The replications started and not yet finished (under _applyLock), awaited at dispose.
    private readonly HashSet<Task> _replications = [];

    /// <summary>
    /// Raised, with the first and last seqno, after a batch from another primary is written (under the store's apply
    /// lock, so handlers see batches in order and must be quick). The primary's own batches do not raise it.
    /// </summary>
    public event Action<long, long>? Applied;

    /// <summary>Raised with the new value of <see cref="IsPrimary"/> after every role change.</summary>
    public event Action<bool>? RoleChanged;

    /// <summary>Batches handed to consensus and not yet passed back (at most <see cref="LedgerStoreOptions.MaxBatchesInFlight"/>).</summary>
    public int BatchesInFlight => Volatile.Read(ref _batchesInFlight);

    /// <summary>The most batches that were in consensus at once since the store opened.</summary>
    public int PeakBatchesInFlight => Volatile.Read(ref _peakBatchesInFlight);

    private int _peakBatchesInFlight;

    /// <summary>True when this store replicates through consensus rather than writing on its own.</summary>
    public bool IsReplicated => _replicator is not null;

    /// <summary>True when this store may sequence transactions (always, unless replicated and not primary).</summary>
    public bool IsPrimary => _isPrimary;

    /// <summary>
    /// Makes this store the primary of <paramref name="view"/>: everything committed before must already be applied.
    /// Signs at once, so the new view starts with a signature over the whole history it inherits.
    /// </summary>
    public void BecomePrimary(long view)
    {
        if (_replicator is null)
        {
            throw new InvalidOperationException("only a replicated store changes role");
        }

        lock (_applyLock)
        {
            lock (_sequenceLock)
            {
                ThrowIfFaulted();
                if (view <= _view && _isPrimary)
                {
                    return;
                }

                if (view < _view)
                {
                    throw new ArgumentOutOfRangeException(nameof(view), $"view {view} is older than view {_view} already in the ledger");
                }

                RollBackLocked();
                _view = view;
                _isPrimary = true;
                if (_lastSeqno > 0)
                {
                    AppendSignatureLocked();
                }
            }
        }

        SignalFlusher();
        RoleChanged?.Invoke(true);
    }

    /// <summary>
    /// Stops sequencing. Transactions sequenced but not applied are dropped from this node's state and their callers
    /// get <see cref="ReplicationLostException"/>: whether they commit is up to the next primary.
    /// </summary>
    public void BecomeBackup()
    {
        lock (_applyLock)
        {
            lock (_sequenceLock)
            {
                _isPrimary = _replicator is null;
                RollBackLocked();
            }
        }

        RoleChanged?.Invoke(_isPrimary);
    }

    /// <summary>
    /// Applies a committed batch of frames, in commit order. Frames at or below <see cref="DurableSeqno"/> are skipped
    /// (consensus may replay after a restart); the rest must continue the ledger exactly. On the primary, its own
    /// batch is written as sequenced; a batch from another primary is checked frame by frame (checksums, seqnos,
    /// views, and each signature against the root of the tree it claims to sign) before any of it is written.
    /// </summary>
    /// <exception cref="LedgerCorruptException">The frames do not continue this ledger; nothing was written.</exception>
    public void ApplyCommitted(ReadOnlySpan<byte> frames)
    {
        lock (_applyLock)
        {
            ThrowIfFaulted();
            if (frames.IsEmpty)
            {
                return;
            }

            var firstId = PeekId(frames);
            var inFlight = _inFlight.Count > 0 ? _inFlight[0] : null;
            // Same first seqno is not enough: after a lost election another primary's batch can start at that seqno.
            // Comparing the bytes (a memcmp per batch) is what lets the tree, already holding these leaves, be kept.
            if (inFlight is not null && firstId.Seqno == inFlight.FirstSeqno && inFlight.Bytes.SequenceEqual(frames))
            {
                WriteDurably(inFlight);
                inFlight.Applied = true;
                _inFlight.RemoveAt(0);
                InFlightChangedLocked();

                // Committed on a majority and written here: its appenders go on now, not when consensus's own wait
                // for this entry returns to the flusher's side.
                inFlight.Durable.TrySetResult();
                SignalFlusher();
                return;
            }

            ApplyForeign(frames);
        }
    }

    /// <summary>
    /// fsyncs what has been applied to the open chunk (closed chunks were synced when they closed), so that every
    /// transaction up to <see cref="DurableSeqno"/> survives a crash without consensus passing it again. Consensus
    /// calls it before a snapshot lets its log drop entries (<see cref="IBatchReplicator.KeepsBatchesDurably"/>).
    /// </summary>
    public void SyncToDisk()
    {
        lock (_applyLock)
        {
            ThrowIfFaulted();
            if (_openChunk is { } chunk)
            {
                RandomAccess.FlushToDisk(chunk.Handle);
            }
        }
    }

    /// <summary>The id in the first frame's header.</summary>
    private static TxId PeekId(ReadOnlySpan<byte> frames)
    {
        if (Frame.TryRead(frames, out var bodyLength) != FrameStatus.Ok ||
            !EntryHeader.TryRead(frames.Slice(Frame.HeaderSize, bodyLength), out var header, out _))
        {
            throw new LedgerCorruptException("a replicated batch does not start with a valid frame");
        }

        return header.Id;
    }

    private void ApplyForeign(ReadOnlySpan<byte> frames)
    {
        // First check all of it against a copy of the right edge: a bad batch must change nothing.
        var leaves = new List<(Hash32 Leaf, int Offset, int Length, EntryHeader Header)>();
        var offset = 0;
        var expected = DurableSeqno + 1;
        var view = _view;
        while (offset < frames.Length)
        {
            var data = frames[offset..];
            var status = Frame.TryRead(data, out var bodyLength);
            if (status != FrameStatus.Ok)
            {
                throw new LedgerCorruptException($"replicated frame at byte {offset}: {Describe(status)}");
            }

            var body = data.Slice(Frame.HeaderSize, bodyLength);
            if (!EntryHeader.TryRead(body, out var header, out var error))
            {
                throw new LedgerCorruptException($"replicated entry at byte {offset}: {error}");
            }

            var frameLength = Frame.HeaderSize + bodyLength;
            if (header.Id.Seqno < expected)
            {
                // Already applied (a replay after restart): it must be the same transaction.
                if (header.Id.Seqno <= DurableSeqno && ReadHeader(header.Id.Seqno).Id != header.Id)
                {
                    throw new LedgerCorruptException($"replicated transaction {header.Id} differs from the applied one at seqno {header.Id.Seqno}");
                }

                offset += frameLength;
                continue;
            }

            if (header.Id.Seqno != expected)
            {
                throw new LedgerCorruptException($"replicated transaction {header.Id} does not follow seqno {expected - 1}");
            }

            if (header.Id.View < view)
            {
                throw new LedgerCorruptException($"replicated transaction {header.Id} goes back from view {view}");
            }

            view = header.Id.View;
            leaves.Add((EntryHeader.ComputeLeaf(body, header.CommitEvidenceDigest, header.ClaimsDigest), offset, frameLength, header));
            offset += frameLength;
            expected++;
        }

        if (leaves.Count == 0)
        {
            return;
        }

        lock (_sequenceLock)
        {
            // A primary that lost its role without being told yet has sequenced past what is durable.
            RollBackLocked();
            CheckSignatures(frames, leaves);
        }

        var batch = new PendingBatch();
        foreach (var (leaf, frameOffset, frameLength, header) in leaves)
        {
            lock (_sequenceLock)
            {
                frames.Slice(frameOffset, frameLength).CopyTo(batch.Reserve(header.Id.Seqno, frameLength));
                _tree.Append(leaf);
                _lastSeqno = header.Id.Seqno;
                _view = Math.Max(_view, header.Id.View);
                _bytesInChunk += frameLength;
                _unsignedCount++;
                if (header.Kind == EntryKind.Signature)
                {
                    _unsignedCount = 0;
                    _lastSignatureSeqno = header.Id.Seqno;
                    batch.LastSignatureSeqno = header.Id.Seqno;
                    batch.SignatureCount++;
                    if (_bytesInChunk >= _options.ChunkSizeThreshold)
                    {
                        // The same rule as the primary's, so chunks end at the same seqnos on every node.
                        batch.ClosesChunk = true;
                        _bytesInChunk = 0;
                    }
                }
            }

            if (batch.ClosesChunk)
            {
                WriteAndRelease(batch);
                batch = new PendingBatch();
            }
        }

        if (batch.Count > 0)
        {
            WriteAndRelease(batch);
        }
        else
        {
            batch.Release();
        }

        Applied?.Invoke(leaves[0].Header.Id.Seqno, leaves[^1].Header.Id.Seqno);
    }

    /// <summary>Each signature in the batch must sign the root of everything before it, with a valid node signature.</summary>
    private void CheckSignatures(ReadOnlySpan<byte> frames, List<(Hash32 Leaf, int Offset, int Length, EntryHeader Header)> leaves)
    {
        // Roots are computed on a scratch copy of the right edge so the real tree changes only once all is checked.
        var scratch = new MerkleFrontier();
        long start = 0;
        for (var width = 1L << 62; width > 0; width >>= 1)
        {
            if ((_tree.Size & width) != 0)
            {
                scratch.AppendSubtree(_tree.SubtreeHash(start, start + width), width);
                start += width;
            }
        }

        foreach (var (leaf, offset, length, header) in leaves)
        {
            if (header.Kind == EntryKind.Signature)
            {
                var body = frames.Slice(offset + Frame.HeaderSize, length - Frame.HeaderSize);
                if (!SignatureEntry.TryDecode(body, header, out var signature, out var error) || !signature!.VerifySignature(out error))
                {
                    throw new LedgerCorruptException($"replicated signature {header.Id}: {error}");
                }

                if (signature.TreeSize != header.Id.Seqno - 1 || scratch.Root() != signature.Root)
                {
                    throw new LedgerCorruptException($"replicated signature {header.Id} does not sign the root of the ledger before it");
                }
            }

            scratch.Append(leaf);
        }
    }

    private void WriteAndRelease(PendingBatch batch)
    {
        try
        {
            WriteDurably(batch);
            batch.Durable.TrySetResult();
        }
        finally
        {
            batch.Release();
        }
    }

    /// <summary>Writes a batch; a storage failure stops the store (it cannot skip a committed batch and go on).</summary>
    private void WriteDurably(PendingBatch batch)
    {
        try
        {
            WriteBatch(batch);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogMessages.WriteFailed(_logger, ex);
            lock (_sequenceLock)
            {
                _fault = ex;
            }

            throw;
        }
    }

    /// <summary>
    /// Drops everything sequenced past the durable state: pending batches fail with <see cref="ReplicationLostException"/>
    /// and the tree goes back to the durable size. Caller holds <see cref="_applyLock"/> and <see cref="_sequenceLock"/>.
    /// </summary>
    private void RollBackLocked()
    {
        var durable = DurableSeqno;
        if (_lastSeqno == durable && _current.Count == 0 && _sealed.Count == 0)
        {
            return;
        }

        _epoch++;
        var lost = new ReplicationLostException();

        // Batches in consensus may still commit (under the next primary): if they do, they arrive as another
        // primary's batches, checked and added to the tree again like any other.
        foreach (var batch in _inFlight)
        {
            batch.Durable.TrySetException(lost);
        }

        _inFlight.Clear();
        InFlightChangedLocked();
        while (_sealed.Count > 0)
        {
            _sealed.Dequeue().Durable.TrySetException(lost);
        }

        _current.Durable.TrySetException(lost);
        _current = new PendingBatch();
        if (_lastSeqno != durable)
        {
            // Full tiles below the durable size hold only durable leaves; any written past it are rewritten when the
            // tree passes them again (and a crash before that is caught by the root check at open).
            _tree = MerkleTree.Open(_tiles, durable, ReadLeaves);
            _lastSeqno = durable;
        }

        _lastSignatureSeqno = CommittedSeqno;
        _unsignedCount = durable - _lastSignatureSeqno;
        lock (_readLock)
        {
            _bytesInChunk = _openChunk is null ? 0 : _openChunk.Length - ChunkFormat.HeaderSize;
        }
    }

    /// <summary>
    /// The flusher's step in replicated mode: hand the batch to consensus, in seqno order, without waiting for it to
    /// commit. It completes when consensus passes it back (<see cref="ApplyCommitted"/>) or fails in
    /// <see cref="FinishReplication"/>, which also gives its buffer back.
    /// </summary>
    private void StartReplication(PendingBatch batch)
    {
        lock (_applyLock)
        {
            if (batch.Epoch != Volatile.Read(ref _epoch))
            {
                // Sequenced before a rollback (a role change while the flusher held it): its seqnos mean nothing now.
                batch.Durable.TrySetException(new ReplicationLostException());
                batch.Release();
                return;
            }

            _inFlight.Add(batch);
            InFlightChangedLocked();
        }

        Task replication;
        try
        {
            replication = _replicator!.BeginReplicateAsync(batch.Memory, _stopping.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            replication = Task.FromException(ex);
        }

        if (replication.IsCompleted)
        {
            FinishReplication(batch, replication);
            return;
        }

        var finished = replication.ContinueWith(
            static (task, state) =>
            {
                var (store, batch) = ((LedgerStore, PendingBatch))state!;
                store.FinishReplication(batch, task);
            },
            (this, batch), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        lock (_applyLock)
        {
            _replications.RemoveWhere(static t => t.IsCompleted);
            _replications.Add(finished);
        }
    }

    /// <summary>Publishes the count of <see cref="_inFlight"/> (and its peak) for lock-free readers. Caller holds <see cref="_applyLock"/>.</summary>
    private void InFlightChangedLocked()
    {
        Volatile.Write(ref _batchesInFlight, _inFlight.Count);
        if (_inFlight.Count > _peakBatchesInFlight)
        {
            Volatile.Write(ref _peakBatchesInFlight, _inFlight.Count);
        }
    }

    /// <summary>
    /// Consensus is done with a batch: it was applied (its appenders already went on), or its outcome is unknown
    /// (<see cref="ReplicationLostException"/>). Gives the buffer back and wakes a flusher waiting for room.
    /// </summary>
    private void FinishReplication(PendingBatch batch, Task replication)
    {
        if (replication.IsCompletedSuccessfully)
        {
            if (!batch.Applied)
            {
                batch.Durable.TrySetException(new ReplicationLostException("consensus acknowledged a batch that was never applied on this node; its outcome is unknown"));
            }
        }
        else
        {
            var ex = replication.Exception?.InnerException ?? new OperationCanceledException("the replication was cancelled");
            batch.Durable.TrySetException(ex as ReplicationLostException ?? new ReplicationLostException(ex.Message, ex));
        }

        Exception? fault;
        lock (_applyLock)
        {
            if (_inFlight.Remove(batch))
            {
                InFlightChangedLocked();
            }

            batch.Release();
            fault = _fault;
        }

        if (fault is not null)
        {
            // Applying a batch failed to write (WriteDurably stopped the store): nothing sequenced will be written.
            FailPending(fault);
        }
        else if (!_stopping.IsCancellationRequested)
        {
            SignalFlusher();
        }
    }
}
