using System.Text;
using Vellum.Core.Crypto;
using Vellum.Core.Primitives;

namespace Vellum.Core.Entries;

/// <summary>
/// A user-management transaction (kind 4): the roles of one user from this transaction on. An empty role list
/// removes the user. (A kind-4 body with an empty user id is a <see cref="RoleDefinitionEntry"/>.) Users and roles are ledger state like anything else: replaying these transactions in order
/// gives the current table, and every change is covered by the signatures.
/// <code>
/// public:  u16 user id length, UTF-8 user id (certificate fingerprint, 64 upper-case hex, or an object id)
///          u8 role count; each role: u16 length, UTF-8 name
/// private: empty (the user table is public, as in CCF)
/// </code>
/// </summary>
public sealed record UserChangeEntry(string UserId, IReadOnlyList<string> Roles) : ITransactionBody
{
    /// <inheritdoc />
    public EntryKind Kind => EntryKind.UserManagement;

    private int PublicLength => 2 + Encoding.UTF8.GetByteCount(UserId) + SpanWriter.StringListLength(Roles);

    /// <inheritdoc />
    public Hash32 ClaimsDigest() => Hash32.Zero;

    /// <inheritdoc />
    public int EncodedLength(bool privateLedger) => EntryHeader.Size + PublicLength;

    /// <inheritdoc />
    public void Encode(Span<byte> body, TxId id, in Hash32 commitEvidenceDigest, in Hash32 claimsDigest, LedgerSecret? ledgerSecret)
    {
        new EntryHeader(EntryKind.UserManagement, EntryFlags.None, PublicLength, id, commitEvidenceDigest, Hash32.Zero).Write(body);
        var writer = new SpanWriter(body[EntryHeader.Size..]);
        writer.WriteString16(UserId);
        writer.WriteStringList(Roles);
    }

    /// <summary>Decodes a user-management body. Never throws.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> body, in EntryHeader header, out UserChangeEntry? entry, out string? error)
    {
        entry = null;
        if (header.Kind != EntryKind.UserManagement || header.IsEncrypted || header.PrivateOffset != body.Length)
        {
            error = "not a user-management transaction";
            return false;
        }

        var reader = new SpanReader(body.Slice(EntryHeader.Size, header.PublicLength));
        if (!reader.TryReadString16(out var userId))
        {
            error = "user change is truncated";
            return false;
        }

        if (userId.Length == 0)
        {
            error = "a role definition, not a user change (see RoleDefinitionEntry)";
            return false;
        }

        if (!reader.TryReadStringList("role", out var roles, out error))
        {
            return false;
        }

        if (reader.Remaining != 0)
        {
            error = "unexpected bytes after the roles";
            return false;
        }

        entry = new UserChangeEntry(userId, roles);
        error = null;
        return true;
    }
}
