using Vellum.Core.Primitives;

namespace Vellum.Core.Merkle;

/// <summary>
/// Pure verifiers for <see cref="MerkleTree"/> proofs (RFC 9162 §2.1.3.2 and §2.1.4.2 over SHA-256(left ‖ right),
/// without the RFC 6962 prefixes). They never throw: a malformed proof or argument is simply not valid.
/// </summary>
/// <remarks>
/// A proof binds hashes, not the tree size: when two (index, size) or (m, n) pairs fold a proof the same way, one
/// proof verifies for both against the same root. For example the proof of leaf 0 in the 3-leaf tree [l0, l1, l2] also
/// verifies as leaf 0 of a 4-leaf tree with the same root, one whose last two leaves hash to l2 (this hash has no
/// RFC 6962 leaf/node prefixes, so a leaf and an interior node are not domain-separated). The signature over
/// (size, root) is what binds a root to its size: take the size from the signed statement, never from the prover.
/// </remarks>
public static class MerkleProofs
{
    /// <summary>
    /// True if <paramref name="proof"/> (leaf to root, RFC 9162 order) shows that <paramref name="leaf"/> is leaf
    /// <paramref name="index"/> of the tree of <paramref name="size"/> leaves whose root is <paramref name="root"/>.
    /// </summary>
    public static bool VerifyInclusion(Hash32 leaf, long index, long size, IReadOnlyList<Hash32> proof, Hash32 root) =>
        TryRootFromInclusionProof(leaf, index, size, proof, out var computed) && computed == root;

    /// <summary>
    /// RFC 9162 §2.1.3.2: the root that <paramref name="proof"/> implies for <paramref name="leaf"/> at
    /// <paramref name="index"/> in a tree of <paramref name="size"/> leaves. False (and <see cref="Hash32.Zero"/>) if the
    /// proof cannot be a proof for that position: index ≥ size, negative values, or the wrong number of hashes.
    /// </summary>
    public static bool TryRootFromInclusionProof(Hash32 leaf, long index, long size, IReadOnlyList<Hash32> proof, out Hash32 root)
    {
        root = Hash32.Zero;
        if (proof is null || index < 0 || size <= 0 || index >= size)
        {
            return false;
        }

        var fn = index;
        var sn = size - 1;
        var r = leaf;
        for (var i = 0; i < proof.Count; i++)
        {
            if (sn == 0)
            {
                return false;
            }

            var p = proof[i];
            if ((fn & 1) == 1 || fn == sn)
            {
                r = Hash32.Combine(p, r);
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                r = Hash32.Combine(r, p);
            }

            fn >>= 1;
            sn >>= 1;
        }

        if (sn != 0)
        {
            return false;
        }

        root = r;
        return true;
    }

    /// <summary>
    /// RFC 9162 §2.1.4.2: true if <paramref name="proof"/> shows that the tree of <paramref name="oldSize"/> leaves
    /// with root <paramref name="oldRoot"/> is a prefix of the tree of <paramref name="newSize"/> leaves with root
    /// <paramref name="newRoot"/>. Requires 0 &lt; oldSize ≤ newSize; for equal sizes the proof is empty and the roots
    /// are equal.
    /// </summary>
    public static bool VerifyConsistency(long oldSize, long newSize, Hash32 oldRoot, Hash32 newRoot, IReadOnlyList<Hash32> proof)
    {
        if (proof is null || oldSize <= 0 || oldSize > newSize)
        {
            return false;
        }

        if (oldSize == newSize)
        {
            return proof.Count == 0 && oldRoot == newRoot;
        }

        if (proof.Count == 0)
        {
            return false;
        }

        // Step 2: a power-of-two old tree is a node of the new tree, and the proof leaves it out.
        var start = 0;
        Hash32 fr;
        if ((oldSize & (oldSize - 1)) == 0)
        {
            fr = oldRoot;
        }
        else
        {
            fr = proof[0];
            start = 1;
        }

        var sr = fr;
        var fn = oldSize - 1;
        var sn = newSize - 1;
        while ((fn & 1) == 1)
        {
            fn >>= 1;
            sn >>= 1;
        }

        for (var i = start; i < proof.Count; i++)
        {
            if (sn == 0)
            {
                return false;
            }

            var c = proof[i];
            if ((fn & 1) == 1 || fn == sn)
            {
                fr = Hash32.Combine(c, fr);
                sr = Hash32.Combine(c, sr);
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                sr = Hash32.Combine(sr, c);
            }

            fn >>= 1;
            sn >>= 1;
        }

        return sn == 0 && fr == oldRoot && sr == newRoot;
    }

    /// <summary>
    /// Folds a receipt-style path from a leaf: <c>h = SiblingIsLeft ? H(sibling ‖ h) : H(h ‖ sibling)</c> for each step
    /// in order. The result is the root the path claims; compare it with a signed root.
    /// </summary>
    public static Hash32 Fold(Hash32 leaf, ReadOnlySpan<ProofStep> path)
    {
        var h = leaf;
        foreach (var step in path)
        {
            h = step.SiblingIsLeft ? Hash32.Combine(step.Sibling, h) : Hash32.Combine(h, step.Sibling);
        }

        return h;
    }
}
