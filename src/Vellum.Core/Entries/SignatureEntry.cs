using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Primitives;

namespace Vellum.Core.Entries;

/// <summary>
/// A signature transaction at seqno <c>s</c>: the node's ECDSA signature over the Merkle root of the tree of the
/// <c>s - 1</c> transactions before it. Its own leaf is appended after it is signed, so the next signature covers it.
/// <code>
/// public:  u64 tree size (= s - 1); [32] root; u64 first seqno newly covered (previous signature's seqno + 1);
///          [32] node id (SHA-256 of the node certificate's SubjectPublicKeyInfo);
///          u16 certificate length, node certificate DER; u16 signature length, ECDSA signature DER
/// private: empty
/// </code>
/// </summary>
public sealed record SignatureEntry(long TreeSize, Hash32 Root, long FirstCoveredSeqno, Hash32 NodeId, byte[] NodeCertificateDer, byte[] Signature)
{
    /// <summary>Bytes of the public section.</summary>
    public int PublicLength => 8 + 32 + 8 + 32 + 2 + NodeCertificateDer.Length + 2 + Signature.Length;

    /// <summary>The whole body length.</summary>
    public int EncodedLength => EntryHeader.Size + PublicLength;

    /// <summary>Encodes the body of signature transaction <paramref name="id"/>.</summary>
    public void Encode(Span<byte> body, TxId id, in Hash32 commitEvidenceDigest)
    {
        new EntryHeader(EntryKind.Signature, EntryFlags.None, PublicLength, id, commitEvidenceDigest, Hash32.Zero).Write(body);
        var writer = new SpanWriter(body[EntryHeader.Size..]);
        writer.WriteInt64(TreeSize);
        writer.WriteHash(Root);
        writer.WriteInt64(FirstCoveredSeqno);
        writer.WriteHash(NodeId);
        writer.WriteUInt16(NodeCertificateDer.Length);
        writer.WriteBytes(NodeCertificateDer);
        writer.WriteUInt16(Signature.Length);
        writer.WriteBytes(Signature);
    }

    /// <summary>Encodes to a new array.</summary>
    public byte[] Encode(TxId id, in Hash32 commitEvidenceDigest)
    {
        var body = new byte[EncodedLength];
        Encode(body, id, commitEvidenceDigest);
        return body;
    }

    /// <summary>Decodes a signature body. Never throws.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> body, in EntryHeader header, out SignatureEntry? entry, out string? error)
    {
        entry = null;
        if (header.Kind != EntryKind.Signature)
        {
            error = $"entry kind is {header.Kind}, not Signature";
            return false;
        }

        if (header.IsEncrypted || header.PrivateOffset != body.Length)
        {
            error = "a signature transaction has no private section";
            return false;
        }

        if (!header.ClaimsDigest.IsZero)
        {
            error = "a signature transaction has no application claims";
            return false;
        }

        var reader = new SpanReader(body.Slice(EntryHeader.Size, header.PublicLength));
        if (!reader.TryReadInt64(out var treeSize) || !reader.TryReadBytes(32, out var root) ||
            !reader.TryReadInt64(out var firstCovered) || !reader.TryReadBytes(32, out var nodeId) ||
            !reader.TryReadUInt16(out var certLength) || !reader.TryReadBytes(certLength, out var cert) ||
            !reader.TryReadUInt16(out var sigLength) || !reader.TryReadBytes(sigLength, out var signature))
        {
            error = "signature public section is truncated";
            return false;
        }

        if (reader.Remaining != 0)
        {
            error = $"{reader.Remaining} unexpected bytes after the signature";
            return false;
        }

        if (treeSize != header.Id.Seqno - 1)
        {
            error = $"signature at seqno {header.Id.Seqno} claims tree size {treeSize}, expected {header.Id.Seqno - 1}";
            return false;
        }

        if (firstCovered < 1 || firstCovered > header.Id.Seqno)
        {
            error = $"signature covers from seqno {firstCovered}, outside 1..{header.Id.Seqno}";
            return false;
        }

        entry = new SignatureEntry(treeSize, new Hash32(root), firstCovered, new Hash32(nodeId), cert.ToArray(), signature.ToArray());
        error = null;
        return true;
    }

    /// <summary>SHA-256 of a DER SubjectPublicKeyInfo: the node id.</summary>
    public static Hash32 NodeIdOf(ReadOnlySpan<byte> subjectPublicKeyInfo) => Hash32.Compute(subjectPublicKeyInfo);

    /// <summary>
    /// Checks the ECDSA signature over <see cref="Root"/> with <paramref name="key"/>, the public key of
    /// <see cref="NodeCertificateDer"/> whose node id the caller has already found to be <see cref="NodeId"/> (a
    /// reader of many signatures by one node parses its certificate once). Never throws.
    /// </summary>
    public bool VerifySignature(ECDsa key, out string? error)
    {
        ArgumentNullException.ThrowIfNull(key);
        try
        {
            Span<byte> root = stackalloc byte[32];
            Root.CopyTo(root);
            if (!key.VerifyHash(root, Signature, DSASignatureFormat.Rfc3279DerSequence))
            {
                error = "ECDSA signature over the root does not verify with the node certificate";
                return false;
            }

            error = null;
            return true;
        }
        catch (CryptographicException ex)
        {
            error = $"the signature is unreadable: {ex.Message}";
            return false;
        }
    }

    /// <summary>Checks the ECDSA signature over <see cref="Root"/> (the root used directly as the digest) with the
    /// certificate's key, and that the node id is the certificate's. Never throws.</summary>
    public bool VerifySignature(out string? error)
    {
        try
        {
            using var cert = X509CertificateLoader.LoadCertificate(NodeCertificateDer);
            using var key = cert.GetECDsaPublicKey();
            if (key is null)
            {
                error = "node certificate does not hold an EC public key";
                return false;
            }

            if (NodeIdOf(key.ExportSubjectPublicKeyInfo()) != NodeId)
            {
                error = "node id is not the SHA-256 of the node certificate's public key";
                return false;
            }

            return VerifySignature(key, out error);
        }
        catch (CryptographicException ex)
        {
            error = $"node certificate is unreadable: {ex.Message}";
            return false;
        }
    }
}
