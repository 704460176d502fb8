using System.Net;

namespace Vellum.Consensus;

/// <summary>The Raft term and log index of one replicated batch.</summary>
public readonly record struct LogPosition(long Term, long Index);

/// <summary>One member of the consensus group, as this node sees it.</summary>
/// <param name="EndPoint">The member's node-channel address.</param>
/// <param name="IsLocal">True for this node.</param>
/// <param name="IsLeader">True when this node believes the member is the leader.</param>
public sealed record ConsensusMember(EndPoint EndPoint, bool IsLocal, bool IsLeader);

/// <summary>
/// A replicated log of opaque batches: the only thing the ledger needs from consensus. The leader appends batches;
/// every node hands committed batches, in log order, to its <see cref="IConsensusApplier"/>.
/// </summary>
/// <remarks>
/// Implementations: <see cref="SingleNodeConsensus"/> (no network; the ledger files are the log),
/// <c>InMemoryConsensusCluster</c> (deterministic, for tests of upper layers; in test/Vellum.TestSupport) and
/// <see cref="Raft.RaftConsensus"/> (DotNext.Net.Cluster over TCP with mutual TLS).
/// </remarks>
public interface IConsensusLog : IAsyncDisposable
{
    /// <summary>
    /// Starts the node: committed batches after <see cref="IConsensusApplier.LastAppliedIndex"/> that this node
    /// already knows to be committed are replayed into <paramref name="applier"/> before this returns; the rest follow
    /// as they commit (or as this node learns that they have). Called once.
    /// </summary>
    ValueTask StartAsync(IConsensusApplier applier, CancellationToken token);

    /// <summary>
    /// True when this node leads the current term <b>and</b> the entry that opened its term has committed, so that
    /// <see cref="ReplicateAsync"/> can succeed. A node that has just won an election is not yet a leader by this
    /// definition.
    /// </summary>
    bool IsLeader { get; }

    /// <summary>The current term as this node knows it.</summary>
    long Term { get; }

    /// <summary>The highest log index this node knows to be committed.</summary>
    long CommitIndex { get; }

    /// <summary>
    /// The last committed entry of any kind (batch, the engine's no-op or configuration) this node has processed; equal
    /// to <see cref="CommitIndex"/> once caught up. Implementations that apply at once report the commit index.
    /// </summary>
    long AppliedIndex => CommitIndex;

    /// <summary>
    /// The last entry this node's log holds, committed or not; implementations that commit at once report the commit
    /// index. A leader whose applied index has reached it has applied everything an earlier leader may have committed.
    /// </summary>
    long LastIndex => CommitIndex;

    /// <summary>
    /// True when every entry is durable (fsynced) on a majority before it commits and this node replays its own
    /// committed entries after a crash, so the applier need not fsync what it applies until a snapshot. Default false.
    /// </summary>
    bool KeepsEntriesDurably => false;

    /// <summary>The log index of this node's latest snapshot (no entries before it are kept), or 0 (the default).</summary>
    long SnapshotIndex => 0;

    /// <summary>
    /// The node-channel address of the current leader, or null if unknown. It can be this node's own address while
    /// <see cref="IsLeader"/> is still false (elected, not ready): callers answer "retry" rather than forward then.
    /// </summary>
    EndPoint? LeaderEndPoint { get; }

    /// <summary>
    /// Cancelled when this node stops being leader. Read it while <see cref="IsLeader"/> is true to bind work to that
    /// leadership; when this node is not leader the token returned is already cancelled.
    /// </summary>
    CancellationToken LeadershipToken { get; }

    /// <summary>
    /// Leader only: appends <paramref name="batch"/>, replicates it and returns its position once it is committed on
    /// a majority <b>and</b> applied locally (<see cref="IConsensusApplier.ApplyAsync"/> has returned for it).
    /// The batch may be reused by the caller as soon as this returns.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="batch"/> is empty (empty entries are reserved for the engine's no-ops).</exception>
    /// <exception cref="ConsensusNotLeaderException">
    /// This node is not leader, or it lost leadership before the batch committed. In the second case the outcome is
    /// <b>unknown</b>: the batch may still commit under the next leader, or be discarded. Callers that retry must make
    /// their writes idempotent (a client transaction id), and find out from the applied log what happened.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="token"/> was cancelled; the outcome is unknown as above.</exception>
    ValueTask<LogPosition> ReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token);

    /// <summary>
    /// Leader only: the first half of <see cref="ReplicateAsync"/>, so that several batches can be in flight. The
    /// returned task completes once <paramref name="batch"/> has its place in the log (a later call lands after it);
    /// the task it yields completes as <see cref="ReplicateAsync"/> would, with the same exceptions. The caller keeps
    /// <paramref name="batch"/> unchanged until that inner task completes.
    /// </summary>
    /// <remarks>
    /// The default waits for the whole replication before it returns (one batch in flight at a time); logs that
    /// append without waiting for commit override it.
    /// </remarks>
    async ValueTask<Task<LogPosition>> BeginReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token)
    {
        var position = await ReplicateAsync(batch, token).ConfigureAwait(false);
        return Task.FromResult(position);
    }

    /// <summary>
    /// Completes once this node is a ready leader whose applier has applied every entry committed before its term
    /// (the term's first entry has committed and been applied), so the applied state is the whole history and the
    /// upper layer may start writing. On a follower it waits until this node becomes such a leader; bound it with
    /// <paramref name="token"/>. Leadership can be lost again at any time: watch <see cref="LeadershipToken"/>.
    /// </summary>
    ValueTask WaitForLeaderReadyAsync(CancellationToken token);

    /// <summary>The members of the group as this node sees them now.</summary>
    IReadOnlyList<ConsensusMember> Members { get; }

    /// <summary>Leader only: adds a member (one at a time); true once the new configuration has committed.</summary>
    /// <exception cref="ConsensusNotLeaderException">This node is not leader.</exception>
    /// <exception cref="NotSupportedException">The implementation has a fixed membership.</exception>
    ValueTask<bool> AddMemberAsync(EndPoint member, CancellationToken token);

    /// <summary>Leader only: removes a member (one at a time); true once the new configuration has committed.</summary>
    /// <exception cref="ConsensusNotLeaderException">This node is not leader.</exception>
    /// <exception cref="NotSupportedException">The implementation has a fixed membership.</exception>
    ValueTask<bool> RemoveMemberAsync(EndPoint member, CancellationToken token);

    /// <summary>
    /// What the member at <paramref name="member"/> says of itself over the consensus channel (the metadata it was
    /// started with), asked now; null when it is no remote member of this log, cannot be reached, or the implementation
    /// has no channel to ask over (the default).
    /// </summary>
    ValueTask<IReadOnlyDictionary<string, string>?> DescribeMemberAsync(EndPoint member, CancellationToken token) =>
        ValueTask.FromResult<IReadOnlyDictionary<string, string>?>(null);
}
