using System.Buffers;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Extensions.Logging;

namespace Vellum.Consensus.Raft;

/// <summary>
/// The WAL's state machine: forwards committed batches to the <see cref="IConsensusApplier"/> and tells the leader's
/// writer where its batch landed.
/// </summary>
/// <remarks>
/// No snapshots: <see cref="Snapshot"/> is always null, so the WAL is never compacted and grows without bound for
/// now. (A snapshot will later be a ledger position, with ledger chunks fetched from a peer; an empty or fake
/// snapshot here would make the WAL delete entries and send lagging followers nothing.) Without a snapshot DotNext
/// replays every committed entry from index 1 when the WAL is opened; <see cref="ApplyAsync"/> passes on only those
/// after the applier's <see cref="IConsensusApplier.LastAppliedIndex"/>.
/// </remarks>
internal sealed class ApplierStateMachine(IConsensusApplier applier, ILogger logger) : IStateMachine
{
    public ISnapshot? Snapshot => null;

    public ValueTask ReclaimGarbageAsync(long watermark, CancellationToken token) => ValueTask.CompletedTask;

    public async ValueTask<long> ApplyAsync(LogEntry entry, CancellationToken token)
    {
        var context = entry.Context as ReplicationContext;

        // Configuration entries reach us either flagged or (once the cluster's membership storage has consumed them)
        // as empty entries; leaders' no-ops have no payload and the WAL skips them before calling us. ReplicateAsync
        // refuses empty batches, so "empty" never hides a user batch.
        if (entry.IsConfiguration || !entry.TryGetPayload(out var payload) || payload.IsEmpty)
        {
            return entry.Index;
        }

        var position = new LogPosition(entry.Term, entry.Index);
        if (entry.Index > applier.LastAppliedIndex)
        {
            // The payload usually lies in one WAL page; a batch that crosses a chunk boundary is copied once.
            var batch = payload.IsSingleSegment ? payload.First : payload.ToArray();
            try
            {
                await applier.ApplyAsync(position, batch, token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
            {
                // The WAL stops its apply loop on any exception and fails later calls; say why, once.
                LogMessages.ApplyFailed(logger, entry.Index, entry.Term, e);
                throw;
            }
        }

        context?.Applied(position);
        return entry.Index;
    }
}

/// <summary>
/// Rides with a batch through the WAL (<c>IInputLogEntry.Context</c>) from the leader's ReplicateAsync to the apply.
/// </summary>
/// <remarks>
/// The WAL keeps contexts by index, so if this leader's entry is overwritten by a new leader's entry at the same index,
/// that other entry arrives with our context. Only one leader exists per term, so an entry at our index with our term
/// is ours (Raft's log matching); anything else leaves <see cref="Position"/> null.
/// </remarks>
internal sealed class ReplicationContext(long term)
{
    private LogPosition? _position;

    public LogPosition? Position => _position;

    public void Applied(LogPosition position)
    {
        if (position.Term == term)
        {
            _position = position;
        }
    }
}
