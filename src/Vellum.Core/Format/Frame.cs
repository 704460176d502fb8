using System.Buffers.Binary;

namespace Vellum.Core.Format;

/// <summary>What <see cref="Frame.TryRead"/> found at an offset.</summary>
public enum FrameStatus
{
    /// <summary>A whole frame whose checksum matches.</summary>
    Ok,

    /// <summary>Fewer bytes remain than the frame header or its stated body need: a torn tail if at the end of an open chunk.</summary>
    Truncated,

    /// <summary>The stated length is outside 1..<see cref="Frame.MaxBodyLength"/>.</summary>
    BadLength,

    /// <summary>The checksum does not match the bytes.</summary>
    BadChecksum,
}

/// <summary>
/// One entry on disk: <c>u32 LE body length L ‖ u32 LE CRC-32C(length bytes ‖ body) ‖ body[L]</c>.
/// The checksum covers the length too, so a corrupted length is caught rather than followed.
/// </summary>
public static class Frame
{
    /// <summary>Bytes before the body.</summary>
    public const int HeaderSize = 8;

    /// <summary>
    /// The largest body a frame may hold (4 MiB). Far above any entry the service accepts; it bounds what a reader
    /// allocates for a corrupt or hostile length.
    /// </summary>
    public const int MaxBodyLength = 4 * 1024 * 1024;

    /// <summary>Writes the 8-byte frame header for <paramref name="body"/>.</summary>
    public static void WriteHeader(Span<byte> header, ReadOnlySpan<byte> body)
    {
        BinaryPrimitives.WriteInt32LittleEndian(header, body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], Checksum(header[..4], body));
    }

    /// <summary>Writes header and body; returns the bytes written.</summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<byte> body)
    {
        body.CopyTo(destination[HeaderSize..]);
        WriteHeader(destination, destination.Slice(HeaderSize, body.Length));
        return HeaderSize + body.Length;
    }

    /// <summary>Reads the frame at the start of <paramref name="data"/>; <paramref name="bodyLength"/> is set when the length is plausible.</summary>
    public static FrameStatus TryRead(ReadOnlySpan<byte> data, out int bodyLength)
    {
        bodyLength = 0;
        if (data.Length < HeaderSize)
        {
            return FrameStatus.Truncated;
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (length <= 0 || length > MaxBodyLength)
        {
            return FrameStatus.BadLength;
        }

        bodyLength = length;
        if (data.Length - HeaderSize < length)
        {
            return FrameStatus.Truncated;
        }

        var expected = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        return Checksum(data[..4], data.Slice(HeaderSize, length)) == expected ? FrameStatus.Ok : FrameStatus.BadChecksum;
    }

    private static uint Checksum(ReadOnlySpan<byte> lengthBytes, ReadOnlySpan<byte> body) =>
        Crc32C.Compute(body, Crc32C.Compute(lengthBytes));
}
