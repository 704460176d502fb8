using System.Text;
using Vellum.Core.Crypto;
using Vellum.Core.Primitives;

namespace Vellum.Core.Entries;

/// <summary>
/// A governance transaction (kind 3) that retires a node: from this transaction on, no certificate of that node key
/// is a node of the service, whoever endorsed it and however long it is valid. Written in the ledger <c>default</c>
/// when an Administrator removes a cluster member; replaying these transactions gives the retired set.
/// <code>
/// public:  u8 governance action = 1 (node retired)
///          32  node id = SHA-256 of the node certificate's DER SubjectPublicKeyInfo
///          u16 node-channel address length, UTF-8 address (ip:port, as the member was known; informational)
/// private: empty
/// </code>
/// </summary>
public sealed record NodeRetirementEntry(Hash32 NodeId, string NodeAddress) : ITransactionBody
{
    /// <summary>The governance action byte of a node retirement.</summary>
    public const byte RetireNodeAction = 1;

    /// <summary>Longest node address accepted (an IPv6 address with a port is well under it).</summary>
    public const int MaxAddressBytes = 128;

    /// <inheritdoc />
    public EntryKind Kind => EntryKind.Governance;

    private int PublicLength => 1 + Hash32.Size + 2 + Encoding.UTF8.GetByteCount(NodeAddress);

    /// <inheritdoc />
    public Hash32 ClaimsDigest() => Hash32.Zero;

    /// <inheritdoc />
    public int EncodedLength(bool privateLedger) => EntryHeader.Size + PublicLength;

    /// <inheritdoc />
    public void Encode(Span<byte> body, TxId id, in Hash32 commitEvidenceDigest, in Hash32 claimsDigest, LedgerSecret? ledgerSecret)
    {
        if (Encoding.UTF8.GetByteCount(NodeAddress) > MaxAddressBytes)
        {
            throw new InvalidOperationException($"a node address has at most {MaxAddressBytes} bytes");
        }

        new EntryHeader(EntryKind.Governance, EntryFlags.None, PublicLength, id, commitEvidenceDigest, Hash32.Zero).Write(body);
        var writer = new SpanWriter(body[EntryHeader.Size..]);
        writer.WriteByte(RetireNodeAction);
        writer.WriteHash(NodeId);
        writer.WriteString16(NodeAddress);
    }

    /// <summary>Decodes a governance body, which today is always a node retirement. Never throws.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> body, in EntryHeader header, out NodeRetirementEntry? entry, out string? error)
    {
        entry = null;
        if (header.Kind != EntryKind.Governance || header.IsEncrypted || header.PrivateOffset != body.Length)
        {
            error = "not a governance transaction with an empty private section";
            return false;
        }

        var reader = new SpanReader(body.Slice(EntryHeader.Size, header.PublicLength));
        if (!reader.TryReadByte(out var action))
        {
            error = "governance transaction is truncated";
            return false;
        }

        if (action != RetireNodeAction)
        {
            error = $"unknown governance action {action}";
            return false;
        }

        if (!reader.TryReadBytes(Hash32.Size, out var nodeId) || !reader.TryReadString16(out var address))
        {
            error = "node retirement is truncated";
            return false;
        }

        if (Encoding.UTF8.GetByteCount(address) > MaxAddressBytes)
        {
            error = $"node address longer than {MaxAddressBytes} bytes";
            return false;
        }

        if (reader.Remaining != 0)
        {
            error = "unexpected bytes after the node address";
            return false;
        }

        entry = new NodeRetirementEntry(new Hash32(nodeId), address);
        error = null;
        return true;
    }
}
