using Vellum.Core.Entries;
using Vellum.Core.Primitives;
using Vellum.Core.Verification;

namespace Vellum.Core.Identity;

/// <summary>Signs Merkle roots with a node identity, for the signature transactions the node writes.</summary>
public sealed class NodeRootSigner : IRootSigner
{
    private readonly NodeIdentity _node;
    private readonly SignaturesIssued? _issued;

    /// <summary>
    /// Wraps <paramref name="node"/>; the caller keeps ownership. Each signature made is recorded in
    /// <paramref name="issued"/>, when given, for the ledger's own store to recognise.
    /// </summary>
    public NodeRootSigner(NodeIdentity node, SignaturesIssued? issued = null)
    {
        ArgumentNullException.ThrowIfNull(node);
        _node = node;
        _issued = issued;
        NodeId = Hash32.ParseHex(node.NodeId);
        CertificateDer = node.Certificate.RawData;
    }

    /// <inheritdoc />
    public Hash32 NodeId { get; }

    /// <inheritdoc />
    public ReadOnlyMemory<byte> CertificateDer { get; }

    /// <inheritdoc />
    public byte[] SignRoot(in Hash32 root)
    {
        var signature = _node.SignRoot(root);
        _issued?.Record(root, NodeId, signature);
        return signature;
    }
}
