using Vellum.Core.Entries;
using Vellum.Core.Primitives;

namespace Vellum.Core.Tests.Entries;

public sealed class NodeRetirementEntryTests
{
    private static readonly TxId Id = new(3, 17);
    private static readonly Hash32 Evidence = Hash32.Compute("commit evidence"u8);
    private static readonly Hash32 Node = Hash32.Compute("a node's public key"u8);

    private static byte[] Encode(NodeRetirementEntry entry)
    {
        var body = new byte[entry.EncodedLength(privateLedger: true)];
        entry.Encode(body, Id, Evidence, entry.ClaimsDigest(), ledgerSecret: null);
        return body;
    }

    private static bool TryDecode(byte[] body, out NodeRetirementEntry? entry, out string? error)
    {
        if (!EntryHeader.TryRead(body, out var header, out error))
        {
            entry = null;
            return false;
        }

        return NodeRetirementEntry.TryDecode(body, header, out entry, out error);
    }

    [Fact]
    public void Round_trips_as_a_public_governance_transaction()
    {
        var entry = new NodeRetirementEntry(Node, "[::1]:9443");
        var body = Encode(entry);
        var header = EntryCodec.Header(body);
        Assert.Equal(EntryKind.Governance, header.Kind);
        Assert.False(header.IsEncrypted);
        Assert.Equal(Id, header.Id);
        Assert.True(header.ClaimsDigest.IsZero);
        Assert.Equal(body.Length, header.PrivateOffset);
        Assert.Equal(NodeRetirementEntry.RetireNodeAction, body[EntryHeader.Size]);

        Assert.True(TryDecode(body, out var decoded, out var error), error);
        Assert.Equal(entry, decoded);
    }

    [Fact]
    public void Refuses_an_unknown_action_a_truncated_body_trailing_bytes_and_a_long_address()
    {
        var body = Encode(new NodeRetirementEntry(Node, "10.0.0.4:9443"));

        var unknown = (byte[])body.Clone();
        unknown[EntryHeader.Size] = 2;
        Assert.False(TryDecode(unknown, out _, out var error));
        Assert.Equal("unknown governance action 2", error);

        // One byte short of the address, with the header saying so: the string's length prefix runs past the end.
        var truncated = body[..^1];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(truncated.AsSpan(4), (uint)(truncated.Length - EntryHeader.Size));
        Assert.False(TryDecode(truncated, out _, out error));
        Assert.Equal("node retirement is truncated", error);

        var trailing = new byte[body.Length + 1];
        body.CopyTo(trailing, 0);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(trailing.AsSpan(4), (uint)(trailing.Length - EntryHeader.Size));
        Assert.False(TryDecode(trailing, out _, out error));
        Assert.Equal("unexpected bytes after the node address", error);

        var tooLong = new NodeRetirementEntry(Node, new string('a', NodeRetirementEntry.MaxAddressBytes + 1));
        Assert.Throws<InvalidOperationException>(() => Encode(tooLong));
    }
}
