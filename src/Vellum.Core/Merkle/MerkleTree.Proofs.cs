using Vellum.Core.Primitives;

namespace Vellum.Core.Merkle;

public sealed partial class MerkleTree
{
    /// <summary>
    /// The RFC 9162 §2.1.3.1 inclusion proof PATH(index, D[size]) for the leaf at <paramref name="index"/> in the tree
    /// of the first <paramref name="size"/> leaves, ordered leaf to root. Requires index &lt; size ≤ <see cref="Size"/>.
    /// O(log n) nodes, each at most one tile read.
    /// </summary>
    public IReadOnlyList<Hash32> GetInclusionProof(long index, long size)
    {
        var path = GetInclusionPath(index, size);
        var proof = new Hash32[path.Length];
        for (var i = 0; i < path.Length; i++)
        {
            proof[i] = path[i].Sibling;
        }

        return proof;
    }

    /// <summary>
    /// The same proof as <see cref="GetInclusionProof"/>, each sibling tagged with its side, as an ACL receipt
    /// carries it: folding <c>h = SiblingIsLeft ? H(sibling ‖ h) : H(h ‖ sibling)</c> from the leaf gives the root
    /// (<see cref="MerkleProofs.Fold"/>).
    /// </summary>
    public ProofStep[] GetInclusionPath(long index, long size)
    {
        ThrowIfFaulted();
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, _size);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(size, index);

        // Walk root to leaf, then reverse: the RFC order is leaf to root.
        var steps = new ProofStep[ProofLength(index, size)];
        var count = 0;
        long low = 0;
        var high = size;
        while (high - low > 1)
        {
            var k = LargestPowerOfTwoBelow(high - low);
            if (index < low + k)
            {
                steps[count++] = new ProofStep(false, SubtreeHashUnchecked(low + k, high));
                high = low + k;
            }
            else
            {
                steps[count++] = new ProofStep(true, SubtreeHashUnchecked(low, low + k));
                low += k;
            }
        }

        Array.Reverse(steps, 0, count);
        return steps;
    }

    /// <summary>
    /// The RFC 9162 §2.1.4.1 consistency proof PROOF(m, D[n]) = SUBPROOF(m, D[n], true) between the trees of the
    /// first <paramref name="oldSize"/> and <paramref name="newSize"/> leaves. Requires 0 &lt; m ≤ n ≤
    /// <see cref="Size"/>; empty when m = n.
    /// </summary>
    public IReadOnlyList<Hash32> GetConsistencyProof(long oldSize, long newSize)
    {
        ThrowIfFaulted();
        ArgumentOutOfRangeException.ThrowIfLessThan(oldSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(newSize, _size);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(oldSize, newSize);

        // SUBPROOF(m, D[lo:hi], b) appends its sibling after the recursive part, so the siblings are collected root
        // first and emitted in reverse, after the innermost element.
        var siblings = new List<Hash32>(64);
        long low = 0;
        var high = newSize;
        var m = oldSize;
        var complete = true;
        Hash32? innermost = null;
        while (true)
        {
            if (m == high - low)
            {
                if (!complete)
                {
                    innermost = SubtreeHashUnchecked(low, high);
                }

                break;
            }

            var k = LargestPowerOfTwoBelow(high - low);
            if (m <= k)
            {
                siblings.Add(SubtreeHashUnchecked(low + k, high));
                high = low + k;
            }
            else
            {
                siblings.Add(SubtreeHashUnchecked(low, low + k));
                low += k;
                m -= k;
                complete = false;
            }
        }

        var proof = new List<Hash32>(siblings.Count + 1);
        if (innermost is { } first)
        {
            proof.Add(first);
        }

        for (var i = siblings.Count - 1; i >= 0; i--)
        {
            proof.Add(siblings[i]);
        }

        return proof;
    }

    /// <summary>Length of PATH(index, D[size]): the depth of the leaf in the left-balanced tree.</summary>
    private static int ProofLength(long index, long size)
    {
        var length = 0;
        long low = 0;
        var high = size;
        while (high - low > 1)
        {
            var k = LargestPowerOfTwoBelow(high - low);
            if (index < low + k)
            {
                high = low + k;
            }
            else
            {
                low += k;
            }

            length++;
        }

        return length;
    }
}
