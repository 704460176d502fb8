using Vellum.Core.Primitives;

namespace Vellum.Core.Verification;

/// <summary>The first thing wrong with a ledger: where it is and what it is.</summary>
/// <param name="File">The chunk file (name only), or null for a problem with the set of files.</param>
/// <param name="Offset">Byte offset in <paramref name="File"/>, or -1.</param>
/// <param name="Seqno">The transaction concerned, or 0.</param>
/// <param name="Message">What is wrong.</param>
public sealed record VerificationFailure(string? File, long Offset, long Seqno, string Message)
{
    /// <inheritdoc />
    public override string ToString()
    {
        var where = File is null ? string.Empty : Offset >= 0 ? $"{File} at byte {Offset}: " : $"{File}: ";
        var what = Seqno > 0 ? $"transaction {Seqno}: " : string.Empty;
        return where + what + Message;
    }
}

/// <summary>What a successful verification established.</summary>
public sealed record VerificationSummary(
    long Transactions,
    long Signatures,
    long Chunks,
    long LastSignedSeqno,
    TxId LastSignatureId,
    Hash32 LastSignedRoot,
    long UnsignedTail,
    bool Decrypted);
