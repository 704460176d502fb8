using System.Buffers.Binary;
using Vellum.Core.Format;

namespace Vellum.Core.Tests.Format;

public sealed class FrameTests
{
    private static byte[] Framed(byte[] body, int extra = 0)
    {
        var buffer = new byte[Frame.HeaderSize + body.Length + extra];
        Assert.Equal(Frame.HeaderSize + body.Length, Frame.Write(buffer, body));
        return buffer;
    }

    [Fact]
    public void Writes_length_and_crc_of_length_and_body()
    {
        var body = "hello frame"u8.ToArray();
        var frame = Framed(body);
        Assert.Equal(body.Length, BinaryPrimitives.ReadInt32LittleEndian(frame));
        Assert.Equal(Crc32C.Compute(frame.AsSpan(0, 4).ToArray().Concat(body).ToArray()), BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan(4)));
        Assert.Equal(body, frame[Frame.HeaderSize..]);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(100, 0)]
    [InlineData(100, 50)]
    public void Reads_a_whole_frame_with_or_without_following_bytes(int length, int extra)
    {
        var frame = Framed(Enumerable.Range(0, length).Select(i => (byte)i).ToArray(), extra);
        Assert.Equal(FrameStatus.Ok, Frame.TryRead(frame, out var bodyLength));
        Assert.Equal(length, bodyLength);
    }

    [Fact]
    public void Reads_the_largest_allowed_body()
    {
        var frame = Framed(new byte[Frame.MaxBodyLength]);
        Assert.Equal(FrameStatus.Ok, Frame.TryRead(frame, out var bodyLength));
        Assert.Equal(Frame.MaxBodyLength, bodyLength);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    [InlineData(Frame.MaxBodyLength + 1)]
    [InlineData(int.MaxValue)]
    public void Rejects_a_length_out_of_range(int length)
    {
        var frame = Framed(new byte[16]);
        BinaryPrimitives.WriteInt32LittleEndian(frame, length);
        Assert.Equal(FrameStatus.BadLength, Frame.TryRead(frame, out var bodyLength));
        Assert.Equal(0, bodyLength);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(7)]
    public void A_short_header_is_truncated(int available)
    {
        Assert.Equal(FrameStatus.Truncated, Frame.TryRead(Framed(new byte[16]).AsSpan(0, available), out _));
    }

    [Fact]
    public void A_short_body_is_truncated_and_reports_the_stated_length()
    {
        var frame = Framed(new byte[16]);
        Assert.Equal(FrameStatus.Truncated, Frame.TryRead(frame.AsSpan(..^1), out var bodyLength));
        Assert.Equal(16, bodyLength);
        Assert.Equal(FrameStatus.Truncated, Frame.TryRead(frame.AsSpan(0, Frame.HeaderSize), out _));
    }

    [Fact]
    public void Any_single_bit_flip_in_crc_or_body_is_a_bad_checksum()
    {
        var frame = Framed("some entry body bytes"u8.ToArray());
        for (var i = 4; i < frame.Length; i++)
        {
            for (var bit = 0; bit < 8; bit++)
            {
                var altered = (byte[])frame.Clone();
                altered[i] ^= (byte)(1 << bit);
                Assert.Equal(FrameStatus.BadChecksum, Frame.TryRead(altered, out _));
            }
        }
    }

    [Fact]
    public void A_smaller_length_that_still_fits_fails_the_checksum()
    {
        // The checksum covers the length: a length shortened in place is caught, not followed.
        var frame = Framed(new byte[16]);
        frame[0] = 15;
        Assert.Equal(FrameStatus.BadChecksum, Frame.TryRead(frame, out _));
    }
}
