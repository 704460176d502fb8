using System.Net;

namespace Vellum.Consensus;

/// <summary>
/// Consensus for a deployment of one node: no network and no write-ahead log, because the ledger files already are
/// the durable log. The node is always leader of a fixed term; each batch takes the next index after the applier's
/// <see cref="IConsensusApplier.LastAppliedIndex"/> and is applied inline before <see cref="ReplicateAsync"/> returns.
/// </summary>
public sealed class SingleNodeConsensus : IConsensusLog
{
    // Used when the host gives no address: a single node has nobody to tell it to, but members need one.
    private static readonly EndPoint DefaultEndPoint = new DnsEndPoint("localhost", 0);

    // Serializes ReplicateAsync: one apply at a time, in index order (IConsensusApplier's contract).
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _lifetime = new();
    private readonly EndPoint _localEndPoint;
    private IConsensusApplier? _applier;

    // Last index handed out; guarded by _writeLock (read without it only for CommitIndex, hence Volatile).
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
        LeadershipChanged?.Invoke(new LeadershipChange(IsLeader: true, Term, _localEndPoint));
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public async ValueTask<LogPosition> ReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token)
    {
        if (batch.IsEmpty)
        {
            throw new ArgumentException("A replicated batch is never empty.", nameof(batch));
        }

        var applier = _applier ?? throw new InvalidOperationException("The consensus log is not started.");
        await _writeLock.WaitAsync(token).ConfigureAwait(false);
        try
        {
            if (_lifetime.IsCancellationRequested)
            {
                throw new ConsensusNotLeaderException("The consensus log is stopped.");
            }

            var position = new LogPosition(Term, _lastIndex + 1);
            try
            {
                await applier.ApplyAsync(position, batch, token).ConfigureAwait(false);
            }
            catch
            {
                // The applier decides what became durable; number the next batch after that, not after a guess.
                Volatile.Write(ref _lastIndex, applier.LastAppliedIndex);
                throw;
            }

            Volatile.Write(ref _lastIndex, position.Index);
            return position;
        }
        finally
        {
            _writeLock.Release();
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
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _lifetime.CancelAsync().ConfigureAwait(false);

        // Wait for an in-flight apply to finish so the applier is not used after the host thinks we stopped.
        await _writeLock.WaitAsync().ConfigureAwait(false);
        _writeLock.Release();
        if (_applier is not null)
        {
            LeadershipChanged?.Invoke(new LeadershipChange(IsLeader: false, Term, Leader: null));
        }
    }
}
