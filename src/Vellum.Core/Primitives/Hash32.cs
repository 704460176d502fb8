using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vellum.Core.Primitives;

/// <summary>A 32-byte SHA-256 digest held by value, so trees and entries carry hashes without allocating.</summary>
[StructLayout(LayoutKind.Sequential, Size = Size)]
public readonly struct Hash32 : IEquatable<Hash32>
{
    /// <summary>Bytes in a SHA-256 digest.</summary>
    public const int Size = 32;

    private readonly ulong _a;
    private readonly ulong _b;
    private readonly ulong _c;
    private readonly ulong _d;

    /// <summary>Copies a digest from exactly 32 bytes.</summary>
    public Hash32(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            ThrowWrongLength(bytes.Length, nameof(bytes));
        }

        _a = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        _b = BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]);
        _c = BinaryPrimitives.ReadUInt64LittleEndian(bytes[16..]);
        _d = BinaryPrimitives.ReadUInt64LittleEndian(bytes[24..]);
    }

    /// <summary>The all-zero digest (the claims digest of a transaction without claims).</summary>
    public static Hash32 Zero => default;

    /// <summary>True for the all-zero digest.</summary>
    public bool IsZero => (_a | _b | _c | _d) == 0;

    /// <summary>SHA-256 of <paramref name="data"/>.</summary>
    public static Hash32 Compute(ReadOnlySpan<byte> data)
    {
        Span<byte> buffer = stackalloc byte[Size];
        Crypto.Sha256.HashData(data, buffer);
        return new Hash32(buffer);
    }

    /// <summary>SHA-256 of the concatenation <c>left ‖ right</c>: an interior Merkle node.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Hash32 Combine(in Hash32 left, in Hash32 right)
    {
        Span<byte> input = stackalloc byte[2 * Size];
        left.CopyTo(input);
        right.CopyTo(input[Size..]);
        return Compute(input);
    }

    /// <summary>SHA-256 of <c>a ‖ b ‖ c</c>: the ACL leaf of (write-set digest, commit evidence digest, claims digest).</summary>
    public static Hash32 Combine(in Hash32 a, in Hash32 b, in Hash32 c)
    {
        Span<byte> input = stackalloc byte[3 * Size];
        a.CopyTo(input);
        b.CopyTo(input[Size..]);
        c.CopyTo(input[(2 * Size)..]);
        return Compute(input);
    }

    /// <summary>Parses 64 hex digits, either case.</summary>
    public static Hash32 ParseHex(ReadOnlySpan<char> hex) =>
        TryParseHex(hex, out var hash) ? hash : throw new FormatException("A SHA-256 digest is 64 hex digits.");

    /// <summary>Parses 64 hex digits, either case.</summary>
    public static bool TryParseHex(ReadOnlySpan<char> hex, out Hash32 hash)
    {
        hash = default;
        if (hex.Length != 2 * Size)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[Size];
        if (Convert.FromHexString(hex, bytes, out _, out var written) != System.Buffers.OperationStatus.Done || written != Size)
        {
            return false;
        }

        hash = new Hash32(bytes);
        return true;
    }

    /// <summary>Writes the 32 bytes to <paramref name="destination"/>.</summary>
    public void CopyTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, _a);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], _b);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], _c);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], _d);
    }

    /// <summary>The digest as a new array.</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        CopyTo(bytes);
        return bytes;
    }

    /// <summary>Lower-case hex, as ACL receipts and CCF print digests.</summary>
    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Size];
        CopyTo(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    /// <inheritdoc />
    public bool Equals(Hash32 other) => _a == other._a && _b == other._b && _c == other._c && _d == other._d;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Hash32 other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(_a, _b, _c, _d);

    public static bool operator ==(Hash32 left, Hash32 right) => left.Equals(right);

    public static bool operator !=(Hash32 left, Hash32 right) => !left.Equals(right);

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowWrongLength(int length, string paramName) =>
        throw new ArgumentException($"A SHA-256 digest is {Size} bytes, not {length}.", paramName);
}
