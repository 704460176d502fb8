using Microsoft.Extensions.Logging;

namespace Vellum.Ledger;

/// <summary>Every log event of the ledger layer (sequencer and applier). EventIds 4000–4999 belong to Vellum.Ledger.</summary>
internal static partial class LogMessages
{
    [LoggerMessage(4000, LogLevel.Information, "This node is the primary of view {View}; the ledger it inherits ends at seqno {Seqno}", EventName = "BecamePrimary")]
    public static partial void BecamePrimary(ILogger logger, long view, long seqno);

    [LoggerMessage(4001, LogLevel.Information, "This node stopped sequencing (view {View}); {Lost} sequenced transactions were not committed here", EventName = "StoppedSequencing")]
    public static partial void StoppedSequencing(ILogger logger, long view, long lost);

    [LoggerMessage(4002, LogLevel.Information, "Caught up to the leader's snapshot: ledger at seqno {Seqno} (needed {Needed}), applied index {Index}", EventName = "SnapshotRestored")]
    public static partial void SnapshotRestored(ILogger logger, long seqno, long needed, long index);
}
