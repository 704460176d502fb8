namespace Vellum.Consensus;

/// <summary>
/// Receives committed batches in log order. The ledger store implements it: applying a batch appends its
/// transactions to the ledger files.
/// </summary>
public interface IConsensusApplier
{
    /// <summary>
    /// The log index of the last batch that is durably applied. After a restart, committed batches after it are
    /// replayed; it is read when the node starts and before each apply.
    /// </summary>
    long LastAppliedIndex { get; }

    /// <summary>
    /// Applies one committed batch. Called in log order, one call at a time, for every committed batch; the engine's
    /// own no-op and configuration entries are not passed on, so indexes can have gaps. Must be idempotent by index:
    /// a call with <c>position.Index &lt;= LastAppliedIndex</c> is ignored.
    /// </summary>
    /// <param name="position">The batch's term and log index.</param>
    /// <param name="batch">The batch bytes; valid only until the returned task completes (copy what you keep).</param>
    /// <param name="token">Cancelled when the node shuts down.</param>
    /// <remarks>
    /// A throw is treated as a storage fault: the node applies nothing more until it is restarted (for Raft, its WAL
    /// also refuses further appends), because skipping a committed batch would fork this node's ledger.
    /// </remarks>
    ValueTask ApplyAsync(LogPosition position, ReadOnlyMemory<byte> batch, CancellationToken token);

    /// <summary>
    /// A short description of the applied state just after the batch at <see cref="LastAppliedIndex"/>, which
    /// consensus keeps as its snapshot so it can drop the log entries before it. Called right after
    /// <see cref="ApplyAsync"/> returns, on the same thread of control. It must describe only durable state, and
    /// enough for another member to reach at least that state (for the ledger: the durable seqno; the member fetches
    /// the transactions from a peer). Null (the default) means "no snapshots": the log is never compacted.
    /// </summary>
    byte[]? DescribeAppliedState() => null;

    /// <summary>
    /// Brings this node to at least the state another member described (<see cref="DescribeAppliedState"/>) at
    /// <paramref name="position"/>: consensus calls it instead of <see cref="ApplyAsync"/> when the leader no longer
    /// holds the entries this node is missing. Afterwards <see cref="LastAppliedIndex"/> is at least
    /// <c>position.Index</c>. Throw if the state cannot be reached now; the leader sends the snapshot again later.
    /// </summary>
    /// <exception cref="NotSupportedException">The applier takes no snapshots (the default).</exception>
    ValueTask RestoreAsync(LogPosition position, ReadOnlyMemory<byte> state, CancellationToken token) =>
        throw new NotSupportedException("this applier takes no snapshots");
}
