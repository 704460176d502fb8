using Vellum.Core.Identity;
using Vellum.Core.Merkle;
using Vellum.Core.Primitives;

namespace Vellum.Core.Receipts;

/// <summary>Assembles the ACL receipt object from the values a node has at hand.</summary>
public static class ReceiptBuilder
{
    /// <summary>
    /// Builds a receipt. The node id is computed from the certificate, the certificate is re-encoded as a single PEM
    /// block, and <c>serviceEndorsements</c> is always written (empty when there are none).
    /// </summary>
    /// <param name="writeSetDigest">SHA-256 of the transaction's write set.</param>
    /// <param name="commitEvidence">The strict <c>ce:{view}.{seqno}:{64 hex}</c> string (see <see cref="CommitEvidence"/>).</param>
    /// <param name="claimsDigest">The claims digest, <see cref="Hash32.Zero"/> when the transaction has no claims.</param>
    /// <param name="path">Siblings from the leaf to the signed root.</param>
    /// <param name="nodeCertificatePem">PEM of the node certificate whose key made <paramref name="signature"/>.</param>
    /// <param name="signature">The node's DER ECDSA signature over the root (<see cref="NodeIdentity.SignRoot"/>).</param>
    /// <param name="serviceEndorsements">Endorsements of previous service identities, oldest to latest.</param>
    /// <exception cref="ArgumentException">An argument is malformed.</exception>
    public static Receipt Build(
        Hash32 writeSetDigest,
        string commitEvidence,
        Hash32 claimsDigest,
        ReadOnlySpan<ProofStep> path,
        string nodeCertificatePem,
        ReadOnlySpan<byte> signature,
        IReadOnlyList<string>? serviceEndorsements = null) =>
        Build(writeSetDigest, commitEvidence, claimsDigest, path, ReceiptSignature.Create(nodeCertificatePem, signature), serviceEndorsements);

    /// <summary>
    /// Builds a receipt with a signature already prepared by <see cref="ReceiptSignature.Create"/>: every transaction
    /// a signature covers shares it, so the certificate is parsed once per signature, not once per receipt.
    /// </summary>
    public static Receipt Build(
        Hash32 writeSetDigest,
        string commitEvidence,
        Hash32 claimsDigest,
        ReadOnlySpan<ProofStep> path,
        ReceiptSignature signature,
        IReadOnlyList<string>? serviceEndorsements = null)
    {
        ArgumentNullException.ThrowIfNull(signature);
        if (!CommitEvidence.TryParse(commitEvidence, out _, out _))
        {
            throw new ArgumentException("The commit evidence must have the form ce:{view}.{seqno}:{64 lower-case hex}.", nameof(commitEvidence));
        }

        var proof = new ReceiptProofElement[path.Length];
        for (var i = 0; i < path.Length; i++)
        {
            var sibling = path[i].Sibling.ToString();
            proof[i] = path[i].SiblingIsLeft ? new ReceiptProofElement { Left = sibling } : new ReceiptProofElement { Right = sibling };
        }

        string[] endorsements = [];
        if (serviceEndorsements is { Count: > 0 })
        {
            endorsements = new string[serviceEndorsements.Count];
            for (var i = 0; i < endorsements.Length; i++)
            {
                endorsements[i] = serviceEndorsements[i] ?? throw new ArgumentException("An endorsement is null.", nameof(serviceEndorsements));
            }
        }

        return new Receipt
        {
            Cert = signature.CertificatePem,
            LeafComponents = new LeafComponents
            {
                ClaimsDigest = claimsDigest.ToString(),
                CommitEvidence = commitEvidence,
                WriteSetDigest = writeSetDigest.ToString(),
            },
            NodeId = signature.NodeId,
            Proof = proof,
            ServiceEndorsements = endorsements,
            Signature = signature.SignatureBase64,
        };
    }
}

/// <summary>The parts of a receipt that come from its signature transaction: node certificate, node id, signature.</summary>
/// <param name="CertificatePem">The node certificate as one canonical PEM block.</param>
/// <param name="NodeId">Lower-case hex SHA-256 of the certificate's SubjectPublicKeyInfo.</param>
/// <param name="SignatureBase64">The DER ECDSA signature over the root, base64.</param>
public sealed record ReceiptSignature(string CertificatePem, string NodeId, string SignatureBase64)
{
    /// <summary>Parses the certificate once and computes the node id.</summary>
    /// <exception cref="ArgumentException">The certificate or signature is malformed.</exception>
    public static ReceiptSignature Create(string nodeCertificatePem, ReadOnlySpan<byte> signature)
    {
        if (signature.IsEmpty)
        {
            throw new ArgumentException("The signature is empty.", nameof(signature));
        }

        using var certificate = IdentityCertificates.LoadCertificatePem(nodeCertificatePem, nameof(nodeCertificatePem));
        return new ReceiptSignature(IdentityCertificates.ToPem(certificate), NodeIdentity.ComputeNodeId(certificate), Convert.ToBase64String(signature));
    }
}
