namespace Vellum.Storage.Ledger;

/// <summary>Where and how a ledger is stored. Every default is documented in docs/ledger-format.md.</summary>
public sealed class LedgerStoreOptions
{
    /// <summary>Folder of the chunk files (<c>&lt;data&gt;/ledger</c>). Only chunk files live here.</summary>
    public required string LedgerDirectory { get; init; }

    /// <summary>Folder of derived state: Merkle tiles, indexes and the view file (<c>&lt;data&gt;/state</c>).</summary>
    public required string StateDirectory { get; init; }

    /// <summary>True for a Private ledger: contents are encrypted. Fixed when the ledger is created.</summary>
    public bool IsPrivate { get; init; }

    /// <summary>
    /// A chunk is closed at the first signature transaction after it holds this many bytes (default 4 MiB).
    /// Small enough that a chunk is quick to copy, verify and fetch; large enough that closing (one fsync of the
    /// trailer and a rename) is rare.
    /// </summary>
    public long ChunkSizeThreshold
    {
        get;
        init => field = value >= 4096 ? value : throw new ArgumentOutOfRangeException(nameof(value), "at least 4096 bytes");
    } = 4 * 1024 * 1024;

    /// <summary>A signature transaction follows at most this many transactions (default 5,000, as in CCF).</summary>
    public int SignatureInterval
    {
        get;
        init => field = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), "at least 1");
    } = 5000;

    /// <summary>
    /// With unsigned transactions pending, a signature is written at the latest this long after the last one
    /// (default 100 ms): the bound on how long a transaction stays Pending on a single node.
    /// </summary>
    public TimeSpan SignatureDelay
    {
        get;
        init => field = value > TimeSpan.Zero ? value : throw new ArgumentOutOfRangeException(nameof(value), "positive");
    } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Replicated stores only: how many batches may be in consensus at once, handed over and not yet passed back
    /// (default 1, from 1 to 256). With 1, the next batch is handed over the moment the previous one is applied. More
    /// put the next batches in the log while a round runs, but they are smaller: on a CPU-bound machine that costs more
    /// per write than it saves (docs/benchmarks.md); it may pay where the network, not the CPU, is the bound.
    /// </summary>
    public int MaxBatchesInFlight
    {
        get;
        init => field = value is >= 1 and <= 256 ? value : throw new ArgumentOutOfRangeException(nameof(value), "from 1 to 256");
    } = 1;

    /// <summary>
    /// False only for benchmarks that measure the cost of everything but the disk: appends complete after the
    /// write without fsync. Never use it for a ledger you keep.
    /// </summary>
    public bool Durable { get; init; } = true;
}
