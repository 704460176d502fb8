using System.Buffers.Binary;
using Vellum.Core.Primitives;

namespace Vellum.Core.Entries;

/// <summary>
/// The fixed 88-byte start of every entry body. Layout (all integers little-endian):
/// <code>
///  0  u8   format version (1)
///  1  u8   kind (EntryKind)
///  2  u8   flags (EntryFlags)
///  3  u8   reserved, 0
///  4  u32  public section length P
///  8  u64  view
/// 16  u64  seqno
/// 24  [32] commit evidence digest = SHA-256("ce:{view}.{seqno}:{hex nonce}")
/// 56  [32] claims digest (32 zero bytes when the transaction has no application claims)
/// 88  [P]  public section (kind-specific)
/// 88+P     private section (plaintext, or ciphertext ‖ 16-byte GCM tag when flags has Encrypted)
/// </code>
/// </summary>
public readonly record struct EntryHeader(
    EntryKind Kind,
    EntryFlags Flags,
    int PublicLength,
    TxId Id,
    Hash32 CommitEvidenceDigest,
    Hash32 ClaimsDigest)
{
    /// <summary>Bytes in the fixed header.</summary>
    public const int Size = 88;

    /// <summary>The only body format version this code reads and writes.</summary>
    public const byte CurrentVersion = 1;

    /// <summary>True when the private section is encrypted.</summary>
    public bool IsEncrypted => (Flags & EntryFlags.Encrypted) != 0;

    /// <summary>Offset of the private section in the body.</summary>
    public int PrivateOffset => Size + PublicLength;

    /// <summary>Writes the header to the first 88 bytes of <paramref name="body"/>.</summary>
    public void Write(Span<byte> body)
    {
        body[0] = CurrentVersion;
        body[1] = (byte)Kind;
        body[2] = (byte)Flags;
        body[3] = 0;
        BinaryPrimitives.WriteInt32LittleEndian(body[4..], PublicLength);
        BinaryPrimitives.WriteInt64LittleEndian(body[8..], Id.View);
        BinaryPrimitives.WriteInt64LittleEndian(body[16..], Id.Seqno);
        CommitEvidenceDigest.CopyTo(body[24..]);
        ClaimsDigest.CopyTo(body[56..]);
    }

    /// <summary>
    /// Reads and validates the header of a whole entry body. Never throws: on malformed input returns false and a
    /// message naming the field.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> body, out EntryHeader header, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        header = default;
        if (body.Length < Size)
        {
            error = $"entry body of {body.Length} bytes is shorter than its {Size}-byte header";
            return false;
        }

        if (body[0] != CurrentVersion)
        {
            error = $"entry format version {body[0]} is not {CurrentVersion}";
            return false;
        }

        var kind = (EntryKind)body[1];
        if (kind is < EntryKind.UserEntry or > EntryKind.KeyRotation)
        {
            error = $"unknown entry kind {body[1]}";
            return false;
        }

        var flags = (EntryFlags)body[2];
        if ((flags & ~EntryFlags.Encrypted) != 0 || body[3] != 0)
        {
            error = $"unknown entry flags 0x{body[2]:x2}{body[3]:x2}";
            return false;
        }

        var publicLength = BinaryPrimitives.ReadInt32LittleEndian(body[4..]);
        if (publicLength < 0 || publicLength > body.Length - Size)
        {
            error = $"public section length {publicLength} does not fit an entry body of {body.Length} bytes";
            return false;
        }

        var view = BinaryPrimitives.ReadInt64LittleEndian(body[8..]);
        var seqno = BinaryPrimitives.ReadInt64LittleEndian(body[16..]);
        if (view <= 0 || seqno <= 0)
        {
            error = $"transaction id {view}.{seqno} is not valid";
            return false;
        }

        header = new EntryHeader(kind, flags, publicLength, new TxId(view, seqno), new Hash32(body.Slice(24, 32)), new Hash32(body.Slice(56, 32)));
        if (header.IsEncrypted && body.Length - header.PrivateOffset < Crypto.LedgerSecret.TagSize)
        {
            header = default;
            error = "encrypted private section is shorter than its 16-byte tag";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>The Merkle leaf of an entry: SHA-256(SHA-256(body) ‖ commit evidence digest ‖ claims digest).</summary>
    public static Hash32 ComputeLeaf(ReadOnlySpan<byte> body, in Hash32 commitEvidenceDigest, in Hash32 claimsDigest) =>
        Hash32.Combine(Hash32.Compute(body), commitEvidenceDigest, claimsDigest);
}
