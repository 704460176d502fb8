using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Vellum.Consensus;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Format;
using Vellum.Core.Merkle;
using Vellum.Core.Primitives;
using Vellum.Storage.Ledger;

namespace Vellum.Ledger;

/// <summary>
/// One ledger's sequencer, above consensus: assigns <c>view.seqno</c>, encodes (and in a Private ledger encrypts)
/// transactions, derives commit evidence and leaves, extends the Merkle frontier of everything sequenced, sequences a
/// signature transaction every <see cref="SequencerOptions.SignatureInterval"/> transactions or
/// <see cref="SequencerOptions.SignatureDelay"/>, and hands whole batches to <see cref="IConsensusLog"/> in seqno
/// order. An append completes once consensus reports its batch committed <b>and applied</b> on this node (the
/// consensus contract), so nothing below ever calls back up: the applier under consensus writes every committed batch,
/// this node's own like any other.
/// </summary>
/// <remarks>
/// <para>
/// Threads: any number of appenders; sequencing happens under one lock held for microseconds. One pump task hands
/// batches to consensus (at most <see cref="SequencerOptions.MaxBatchesInFlight"/> at once); while a batch is in
/// consensus, appends gather in the next one (group commit).
/// </para>
/// <para>
/// Roles: the owner calls <see cref="BecomePrimaryAsync"/> once everything committed before is applied (a ready consensus
/// leader, or at once on a single node) and <see cref="BecomeBackupAsync"/> when that leadership ends. Becoming primary
/// starts from the store's applied state, so a sequencer that lost its role never needs to undo anything: what it had
/// sequenced either commits under the next primary (and is applied like any other batch) or never existed. A role
/// change waits for a batch being handed to consensus, and a batch of the old role is never handed over after it.
/// </para>
/// </remarks>
public sealed class Sequencer : IAsyncDisposable, ISignsOnTick
{
    private readonly LedgerStore _store;
    private readonly IConsensusLog _consensus;
    private readonly LedgerSecret _secret;
    private readonly IRootSigner _signer;
    private readonly LogSeal _seal;
    private readonly SequencerOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();

    // Held by a hand-over from its epoch check until consensus has the batch, and by every role change: a batch
    // sequenced in one role never enters consensus after the next role began (in a later term, say).
    private readonly SemaphoreSlim _handOff = new(1, 1);
    private readonly SemaphoreSlim _pumpSignal = new(0, int.MaxValue);
    private readonly CancellationTokenSource _stopping = new();

    // Completed when the sequencer stops: wakes commit waiters, whose seqno no stopped sequencer will commit.
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<Task> _replications = [];
    private readonly Task _pump;
    private readonly Task _signatureTimer;
    private readonly SignatureClock? _clock;

    // Sequencing state, under _lock (_lastSeqno and _view are also read without it, hence Volatile).
    private MerkleFrontier _frontier = new();
    private long _view;
    private long _lastSeqno;
    private long _lastSignatureSeqno;
    private long _unsignedCount;
    private long _epoch;
    private SequencedBatch _current = new();
    private int _lastBatchLength;
    private volatile bool _isPrimary;
    private TaskCompletionSource _roleChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Set once a batch fails below consensus (the applier's write): the sequencer stops until the node restarts.
    private Exception? _fault;

    private int _inFlight;
    private int _peakInFlight;
    private int _pumpRequested;
    private int _disposed;

    /// <summary>Creates a sequencer that is a backup until <see cref="BecomePrimaryAsync"/>.</summary>
    /// <param name="store">The ledger as applied on this node: where a new primary starts from.</param>
    /// <param name="consensus">Where batches go.</param>
    /// <param name="secret">Commit evidence, and encryption in a Private ledger.</param>
    /// <param name="signer">This node's key and certificate, for signature transactions.</param>
    /// <param name="options">Batching and signing.</param>
    /// <param name="logger">Where to log; none if null.</param>
    /// <param name="clock">
    /// The node's signature cadence, shared by its ledgers; null for a timer of this sequencer's own every
    /// <see cref="SequencerOptions.SignatureDelay"/>.
    /// </param>
    public Sequencer(
        LedgerStore store, IConsensusLog consensus, LedgerSecret secret, IRootSigner signer, SequencerOptions options, ILogger? logger = null,
        SignatureClock? clock = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(consensus);
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _consensus = consensus;
        _secret = secret;
        _seal = new LogSeal(secret);
        _signer = signer;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _pump = Task.Run(PumpAsync);
        _clock = clock;
        if (clock is null)
        {
            _signatureTimer = Task.Run(SignatureTimerAsync);
        }
        else
        {
            _signatureTimer = Task.CompletedTask;
            clock.Add(this);
        }
    }

    /// <summary>True while this sequencer may sequence (between <see cref="BecomePrimaryAsync"/> and <see cref="BecomeBackupAsync"/>).</summary>
    public bool IsPrimary => _isPrimary;

    /// <summary>The view new transactions get while primary (the last view it was primary of, otherwise).</summary>
    public long View => Volatile.Read(ref _view);

    /// <summary>The last seqno sequenced (committed or not). Read without the sequencer's lock.</summary>
    public long LastSeqno => Volatile.Read(ref _lastSeqno);

    /// <summary>Batches handed to consensus and not yet committed and applied.</summary>
    public int BatchesInFlight => Volatile.Read(ref _inFlight);

    /// <summary>The most batches that were in consensus at once.</summary>
    public int PeakBatchesInFlight => Volatile.Read(ref _peakInFlight);

    /// <summary>
    /// Starts sequencing in <paramref name="view"/> from the store's applied state (which must hold everything
    /// committed before). With <paramref name="signInherited"/> (a new primary of a cluster), it sequences a signature
    /// at once, so the view starts with a signature over the whole history it inherits; a single node that reopens
    /// leaves that to the usual cadence, as its ledger is its own.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="view"/> is below a view already in the ledger.</exception>
    public async Task BecomePrimaryAsync(long view, bool signInherited = true, CancellationToken cancellationToken = default)
    {
        long inherited;
        await _handOff.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            BecomePrimaryLocked(view, signInherited, out inherited);
        }
        finally
        {
            _handOff.Release();
        }

        SignalPump();
        RoleChanged();
        LogMessages.BecamePrimary(_logger, view, inherited);
    }

    private void BecomePrimaryLocked(long view, bool signInherited, out long inherited)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            if (_isPrimary && view == _view)
            {
                inherited = Volatile.Read(ref _lastSeqno);
                return;
            }

            if (view < _store.LastView)
            {
                throw new ArgumentOutOfRangeException(nameof(view), $"view {view} is older than view {_store.LastView} already in the ledger");
            }

            DropCurrentLocked(new ReplicationLostException());
            var applied = _store.AppliedState();
            _frontier = applied.Frontier;
            inherited = applied.Frontier.Size;
            Volatile.Write(ref _lastSeqno, inherited);
            _lastSignatureSeqno = applied.LastSignatureSeqno;
            _unsignedCount = inherited - applied.LastSignatureSeqno;
            Volatile.Write(ref _view, view);
            _isPrimary = true;
            if (inherited > 0 && signInherited)
            {
                AppendSignatureLocked();
            }
        }
    }

    /// <summary>
    /// Stops sequencing. Transactions not yet handed to consensus fail with <see cref="ReplicationLostException"/>;
    /// those in consensus learn their outcome from it (committed, or unknown).
    /// </summary>
    public async Task BecomeBackupAsync()
    {
        long lost;
        await _handOff.WaitAsync().ConfigureAwait(false);
        try
        {
            lock (_lock)
            {
                if (!_isPrimary)
                {
                    return;
                }

                _isPrimary = false;
                lost = _lastSeqno - _store.DurableSeqno;
                DropCurrentLocked(new ReplicationLostException());
            }
        }
        finally
        {
            _handOff.Release();
        }

        RoleChanged();
        LogMessages.StoppedSequencing(_logger, View, lost);
    }

    /// <summary>Completes once <see cref="IsPrimary"/> equals <paramref name="primary"/> (at once if it already does).</summary>
    public async Task WaitForRoleAsync(bool primary, CancellationToken cancellationToken)
    {
        while (true)
        {
            var changed = Volatile.Read(ref _roleChanged).Task;
            if (_isPrimary == primary)
            {
                return;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Makes this sequencer follow a cluster's leadership until <paramref name="stopping"/>: whenever this node is a
    /// ready leader (everything committed before its term applied here), it becomes primary in view term + 1
    /// (DotNext's first term is 0; a ledger's views start at 1), and it stops sequencing when that leadership ends.
    /// The loop awaits consensus; consensus never calls into it.
    /// </summary>
    public async Task FollowLeadershipAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await _consensus.WaitForLeaderReadyAsync(stopping).ConfigureAwait(false);
                var leadership = _consensus.LeadershipToken;
                var term = _consensus.Term;
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, leadership);

                // Ready for the term read above (the token is that leadership's; if it already ended, this throws).
                await _consensus.WaitForLeaderReadyAsync(linked.Token).ConfigureAwait(false);
                if (_consensus.Term == term)
                {
                    await BecomePrimaryAsync(term + 1, signInherited: true, stopping).ConfigureAwait(false);
                    await Task.Delay(Timeout.Infinite, linked.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or ConsensusNotLeaderException or ObjectDisposedException)
            {
                // Leadership went before (or while) this node was ready; the next round decides.
            }

            await BecomeBackupAsync().ConfigureAwait(false);
            if (!stopping.IsCancellationRequested)
            {
                // Never spin: a leadership that ends as it is read is retried after a breath.
                await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    private void RoleChanged() =>
        Interlocked.Exchange(ref _roleChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>
    /// Appends a transaction (a user entry, a user change, …). Returns its transaction id once its batch is committed
    /// by consensus and applied on this node; it is then Pending until a signature after it is applied too
    /// (<see cref="LedgerStore.CommittedSeqno"/>).
    /// </summary>
    /// <exception cref="NotPrimaryException">This node is not the primary.</exception>
    /// <exception cref="ReplicationLostException">The node stopped being primary first: the outcome is unknown.</exception>
    public async ValueTask<TxId> AppendAsync(ITransactionBody entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        cancellationToken.ThrowIfCancellationRequested();
        var claimsDigest = entry.ClaimsDigest();
        SequencedBatch batch;
        TxId id;
        lock (_lock)
        {
            ThrowIfNotWritable();
            id = new TxId(_view, _lastSeqno + 1);
            var bodyLength = entry.EncodedLength(_options.IsPrivate);
            var frame = _current.Reserve(Frame.HeaderSize + bodyLength);
            var body = frame[Frame.HeaderSize..];
            var ced = _secret.CommitEvidenceDigest(id);
            entry.Encode(body, id, ced, claimsDigest, _options.IsPrivate ? _secret : null);
            Frame.WriteHeader(frame, body);
            _frontier.Append(EntryHeader.ComputeLeaf(body, ced, claimsDigest));
            Volatile.Write(ref _lastSeqno, id.Seqno);
            _unsignedCount++;
            batch = _current;
            if (_unsignedCount >= _options.SignatureInterval)
            {
                AppendSignatureLocked();
            }
        }

        SignalPump();

        // Once sequenced, the transaction goes to consensus whatever the caller does, so the wait is not cancellable:
        // a cancellable wait would cost a registration per append, and an abandoned wait would only hide the outcome.
        try
        {
            await batch.Committed.Task.ConfigureAwait(false);
        }
        catch (ReplicationLostException ex)
        {
            throw new ReplicationLostException($"transaction {id}: {ex.Message}", ex);
        }

        return id;
    }

    /// <summary>Sequences a signature transaction now if any transaction is unsigned; returns when it is applied.</summary>
    public async ValueTask<TxId?> SignAsync(CancellationToken cancellationToken = default)
    {
        SequencedBatch batch;
        TxId id;
        lock (_lock)
        {
            ThrowIfNotWritable();
            if (_unsignedCount == 0)
            {
                return null;
            }

            batch = _current;
            id = AppendSignatureLocked();
        }

        SignalPump();
        await batch.Committed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return id;
    }

    /// <summary>
    /// Waits until <paramref name="seqno"/> is Committed (covered by an applied signature). A primary sequences a
    /// signature at once rather than waiting for the timer; a backup waits for the primary's. Throws
    /// <see cref="ObjectDisposedException"/> when the sequencer stops first (a waiter never outlives it).
    /// </summary>
    public async ValueTask WaitForCommitAsync(long seqno, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var changed = _store.CommitChanged;
            if (_store.CommittedSeqno >= seqno)
            {
                return;
            }

            lock (_lock)
            {
                ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
                if (_isPrimary)
                {
                    if (seqno > _lastSeqno)
                    {
                        throw new ArgumentOutOfRangeException(nameof(seqno), $"seqno {seqno} has not been assigned");
                    }

                    if (_lastSignatureSeqno < seqno)
                    {
                        AppendSignatureLocked();
                    }
                }
            }

            SignalPump();
            if (!changed.IsCompleted)
            {
                // The commit moving, or the sequencer stopping: then the next round throws.
                await Task.WhenAny(changed, _stopped.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            if (changed.IsCompleted)
            {
                await changed.ConfigureAwait(false); // a store fault rethrows here
            }
        }
    }

    /// <summary>Sequences a signature over the root of every earlier transaction. Caller holds <see cref="_lock"/>.</summary>
    private TxId AppendSignatureLocked()
    {
        var id = new TxId(_view, _lastSeqno + 1);
        var root = _frontier.Root();
        var signature = new SignatureEntry(_frontier.Size, root, _lastSignatureSeqno + 1, _signer.NodeId, _signer.CertificateDer.ToArray(), _signer.SignRoot(root));
        var ced = _secret.CommitEvidenceDigest(id);
        var frame = _current.Reserve(Frame.HeaderSize + signature.EncodedLength);
        var body = frame[Frame.HeaderSize..];
        signature.Encode(body, id, ced);
        Frame.WriteHeader(frame, body);
        _frontier.Append(EntryHeader.ComputeLeaf(body, ced, Hash32.Zero));
        Volatile.Write(ref _lastSeqno, id.Seqno);
        _unsignedCount = 0;
        _lastSignatureSeqno = id.Seqno;
        return id;
    }

    /// <summary>Fails and drops the batch being filled, and starts a new epoch. Caller holds <see cref="_lock"/>.</summary>
    private void DropCurrentLocked(Exception reason)
    {
        _epoch++;
        if (_current.Count > 0)
        {
            _current.Committed.TrySetException(reason);
        }

        _current.Release();
        _current = new SequencedBatch(_lastBatchLength) { Epoch = _epoch };
    }

    private void ThrowIfNotWritable()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if ((Volatile.Read(ref _fault) ?? _store.Fault) is { } fault)
        {
            // A batch failed to apply (or the store below stopped on a write failure): nothing sequenced after it can
            // be applied in order, so nothing more is sequenced until the node restarts.
            throw new IOException("the ledger stopped after a write failure; restart to recover", fault);
        }

        if (!_isPrimary)
        {
            throw new NotPrimaryException();
        }
    }

    /// <summary>
    /// Wakes the pump if it is idle. Appenders only set a flag while the pump is busy, so a burst of appends costs one
    /// semaphore release and the pump one pass over the lock per batch, not per append.
    /// </summary>
    private void SignalPump()
    {
        if (Interlocked.Exchange(ref _pumpRequested, 1) == 0)
        {
            _pumpSignal.Release();
        }
    }

    /// <summary>The one task that hands batches to consensus, in seqno order.</summary>
    private async Task PumpAsync()
    {
        while (true)
        {
            var batch = TakeBatchIfRoom();
            if (batch is null)
            {
                // Clear the request flag before looking again: an append sequenced (or a batch leaving consensus)
                // after this look sets the flag anew and releases the semaphore, so nothing waits for a lost signal.
                Interlocked.Exchange(ref _pumpRequested, 0);
                batch = TakeBatchIfRoom();
                if (batch is null)
                {
                    if (_stopping.IsCancellationRequested)
                    {
                        return;
                    }

                    await _pumpSignal.WaitAsync().ConfigureAwait(false);
                    continue;
                }
            }

            await HandOverAsync(batch).ConfigureAwait(false);
        }
    }

    /// <summary>The batch being filled, unless it is empty or as many batches as allowed are already in consensus.</summary>
    private SequencedBatch? TakeBatchIfRoom()
    {
        if (Volatile.Read(ref _inFlight) >= _options.MaxBatchesInFlight)
        {
            return null;
        }

        lock (_lock)
        {
            if (_current.Count == 0)
            {
                return null;
            }

            var batch = _current;
            _lastBatchLength = batch.Length;
            _current = new SequencedBatch(_lastBatchLength) { Epoch = _epoch };
            var inFlight = Interlocked.Increment(ref _inFlight);
            if (inFlight > _peakInFlight)
            {
                Volatile.Write(ref _peakInFlight, inFlight);
            }

            return batch;
        }
    }

    /// <summary>
    /// Hands a batch to consensus without waiting for it to commit; it completes when consensus reports it committed
    /// and applied here, or fails when its outcome is unknown (<see cref="Finish"/>).
    /// </summary>
    private async Task HandOverAsync(SequencedBatch batch)
    {
        Task<LogPosition> replication;

        // Consensus logs hold the batch sealed under the ledger's log key, never in clear (see LogSeal). Sealed before
        // the gate, so the gate is held no longer than before; a failure (a disposed seal) fails the batch like any other.
        byte[]? sealedBatch = null;
        Exception? sealFailure = null;
        try
        {
            sealedBatch = _seal.Seal(batch.Memory.Span);
        }
        catch (Exception ex) when (ex is ObjectDisposedException or System.Security.Cryptography.CryptographicException)
        {
            sealFailure = ex;
        }

        await _handOff.WaitAsync().ConfigureAwait(false);
        try
        {
            if (batch.Epoch != Volatile.Read(ref _epoch))
            {
                // Sequenced before a role change: its seqnos mean nothing now.
                replication = Task.FromException<LogPosition>(new ReplicationLostException());
            }
            else if (Volatile.Read(ref _fault) is { } fault)
            {
                // Sequenced after a batch that failed to apply: it would not follow the ledger.
                replication = Task.FromException<LogPosition>(new IOException("the ledger stopped after a write failure; restart to recover", fault));
            }
            else if (sealFailure is not null)
            {
                replication = Task.FromException<LogPosition>(sealFailure);
            }
            else
            {
                replication = await _consensus.BeginReplicateAsync(sealedBatch!, _stopping.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            replication = Task.FromException<LogPosition>(ex);
        }
        finally
        {
            _handOff.Release();
        }

        if (replication.IsCompleted)
        {
            Finish(batch, replication);
            return;
        }

        var finished = replication.ContinueWith(
            static (task, state) =>
            {
                var (sequencer, batch) = ((Sequencer, SequencedBatch))state!;
                sequencer.Finish(batch, task);
            },
            (this, batch), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        lock (_replications)
        {
            _replications.RemoveWhere(static t => t.IsCompleted);
            _replications.Add(finished);
        }
    }

    /// <summary>Consensus is done with a batch: its appenders go on (or learn the outcome is unknown), its buffer goes back.</summary>
    private void Finish(SequencedBatch batch, Task<LogPosition> replication)
    {
        if (replication.IsCompletedSuccessfully)
        {
            batch.Committed.TrySetResult();
        }
        else
        {
            var ex = replication.Exception?.InnerException ?? new OperationCanceledException("the replication was cancelled");
            if (ex is ReplicationLostException or ConsensusNotLeaderException or OperationCanceledException or ObjectDisposedException)
            {
                // Leadership went, or the node stops: the batch may still commit under the next primary.
                batch.Committed.TrySetException(ex as ReplicationLostException ?? new ReplicationLostException(ex.Message, ex));
            }
            else
            {
                // It failed below consensus (the applier could not write it, or the store refused it): reported as
                // what it is, and the sequencer stops (ThrowIfNotWritable).
                Interlocked.CompareExchange(ref _fault, ex, null);
                batch.Committed.TrySetException(ex);
            }
        }

        batch.Release();
        Interlocked.Decrement(ref _inFlight);
        if (!_stopping.IsCancellationRequested)
        {
            SignalPump();
        }
    }

    /// <inheritdoc />
    bool ISignsOnTick.SignIfUnsigned()
    {
        lock (_lock)
        {
            if (!_isPrimary || _unsignedCount == 0 || Volatile.Read(ref _disposed) != 0)
            {
                return false;
            }

            AppendSignatureLocked();
        }

        SignalPump();
        return true;
    }

    private async Task SignatureTimerAsync()
    {
        using var timer = new PeriodicTimer(_options.SignatureDelay);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                lock (_lock)
                {
                    if (!_isPrimary || _unsignedCount == 0)
                    {
                        continue;
                    }

                    AppendSignatureLocked();
                }

                SignalPump();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <inheritdoc />
    /// <remarks>Stop consensus first: batches still in it are cancelled with it, and their callers learn so.</remarks>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _clock?.Remove(this);
        await _stopping.CancelAsync().ConfigureAwait(false);
        _stopped.TrySetResult();
        _pumpSignal.Release();
        await _signatureTimer.ConfigureAwait(false);
        await _pump.ConfigureAwait(false);
        Task[] replications;
        lock (_replications)
        {
            replications = [.. _replications];
        }

        await Task.WhenAll(replications).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        lock (_lock)
        {
            _isPrimary = false;
            DropCurrentLocked(new ObjectDisposedException(nameof(Sequencer)));
        }

        _stopping.Dispose();
        _pumpSignal.Dispose();
        _seal.Dispose();
    }
}
