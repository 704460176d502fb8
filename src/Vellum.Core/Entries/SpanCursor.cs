using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace Vellum.Core.Entries;

/// <summary>Sequential little-endian writer over a span the caller sized exactly.</summary>
internal ref struct SpanWriter(Span<byte> buffer)
{
    private readonly Span<byte> _buffer = buffer;

    public int Position { get; private set; }

    public void WriteByte(byte value) => _buffer[Position++] = value;

    public void WriteUInt16(int value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer[Position..], checked((ushort)value));
        Position += 2;
    }

    public void WriteInt32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_buffer[Position..], value);
        Position += 4;
    }

    public void WriteInt64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_buffer[Position..], value);
        Position += 8;
    }

    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer[Position..]);
        Position += bytes.Length;
    }

    public void WriteHash(in Vellum.Core.Primitives.Hash32 hash)
    {
        hash.CopyTo(_buffer[Position..]);
        Position += Vellum.Core.Primitives.Hash32.Size;
    }

    /// <summary>u16 length prefix then the UTF-8 bytes of <paramref name="text"/>.</summary>
    public void WriteString16(string text)
    {
        var length = Encoding.UTF8.GetBytes(text, _buffer[(Position + 2)..]);
        WriteUInt16(length);
        Position += length;
    }

    /// <summary>u8 count, then each string as <see cref="WriteString16"/> (at most 255).</summary>
    public void WriteStringList(IReadOnlyList<string> texts)
    {
        WriteByte(checked((byte)texts.Count));
        foreach (var text in texts)
        {
            WriteString16(text);
        }
    }

    /// <summary>Bytes <see cref="WriteStringList"/> takes for <paramref name="texts"/>.</summary>
    public static int StringListLength(IReadOnlyList<string> texts)
    {
        var length = 1;
        foreach (var text in texts)
        {
            length += 2 + Encoding.UTF8.GetByteCount(text);
        }

        return length;
    }
}

/// <summary>Sequential little-endian reader that reports running off the end instead of throwing.</summary>
internal ref struct SpanReader(ReadOnlySpan<byte> buffer)
{
    private readonly ReadOnlySpan<byte> _buffer = buffer;

    public int Position { get; private set; }

    public readonly int Remaining => _buffer.Length - Position;

    public bool TryReadByte(out byte value)
    {
        if (Remaining < 1)
        {
            value = 0;
            return false;
        }

        value = _buffer[Position++];
        return true;
    }

    public bool TryReadUInt16(out int value)
    {
        if (Remaining < 2)
        {
            value = 0;
            return false;
        }

        value = BinaryPrimitives.ReadUInt16LittleEndian(_buffer[Position..]);
        Position += 2;
        return true;
    }

    public bool TryReadInt32(out int value)
    {
        if (Remaining < 4)
        {
            value = 0;
            return false;
        }

        value = BinaryPrimitives.ReadInt32LittleEndian(_buffer[Position..]);
        Position += 4;
        return true;
    }

    public bool TryReadInt64(out long value)
    {
        if (Remaining < 8)
        {
            value = 0;
            return false;
        }

        value = BinaryPrimitives.ReadInt64LittleEndian(_buffer[Position..]);
        Position += 8;
        return true;
    }

    public bool TryReadBytes(int length, out ReadOnlySpan<byte> bytes)
    {
        if (length < 0 || Remaining < length)
        {
            bytes = default;
            return false;
        }

        bytes = _buffer.Slice(Position, length);
        Position += length;
        return true;
    }

    /// <summary>A u16-prefixed UTF-8 string; false on a short buffer or invalid UTF-8.</summary>
    public bool TryReadString16(out string value)
    {
        value = string.Empty;
        if (!TryReadUInt16(out var length) || !TryReadBytes(length, out var bytes))
        {
            return false;
        }

        if (!Utf8.IsValid(bytes))
        {
            return false;
        }

        value = Encoding.UTF8.GetString(bytes);
        return true;
    }

    /// <summary>
    /// What <see cref="SpanWriter.WriteStringList"/> wrote; false with <paramref name="error"/> naming the first string
    /// (<paramref name="item"/> and its index) that runs off the end, or the count.
    /// </summary>
    public bool TryReadStringList(string item, out string[] values, out string? error)
    {
        values = [];
        if (!TryReadByte(out var count))
        {
            error = $"the {item} count is truncated";
            return false;
        }

        values = new string[count];
        for (var i = 0; i < count; i++)
        {
            if (!TryReadString16(out values[i]))
            {
                error = $"{item} {i} is truncated";
                return false;
            }
        }

        error = null;
        return true;
    }
}
