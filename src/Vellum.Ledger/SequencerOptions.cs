namespace Vellum.Ledger;

/// <summary>How a ledger's sequencer batches and signs. Every default is documented in docs/ledger-format.md.</summary>
public sealed class SequencerOptions
{
    /// <summary>True for a Private ledger: contents are encrypted before they leave the sequencer.</summary>
    public bool IsPrivate { get; init; }

    /// <summary>A signature transaction follows at most this many transactions (default 5,000, as in CCF).</summary>
    public int SignatureInterval
    {
        get;
        init => field = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), "at least 1");
    } = 5000;

    /// <summary>
    /// With unsigned transactions pending, a signature is sequenced at the latest this long after the last one
    /// (default 100 ms): the bound on how long a transaction stays Pending when nobody waits for its commit.
    /// </summary>
    public TimeSpan SignatureDelay
    {
        get;
        init => field = value > TimeSpan.Zero ? value : throw new ArgumentOutOfRangeException(nameof(value), "positive");
    } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How many batches may be in consensus at once, handed over and not yet committed and applied (default 1, from 1
    /// to 256). With 1, the next batch is handed over the moment the previous one is applied. More put the next
    /// batches in the log while a round runs, but they are smaller: on a CPU-bound machine that costs more per write
    /// than it saves (docs/benchmarks.md); it may pay where the network, not the CPU, is the bound.
    /// </summary>
    public int MaxBatchesInFlight
    {
        get;
        init => field = value is >= 1 and <= 256 ? value : throw new ArgumentOutOfRangeException(nameof(value), "from 1 to 256");
    } = 1;
}
