using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using Vellum.Core.Primitives;

namespace Vellum.Core.Claims;

/// <summary>
/// The claims digest of a receipt's leaf, computed exactly as ACL's <c>compute_claims_digest</c>:
/// a digest per claim, then <c>SHA256(uint32_le(count) ‖ claim_1 ‖ … ‖ claim_n)</c>.
/// </summary>
/// <remarks>
/// Per claim: <c>LedgerEntryV1</c> is <c>SHA256("LedgerEntryV1" ‖ SHA256(HMAC(k, collectionId) ‖ HMAC(k, contents)))</c>
/// with <c>k</c> the decoded secret key, both strings UTF-8; <c>ClaimDigest</c> is <c>SHA256(utf8(protocol) ‖ value)</c>.
/// A transaction without claims has no claims digest at all; its leaf uses <see cref="Hash32.Zero"/>
/// (<see cref="ComputeOrZero"/>), which is not the digest of an empty list: the reference rejects an empty list.
/// </remarks>
public static class ClaimsDigest
{
    /// <summary>The only ledger entry protocol.</summary>
    public const string LedgerEntryV1Protocol = "LedgerEntryV1";

    /// <summary>The size of the secret key a Vellum node generates for a ledger entry claim.</summary>
    public const int SecretKeySize = 32;

    /// <summary>The claims digest of a non-empty list.</summary>
    /// <exception cref="ArgumentException">The list is empty, or a claim is not one ACL can digest.</exception>
    public static Hash32 Compute(IReadOnlyList<ApplicationClaim> claims)
    {
        ArgumentNullException.ThrowIfNull(claims);
        return TryCompute(claims, out var digest, out var error) ? digest : throw new ArgumentException(error, nameof(claims));
    }

    /// <summary>The leaf's claims digest: <see cref="Hash32.Zero"/> when there are no claims, otherwise <see cref="Compute"/>.</summary>
    public static Hash32 ComputeOrZero(IReadOnlyList<ApplicationClaim>? claims) =>
        claims is null || claims.Count == 0 ? Hash32.Zero : Compute(claims);

    /// <summary>As <see cref="Compute"/>, reporting malformed claims as an error message instead of an exception.</summary>
    public static bool TryCompute(IReadOnlyList<ApplicationClaim>? claims, out Hash32 digest, [NotNullWhen(false)] out string? error)
    {
        digest = default;
        if (claims is null || claims.Count == 0)
        {
            error = "The application claims list is empty.";
            return false;
        }

        var digests = new Hash32[claims.Count];
        for (var i = 0; i < digests.Length; i++)
        {
            if (!TryComputeClaim(claims[i], out digests[i], out error))
            {
                error = $"Application claim {i}: {error}";
                return false;
            }
        }

        digest = Combine(digests);
        error = null;
        return true;
    }

    /// <summary>The digest of one claim.</summary>
    public static bool TryComputeClaim(ApplicationClaim? claim, out Hash32 digest, [NotNullWhen(false)] out string? error)
    {
        digest = default;
        switch (claim)
        {
            case null:
                error = "The claim is null.";
                return false;

            case { Kind: ApplicationClaimKind.LedgerEntry, LedgerEntry: { } entry }:
                if (entry.Protocol != LedgerEntryV1Protocol)
                {
                    error = $"Unsupported ledger entry protocol '{entry.Protocol}'.";
                    return false;
                }

                if (entry.CollectionId is null || entry.Contents is null || entry.SecretKey is null)
                {
                    error = "A LedgerEntryV1 claim needs collectionId, contents and secretKey.";
                    return false;
                }

                byte[] key;
                try
                {
                    key = Convert.FromBase64String(entry.SecretKey);
                }
                catch (FormatException)
                {
                    error = "The secretKey is not base64.";
                    return false;
                }

                digest = LedgerEntryV1Core(Encoding.UTF8.GetBytes(entry.CollectionId), Encoding.UTF8.GetBytes(entry.Contents), key);
                error = null;
                return true;

            case { Kind: ApplicationClaimKind.ClaimDigest, Digest: { } claimDigest }:
                if (claimDigest.Protocol is null || claimDigest.Value is null || claimDigest.Value.Length % 2 != 0)
                {
                    error = "A ClaimDigest claim needs a protocol and an even-length hex value.";
                    return false;
                }

                byte[] value;
                try
                {
                    value = Convert.FromHexString(claimDigest.Value);
                }
                catch (FormatException)
                {
                    error = "The digest value is not hex.";
                    return false;
                }

                digest = ForDigest(claimDigest.Protocol, value);
                error = null;
                return true;

            default:
                error = $"A claim of kind {claim.Kind} lacks its '{(claim.Kind == ApplicationClaimKind.LedgerEntry ? "ledgerEntry" : "digest")}' object.";
                return false;
        }
    }

    /// <summary>
    /// The <c>LedgerEntryV1</c> claim digest from raw bytes, without JSON: <paramref name="collectionId"/> and
    /// <paramref name="contents"/> are the UTF-8 bytes of the strings, <paramref name="secretKey"/> the 32-byte key.
    /// </summary>
    public static Hash32 LedgerEntryV1(ReadOnlySpan<byte> collectionId, ReadOnlySpan<byte> contents, ReadOnlySpan<byte> secretKey)
    {
        if (secretKey.Length != SecretKeySize)
        {
            throw new ArgumentException($"A ledger entry secret key is {SecretKeySize} bytes, not {secretKey.Length}.", nameof(secretKey));
        }

        return LedgerEntryV1Core(collectionId, contents, secretKey);
    }

    /// <summary>The <c>ClaimDigest</c> claim digest: <c>SHA256(utf8(protocol) ‖ value)</c>.</summary>
    public static Hash32 ForDigest(string protocol, ReadOnlySpan<byte> value)
    {
        ArgumentNullException.ThrowIfNull(protocol);
        // One hashing call over the concatenation: each call into the platform's hash costs more than hashing the
        // few bytes of a claim.
        var length = Encoding.UTF8.GetByteCount(protocol) + value.Length;
        var rented = length > 256 ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> input = rented is null ? stackalloc byte[length] : rented.AsSpan(0, length);
        var written = Encoding.UTF8.GetBytes(protocol, input);
        value.CopyTo(input[written..]);
        var digest = Hash32.Compute(input);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return digest;
    }

    /// <summary>Combines already computed per-claim digests: <c>SHA256(uint32_le(count) ‖ claims…)</c>.</summary>
    /// <exception cref="ArgumentException">The list is empty.</exception>
    public static Hash32 Combine(ReadOnlySpan<Hash32> claimDigests)
    {
        if (claimDigests.IsEmpty)
        {
            throw new ArgumentException("The application claims list is empty.", nameof(claimDigests));
        }

        // u32 LE count ‖ digests, hashed in one call (see ForDigest).
        var length = sizeof(uint) + (claimDigests.Length * Hash32.Size);
        var rented = length > 1024 ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> input = rented is null ? stackalloc byte[length] : rented.AsSpan(0, length);
        BinaryPrimitives.WriteUInt32LittleEndian(input, (uint)claimDigests.Length);
        for (var i = 0; i < claimDigests.Length; i++)
        {
            claimDigests[i].CopyTo(input.Slice(sizeof(uint) + (i * Hash32.Size), Hash32.Size));
        }

        var digest = Hash32.Compute(input);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return digest;
    }

    // The reference accepts a key of any length (HMAC does); only keys we generate are held to 32 bytes.
    private static Hash32 LedgerEntryV1Core(ReadOnlySpan<byte> collectionId, ReadOnlySpan<byte> contents, ReadOnlySpan<byte> secretKey)
    {
        Span<byte> macs = stackalloc byte[2 * HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(secretKey, collectionId, macs[..HMACSHA256.HashSizeInBytes]);
        HMACSHA256.HashData(secretKey, contents, macs[HMACSHA256.HashSizeInBytes..]);

        var protocol = "LedgerEntryV1"u8;
        Span<byte> input = stackalloc byte[protocol.Length + Hash32.Size];
        protocol.CopyTo(input);
        SHA256.HashData(macs, input[protocol.Length..]);
        return Hash32.Compute(input);
    }
}
