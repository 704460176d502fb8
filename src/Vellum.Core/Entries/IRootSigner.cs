using Vellum.Core.Primitives;

namespace Vellum.Core.Entries;

/// <summary>What writes signature transactions: a node key with its service-endorsed certificate.</summary>
public interface IRootSigner
{
    /// <summary>SHA-256 of the node certificate's SubjectPublicKeyInfo.</summary>
    Hash32 NodeId { get; }

    /// <summary>The node certificate, DER.</summary>
    ReadOnlyMemory<byte> CertificateDer { get; }

    /// <summary>DER ECDSA signature with the 32-byte <paramref name="root"/> used directly as the digest.</summary>
    byte[] SignRoot(in Hash32 root);
}
