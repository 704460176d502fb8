using System.Diagnostics;
using System.Net;
using Vellum.Consensus;

namespace Vellum.TestSupport.Consensus;

/// <summary>One node of an <see cref="InMemoryConsensusCluster"/>; obtain it from the cluster's indexer.</summary>
/// <remarks>All mutable state is guarded by the cluster's lock; applying is serialized per node by its own lock.</remarks>
public sealed class InMemoryConsensusNode : IConsensusLog
{
    private readonly InMemoryConsensusCluster _cluster;

    // The log: entry i (1-based) is _log[i - 1]. Entries are shared between nodes' lists: a follower holds the
    // leader's entry objects, which lets a pending write check that the entry applied at its index is its own.
    private readonly List<Entry> _log = [];
    private readonly Dictionary<long, Pending> _pending = [];
    private readonly SemaphoreSlim _applyLock = new(1, 1);

    private bool _isLeader;
    private long _leaderTerm;
    private long _noOpIndex;
    private CancellationTokenSource? _leadership;
    private InMemoryConsensusNode? _knownLeader;

    // Completed when this node becomes a ready leader; replaced once completed when it steps down, so that
    // WaitForLeaderReadyAsync on a follower waits for the next leadership.
    private TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private IConsensusApplier? _applier;
    private long _applied;
    private bool _stopped;

    internal InMemoryConsensusNode(InMemoryConsensusCluster cluster, int index)
    {
        _cluster = cluster;
        NodeIndex = index;
        EndPoint = new DnsEndPoint($"node{index}.in-memory", 0);
    }

    /// <summary>This node's index in the cluster.</summary>
    public int NodeIndex { get; }

    /// <summary>A made-up address that identifies the node in <see cref="Members"/>.</summary>
    public EndPoint EndPoint { get; }

    /// <inheritdoc />
    public bool IsLeader
    {
        get
        {
            lock (_cluster.SyncRoot)
            {
                return IsReadyLeader;
            }
        }
    }

    /// <inheritdoc />
    public long Term
    {
        get
        {
            lock (_cluster.SyncRoot)
            {
                return CurrentTerm;
            }
        }
    }

    /// <inheritdoc />
    public long CommitIndex
    {
        get
        {
            lock (_cluster.SyncRoot)
            {
                return CommittedIndex;
            }
        }
    }

    /// <inheritdoc />
    public EndPoint? LeaderEndPoint
    {
        get
        {
            lock (_cluster.SyncRoot)
            {
                return _knownLeader?.EndPoint;
            }
        }
    }

    /// <inheritdoc />
    public CancellationToken LeadershipToken
    {
        get
        {
            lock (_cluster.SyncRoot)
            {
                return IsReadyLeader && _leadership is { } leadership ? leadership.Token : new CancellationToken(canceled: true);
            }
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<ConsensusMember> Members
    {
        get
        {
            lock (_cluster.SyncRoot)
            {
                var members = new ConsensusMember[_cluster.Count];
                for (var i = 0; i < members.Length; i++)
                {
                    var node = _cluster[i];
                    members[i] = new ConsensusMember(node.EndPoint, IsLocal: node == this, IsLeader: node == _knownLeader);
                }

                return members;
            }
        }
    }

    /// <summary>The log's entries as (term, batch) pairs, no-ops included with an empty batch: for assertions.</summary>
    public IReadOnlyList<(long Term, ReadOnlyMemory<byte> Batch)> LogSnapshot()
    {
        lock (_cluster.SyncRoot)
        {
            return _log.ConvertAll(e => (e.Term, (ReadOnlyMemory<byte>)e.Batch));
        }
    }

    internal bool Isolated { get; set; }

    internal bool Stopped => _stopped;

    internal long CurrentTerm { get; private set; }

    internal long CommittedIndex { get; private set; }

    internal long LastIndex => _log.Count;

    internal bool IsLeaderOfItsTerm => _isLeader && _leaderTerm == CurrentTerm;

    private bool IsReadyLeader => IsLeaderOfItsTerm && !_stopped && CommittedIndex >= _noOpIndex;

    private long LastTerm => _log.Count == 0 ? 0 : _log[^1].Term;

    /// <summary>Applies the committed entries this node holds after <paramref name="applier"/>'s last applied index.</summary>
    public async ValueTask StartAsync(IConsensusApplier applier, CancellationToken token)
    {
        ArgumentNullException.ThrowIfNull(applier);
        lock (_cluster.SyncRoot)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            if (_applier is not null)
            {
                throw new InvalidOperationException("The consensus log is already started.");
            }

            _applier = applier;
        }

        await ApplyCommittedAsync(token).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<LogPosition> ReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token)
    {
        if (batch.IsEmpty)
        {
            throw new ArgumentException("A replicated batch is never empty.", nameof(batch));
        }

        token.ThrowIfCancellationRequested();
        Pending pending;
        lock (_cluster.SyncRoot)
        {
            if (_applier is null)
            {
                throw new InvalidOperationException("The consensus log is not started.");
            }

            if (!IsReadyLeader)
            {
                throw new ConsensusNotLeaderException("This node is not the consensus leader.", _knownLeader?.EndPoint);
            }

            var entry = new Entry(CurrentTerm, batch.ToArray());
            _log.Add(entry);
            pending = new Pending(entry);
            _pending.Add(LastIndex, pending);
            _cluster.ReplicateFrom(this);
        }

        // Replication raises no events (the leader's term is every follower's already), so nothing is deferred.
        await _cluster.ApplyAsync([], token).ConfigureAwait(false);
        return await pending.Completion.Task.WaitAsync(token).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask WaitForLeaderReadyAsync(CancellationToken token)
    {
        Task ready;
        lock (_cluster.SyncRoot)
        {
            ready = _ready.Task;
        }

        await ready.WaitAsync(token).ConfigureAwait(false);
    }

    /// <summary>Not supported: the in-memory group has a fixed membership.</summary>
    public ValueTask<bool> AddMemberAsync(EndPoint member, CancellationToken token) =>
        throw new NotSupportedException("The in-memory consensus group has a fixed membership.");

    /// <summary>Not supported: the in-memory group has a fixed membership.</summary>
    public ValueTask<bool> RemoveMemberAsync(EndPoint member, CancellationToken token) =>
        throw new NotSupportedException("The in-memory consensus group has a fixed membership.");

    /// <summary>Stops this node: it is isolated for good, steps down if leader, and applies nothing more.</summary>
    public async ValueTask DisposeAsync()
    {
        List<Action> after = [];
        lock (_cluster.SyncRoot)
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            Isolated = true;
            if (_isLeader)
            {
                StepDown(after);
            }
        }

        foreach (var action in after)
        {
            action();
        }

        // Let an apply in progress finish; after that _stopped keeps the applier from being called again.
        await _applyLock.WaitAsync().ConfigureAwait(false);
        _applyLock.Release();
    }

    /// <summary>Raft's "at least as up to date": compares the last entries' terms, then the log lengths.</summary>
    internal int CompareLogTo(InMemoryConsensusNode other)
    {
        var byTerm = LastTerm.CompareTo(other.LastTerm);
        return byTerm != 0 ? byTerm : LastIndex.CompareTo(other.LastIndex);
    }

    /// <summary>Takes <paramref name="term"/> if higher, steps down if it no longer leads, and learns the leader.</summary>
    internal void AdoptTerm(long term, InMemoryConsensusNode? leader, List<Action> after)
    {
        if (term > CurrentTerm)
        {
            CurrentTerm = term;
        }

        if (_isLeader && (leader != this || _leaderTerm < CurrentTerm))
        {
            StepDown(after);
        }

        if (_knownLeader != leader)
        {
            _knownLeader = leader;
        }
    }

    /// <summary>Starts leading <see cref="CurrentTerm"/>: a new leadership token and the term's no-op entry.</summary>
    internal void BecomeLeader(List<Action> after)
    {
        Debug.Assert(!_isLeader, "AdoptTerm stepped the old leadership down first.");
        _isLeader = true;
        _leaderTerm = CurrentTerm;
        _leadership = new CancellationTokenSource();
        _knownLeader = this;
        _log.Add(new Entry(CurrentTerm, Batch: null));
        _noOpIndex = LastIndex;
    }

    /// <summary>
    /// The follower's side of AppendEntries: keep the common prefix, replace the rest with the leader's entries.
    /// Committed entries are in the common prefix (Raft's leader completeness, which ElectLeaderAsync's up-to-date
    /// check preserves here), so only an uncommitted suffix is ever dropped.
    /// </summary>
    internal void CopyLogFrom(InMemoryConsensusNode leader)
    {
        var common = 0;
        while (common < _log.Count && common < leader._log.Count && ReferenceEquals(_log[common], leader._log[common]))
        {
            common++;
        }

        Debug.Assert(common >= CommittedIndex, "A committed entry is never replaced.");
        _log.RemoveRange(common, _log.Count - common);
        _log.AddRange(leader._log.GetRange(common, leader._log.Count - common));
    }

    internal void AdvanceCommit(long index)
    {
        if (index > CommittedIndex)
        {
            CommittedIndex = index;
        }
    }

    /// <summary>Hands committed, unapplied entries to the applier in order, one at a time.</summary>
    internal async ValueTask ApplyCommittedAsync(CancellationToken token)
    {
        await _applyLock.WaitAsync(token).ConfigureAwait(false);
        try
        {
            while (true)
            {
                IConsensusApplier applier;
                Entry entry;
                long index;
                lock (_cluster.SyncRoot)
                {
                    if (_applier is null || _stopped || _applied >= CommittedIndex)
                    {
                        return;
                    }

                    applier = _applier;
                    index = _applied + 1;
                    entry = _log[(int)(index - 1)];
                }

                var position = new LogPosition(entry.Term, index);
                if (entry.Batch is not null && index > applier.LastAppliedIndex)
                {
                    await applier.ApplyAsync(position, entry.Batch, token).ConfigureAwait(false);
                }

                lock (_cluster.SyncRoot)
                {
                    _applied = index;
                    if (_pending.Remove(index, out var pending))
                    {
                        // Only this leader's own entry at that index is its write; anything else means it was replaced.
                        if (ReferenceEquals(pending.Entry, entry))
                        {
                            pending.Completion.TrySetResult(position);
                        }
                        else
                        {
                            pending.Completion.TrySetException(new ConsensusNotLeaderException(
                                "Another leader's entry took this batch's place; it did not commit.", _knownLeader?.EndPoint));
                        }
                    }

                    if (_isLeader && index >= _noOpIndex)
                    {
                        _ready.TrySetResult();
                    }
                }
            }
        }
        finally
        {
            _applyLock.Release();
        }
    }

    private void StepDown(List<Action> after)
    {
        _isLeader = false;
        if (_ready.Task.IsCompleted)
        {
            _ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        // Pending writes had no majority (a write that has one commits within the call that made it). Raft's outcome
        // for them is unknown in general; in this model the new leader's log always replaces them.
        foreach (var pending in _pending.Values)
        {
            pending.Completion.TrySetException(new ConsensusNotLeaderException(
                "Leadership was lost before the batch committed; its outcome is unknown.", leader: null));
        }

        _pending.Clear();
        if (_leadership is { } leadership)
        {
            _leadership = null;
            after.Add(() =>
            {
                leadership.Cancel();
                leadership.Dispose();
            });
        }
    }

    /// <summary>A log entry; a null batch is a leader's no-op.</summary>
    private sealed record Entry(long Term, byte[]? Batch);

    private sealed class Pending(Entry entry)
    {
        public Entry Entry { get; } = entry;

        public TaskCompletionSource<LogPosition> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
