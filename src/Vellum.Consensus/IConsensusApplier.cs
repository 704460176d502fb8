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
}
