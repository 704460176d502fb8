using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Vellum.Storage.Ledger;

namespace Vellum.Consensus;

/// <summary>
/// Joins a <see cref="LedgerStore"/> to an <see cref="IConsensusLog"/>: the store's batches become consensus entries
/// (<see cref="IBatchReplicator"/>), committed entries are applied to the store (<see cref="IConsensusApplier"/>), and
/// leadership decides the store's role. A node becomes primary only once everything committed before its term is
/// applied, in view = term + 1 (DotNext's first term is 0; a ledger's views start at 1), and signs at once.
/// </summary>
public sealed class ReplicatedLedger : IBatchReplicator, IConsensusApplier, IAsyncDisposable
{
    private readonly IConsensusLog _consensus;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _roleLock = new();
    private LedgerStore? _store;
    private Task _roleChanges = Task.CompletedTask;
    private long _lastApplied;
    private Task? _catchUp;

    /// <summary>Creates the bridge; <see cref="Attach"/> the store opened with it, then <see cref="StartAsync"/>.</summary>
    public ReplicatedLedger(IConsensusLog consensus, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(consensus);
        _consensus = consensus;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The consensus log underneath.</summary>
    public IConsensusLog Consensus => _consensus;

    /// <summary>The store, once attached.</summary>
    public LedgerStore Store => _store ?? throw new InvalidOperationException("no store attached");

    /// <inheritdoc />
    public long LastAppliedIndex => Volatile.Read(ref _lastApplied);

    /// <summary>The ledger view a consensus term maps to.</summary>
    public static long ViewOf(long term) => term + 1;

    /// <summary>Attaches the store, which must have been opened with this object as its replicator.</summary>
    public void Attach(LedgerStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (!store.IsReplicated)
        {
            throw new ArgumentException("the store was opened without a replicator", nameof(store));
        }

        _store = store;
    }

    /// <summary>Starts consensus: committed entries are applied from here on, and leadership drives the store's role.</summary>
    public async ValueTask StartAsync(CancellationToken cancellationToken)
    {
        _ = Store;
        _consensus.LeadershipChanged += OnLeadershipChanged;
        await _consensus.StartAsync(this, cancellationToken).ConfigureAwait(false);
        if (_consensus.IsLeader)
        {
            OnLeadershipChanged(new LeadershipChange(true, _consensus.Term, _consensus.LeaderEndPoint));
        }
    }

    /// <inheritdoc />
    public ValueTask ApplyAsync(LogPosition position, ReadOnlyMemory<byte> batch, CancellationToken token)
    {
        // Consensus may replay committed entries after a restart; the store skips seqnos it already has.
        Store.ApplyCommitted(batch.Span);
        if (position.Index > Volatile.Read(ref _lastApplied))
        {
            Volatile.Write(ref _lastApplied, position.Index);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Fetches committed transactions from a peer and applies them (<see cref="LedgerStore.ApplyCommitted"/>, which
    /// checks them) until the store's durable seqno reaches at least the one given, or throws. Set by the node, which
    /// knows its peers; without it a node that falls behind the leader's snapshot cannot catch up.
    /// </summary>
    public Func<long, CancellationToken, Task>? CatchUp { get; set; }

    /// <inheritdoc />
    /// <remarks>
    /// As the consensus log says (<see cref="IConsensusLog.KeepsEntriesDurably"/>: Raft's WAL, fsynced on a majority
    /// before a batch commits): the store then skips its own fsync per applied batch, and
    /// <see cref="DescribeAppliedState"/> syncs the ledger files before a snapshot lets the log drop those batches.
    /// </remarks>
    public bool KeepsBatchesDurably => _consensus.KeepsEntriesDurably;

    /// <inheritdoc />
    /// <remarks>
    /// The ledger's state is its durable seqno: a version byte (1) and the seqno, little-endian. The ledger files are
    /// fsynced first: once the snapshot is taken, consensus no longer holds the batches before it.
    /// </remarks>
    public byte[]? DescribeAppliedState()
    {
        Store.SyncToDisk();
        var state = new byte[StateLength];
        state[0] = StateVersion;
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(state.AsSpan(1), Store.DurableSeqno);
        return state;
    }

    /// <inheritdoc />
    public async ValueTask RestoreAsync(LogPosition position, ReadOnlyMemory<byte> state, CancellationToken token)
    {
        if (state.Length != StateLength || state.Span[0] != StateVersion)
        {
            throw new InvalidDataException($"The leader's snapshot at index {position.Index} is not a ledger state this node reads.");
        }

        var needed = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(state.Span[1..]);
        var store = Store;
        if (store.DurableSeqno < needed)
        {
            var catchUp = CatchUp ?? throw new InvalidOperationException(
                $"The ledger ends at seqno {store.DurableSeqno}, the leader's snapshot needs {needed}, and this node has no way to fetch transactions.");

            // The fetch runs on its own, bound to this node's life rather than to the leader's request: a fetch
            // slower than the leader's RPC timeout would otherwise be cancelled on every retry and never finish.
            // The leader's next attempt finds it running (or done) and waits for it again.
            Task fetch;
            lock (_roleLock)
            {
                if (_catchUp is not { IsCompleted: false })
                {
                    _catchUp = Task.Run(() => catchUp(needed, _stopping.Token), CancellationToken.None);
                }

                fetch = _catchUp;
            }

            await fetch.WaitAsync(token).ConfigureAwait(false);
            if (store.DurableSeqno < needed)
            {
                throw new InvalidOperationException($"Catching up reached seqno {store.DurableSeqno}, not the {needed} the leader's snapshot needs.");
            }
        }

        // This node's log will not hold the batches before the snapshot: the ledger files must.
        store.SyncToDisk();

        if (position.Index > Volatile.Read(ref _lastApplied))
        {
            Volatile.Write(ref _lastApplied, position.Index);
        }

        LogMessages.SnapshotRestored(_logger, store.DurableSeqno, needed, position.Index);
    }

    private const byte StateVersion = 1;
    private const int StateLength = 1 + sizeof(long);

    /// <inheritdoc />
    public async ValueTask ReplicateAsync(ReadOnlyMemory<byte> frames, CancellationToken cancellationToken)
    {
        try
        {
            await _consensus.ReplicateAsync(frames, cancellationToken).ConfigureAwait(false);
        }
        catch (ConsensusNotLeaderException ex)
        {
            throw new ReplicationLostException(ex.Message, ex);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// The replication task is consensus's own: its failures (<see cref="ConsensusNotLeaderException"/> and the like)
    /// reach the store as they are, and the store reports every one as <see cref="ReplicationLostException"/>.
    /// </remarks>
    public async ValueTask<Task> BeginReplicateAsync(ReadOnlyMemory<byte> frames, CancellationToken cancellationToken)
    {
        try
        {
            return await _consensus.BeginReplicateAsync(frames, cancellationToken).ConfigureAwait(false);
        }
        catch (ConsensusNotLeaderException ex)
        {
            throw new ReplicationLostException(ex.Message, ex);
        }
    }

    private void OnLeadershipChanged(LeadershipChange change)
    {
        // Role changes run one after another, in the order consensus reported them.
        lock (_roleLock)
        {
            _roleChanges = _roleChanges.ContinueWith(_ => ChangeRoleAsync(change), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
        }
    }

    private async Task ChangeRoleAsync(LeadershipChange change)
    {
        var store = Store;
        if (!change.IsLeader)
        {
            store.BecomeBackup();
            return;
        }

        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, _consensus.LeadershipToken);
            await _consensus.WaitForLeaderReadyAsync(linked.Token).ConfigureAwait(false);
            if (_consensus.IsLeader && _consensus.Term == change.Term)
            {
                store.BecomePrimary(ViewOf(change.Term));
                LogMessages.BecamePrimary(_logger, ViewOf(change.Term), store.DurableSeqno);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ConsensusNotLeaderException or ObjectDisposedException)
        {
            // Leadership went before the node was ready; the next change decides.
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _consensus.LeadershipChanged -= OnLeadershipChanged;
        await _stopping.CancelAsync().ConfigureAwait(false);
        Task pending;
        lock (_roleLock)
        {
            pending = _roleChanges;
        }

        await pending.ConfigureAwait(false);
        if (_catchUp is { } fetch)
        {
            await fetch.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _stopping.Dispose();
    }
}
