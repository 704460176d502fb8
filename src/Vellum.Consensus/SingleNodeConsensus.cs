using System.Net;

namespace Vellum.Consensus;

/// <summary>
/// Consensus for a deployment of one node: no network and no write-ahead log, because the ledger files already are
/// the durable log. The node is always leader of a fixed term; batches are applied in order, each with the next index
/// after the applier's <see cref="IConsensusApplier.LastAppliedIndex"/>, by one writer thread of its own (the applier
/// writes and fsyncs, and an fsync must not hold a thread-pool thread). A batch counts as committed once applied.
/// </summary>
/// <remarks>
/// <see cref="BeginReplicateAsync"/> only queues, so a sequencer may hand over its next batch while the writer is
/// still on the previous one.
/// </remarks>
public sealed class SingleNodeConsensus : IConsensusLog
{
    // Used when the host gives no address: a single node has nobody to tell it to, but members need one.
    private static readonly EndPoint DefaultEndPoint = new DnsEndPoint("localhost", 0);

    private readonly Lock _queueLock = new();
    private readonly Queue<(ReadOnlyMemory<byte> Batch, TaskCompletionSource<LogPosition> Done)> _queue = new();
    private readonly SemaphoreSlim _signal = new(0, int.MaxValue);
    private readonly CancellationTokenSource _lifetime = new();
    private readonly TaskCompletionSource _writerExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly EndPoint _localEndPoint;
    private IConsensusApplier? _applier;

    // Last index applied; written by the writer thread only.
    private long _lastIndex;
    private int _disposed;

    /// <param name="term">The fixed term, typically the ledger's current view (made durable by the store).</param>
    /// <param name="localEndPoint">This node's address, reported as leader and only member; a placeholder if null.</param>
    public SingleNodeConsensus(long term, EndPoint? localEndPoint = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(term);
        Term = term;
        _localEndPoint = localEndPoint ?? DefaultEndPoint;
    }

    /// <inheritdoc />
    public event Action<LeadershipChange>? LeadershipChanged;

    /// <inheritdoc />
    public bool IsLeader => _applier is not null && !_lifetime.IsCancellationRequested;

    /// <inheritdoc />
    public long Term { get; }

    /// <summary>The last index applied: every applied batch is committed, having one voter.</summary>
    public long CommitIndex => Volatile.Read(ref _lastIndex);

    /// <inheritdoc />
    public EndPoint? LeaderEndPoint => _localEndPoint;

    /// <inheritdoc />
    public CancellationToken LeadershipToken => IsLeader ? _lifetime.Token : new CancellationToken(canceled: true);

    /// <inheritdoc />
    public IReadOnlyList<ConsensusMember> Members => [new ConsensusMember(_localEndPoint, IsLocal: true, IsLeader: true)];

    /// <summary>Starts numbering after <paramref name="applier"/>'s last applied index; there is nothing to replay.</summary>
    public ValueTask StartAsync(IConsensusApplier applier, CancellationToken token)
    {
        ArgumentNullException.ThrowIfNull(applier);
        token.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.CompareExchange(ref _applier, applier, null) is not null)
        {
            throw new InvalidOperationException("The consensus log is already started.");
        }

        Volatile.Write(ref _lastIndex, applier.LastAppliedIndex);
        new Thread(WriterLoop) { IsBackground = true, Name = "Vellum single-node writer" }.Start();
        LeadershipChanged?.Invoke(new LeadershipChange(IsLeader: true, Term, _localEndPoint));
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public async ValueTask<LogPosition> ReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token)
    {
        var applied = await BeginReplicateAsync(batch, token).ConfigureAwait(false);
        return await applied.WaitAsync(token).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>Queues the batch for the writer; the task completes once it is applied (or fails with the applier's error).</remarks>
    public ValueTask<Task<LogPosition>> BeginReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token)
    {
        if (batch.IsEmpty)
        {
            throw new ArgumentException("A replicated batch is never empty.", nameof(batch));
        }

        if (_applier is null)
        {
            throw new InvalidOperationException("The consensus log is not started.");
        }

        token.ThrowIfCancellationRequested();
        // Continuations run on the writer thread as it completes the batch: the sequencer's is short (it completes
        // its own waiters asynchronously and wakes its pump), and running it inline saves a thread hop between one
        // fsync and the hand-over of the next batch.
        var done = new TaskCompletionSource<LogPosition>(TaskCreationOptions.None);
        lock (_queueLock)
        {
            if (_lifetime.IsCancellationRequested)
            {
                throw new ConsensusNotLeaderException("The consensus log is stopped.");
            }

            _queue.Enqueue((batch, done));
        }

        _signal.Release();
        return ValueTask.FromResult(done.Task);
    }

    /// <summary>The one writer: applies queued batches in order, each with the next index.</summary>
    private void WriterLoop()
    {
        var applier = _applier!;
        try
        {
            while (true)
            {
                _signal.Wait();
                (ReadOnlyMemory<byte> Batch, TaskCompletionSource<LogPosition> Done) next;
                lock (_queueLock)
                {
                    if (!_queue.TryDequeue(out next))
                    {
                        if (_lifetime.IsCancellationRequested)
                        {
                            return;
                        }

                        continue;
                    }
                }

                var position = new LogPosition(Term, _lastIndex + 1);
                try
                {
                    var apply = applier.ApplyAsync(position, next.Batch, _lifetime.Token);
                    if (!apply.IsCompletedSuccessfully)
                    {
                        apply.AsTask().GetAwaiter().GetResult();
                    }

                    Volatile.Write(ref _lastIndex, position.Index);
                    next.Done.TrySetResult(position);
                }
                catch (Exception ex)
                {
                    // The applier decides what became durable; number the next batch after that, not after a guess.
                    Volatile.Write(ref _lastIndex, applier.LastAppliedIndex);
                    next.Done.TrySetException(ex);
                }
            }
        }
        finally
        {
            _writerExited.TrySetResult();
        }
    }

    /// <summary>Completes at once after <see cref="StartAsync"/>: the applied state is the whole ledger.</summary>
    public ValueTask WaitForLeaderReadyAsync(CancellationToken token)
    {
        token.ThrowIfCancellationRequested();
        return IsLeader
            ? ValueTask.CompletedTask
            : ValueTask.FromException(new ConsensusNotLeaderException("The consensus log is not started or is stopped."));
    }

    /// <summary>Not supported: a single node has a fixed membership of one.</summary>
    public ValueTask<bool> AddMemberAsync(EndPoint member, CancellationToken token) =>
        throw new NotSupportedException("A single-node consensus log has a fixed membership.");

    /// <summary>Not supported: a single node has a fixed membership of one.</summary>
    public ValueTask<bool> RemoveMemberAsync(EndPoint member, CancellationToken token) =>
        throw new NotSupportedException("A single-node consensus log has a fixed membership.");

    /// <inheritdoc />
    /// <remarks>Batches already queued are applied first, so nothing handed over before the stop is left in doubt.</remarks>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        lock (_queueLock)
        {
            _lifetime.Cancel();
        }

        // The writer drains the queue (each batch takes one signal), then sees the stop on the extra one.
        _signal.Release();
        if (_applier is not null)
        {
            await _writerExited.Task.ConfigureAwait(false);
            LeadershipChanged?.Invoke(new LeadershipChange(IsLeader: false, Term, Leader: null));
        }
    }
}
