using System.Security.Cryptography;

namespace Vellum.Core.Crypto;

/// <summary>
/// SHA-256 for the write path's many small inputs (Merkle nodes, leaves, commit evidence: several per transaction):
/// from OpenSSL directly where it is there (<see cref="OpenSslDigest"/>), else from .NET.
/// </summary>
public static class Sha256
{
    /// <summary>Bytes in a digest.</summary>
    public const int Size = OpenSslDigest.Size;

    /// <summary>True when digests come from OpenSSL directly rather than through .NET's one-shot API.</summary>
    public static bool Direct => OpenSslDigest.Algorithm != IntPtr.Zero;

    /// <summary>Writes SHA-256 of <paramref name="data"/> to the first 32 bytes of <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than 32 bytes.</exception>
    public static void HashData(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"A SHA-256 digest needs {Size} bytes, not {destination.Length}.", nameof(destination));
        }

        var algorithm = OpenSslDigest.Algorithm;
        if (algorithm == IntPtr.Zero)
        {
            SHA256.HashData(data, destination);
            return;
        }

        OpenSslDigest.Hash(algorithm, data, destination);
    }
}
