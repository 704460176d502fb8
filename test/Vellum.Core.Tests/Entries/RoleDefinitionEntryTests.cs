using Vellum.Core.Entries;
using Vellum.Core.Primitives;

namespace Vellum.Core.Tests.Entries;

public sealed class RoleDefinitionEntryTests
{
    private static readonly TxId Id = new(2, 9);
    private static readonly Hash32 Evidence = Hash32.Compute("commit evidence"u8);

    private static byte[] Encode(ITransactionBody entry)
    {
        var body = new byte[entry.EncodedLength(privateLedger: true)];
        entry.Encode(body, Id, Evidence, entry.ClaimsDigest(), ledgerSecret: null);
        return body;
    }

    [Fact]
    public void Round_trips_as_a_public_user_management_transaction_told_from_a_user_change()
    {
        var entry = new RoleDefinitionEntry("auditor", ["Microsoft.ConfidentialLedger/ledger/entries/read", "/app/custom"]);
        var body = Encode(entry);
        var header = EntryCodec.Header(body);
        Assert.Equal(EntryKind.UserManagement, header.Kind);
        Assert.False(header.IsEncrypted);
        Assert.Equal(body.Length, header.PrivateOffset);
        Assert.True(RoleDefinitionEntry.IsRoleDefinition(body, header));
        Assert.True(RoleDefinitionEntry.TryDecode(body, header, out var decoded, out var error), error);
        Assert.Equal(entry.RoleName, decoded!.RoleName);
        Assert.Equal(entry.Actions, decoded.Actions);

        // Not a user change: a decoder of those refuses it rather than read a user with no id.
        Assert.False(UserChangeEntry.TryDecode(body, header, out _, out error));
        Assert.Contains("role definition", error, StringComparison.Ordinal);

        // And a user change is not a role definition.
        var user = Encode(new UserChangeEntry(new string('A', 64), ["Reader"]));
        var userHeader = EntryCodec.Header(user);
        Assert.False(RoleDefinitionEntry.IsRoleDefinition(user, userHeader));
        Assert.False(RoleDefinitionEntry.TryDecode(user, userHeader, out _, out _));

        // No actions: the deletion of the role.
        var deletion = Encode(new RoleDefinitionEntry("auditor", []));
        Assert.True(RoleDefinitionEntry.TryDecode(deletion, EntryCodec.Header(deletion), out var deleted, out error), error);
        Assert.Empty(deleted!.Actions);
    }

    [Fact]
    public void Refuses_a_truncated_body_trailing_bytes_and_an_empty_name()
    {
        var body = Encode(new RoleDefinitionEntry("scribe", ["a", "b"]));

        var truncated = body[..^1];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(truncated.AsSpan(4), (uint)(truncated.Length - EntryHeader.Size));
        Assert.False(RoleDefinitionEntry.TryDecode(truncated, EntryCodec.Header(truncated), out _, out var error));
        Assert.Equal("action 1 is truncated", error);

        var trailing = new byte[body.Length + 1];
        body.CopyTo(trailing, 0);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(trailing.AsSpan(4), (uint)(trailing.Length - EntryHeader.Size));
        Assert.False(RoleDefinitionEntry.TryDecode(trailing, EntryCodec.Header(trailing), out _, out error));
        Assert.Equal("unexpected bytes after the actions", error);

        var unnamed = Encode(new RoleDefinitionEntry(string.Empty, ["a"]));
        Assert.False(RoleDefinitionEntry.TryDecode(unnamed, EntryCodec.Header(unnamed), out _, out error));
        Assert.Equal("role definition is truncated", error);
    }
}
