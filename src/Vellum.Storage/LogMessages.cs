using Microsoft.Extensions.Logging;

namespace Vellum.Storage;

/// <summary>Every log event of the storage layer. EventIds 2000–2999 belong to Vellum.Storage.</summary>
internal static partial class LogMessages
{
    [LoggerMessage(2000, LogLevel.Information, "Ledger {LedgerDirectory} opened: {Transactions} transactions, committed to {CommittedSeqno}, last view {View}", EventName = "StoreOpened")]
    public static partial void StoreOpened(ILogger logger, string ledgerDirectory, long transactions, long committedSeqno, long view);

    [LoggerMessage(2001, LogLevel.Warning, "Truncated a torn tail of {Bytes} bytes at byte {Offset} of {File} (a write a crash cut short; never acknowledged)", EventName = "TornTailTruncated")]
    public static partial void TornTailTruncated(ILogger logger, string file, long offset, long bytes);

    [LoggerMessage(2002, LogLevel.Warning, "Merkle tiles in {Directory} disagreed with the last signed root; rebuilt them from the ledger", EventName = "TilesRebuilt")]
    public static partial void TilesRebuilt(ILogger logger, string directory);

    [LoggerMessage(2003, LogLevel.Information, "Finished closing chunk {File} (the crash came between its closing signature and the rename)", EventName = "ChunkCloseCompleted")]
    public static partial void ChunkCloseCompleted(ILogger logger, string file);

    [LoggerMessage(2004, LogLevel.Debug, "Closed chunk {File}", EventName = "ChunkClosed")]
    public static partial void ChunkClosed(ILogger logger, string file);

    [LoggerMessage(2005, LogLevel.Critical, "A ledger write failed; the store applies nothing more until restarted", EventName = "WriteFailed")]
    public static partial void WriteFailed(ILogger logger, Exception exception);
}
