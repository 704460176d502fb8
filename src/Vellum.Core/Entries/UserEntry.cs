using System.Text;
using Vellum.Core.Crypto;
using Vellum.Core.Primitives;

namespace Vellum.Core.Entries;

/// <summary>
/// An application entry. Public section: collection id and tags. Private section: contents and application claims
/// (plaintext in a Public ledger, AES-256-GCM ciphertext in a Private one).
/// <code>
/// public:  u16 collection id length, UTF-8 bytes; u16 tag count, each u16 length + UTF-8 bytes
/// private: u32 contents length, bytes; u8 claim count, each claim:
///            u8 kind 1 (LedgerEntryV1): [32] secret key
///            u8 kind 2 (ClaimDigest):   u16 protocol length + UTF-8, [32] digest
/// </code>
/// </summary>
public sealed record UserEntry(string CollectionId, IReadOnlyList<string> Tags, ReadOnlyMemory<byte> Contents, IReadOnlyList<EntryClaim> Claims)
    : ITransactionBody
{
    /// <summary>The collection an entry goes to when the caller names none (ACL's default).</summary>
    public const string DefaultCollectionId = "subledger:0";

    /// <summary>An entry with no tags and no claims.</summary>
    public UserEntry(string collectionId, ReadOnlyMemory<byte> contents)
        : this(collectionId, [], contents, [])
    {
    }

    /// <inheritdoc />
    public EntryKind Kind => EntryKind.UserEntry;

    /// <summary>Contents as text (they are UTF-8 by contract).</summary>
    public string ContentsText => Encoding.UTF8.GetString(Contents.Span);

    /// <summary>Bytes of the public section.</summary>
    public int PublicLength
    {
        get
        {
            var length = 2 + Encoding.UTF8.GetByteCount(CollectionId) + 2;
            foreach (var tag in Tags)
            {
                length += 2 + Encoding.UTF8.GetByteCount(tag);
            }

            return length;
        }
    }

    /// <summary>Bytes of the plaintext private section.</summary>
    public int PrivatePlaintextLength
    {
        get
        {
            var length = 4 + Contents.Length + 1;
            foreach (var claim in Claims)
            {
                length += claim.Kind == EntryClaimKind.LedgerEntryV1 ? 1 + 32 : 1 + 2 + Encoding.UTF8.GetByteCount(claim.Protocol ?? string.Empty) + 32;
            }

            return length;
        }
    }

    /// <summary>The whole body length, with or without encryption (contents are encrypted in a Private ledger).</summary>
    public int EncodedLength(bool privateLedger) =>
        EntryHeader.Size + PublicLength + PrivatePlaintextLength + (privateLedger ? LedgerSecret.TagSize : 0);

    /// <summary>The claims digest of this entry (zero when it has no claims).</summary>
    public Hash32 ClaimsDigest() =>
        Claims.Count == 0 ? Hash32.Zero : EntryClaim.ComputeDigest(Encoding.UTF8.GetBytes(CollectionId), Contents.Span, Claims);

    /// <summary>
    /// Encodes the entry as the body of transaction <paramref name="id"/> into <paramref name="body"/>, which must be
    /// exactly <see cref="EncodedLength"/> bytes. With <paramref name="ledgerSecret"/> the private section is encrypted
    /// (AES-256-GCM, the header and public section as associated data).
    /// </summary>
    public void Encode(Span<byte> body, TxId id, in Hash32 commitEvidenceDigest, in Hash32 claimsDigest, LedgerSecret? ledgerSecret)
    {
        var encryptWith = ledgerSecret;
        var encrypted = encryptWith is not null;
        var publicLength = PublicLength;
        var header = new EntryHeader(EntryKind.UserEntry, encrypted ? EntryFlags.Encrypted : EntryFlags.None, publicLength, id, commitEvidenceDigest, claimsDigest);
        header.Write(body);

        var pub = new SpanWriter(body[EntryHeader.Size..]);
        pub.WriteString16(CollectionId);
        pub.WriteUInt16(Tags.Count);
        foreach (var tag in Tags)
        {
            pub.WriteString16(tag);
        }

        var privateOffset = EntryHeader.Size + publicLength;
        var plaintextLength = PrivatePlaintextLength;
        var priv = new SpanWriter(body.Slice(privateOffset, plaintextLength));
        priv.WriteInt32(Contents.Length);
        priv.WriteBytes(Contents.Span);
        priv.WriteByte(checked((byte)Claims.Count));
        foreach (var claim in Claims)
        {
            priv.WriteByte((byte)claim.Kind);
            if (claim.Kind == EntryClaimKind.LedgerEntryV1)
            {
                priv.WriteBytes(claim.SecretKey);
            }
            else
            {
                priv.WriteString16(claim.Protocol ?? string.Empty);
                priv.WriteHash(claim.Value);
            }
        }

        if (encryptWith is not null)
        {
            // AES-GCM in place: the plaintext already sits where the ciphertext goes. The associated data is every
            // byte before the private section, so the header and public section are authenticated under the key too.
            var privateSpan = body.Slice(privateOffset, plaintextLength);
            encryptWith.Encrypt(id, privateSpan, privateSpan, body.Slice(privateOffset + plaintextLength, LedgerSecret.TagSize), body[..privateOffset]);
        }
    }

    /// <summary>Decodes the public section only (collection id and tags): what can be read without the secret.</summary>
    public static bool TryDecodePublic(ReadOnlySpan<byte> body, in EntryHeader header, out string collectionId, out string[] tags, out string? error)
    {
        tags = [];
        var reader = new SpanReader(body.Slice(EntryHeader.Size, header.PublicLength));
        if (!reader.TryReadString16(out collectionId))
        {
            error = "collection id is truncated or not UTF-8";
            return false;
        }

        if (!reader.TryReadUInt16(out var tagCount) || tagCount > reader.Remaining / 2)
        {
            error = "tag count is truncated or too large";
            return false;
        }

        tags = new string[tagCount];
        for (var i = 0; i < tagCount; i++)
        {
            if (!reader.TryReadString16(out tags[i]))
            {
                error = $"tag {i} is truncated or not UTF-8";
                return false;
            }
        }

        if (reader.Remaining != 0)
        {
            error = $"{reader.Remaining} unexpected bytes after the tags";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>
    /// Decodes a whole user entry. For an encrypted entry <paramref name="secret"/> is required and the GCM tag is
    /// checked; without it, decoding an encrypted entry fails with a message saying so.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> body, in EntryHeader header, LedgerSecret? secret, out UserEntry? entry, out string? error)
    {
        entry = null;
        if (header.Kind != EntryKind.UserEntry)
        {
            error = $"entry kind is {header.Kind}, not UserEntry";
            return false;
        }

        if (!TryDecodePublic(body, header, out var collectionId, out var tags, out error))
        {
            return false;
        }

        var privateBytes = body[header.PrivateOffset..];
        byte[]? decrypted = null;
        if (header.IsEncrypted)
        {
            if (secret is null)
            {
                error = "contents are encrypted and no ledger secret was given";
                return false;
            }

            var cipherLength = privateBytes.Length - LedgerSecret.TagSize;
            decrypted = new byte[cipherLength];
            if (!secret.TryDecrypt(header.Id, privateBytes[..cipherLength], privateBytes[cipherLength..], decrypted, body[..header.PrivateOffset]))
            {
                error = "contents fail AES-GCM authentication (wrong ledger secret or altered bytes)";
                return false;
            }

            privateBytes = decrypted;
        }

        if (!TryReadPrivate(privateBytes, out var contents, out var claims, out error))
        {
            return false;
        }

        entry = new UserEntry(collectionId, tags, contents.ToArray(), claims);
        error = null;
        return true;
    }

    /// <summary>
    /// Reads a plaintext private section: contents and application claims. Shared by the decoder and the offline
    /// verifier so both read one format one way. Never throws.
    /// </summary>
    internal static bool TryReadPrivate(ReadOnlySpan<byte> plaintext, out ReadOnlySpan<byte> contents, out EntryClaim[] claims, out string? error)
    {
        claims = [];
        var reader = new SpanReader(plaintext);
        if (!reader.TryReadInt32(out var contentsLength) || !reader.TryReadBytes(contentsLength, out contents))
        {
            contents = default;
            error = "contents are truncated";
            return false;
        }

        if (!reader.TryReadByte(out var claimCount))
        {
            error = "claim count is missing";
            return false;
        }

        claims = claimCount == 0 ? [] : new EntryClaim[claimCount];
        for (var i = 0; i < claimCount; i++)
        {
            if (!reader.TryReadByte(out var kind))
            {
                error = $"claim {i} is truncated";
                return false;
            }

            switch ((EntryClaimKind)kind)
            {
                case EntryClaimKind.LedgerEntryV1 when reader.TryReadBytes(32, out var key):
                    claims[i] = new EntryClaim(EntryClaimKind.LedgerEntryV1, key.ToArray(), null, default);
                    break;
                case EntryClaimKind.ClaimDigest when reader.TryReadString16(out var protocol) && reader.TryReadBytes(32, out var value):
                    claims[i] = new EntryClaim(EntryClaimKind.ClaimDigest, null, protocol, new Hash32(value));
                    break;
                default:
                    error = $"claim {i} has unknown kind {kind} or is truncated";
                    return false;
            }
        }

        if (reader.Remaining != 0)
        {
            error = $"{reader.Remaining} unexpected bytes after the claims";
            return false;
        }

        error = null;
        return true;
    }
}
