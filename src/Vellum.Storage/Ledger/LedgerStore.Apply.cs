using Vellum.Core.Entries;
using Vellum.Core.Format;
using Vellum.Core.Primitives;
using Vellum.Core.Verification;
using Vellum.Storage.IO;

namespace Vellum.Storage.Ledger;

public sealed partial class LedgerStore
{
    /// <summary>
    /// Applies a committed batch of frames, in commit order: consensus passes every committed batch here (this node's
    /// own as well as another primary's), and catch-up passes what it fetched from a peer. Frames at or below
    /// <see cref="DurableSeqno"/> are skipped (consensus may replay after a restart) once shown to be the same
    /// transactions; the rest must continue the ledger exactly, and the whole batch is checked frame by frame
    /// (checksums, seqnos, views, and each signature against the root of the tree it claims to sign) before any of it
    /// is written. Written batches are fsynced unless <see cref="LedgerStoreOptions.SyncEachBatch"/> is false.
    /// </summary>
    /// <exception cref="LedgerCorruptException">The frames do not continue this ledger; nothing was written.</exception>
    /// <exception cref="IOException">A write failed: the store stops (it cannot skip a committed batch and go on).</exception>
    public void ApplyCommitted(ReadOnlySpan<byte> frames)
    {
        lock (_applyLock)
        {
            ThrowIfFaulted();
            if (frames.IsEmpty)
            {
                return;
            }

            var leaves = CheckBatch(frames);
            if (leaves.Count == 0)
            {
                return;
            }

            WriteChecked(frames, leaves);
        }
    }

    /// <summary>
    /// Closes the files the store holds open: the open chunk's (fsynced first when something written to it waits for a
    /// sync) and the committed chunks' read handles. The next write or read opens what it needs again; a read that
    /// raced with the close retries (<see cref="ReadBody"/>). A node calls it once a ledger has opened (opening reads
    /// the tree's last leaves and the user changes), so that its idle ledgers hold no file descriptor.
    /// </summary>
    public void ReleaseFiles()
    {
        lock (_applyLock)
        {
            if (_fault is null && _openChunk is { } chunk)
            {
                SyncOpenChunk(chunk);
                chunk.Close();
            }

            lock (_readLock)
            {
                foreach (var handle in _committedHandles.Values)
                {
                    handle.Dispose();
                }

                _committedHandles.Clear();
                _committedHandleOrder.Clear();
            }
        }
    }

    /// <summary>
    /// fsyncs what has been applied to the open chunk (closed chunks were synced when they closed), so that every
    /// transaction up to <see cref="DurableSeqno"/> survives a crash without consensus passing it again. Consensus
    /// calls it before a snapshot lets its log drop entries (<see cref="LedgerStoreOptions.SyncEachBatch"/> false).
    /// A ledger that has applied nothing since its last fsync issues none: a snapshot of a node with many ledgers costs
    /// one fsync per ledger that was written to, not one per ledger.
    /// </summary>
    public void SyncToDisk()
    {
        lock (_applyLock)
        {
            ThrowIfFaulted();
            if (_openChunk is { } chunk && SyncOpenChunk(chunk))
            {
                SnapshotSyncs++;
            }

            _unsynced = false;
        }
    }

    /// <summary>
    /// Checks every frame of a batch against the ledger (<see cref="ChainValidator"/>: a bad batch changes nothing) and
    /// returns the new frames with their leaves. Caller holds <see cref="_applyLock"/>.
    /// </summary>
    private List<CheckedFrame> CheckBatch(ReadOnlySpan<byte> frames)
    {
        if (_validator.TryCheck(frames, ReadAppliedId, _checked) is { } error)
        {
            throw new LedgerCorruptException($"committed batch refused: {error}");
        }

        return _checked;
    }

    private TxId ReadAppliedId(long seqno) => ReadHeader(seqno).Id;

    /// <summary>
    /// Writes checked frames in batches that end where a chunk closes (the same rule on every node, so chunks end at
    /// the same seqnos everywhere). Caller holds <see cref="_applyLock"/>.
    /// </summary>
    private void WriteChecked(ReadOnlySpan<byte> frames, List<CheckedFrame> leaves)
    {
        var batch = new PendingBatch(frames.Length);
        try
        {
            foreach (var (leaf, frameOffset, frameLength, header) in leaves)
            {
                frames.Slice(frameOffset, frameLength).CopyTo(batch.Reserve(header.Id.Seqno, frameLength));
                lock (_treeLock)
                {
                    _tree.Append(leaf);
                }

                Volatile.Write(ref _lastView, Math.Max(_lastView, header.Id.View));
                _bytesInChunk += frameLength;
                if (header.Kind == EntryKind.UserManagement)
                {
                    batch.LastUserChangeSeqno = header.Id.Seqno;
                }
                else if (header.Kind == EntryKind.Governance)
                {
                    batch.LastGovernanceSeqno = header.Id.Seqno;
                }

                if (header.Kind == EntryKind.Signature)
                {
                    batch.LastSignatureSeqno = header.Id.Seqno;
                    batch.SignatureCount++;
                    if (_bytesInChunk >= _options.ChunkSizeThreshold)
                    {
                        batch.ClosesChunk = true;
                        _bytesInChunk = 0;
                        WriteDurably(batch);
                        batch.Release();
                        batch = new PendingBatch(frames.Length);
                    }
                }
            }

            if (batch.Count > 0)
            {
                WriteDurably(batch);
            }

            _validator.Commit(leaves);
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
            Volatile.Write(ref _fault, ex);
            Interlocked.Exchange(ref _commitChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetException(ex);
            throw;
        }
    }

    private void ThrowIfFaulted()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_fault is not null)
        {
            throw new IOException("the ledger store stopped after a write failure; restart to recover", _fault);
        }
    }

    private void WriteBatch(PendingBatch batch)
    {
        var chunk = _openChunk ?? CreateChunk(batch.FirstSeqno);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var syncEach = _options.Durable && _options.SyncEachBatch;

        // Behind a durable consensus log, a batch that fits joins the chunk's tail in memory (write-behind): a ledger
        // with a few transactions in each round of a node's log then costs a positional write per tail, not per round.
        var gathered = !syncEach && chunk.Length - chunk.FileLength + batch.Length <= _options.WriteBehindBytes;
        if (!gathered)
        {
            WriteTailAnd(chunk, batch.Memory);
            if (syncEach)
            {
                // The fsync that every transaction in the batch waits for. (Replicated through a durable consensus log:
                // that log already holds the batch and replays it after a crash, so the files are synced at snapshots.)
                RandomAccess.FlushToDisk(chunk.Handle);
            }
        }

        _unsynced = !syncEach;
        _metrics.BatchWritten(batch, started);

        lock (_readLock)
        {
            if (gathered)
            {
                chunk.AppendTail(batch.Bytes, _options.WriteBehindBytes);
            }

            foreach (var offset in batch.FrameOffsets)
            {
                chunk.Positions.Add(chunk.Length + offset);
            }

            chunk.Length += batch.Length;
            if (!gathered)
            {
                chunk.TailWritten();
            }
        }

        _index.Add(batch);
        if (batch.LastUserChangeSeqno > 0)
        {
            Volatile.Write(ref _lastUserChangeSeqno, batch.LastUserChangeSeqno);
        }

        if (batch.LastGovernanceSeqno > 0)
        {
            Volatile.Write(ref _lastGovernanceSeqno, batch.LastGovernanceSeqno);
        }

        Volatile.Write(ref _durableSeqno, batch.LastSeqno);
        if (batch.LastSignatureSeqno > 0)
        {
            Volatile.Write(ref _committedSeqno, batch.LastSignatureSeqno);
            Interlocked.Exchange(ref _commitChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }

        if (batch.ClosesChunk)
        {
            CloseChunk(chunk);
        }
    }

    /// <summary>
    /// Writes the open chunk's tail, then fsyncs it if anything written to it waits for a sync; returns whether it
    /// fsynced. Not open after the tail: nothing was written since the store opened (a write opens the file), so
    /// nothing to sync. Caller holds <see cref="_applyLock"/>.
    /// </summary>
    private bool SyncOpenChunk(OpenChunk chunk)
    {
        WriteTail(chunk);
        if (!chunk.IsOpen || !_unsynced)
        {
            return false;
        }

        RandomAccess.FlushToDisk(chunk.Handle);
        _unsynced = false;
        return true;
    }

    /// <summary>
    /// Writes the open chunk's gathered tail, if any, to its file (opening the file if it is not open). Caller holds
    /// <see cref="_applyLock"/>; readers find those transactions in the file from here on.
    /// </summary>
    private void WriteTail(OpenChunk chunk)
    {
        if (chunk.Length != chunk.FileLength)
        {
            RandomAccess.Write(chunk.Handle, chunk.Tail.Span, chunk.FileLength);
            _unsynced = true;
            lock (_readLock)
            {
                chunk.TailWritten();
            }
        }
    }

    /// <summary>
    /// Writes the tail and then <paramref name="bytes"/> in one positional write at the end of the file. The caller
    /// adds the bytes' positions and length and calls <see cref="OpenChunk.TailWritten"/> under the read lock.
    /// </summary>
    private void WriteTailAnd(OpenChunk chunk, ReadOnlyMemory<byte> bytes)
    {
        if (chunk.Length == chunk.FileLength)
        {
            RandomAccess.Write(chunk.Handle, bytes.Span, chunk.FileLength);
            return;
        }

        _gather.Clear();
        _gather.Add(chunk.Tail);
        _gather.Add(bytes);
        RandomAccess.Write(chunk.Handle, _gather, chunk.FileLength);
        _gather.Clear();
    }

    private OpenChunk CreateChunk(long firstSeqno)
    {
        var path = Path.Combine(_options.LedgerDirectory, ChunkFormat.OpenName(firstSeqno));
        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);
        OwnerOnly.Restrict(handle);
        Span<byte> header = stackalloc byte[ChunkFormat.HeaderSize];
        ChunkFormat.WriteHeader(header, firstSeqno, _options.IsPrivate);
        RandomAccess.Write(handle, header, 0);
        if (_options.Durable)
        {
            RandomAccess.FlushToDisk(handle);
            Durability.SyncDirectory(_options.LedgerDirectory);
        }

        var chunk = new OpenChunk(path, firstSeqno, handle, ChunkFormat.HeaderSize);
        lock (_readLock)
        {
            _openChunk = chunk;
        }

        return chunk;
    }

    /// <summary>
    /// Appends the positions table and trailer, fsyncs, renames to <c>ledger_{first}-{last}.committed</c> and fsyncs
    /// the directory. A crash at any point leaves either the open chunk (its half-written trailer is a torn tail that
    /// recovery truncates, then closes again) or the committed one.
    /// </summary>
    private void CloseChunk(OpenChunk chunk)
    {
        WriteTail(chunk);
        var trailer = new byte[ChunkFormat.TrailerLength(chunk.Positions.Count)];
        ChunkFormat.WriteTrailer(trailer, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(chunk.Positions));
        RandomAccess.Write(chunk.Handle, trailer, chunk.Length);
        RandomAccess.FlushToDisk(chunk.Handle);
        var committedPath = Path.Combine(_options.LedgerDirectory, ChunkFormat.CommittedName(chunk.FirstSeqno, chunk.LastSeqno));
        File.Move(chunk.Path, committedPath);
        Durability.SyncDirectory(_options.LedgerDirectory);
        lock (_readLock)
        {
            _committedChunks.Add(new ChunkInfo(committedPath, chunk.FirstSeqno, chunk.LastSeqno, chunk.Length));
            _openChunk = null;
        }

        // Readers find the chunk as committed from here on; one that took the open handle just before retries there
        // (ReadBody). The handle stayed valid through the rename, so no read ever saw a closed file before this.
        chunk.Close();

        LogMessages.ChunkClosed(_logger, committedPath);

        // Derived state catches up at chunk boundaries, off the per-transaction path.
        lock (_treeLock)
        {
            _tiles.Flush();
        }

        _index.Flush(chunk.LastSeqno);
    }
}
