using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace Vellum.Consensus.Raft;

/// <summary>
/// DotNext's <see cref="WriteAheadLog"/>, changed in one place: a follower's AppendEntries path fsyncs the appended
/// entries before the reply is sent.
/// </summary>
/// <remarks>
/// <para>
/// In 6.12, <c>RaftCluster.AppendEntriesAsync</c> calls <c>IAuditTrail&lt;IRaftLogEntry&gt;.AppendAsync(producer, …)</c>,
/// which only wakes the background flusher, then <c>CommitAsync</c>, which waits only for entries the leader has
/// already committed, then replies. A follower can therefore acknowledge an entry that is still in memory, and the
/// leader can count that acknowledgement towards a majority: lose the leader's disk and have that follower lose power
/// and an acknowledged batch is gone. Textbook Raft persists before replying; so do we.
/// </para>
/// <para>
/// Re-implementing the interface method routes the cluster's interface call here while every other member maps to
/// the base class. This relies on the cluster calling through the interface, an internal detail: the test suite
/// checks <see cref="FollowerAppendFlushes"/> rises on followers, so an upgrade that bypasses it fails loudly.
/// The leader's own appends need nothing extra: 6.12's <c>CommitAsync</c> waits until entries are flushed.
/// </para>
/// </remarks>
internal sealed class DurableWriteAheadLog(WriteAheadLog.Options options, IStateMachine stateMachine)
    : WriteAheadLog(options, stateMachine), IAuditTrail<IRaftLogEntry>
{
    private long _followerAppendFlushes;

    /// <summary>How many follower appends carrying entries were flushed before being acknowledged.</summary>
    public long FollowerAppendFlushes => Interlocked.Read(ref _followerAppendFlushes);

    async ValueTask IAuditTrail<IRaftLogEntry>.AppendAsync<TEntry>(
        ILogEntryProducer<TEntry> entries, long startIndex, bool skipCommitted, CancellationToken token)
    {
        // Heartbeats carry no entries and need no flush. The count is read before appending consumes the producer;
        // the index comparison is a second guard, in case a producer ever under-reports its count.
        var carriesEntries = entries.RemainingCount > 0;
        var lastBefore = LastEntryIndex;
        await AppendAsync(entries, startIndex, skipCommitted, token).ConfigureAwait(false);
        if (carriesEntries || LastEntryIndex != lastBefore)
        {
            // 6.12: flushes data and metadata up to LastEntryIndex and writes the checkpoint before completing.
            await FlushAsync(token).ConfigureAwait(false);
            Interlocked.Increment(ref _followerAppendFlushes);
        }
    }
}
