using Vellum.Core.Merkle;
using Vellum.Core.Primitives;

namespace Vellum.Core.Receipts;

/// <summary>The two hash computations of a receipt: its leaf, and the root its proof leads to.</summary>
public static class ReceiptHashes
{
    /// <summary><c>SHA256(writeSetDigest ‖ commitEvidenceDigest ‖ claimsDigest)</c>, always three components as ACL does.</summary>
    public static Hash32 ComputeLeaf(Hash32 writeSetDigest, Hash32 commitEvidenceDigest, Hash32 claimsDigest) =>
        Hash32.Combine(writeSetDigest, commitEvidenceDigest, claimsDigest);

    /// <summary>As above, hashing the commit evidence string first.</summary>
    public static Hash32 ComputeLeaf(Hash32 writeSetDigest, string commitEvidence, Hash32 claimsDigest) =>
        Hash32.Combine(writeSetDigest, CommitEvidence.Digest(commitEvidence), claimsDigest);

    /// <summary>Folds <paramref name="path"/> from the leaf upwards: a left sibling is prepended, a right one appended.</summary>
    public static Hash32 ComputeRoot(Hash32 leaf, ReadOnlySpan<ProofStep> path)
    {
        var current = leaf;
        foreach (var step in path)
        {
            current = step.SiblingIsLeft ? Hash32.Combine(step.Sibling, current) : Hash32.Combine(current, step.Sibling);
        }

        return current;
    }
}
