using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Vellum.Node.Service;

/// <summary>
/// The credential an Administrator issues for a new node: version ‖ expiry (u64 LE Unix seconds) ‖ 16 random bytes ‖
/// HMAC-SHA256 of those 25 bytes under a key derived from the ledger secret, base64url. Every member holds the ledger
/// secret, so any member can check a token without shared state; a token is good until it expires (default one hour),
/// for any number of joins in that time — issue short ones.
/// </summary>
public static class JoinToken
{
    private const byte Version = 1;
    private const int SignedLength = 1 + 8 + 16;

    /// <summary>The purpose string of the derived key (see <see cref="Vellum.Core.Crypto.LedgerSecret.DeriveKey"/>).</summary>
    public const string KeyPurpose = "join token";

    /// <summary>A new token valid until <paramref name="expires"/>.</summary>
    public static string Issue(ReadOnlySpan<byte> key, DateTimeOffset expires)
    {
        Span<byte> token = stackalloc byte[SignedLength + HMACSHA256.HashSizeInBytes];
        token[0] = Version;
        BinaryPrimitives.WriteInt64LittleEndian(token[1..], expires.ToUnixTimeSeconds());
        RandomNumberGenerator.Fill(token.Slice(9, 16));
        HMACSHA256.HashData(key, token[..SignedLength], token[SignedLength..]);
        return Base64Url(token);
    }

    /// <summary>True when <paramref name="text"/> is a token made with <paramref name="key"/> that has not expired.</summary>
    public static bool IsValid(ReadOnlySpan<byte> key, string? text, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(text) || text.Length > 128)
        {
            return false;
        }

        Span<byte> token = stackalloc byte[96];
        if (!TryDecodeBase64Url(text, token, out var length) || length != SignedLength + HMACSHA256.HashSizeInBytes || token[0] != Version)
        {
            return false;
        }

        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, token[..SignedLength], mac);
        return CryptographicOperations.FixedTimeEquals(mac, token.Slice(SignedLength, mac.Length)) &&
            BinaryPrimitives.ReadInt64LittleEndian(token[1..]) > now.ToUnixTimeSeconds();
    }

    private static string Base64Url(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static bool TryDecodeBase64Url(string text, Span<byte> destination, out int written)
    {
        var padded = text.Replace('-', '+').Replace('_', '/');
        padded += new string('=', (4 - (padded.Length % 4)) % 4);
        return Convert.TryFromBase64String(padded, destination, out written);
    }
}
