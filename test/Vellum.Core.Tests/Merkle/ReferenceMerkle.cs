using System.Buffers.Binary;
using System.Security.Cryptography;
using Vellum.Core.Primitives;

namespace Vellum.Core.Tests.Merkle;

/// <summary>
/// Naive, recursive RFC 9162 definitions over a list of leaves (MTH, PATH, SUBPROOF), hashing with SHA-256 directly
/// rather than through Hash32.Combine, as an independent oracle for the tiled tree.
/// </summary>
internal static class ReferenceMerkle
{
    public static Hash32 Leaf(long i)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, i);
        return Hash32.Compute(bytes);
    }

    public static List<Hash32> Leaves(long count)
    {
        var leaves = new List<Hash32>((int)count);
        for (long i = 0; i < count; i++)
        {
            leaves.Add(Leaf(i));
        }

        return leaves;
    }

    public static Hash32 H(Hash32 left, Hash32 right)
    {
        var input = new byte[64];
        left.CopyTo(input);
        right.CopyTo(input.AsSpan(32));
        return new Hash32(SHA256.HashData(input));
    }

    public static int K(int n)
    {
        var k = 1;
        while (k * 2 < n)
        {
            k *= 2;
        }

        return k;
    }

    /// <summary>MTH(D[start:end]).</summary>
    public static Hash32 Mth(IReadOnlyList<Hash32> d, int start, int end)
    {
        var n = end - start;
        if (n == 1)
        {
            return d[start];
        }

        var k = K(n);
        return H(Mth(d, start, start + k), Mth(d, start + k, end));
    }

    /// <summary>PATH(m, D[start:end]), leaf to root.</summary>
    public static List<Hash32> Path(IReadOnlyList<Hash32> d, int m, int start, int end)
    {
        var n = end - start;
        if (n == 1)
        {
            return [];
        }

        var k = K(n);
        if (m < k)
        {
            var p = Path(d, m, start, start + k);
            p.Add(Mth(d, start + k, end));
            return p;
        }
        else
        {
            var p = Path(d, m - k, start + k, end);
            p.Add(Mth(d, start, start + k));
            return p;
        }
    }

    /// <summary>SUBPROOF(m, D[start:end], b).</summary>
    public static List<Hash32> SubProof(IReadOnlyList<Hash32> d, int m, int start, int end, bool b)
    {
        var n = end - start;
        if (m == n)
        {
            return b ? [] : [Mth(d, start, end)];
        }

        var k = K(n);
        if (m <= k)
        {
            var p = SubProof(d, m, start, start + k, b);
            p.Add(Mth(d, start + k, end));
            return p;
        }
        else
        {
            var p = SubProof(d, m - k, start + k, end, false);
            p.Add(Mth(d, start, start + k));
            return p;
        }
    }
}
