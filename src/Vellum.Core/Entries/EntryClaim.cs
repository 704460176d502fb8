using System.Security.Cryptography;
using Vellum.Core.Claims;
using Vellum.Core.Primitives;

namespace Vellum.Core.Entries;

/// <summary>How an application claim is stored in an entry's private section.</summary>
public enum EntryClaimKind : byte
{
    /// <summary>ACL's <c>LedgerEntry</c> claim, protocol <c>LedgerEntryV1</c>: HMACs of the entry's collection id and
    /// contents under a per-transaction secret key (the key is stored; collection id and contents are the entry's own).</summary>
    LedgerEntryV1 = 1,

    /// <summary>ACL's <c>ClaimDigest</c> claim: a protocol name and a 32-byte digest supplied by the application.</summary>
    ClaimDigest = 2,
}

/// <summary>An application claim as stored in the ledger.</summary>
/// <param name="Kind">The claim kind.</param>
/// <param name="SecretKey">For <see cref="EntryClaimKind.LedgerEntryV1"/>: the 32-byte HMAC key.</param>
/// <param name="Protocol">For <see cref="EntryClaimKind.ClaimDigest"/>: the protocol name.</param>
/// <param name="Value">For <see cref="EntryClaimKind.ClaimDigest"/>: the digest.</param>
public sealed record EntryClaim(EntryClaimKind Kind, byte[]? SecretKey, string? Protocol, Hash32 Value)
{
    /// <summary>A LedgerEntryV1 claim with a fresh random key.</summary>
    public static EntryClaim NewLedgerEntry() => new(EntryClaimKind.LedgerEntryV1, NewSecretKey(), null, default);

    // Keys are cut from a per-thread block of CSPRNG output: one call into the platform's generator per 32 keys
    // instead of one per transaction. A key's bytes are wiped from the block as it is handed out.
    [ThreadStatic]
    private static byte[]? _randomBlock;

    [ThreadStatic]
    private static int _randomOffset;

    private static byte[] NewSecretKey()
    {
        var block = _randomBlock ??= new byte[32 * ClaimsDigest.SecretKeySize];
        var offset = _randomOffset;
        if (offset == 0)
        {
            RandomNumberGenerator.Fill(block);
        }

        var key = block.AsSpan(offset, ClaimsDigest.SecretKeySize);
        var result = key.ToArray();
        CryptographicOperations.ZeroMemory(key);
        _randomOffset = (offset + ClaimsDigest.SecretKeySize) % block.Length;
        return result;
    }

    /// <summary>
    /// The claims digest exactly as ACL computes it (<see cref="ClaimsDigest"/>): each claim digested on its own, then
    /// SHA-256(u32 LE count ‖ claim digests). <see cref="Hash32.Zero"/> when there are no claims.
    /// </summary>
    public static Hash32 ComputeDigest(ReadOnlySpan<byte> collectionIdUtf8, ReadOnlySpan<byte> contents, IReadOnlyList<EntryClaim>? claims)
    {
        if (claims is null || claims.Count == 0)
        {
            return Hash32.Zero;
        }

        var digests = new Hash32[claims.Count];
        for (var i = 0; i < digests.Length; i++)
        {
            digests[i] = claims[i].Digest(collectionIdUtf8, contents);
        }

        return ClaimsDigest.Combine(digests);
    }

    /// <summary>This claim's own digest, before the count-prefixed combination.</summary>
    public Hash32 Digest(ReadOnlySpan<byte> collectionIdUtf8, ReadOnlySpan<byte> contents)
    {
        switch (Kind)
        {
            case EntryClaimKind.LedgerEntryV1:
                return ClaimsDigest.LedgerEntryV1(collectionIdUtf8, contents, SecretKey);
            case EntryClaimKind.ClaimDigest:
                Span<byte> value = stackalloc byte[Hash32.Size];
                Value.CopyTo(value);
                return ClaimsDigest.ForDigest(Protocol ?? string.Empty, value);
            default:
                throw new InvalidOperationException($"Unknown claim kind {Kind}.");
        }
    }

    /// <summary>The claim as it appears in an ACL receipt's <c>applicationClaims</c>.</summary>
    public ApplicationClaim ToApplicationClaim(string collectionId, string contents) => Kind switch
    {
        EntryClaimKind.LedgerEntryV1 => ApplicationClaim.ForLedgerEntry(collectionId, contents, SecretKey),
        _ => ApplicationClaim.ForDigest(Protocol ?? string.Empty, Value.ToArray()),
    };
}
