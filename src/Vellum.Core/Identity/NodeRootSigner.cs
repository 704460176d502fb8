using Vellum.Core.Entries;
using Vellum.Core.Primitives;

namespace Vellum.Core.Identity;

/// <summary>Signs Merkle roots with a node identity, for the signature transactions the node writes.</summary>
public sealed class NodeRootSigner : IRootSigner
{
    private readonly NodeIdentity _node;

    /// <summary>Wraps <paramref name="node"/>; the caller keeps ownership.</summary>
    public NodeRootSigner(NodeIdentity node)
    {
        ArgumentNullException.ThrowIfNull(node);
        _node = node;
        NodeId = Hash32.ParseHex(node.NodeId);
        CertificateDer = node.Certificate.RawData;
    }

    /// <inheritdoc />
    public Hash32 NodeId { get; }

    /// <inheritdoc />
    public ReadOnlyMemory<byte> CertificateDer { get; }

    /// <inheritdoc />
    public byte[] SignRoot(in Hash32 root) => _node.SignRoot(root);
}
