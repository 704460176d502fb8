using System.Text;
using Vellum.Core.Crypto;
using Vellum.Core.Primitives;

namespace Vellum.Core.Entries;

/// <summary>
/// A user-defined role (a user-management transaction, kind 4, told from a user change by its empty user id): the
/// actions role <see cref="RoleName"/> allows from this transaction on; no action deletes the role. Replaying these
/// with the user changes, in seqno order, gives the ledger's roles, and every change is covered by the signatures.
/// <code>
/// public:  u16 0 (no user id: a role definition, not a user change)
///          u16 role name length, UTF-8 role name
///          u8 action count; each action: u16 length, UTF-8 action
/// private: empty (roles are public, as users are)
/// </code>
/// </summary>
public sealed record RoleDefinitionEntry(string RoleName, IReadOnlyList<string> Actions) : ITransactionBody
{
    /// <inheritdoc />
    public EntryKind Kind => EntryKind.UserManagement;

    private int PublicLength => 2 + 2 + Encoding.UTF8.GetByteCount(RoleName) + SpanWriter.StringListLength(Actions);

    /// <inheritdoc />
    public Hash32 ClaimsDigest() => Hash32.Zero;

    /// <inheritdoc />
    public int EncodedLength(bool privateLedger) => EntryHeader.Size + PublicLength;

    /// <inheritdoc />
    public void Encode(Span<byte> body, TxId id, in Hash32 commitEvidenceDigest, in Hash32 claimsDigest, LedgerSecret? ledgerSecret)
    {
        new EntryHeader(EntryKind.UserManagement, EntryFlags.None, PublicLength, id, commitEvidenceDigest, Hash32.Zero).Write(body);
        var writer = new SpanWriter(body[EntryHeader.Size..]);
        writer.WriteString16(string.Empty);
        writer.WriteString16(RoleName);
        writer.WriteStringList(Actions);
    }

    /// <summary>Whether a user-management body is a role definition (its user id is empty) rather than a user change.</summary>
    public static bool IsRoleDefinition(ReadOnlySpan<byte> body, in EntryHeader header) =>
        header.Kind == EntryKind.UserManagement && header.PublicLength >= 2 && body.Length >= EntryHeader.Size + 2 &&
        body[EntryHeader.Size] == 0 && body[EntryHeader.Size + 1] == 0;

    /// <summary>Decodes a role definition. Never throws.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> body, in EntryHeader header, out RoleDefinitionEntry? entry, out string? error)
    {
        entry = null;
        if (header.Kind != EntryKind.UserManagement || header.IsEncrypted || header.PrivateOffset != body.Length || !IsRoleDefinition(body, header))
        {
            error = "not a role definition";
            return false;
        }

        var reader = new SpanReader(body.Slice(EntryHeader.Size, header.PublicLength));
        if (!reader.TryReadString16(out _) || !reader.TryReadString16(out var name) || name.Length == 0)
        {
            error = "role definition is truncated";
            return false;
        }

        if (!reader.TryReadStringList("action", out var actions, out error))
        {
            return false;
        }

        if (reader.Remaining != 0)
        {
            error = "unexpected bytes after the actions";
            return false;
        }

        entry = new RoleDefinitionEntry(name, actions);
        error = null;
        return true;
    }
}
