using Vellum.Core.Entries;
using Vellum.Core.Format;
using Vellum.Core.Primitives;
using Vellum.Storage.IO;

namespace Vellum.Storage.Ledger;

public sealed partial class LedgerStore
{
    /// <summary>
    /// Appends a transaction (a user entry, a user change, …). Returns its transaction id once its bytes are durable (fsynced); it is then Pending until
    /// the next signature transaction is durable too (<see cref="CommittedSeqno"/>).
    /// </summary>
    public async ValueTask<TxId> AppendAsync(ITransactionBody entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        cancellationToken.ThrowIfCancellationRequested();
        var claimsDigest = entry.ClaimsDigest();
        PendingBatch batch;
        TxId id;
        lock (_sequenceLock)
        {
            ThrowIfNotWritable();
            id = new TxId(_view, ++_lastSeqno);
            var bodyLength = entry.EncodedLength(_options.IsPrivate);
            var frame = _current.Reserve(id.Seqno, Frame.HeaderSize + bodyLength);
            var body = frame[Frame.HeaderSize..];
            var ced = _secret.CommitEvidenceDigest(id);
            entry.Encode(body, id, ced, claimsDigest, _options.IsPrivate ? _secret : null);
            Frame.WriteHeader(frame, body);
            _tree.Append(EntryHeader.ComputeLeaf(body, ced, claimsDigest));
            _bytesInChunk += frame.Length;
            _unsignedCount++;
            batch = _current;
            if (_unsignedCount >= _options.SignatureInterval)
            {
                AppendSignatureLocked();
            }
        }

        SignalFlusher();

        // Once sequenced, the transaction is written whatever the caller does, so the wait is not cancellable: a
        // cancellable wait would cost a promise and a token registration per append, and an abandoned wait would
        // only hide the outcome from the caller.
        try
        {
            await batch.Durable.Task.ConfigureAwait(false);
        }
        catch (ReplicationLostException ex)
        {
            throw new ReplicationLostException($"transaction {id}: {ex.Message}", ex);
        }

        return id;
    }

    /// <summary>Writes a signature transaction now if any transaction is unsigned; returns when it is durable.</summary>
    public async ValueTask<TxId?> SignAsync(CancellationToken cancellationToken = default)
    {
        PendingBatch batch;
        TxId id;
        lock (_sequenceLock)
        {
            ThrowIfNotWritable();
            if (_unsignedCount == 0)
            {
                return null;
            }

            batch = _current;
            id = AppendSignatureLocked();
        }

        SignalFlusher();
        await batch.Durable.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return id;
    }

    /// <summary>
    /// Waits until <paramref name="seqno"/> is committed (covered by a durable signature), asking for a signature at
    /// once rather than waiting for the timer.
    /// </summary>
    public async ValueTask WaitForCommitAsync(long seqno, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var changed = Volatile.Read(ref _commitChanged);
            if (CommittedSeqno >= seqno)
            {
                return;
            }

            lock (_sequenceLock)
            {
                ThrowIfFaulted();
                if (!_isPrimary)
                {
                    // A backup waits for the primary's signatures to arrive.
                }
                else if (seqno > _lastSeqno)
                {
                    throw new ArgumentOutOfRangeException(nameof(seqno), $"seqno {seqno} has not been assigned");
                }

                else if (_lastSignatureSeqno < seqno)
                {
                    AppendSignatureLocked();
                }
            }

            SignalFlusher();
            await changed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sequences a signature over the root of every earlier transaction and, when the chunk is past its size
    /// threshold, seals the batch so the flusher closes the chunk right after it.
    /// </summary>
    private TxId AppendSignatureLocked()
    {
        var id = new TxId(_view, ++_lastSeqno);
        var root = _tree.Root();
        var signature = new SignatureEntry(_tree.Size, root, _lastSignatureSeqno + 1, _signer.NodeId, _signer.CertificateDer.ToArray(), _signer.SignRoot(root));
        var ced = _secret.CommitEvidenceDigest(id);
        var frame = _current.Reserve(id.Seqno, Frame.HeaderSize + signature.EncodedLength);
        var body = frame[Frame.HeaderSize..];
        signature.Encode(body, id, ced);
        Frame.WriteHeader(frame, body);
        _tree.Append(EntryHeader.ComputeLeaf(body, ced, Hash32.Zero));
        _bytesInChunk += frame.Length;
        _unsignedCount = 0;
        _lastSignatureSeqno = id.Seqno;
        _current.LastSignatureSeqno = id.Seqno;
        _current.SignatureCount++;
        if (_bytesInChunk >= _options.ChunkSizeThreshold)
        {
            _current.ClosesChunk = true;
            _sealed.Enqueue(_current);
            _current = new PendingBatch();
            _bytesInChunk = 0;
        }

        return id;
    }

    /// <summary>
    /// Wakes the flusher if it is idle. Appenders only set a flag while the flusher is busy, so a burst of appends
    /// costs one semaphore release and the flusher one pass over the sequence lock per batch, not per append.
    /// </summary>
    private void SignalFlusher()
    {
        if (Interlocked.Exchange(ref _flushRequested, 1) == 0)
        {
            _flushSignal.Release();
        }
    }

    private void ThrowIfNotWritable()
    {
        ThrowIfFaulted();
        if (!_isPrimary)
        {
            throw new NotPrimaryException();
        }
    }

    private void ThrowIfFaulted()
    {
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        if (_fault is not null)
        {
            throw new IOException("the ledger store stopped after a write failure; restart to recover", _fault);
        }
    }

    private PendingBatch? TakeBatch()
    {
        lock (_sequenceLock)
        {
            PendingBatch batch;
            if (_sealed.Count > 0)
            {
                batch = _sealed.Dequeue();
            }
            else if (_current.Count == 0)
            {
                return null;
            }
            else
            {
                batch = _current;
                _current = new PendingBatch();
            }

            batch.Epoch = _epoch;
            return batch;
        }
    }

    /// <summary>
    /// The one writer, on a thread of its own so that its fsync never blocks a thread-pool thread: takes whole
    /// batches, writes each with one positional write and one fsync.
    /// </summary>
    private void FlushLoop()
    {
        try
        {
            while (true)
            {
                var batch = TakeBatchIfRoom();
                if (batch is null)
                {
                    // Clear the request flag before looking again: an append sequenced (or, replicated, a batch
                    // leaving consensus) after this look sets the flag anew and releases the semaphore, so nothing is
                    // left waiting for a signal that never comes.
                    Interlocked.Exchange(ref _flushRequested, 0);
                    batch = TakeBatchIfRoom();
                    if (batch is null)
                    {
                        if (_stopping.IsCancellationRequested)
                        {
                            return;
                        }

                        _flushSignal.Wait();
                        continue;
                    }
                }

                if (!TryWrite(batch))
                {
                    return;
                }
            }
        }
        finally
        {
            _flusherExited.TrySetResult();
        }
    }

    /// <summary>The next batch, unless there is none or (replicated) as many as allowed are already in consensus.</summary>
    private PendingBatch? TakeBatchIfRoom() =>
        _replicator is not null && BatchesInFlight >= _options.MaxBatchesInFlight ? null : TakeBatch();

    private bool TryWrite(PendingBatch batch)
    {
        if (_replicator is not null)
        {
            StartReplication(batch);
            return true;
        }

        try
        {
            WriteBatch(batch);
            batch.Durable.TrySetResult();
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogMessages.WriteFailed(_logger, ex);
            lock (_sequenceLock)
            {
                _fault = ex;
            }

            batch.Durable.TrySetException(ex);
            FailPending(ex);
            return false;
        }
        finally
        {
            batch.Release();
        }
    }

    /// <summary>After a write failure: every batch waiting to be written, and every commit waiter, fails with it.</summary>
    private void FailPending(Exception fault)
    {
        lock (_sequenceLock)
        {
            while (_sealed.Count > 0)
            {
                _sealed.Dequeue().Durable.TrySetException(fault);
            }

            _current.Durable.TrySetException(fault);
        }

        Interlocked.Exchange(ref _commitChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetException(fault);
    }

    private void WriteBatch(PendingBatch batch)
    {
        var chunk = _openChunk ?? CreateChunk(batch.FirstSeqno);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        RandomAccess.Write(chunk.Handle, batch.Bytes, chunk.Length);
        if (_options.Durable && _replicator?.KeepsBatchesDurably != true)
        {
            // The fsync that every transaction in the batch waits for. (Replicated through a durable consensus log:
            // that log already holds the batch and replays it after a crash, so the files are synced at snapshots.)
            RandomAccess.FlushToDisk(chunk.Handle);
        }

        _metrics.BatchWritten(batch, started);

        lock (_readLock)
        {
            foreach (var offset in batch.FrameOffsets)
            {
                chunk.Positions.Add(chunk.Length + offset);
            }

            chunk.Length += batch.Length;
        }

        _index.Add(batch);
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
        chunk.Handle.Dispose();

        LogMessages.ChunkClosed(_logger, committedPath);

        // Derived state catches up at chunk boundaries, off the per-transaction path. The tree writes tiles under the
        // sequence lock, so their fsync takes it too.
        lock (_sequenceLock)
        {
            _tiles.Flush();
        }

        _index.Flush(chunk.LastSeqno);
    }

    private async Task SignatureTimerAsync()
    {
        using var timer = new PeriodicTimer(_options.SignatureDelay);
        while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
        {
            lock (_sequenceLock)
            {
                if (_fault is not null)
                {
                    return;
                }

                if (_unsignedCount == 0 || !_isPrimary)
                {
                    continue;
                }

                AppendSignatureLocked();
            }

            SignalFlusher();
        }
    }
}
