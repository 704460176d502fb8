namespace Vellum.Storage.Ledger;

/// <summary>Where and how a ledger is stored. Every default is documented in docs/ledger-format.md.</summary>
public sealed record LedgerStoreOptions
{
    /// <summary>Folder of the chunk files (<c>&lt;data&gt;/ledger</c>). Only chunk files live here.</summary>
    public required string LedgerDirectory { get; init; }

    /// <summary>Folder of derived state: Merkle tiles, indexes and the view file (<c>&lt;data&gt;/state</c>).</summary>
    public required string StateDirectory { get; init; }

    /// <summary>The ledger's name, as its metrics are tagged (<c>ledger</c>); <c>default</c> unless given.</summary>
    public string LedgerName { get; init; } = "default";

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

    /// <summary>
    /// True (the default): every applied batch is fsynced before it counts as applied. False when the consensus log
    /// keeps every batch durably and passes it again after a crash (Raft's write-ahead log): the files are then synced
    /// before a snapshot lets the log drop batches (<see cref="LedgerStore.SyncToDisk"/>), so a batch costs one fsync
    /// per node, not two.
    /// </summary>
    public bool SyncEachBatch { get; init; } = true;

    /// <summary>
    /// Unless each batch is fsynced (<see cref="SyncEachBatch"/> and <see cref="Durable"/>), applied batches are
    /// gathered in memory up to this many bytes of the open chunk (default 16 KiB, from 0 to 1 MiB; 0 writes each batch
    /// at once) and written to the file in one positional write: with many ledgers a round of the node log carries a
    /// few transactions of each, and a write per ledger per round costs more than the bytes it moves. Reads of those
    /// transactions come from memory; a sync, a chunk's close, <see cref="LedgerStore.ReleaseFiles"/> and a clean stop
    /// write them out first. What is gathered is in the durable consensus log until then, which passes it again after
    /// a crash.
    /// </summary>
    public int WriteBehindBytes
    {
        get;
        init => field = value is >= 0 and <= 1024 * 1024 ? value : throw new ArgumentOutOfRangeException(nameof(value), "from 0 to 1 MiB");
    } = 16 * 1024;

    /// <summary>
    /// False only for benchmarks that measure the cost of everything but the disk: applied batches are
    /// written without fsync. Never use it for a ledger you keep.
    /// </summary>
    public bool Durable { get; init; } = true;

    /// <summary>
    /// The cache of full Merkle tiles the ledger's tree shares with the node's other ledgers (one budget for all); null:
    /// a cache of its own of <see cref="Vellum.Core.Merkle.MerkleTree.DefaultCachedTiles"/> tiles.
    /// </summary>
    public Vellum.Core.Merkle.TileCache? TileCache { get; init; }
}
