namespace Vellum.Storage.Ledger;

/// <summary>
/// The ledger files are damaged in a way that must not be repaired silently: a committed chunk, or the middle of the
/// open chunk. Names the file and byte offset. The store refuses to open; <c>vellum verify</c> tells more.
/// </summary>
public sealed class LedgerCorruptException : Exception
{
    public LedgerCorruptException()
    {
    }

    public LedgerCorruptException(string message)
        : base(message)
    {
    }

    public LedgerCorruptException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public LedgerCorruptException(string file, long offset, string problem)
        : base($"{file} at byte {offset}: {problem}")
    {
        File = file;
        Offset = offset;
    }

    /// <summary>The damaged file.</summary>
    public string? File { get; }

    /// <summary>Byte offset of the damage in <see cref="File"/>.</summary>
    public long Offset { get; }
}
