using System.Buffers.Binary;
using Vellum.Core.Format;

namespace Vellum.Core.Tests.Format;

public sealed class ChunkFormatTests
{
    private static byte[] Header(long first = 5, bool isPrivate = false)
    {
        var header = new byte[ChunkFormat.HeaderSize];
        ChunkFormat.WriteHeader(header, first, isPrivate);
        return header;
    }

    /// <summary>Rewrites the header checksum, so only the field under test is wrong.</summary>
    private static byte[] Resealed(byte[] header)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(24), Crc32C.Compute(header.AsSpan(0, 24)));
        return header;
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(5, true)]
    [InlineData(long.MaxValue, true)]
    public void Header_round_trips(long first, bool isPrivate)
    {
        var header = Header(first, isPrivate);
        Assert.Equal("VELLUMLG"u8.ToArray(), header[..8]);
        Assert.True(ChunkFormat.TryReadHeader(header, out var readFirst, out var readPrivate, out var error), error);
        Assert.Equal(first, readFirst);
        Assert.Equal(isPrivate, readPrivate);
    }

    [Fact]
    public void Header_rejections()
    {
        string Reject(byte[] bytes)
        {
            Assert.False(ChunkFormat.TryReadHeader(bytes, out _, out _, out var error));
            return error;
        }

        Assert.Contains("shorter than", Reject(Header()[..31]), StringComparison.Ordinal);
        Assert.Contains("shorter than", Reject([]), StringComparison.Ordinal);

        var magic = Header();
        magic[0] = (byte)'X';
        Assert.Contains("magic", Reject(Resealed(magic)), StringComparison.Ordinal);

        var crc = Header();
        crc[17] ^= 1;
        Assert.Contains("checksum", Reject(crc), StringComparison.Ordinal);

        var reservedAfterCrc = Header();
        reservedAfterCrc[30] = 1;
        Assert.Contains("checksum", Reject(reservedAfterCrc), StringComparison.Ordinal);

        var version = Header();
        version[8] = 2;
        Assert.Contains("version 2", Reject(Resealed(version)), StringComparison.Ordinal);

        var flags = Header();
        flags[10] = 2;
        Assert.Contains("not supported", Reject(Resealed(flags)), StringComparison.Ordinal);

        var reserved = Header();
        reserved[13] = 1;
        Assert.Contains("not supported", Reject(Resealed(reserved)), StringComparison.Ordinal);

        foreach (var first in new[] { 0L, -1L, long.MinValue })
        {
            var bad = Header();
            BinaryPrimitives.WriteInt64LittleEndian(bad.AsSpan(16), first);
            Assert.Contains("not positive", Reject(Resealed(bad)), StringComparison.Ordinal);
        }
    }

    /// <summary>A committed chunk of <paramref name="count"/> frames of the given body length.</summary>
    private static (byte[] File, long[] Positions) Chunk(int count, int bodyLength = 100)
    {
        var file = new List<byte>(Header(1));
        var positions = new long[count];
        for (var i = 0; i < count; i++)
        {
            positions[i] = file.Count;
            var frame = new byte[Frame.HeaderSize + bodyLength];
            Frame.Write(frame, Enumerable.Repeat((byte)i, bodyLength).ToArray());
            file.AddRange(frame);
        }

        var trailer = new byte[ChunkFormat.TrailerLength(count)];
        ChunkFormat.WriteTrailer(trailer, positions);
        file.AddRange(trailer);
        return (file.ToArray(), positions);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(50)]
    public void Trailer_round_trips(int count)
    {
        var (file, positions) = Chunk(count);
        Assert.Equal("VLMTRAIL"u8.ToArray(), file[^8..]);
        Assert.True(ChunkFormat.TryReadTrailer(file, out var readCount, out var positionsOffset, out var error), error);
        Assert.Equal(count, readCount);
        Assert.Equal(file.Length - ChunkFormat.TrailerLength(count), positionsOffset);
        for (var i = 0; i < count; i++)
        {
            Assert.Equal(positions[i], ChunkFormat.ReadPosition(file, positionsOffset, i));
        }
    }

    [Fact]
    public void Trailer_rejections()
    {
        var (file, _) = Chunk(3);
        string Reject(byte[] bytes)
        {
            Assert.False(ChunkFormat.TryReadTrailer(bytes, out _, out _, out var error));
            return error;
        }

        Assert.Contains("too short", Reject(file[..(ChunkFormat.HeaderSize + ChunkFormat.TrailerSize - 1)]), StringComparison.Ordinal);
        Assert.Contains("does not end with its trailer", Reject(file[..^1]), StringComparison.Ordinal);

        var magic = (byte[])file.Clone();
        magic[^1] ^= 1;
        Assert.Contains("does not end with its trailer", Reject(magic), StringComparison.Ordinal);

        foreach (var count in new[] { 0L, -1L, 4L, 1000L, long.MaxValue, long.MinValue })
        {
            var bad = (byte[])file.Clone();
            BinaryPrimitives.WriteInt64LittleEndian(bad.AsSpan(file.Length - ChunkFormat.TrailerSize), count);
            Assert.False(ChunkFormat.TryReadTrailer(bad, out _, out _, out _), $"count {count}");
        }

        var table = (byte[])file.Clone();
        table[file.Length - ChunkFormat.TrailerLength(3)] ^= 1;
        Assert.Contains("positions table checksum", Reject(table), StringComparison.Ordinal);

        var reserved = (byte[])file.Clone();
        reserved[^9] = 1; // the u32 after the CRC, before the magic
        Assert.Contains("positions table checksum", Reject(reserved), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ledger_1", 1, 0, false)]
    [InlineData("ledger_42", 42, 0, false)]
    [InlineData("ledger_5-10.committed", 5, 10, true)]
    [InlineData("ledger_7-7.committed", 7, 7, true)]
    [InlineData("ledger_9223372036854775807", long.MaxValue, 0, false)]
    public void Accepts_chunk_names(string name, long first, long last, bool committed)
    {
        Assert.True(ChunkFormat.TryParseName(name, out var f, out var l, out var c));
        Assert.Equal((first, last, committed), (f, l, c));
        Assert.Equal(name, committed ? ChunkFormat.CommittedName(first, last) : ChunkFormat.OpenName(first));
    }

    [Theory]
    [InlineData("ledger_0")]
    [InlineData("ledger_01")]
    [InlineData("ledger_")]
    [InlineData("ledger_x")]
    [InlineData("ledger_-1")]
    [InlineData("ledger_+1")]
    [InlineData("ledger_ 1")]
    [InlineData("ledger_1 ")]
    [InlineData("ledger_1.tmp")]
    [InlineData("ledger_1-2")]
    [InlineData("ledger_5-4.committed")]
    [InlineData("ledger_0-4.committed")]
    [InlineData("ledger_1-02.committed")]
    [InlineData("ledger_-4.committed")]
    [InlineData("ledger_4-.committed")]
    [InlineData("ledger_1-2-3.committed")]
    [InlineData("ledger_.committed")]
    [InlineData("ledger_1-2.committed.tmp")]
    [InlineData("ledger_9223372036854775808")]
    [InlineData("ledger_١")]
    [InlineData("Ledger_1")]
    [InlineData("ledger1")]
    [InlineData("")]
    public void Rejects_names_that_are_not_chunks(string name) => Assert.False(ChunkFormat.TryParseName(name, out _, out _, out _));
}
