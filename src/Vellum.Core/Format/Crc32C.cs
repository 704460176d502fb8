using System.Buffers.Binary;
using System.Numerics;

namespace Vellum.Core.Format;

/// <summary>
/// CRC-32C (Castagnoli), the frame checksum of the ledger files. It detects torn and corrupt frames; it is not a
/// security measure (the Merkle tree and signatures are). <see cref="BitOperations.Crc32C(uint, ulong)"/> uses the
/// SSE4.2 / ARMv8 CRC instructions where present, so checking a frame costs far less than hashing it.
/// </summary>
public static class Crc32C
{
    /// <summary>CRC-32C of <paramref name="data"/>, continuing from <paramref name="crc"/> (pass 0 to start).</summary>
    public static uint Compute(ReadOnlySpan<byte> data, uint crc = 0)
    {
        crc = ~crc;
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }
}
