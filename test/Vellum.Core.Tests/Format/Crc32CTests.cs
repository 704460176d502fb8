using CsCheck;
using Vellum.Core.Format;

namespace Vellum.Core.Tests.Format;

public sealed class Crc32CTests
{
    /// <summary>Bit-at-a-time CRC-32C (reflected polynomial 0x82F63B78): slow, obviously right.</summary>
    private static uint Reference(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
            }
        }

        return ~crc;
    }

    [Fact]
    public void Standard_check_value() => Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));

    [Fact]
    public void Empty_input_is_zero() => Assert.Equal(0u, Crc32C.Compute([]));

    [Fact]
    public void Matches_a_bitwise_reference_and_continues_across_splits()
    {
        Gen.Select(Gen.Byte.Array[0, 100], Gen.Int[0, 100]).Sample((data, split) =>
        {
            split = Math.Min(split, data.Length);
            Assert.Equal(Reference(data), Crc32C.Compute(data));
            Assert.Equal(Crc32C.Compute(data), Crc32C.Compute(data.AsSpan(split), Crc32C.Compute(data.AsSpan(0, split))));
        }, iter: 1000);
    }
}
