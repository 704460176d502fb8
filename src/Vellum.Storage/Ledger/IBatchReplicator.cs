namespace Vellum.Storage.Ledger;

/// <summary>
/// What a replicated <see cref="LedgerStore"/> hands its batches to instead of writing them itself: consensus.
/// The store's flusher calls <see cref="BeginReplicateAsync"/> once per batch, in seqno order; the replication it
/// starts completes once the batch is committed by a majority and has been passed back to
/// <see cref="LedgerStore.ApplyCommitted"/> on this node (which writes it). When this node stops being primary
/// before that, it throws <see cref="ReplicationLostException"/>: the batch may still commit under the next primary,
/// so its outcome is unknown until its status says Committed or Invalid.
/// </summary>
public interface IBatchReplicator
{
    /// <summary>Replicates <paramref name="frames"/> (whole ledger frames, consecutive seqnos).</summary>
    ValueTask ReplicateAsync(ReadOnlyMemory<byte> frames, CancellationToken cancellationToken);

    /// <summary>
    /// The first half of <see cref="ReplicateAsync"/>, which lets the store keep several batches in flight
    /// (<see cref="LedgerStoreOptions.MaxBatchesInFlight"/>): completes once <paramref name="frames"/> has its place
    /// in the replicated log, so that the next call's batch lands after it; the task it yields completes when
    /// <see cref="ReplicateAsync"/> would return, and fails when the outcome is unknown (the store reports any such
    /// failure as <see cref="ReplicationLostException"/>). The frames stay unchanged until that task completes. The
    /// default waits for the whole replication (one batch in flight).
    /// </summary>
    async ValueTask<Task> BeginReplicateAsync(ReadOnlyMemory<byte> frames, CancellationToken cancellationToken)
    {
        await ReplicateAsync(frames, cancellationToken).ConfigureAwait(false);
        return Task.CompletedTask;
    }

    /// <summary>
    /// True when consensus keeps every batch it passes to <see cref="LedgerStore.ApplyCommitted"/> durably (fsynced
    /// in its own log) and passes it again after a crash, until the store has made the ledger files hold it
    /// (<see cref="LedgerStore.SyncToDisk"/>, which the consensus snapshot calls before it lets the log drop anything).
    /// The store then writes applied batches without an fsync of its own: one fsync per batch per node, not two.
    /// False (the default): every applied batch is fsynced before it counts as durable.
    /// </summary>
    bool KeepsBatchesDurably => false;
}

/// <summary>A write whose outcome is unknown: this node stopped being primary before it committed.</summary>
public sealed class ReplicationLostException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ReplicationLostException()
        : this("this node stopped being primary before the transaction committed; its outcome is unknown until its status is Committed or Invalid")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ReplicationLostException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public ReplicationLostException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>An append reached a node that is not the primary of a replicated ledger.</summary>
public sealed class NotPrimaryException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public NotPrimaryException()
        : this("this node is not the primary")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public NotPrimaryException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public NotPrimaryException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
