using System.Net;

namespace Vellum.Consensus;

/// <summary>
/// Consensus for one ledger written by this process alone, with no log file: the store makes each batch durable
/// itself (<c>LedgerStoreOptions.SyncEachBatch</c>). It is a <see cref="NodeLog"/> with no file and one ledger, so it
/// has the node log's writer (one thread of its own, as an fsync must not hold a thread-pool thread), ordering and
/// stop: the node is always leader of a fixed term, batches are applied in order, each with the next index after the
/// applier's <see cref="IConsensusApplier.LastAppliedIndex"/>, and a batch counts as committed once applied. A node
/// serving ledgers uses the node log itself; this is for tools and tests that write one ledger.
/// </summary>
/// <remarks>
/// <see cref="BeginReplicateAsync"/> only queues, so a sequencer may hand over its next batch while the writer is
/// still on the previous one.
/// </remarks>
public sealed class SingleNodeConsensus : IConsensusLog
{
    private readonly NodeLog _log = NodeLog.Unlogged();
    private readonly IConsensusLog _ledger;

    /// <param name="term">The fixed term, typically the ledger's current view (made durable by the store).</param>
    /// <param name="localEndPoint">This node's address, reported as leader and only member; a placeholder if null.</param>
    public SingleNodeConsensus(long term, EndPoint? localEndPoint = null)
    {
        _ledger = _log.Join("ledger", term, static () => { }, localEndPoint);
    }

    /// <inheritdoc />
    public bool IsLeader => _ledger.IsLeader;

    /// <inheritdoc />
    public long Term => _ledger.Term;

    /// <summary>The last index applied: every applied batch is committed, having one voter.</summary>
    public long CommitIndex => _ledger.CommitIndex;

    /// <inheritdoc />
    public EndPoint? LeaderEndPoint => _ledger.LeaderEndPoint;

    /// <inheritdoc />
    public CancellationToken LeadershipToken => _ledger.LeadershipToken;

    /// <inheritdoc />
    public IReadOnlyList<ConsensusMember> Members => _ledger.Members;

    /// <summary>Starts numbering after <paramref name="applier"/>'s last applied index; there is nothing to replay.</summary>
    public ValueTask StartAsync(IConsensusApplier applier, CancellationToken token)
    {
        var started = _ledger.StartAsync(applier, token);
        _log.Start();
        return started;
    }

    /// <inheritdoc />
    public ValueTask<LogPosition> ReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token) => _ledger.ReplicateAsync(batch, token);

    /// <inheritdoc />
    /// <remarks>Queues the batch for the writer; the task completes once it is applied (or fails with the applier's error).</remarks>
    public ValueTask<Task<LogPosition>> BeginReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token) => _ledger.BeginReplicateAsync(batch, token);

    /// <summary>Completes at once after <see cref="StartAsync"/>: the applied state is the whole ledger.</summary>
    public ValueTask WaitForLeaderReadyAsync(CancellationToken token) => _ledger.WaitForLeaderReadyAsync(token);

    /// <summary>Not supported: a single node has a fixed membership of one.</summary>
    public ValueTask<bool> AddMemberAsync(EndPoint member, CancellationToken token) => _ledger.AddMemberAsync(member, token);

    /// <summary>Not supported: a single node has a fixed membership of one.</summary>
    public ValueTask<bool> RemoveMemberAsync(EndPoint member, CancellationToken token) => _ledger.RemoveMemberAsync(member, token);

    /// <inheritdoc />
    /// <remarks>Batches already queued are applied first, so nothing handed over before the stop is left in doubt.</remarks>
    public async ValueTask DisposeAsync()
    {
        await _ledger.DisposeAsync().ConfigureAwait(false);
        await _log.DisposeAsync().ConfigureAwait(false);
    }
}
