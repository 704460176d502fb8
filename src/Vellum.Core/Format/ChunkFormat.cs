using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Vellum.Core.Format;

/// <summary>
/// Layout of a ledger chunk file (byte by byte in docs/ledger-format.md):
/// a 32-byte file header, then frames, then — only once the chunk is committed — a positions table and a 24-byte
/// trailer. An open chunk is named <c>ledger_{first}</c>; a committed one <c>ledger_{first}-{last}.committed</c>.
/// </summary>
public static class ChunkFormat
{
    /// <summary>Bytes in the file header.</summary>
    public const int HeaderSize = 32;

    /// <summary>Bytes in the trailer of a committed chunk.</summary>
    public const int TrailerSize = 24;

    /// <summary>The chunk format version this code writes.</summary>
    public const ushort Version = 1;

    /// <summary>Header flag: the ledger is Private (contents encrypted).</summary>
    public const ushort PrivateFlag = 1;

    /// <summary>Largest chunk file a reader accepts (1 GiB); a writer closes chunks long before.</summary>
    public const long MaxFileSize = 1L << 30;

    /// <summary>Suffix of a committed chunk.</summary>
    public const string CommittedSuffix = ".committed";

    private static ReadOnlySpan<byte> HeaderMagic => "VELLUMLG"u8;

    private static ReadOnlySpan<byte> TrailerMagic => "VLMTRAIL"u8;

    /// <summary>Writes the file header of a chunk whose first entry is <paramref name="firstSeqno"/>.</summary>
    public static void WriteHeader(Span<byte> header, long firstSeqno, bool isPrivate)
    {
        header[..HeaderSize].Clear();
        HeaderMagic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], isPrivate ? PrivateFlag : (ushort)0);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], firstSeqno);
        BinaryPrimitives.WriteUInt32LittleEndian(header[24..], Crc32C.Compute(header[..24]));
    }

    /// <summary>Reads a chunk file header. Never throws.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> file, out long firstSeqno, out bool isPrivate, [NotNullWhen(false)] out string? error)
    {
        firstSeqno = 0;
        isPrivate = false;
        if (file.Length < HeaderSize)
        {
            error = $"file of {file.Length} bytes is shorter than the {HeaderSize}-byte chunk header";
            return false;
        }

        if (!file[..8].SequenceEqual(HeaderMagic))
        {
            error = "chunk header magic is not VELLUMLG";
            return false;
        }

        if (Crc32C.Compute(file[..24]) != BinaryPrimitives.ReadUInt32LittleEndian(file[24..]) || BinaryPrimitives.ReadUInt32LittleEndian(file[28..]) != 0)
        {
            error = "chunk header checksum does not match";
            return false;
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(file[8..]);
        var flags = BinaryPrimitives.ReadUInt16LittleEndian(file[10..]);
        if (version != Version || (flags & ~PrivateFlag) != 0 || BinaryPrimitives.ReadUInt32LittleEndian(file[12..]) != 0)
        {
            error = $"chunk format version {version} flags 0x{flags:x4} is not supported";
            return false;
        }

        firstSeqno = BinaryPrimitives.ReadInt64LittleEndian(file[16..]);
        if (firstSeqno < 1)
        {
            error = $"chunk first seqno {firstSeqno} is not positive";
            return false;
        }

        isPrivate = (flags & PrivateFlag) != 0;
        error = null;
        return true;
    }

    /// <summary>Length of the positions table plus trailer for <paramref name="count"/> entries.</summary>
    public static int TrailerLength(int count) => (8 * count) + TrailerSize;

    /// <summary>
    /// Writes the positions table (u64 LE file offset of each frame) and the trailer
    /// (<c>u64 count ‖ u32 CRC-32C(table ‖ count) ‖ u32 0 ‖ "VLMTRAIL"</c>).
    /// </summary>
    public static void WriteTrailer(Span<byte> destination, ReadOnlySpan<long> positions)
    {
        for (var i = 0; i < positions.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(destination[(8 * i)..], positions[i]);
        }

        var tableEnd = 8 * positions.Length;
        BinaryPrimitives.WriteInt64LittleEndian(destination[tableEnd..], positions.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[(tableEnd + 8)..], Crc32C.Compute(destination[..(tableEnd + 8)]));
        BinaryPrimitives.WriteUInt32LittleEndian(destination[(tableEnd + 12)..], 0);
        TrailerMagic.CopyTo(destination[(tableEnd + 16)..]);
    }

    /// <summary>
    /// Reads the trailer at the end of a committed chunk held whole in <paramref name="file"/>;
    /// <paramref name="positionsOffset"/> is where the table starts (and so where the frames end). Never throws.
    /// </summary>
    public static bool TryReadTrailer(ReadOnlySpan<byte> file, out long count, out long positionsOffset, [NotNullWhen(false)] out string? error)
    {
        positionsOffset = 0;
        if (file.Length < HeaderSize + TrailerSize)
        {
            count = 0;
            error = "committed chunk is too short to hold a trailer";
            return false;
        }

        if (!TryReadTrailerEnd(file[^TrailerSize..], file.Length, out count, out positionsOffset, out error))
        {
            return false;
        }

        return TryCheckPositions(file[(int)positionsOffset..], out error);
    }

    /// <summary>
    /// Reads the last 24 bytes of a committed chunk of <paramref name="fileLength"/> bytes: the entry count and where
    /// the positions table starts. The table itself is checked with <see cref="TryCheckPositions"/>.
    /// </summary>
    public static bool TryReadTrailerEnd(ReadOnlySpan<byte> trailer, long fileLength, out long count, out long positionsOffset, [NotNullWhen(false)] out string? error)
    {
        count = 0;
        positionsOffset = 0;
        if (trailer.Length != TrailerSize || !trailer[16..].SequenceEqual(TrailerMagic))
        {
            error = "committed chunk does not end with its trailer (truncated?)";
            return false;
        }

        count = BinaryPrimitives.ReadInt64LittleEndian(trailer);
        if (count < 1 || count > (fileLength - HeaderSize - TrailerSize) / (8 + Frame.HeaderSize + 1))
        {
            error = $"trailer entry count {count} does not fit the file";
            return false;
        }

        positionsOffset = fileLength - TrailerSize - (8 * count);
        error = null;
        return true;
    }

    /// <summary>Checks the CRC of the positions table; <paramref name="tableAndTrailer"/> runs from the table to the end of the file.</summary>
    public static bool TryCheckPositions(ReadOnlySpan<byte> tableAndTrailer, [NotNullWhen(false)] out string? error)
    {
        var trailer = tableAndTrailer[^TrailerSize..];
        var covered = tableAndTrailer[..^(TrailerSize - 8)];
        if (Crc32C.Compute(covered) != BinaryPrimitives.ReadUInt32LittleEndian(trailer[8..]) || BinaryPrimitives.ReadUInt32LittleEndian(trailer[12..]) != 0)
        {
            error = "positions table checksum does not match";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>Reads entry <paramref name="index"/> of the positions table.</summary>
    public static long ReadPosition(ReadOnlySpan<byte> file, long positionsOffset, long index) =>
        BinaryPrimitives.ReadInt64LittleEndian(file[(int)(positionsOffset + (8 * index))..]);

    /// <summary>File name of an open chunk.</summary>
    public static string OpenName(long firstSeqno) => string.Create(CultureInfo.InvariantCulture, $"ledger_{firstSeqno}");

    /// <summary>File name of a committed chunk.</summary>
    public static string CommittedName(long firstSeqno, long lastSeqno) =>
        string.Create(CultureInfo.InvariantCulture, $"ledger_{firstSeqno}-{lastSeqno}{CommittedSuffix}");

    /// <summary>
    /// Parses a chunk file name. <paramref name="lastSeqno"/> is 0 for an open chunk. Names that are not chunks
    /// (temporary files, anything else) return false.
    /// </summary>
    public static bool TryParseName(string fileName, out long firstSeqno, out long lastSeqno, out bool committed)
    {
        firstSeqno = lastSeqno = 0;
        committed = false;
        if (!fileName.StartsWith("ledger_", StringComparison.Ordinal))
        {
            return false;
        }

        var rest = fileName.AsSpan(7);
        if (rest.EndsWith(CommittedSuffix, StringComparison.Ordinal))
        {
            rest = rest[..^CommittedSuffix.Length];
            var dash = rest.IndexOf('-');
            committed = true;
            return dash > 0 && TryParseSeqno(rest[..dash], out firstSeqno) && TryParseSeqno(rest[(dash + 1)..], out lastSeqno) && lastSeqno >= firstSeqno;
        }

        return TryParseSeqno(rest, out firstSeqno);
    }

    private static bool TryParseSeqno(ReadOnlySpan<char> text, out long value)
    {
        value = 0;
        if (text.IsEmpty || text[0] == '0')
        {
            return false;
        }

        foreach (var c in text)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }

        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}
