using System.Numerics;
using Vellum.Core.Primitives;

namespace Vellum.Core.Merkle;

/// <summary>
/// The right edge of a Merkle tree: one subtree root per set bit of the size, O(log n) memory. Enough to append and to
/// compute the current root, which is all a streaming verifier needs; proofs need the full <see cref="MerkleTree"/>.
/// </summary>
public sealed class MerkleFrontier
{
    // _roots[i] is the root of a complete subtree; sizes strictly decrease left to right (the binary digits of Size).
    private readonly List<(Hash32 Hash, long Leaves)> _roots = [];

    /// <summary>Leaves appended so far.</summary>
    public long Size { get; private set; }

    /// <summary>An independent copy: appending to either leaves the other as it was (O(log n)).</summary>
    public MerkleFrontier Clone()
    {
        var copy = new MerkleFrontier { Size = Size };
        copy._roots.AddRange(_roots);
        return copy;
    }

    /// <summary>Appends a leaf (already hashed).</summary>
    public void Append(in Hash32 leaf) => Push(leaf, 1);

    /// <summary>
    /// Appends the root of a perfect subtree of <paramref name="leaves"/> leaves (a power of two) whose first leaf is at
    /// index <see cref="Size"/>, which must be a multiple of <paramref name="leaves"/>: the same as appending those
    /// leaves one by one, for a caller that hashed the subtree itself (on another core, say).
    /// </summary>
    public void AppendSubtree(in Hash32 root, long leaves)
    {
        if (!BitOperations.IsPow2(leaves) || (Size & (leaves - 1)) != 0)
        {
            throw new ArgumentException($"A perfect subtree of {leaves} leaves cannot start at leaf {Size}.", nameof(leaves));
        }

        Push(root, leaves);
    }

    // Size is a multiple of `leaves`, so every root on the frontier covers at least `leaves` leaves and merging equal
    // neighbours keeps the sizes strictly decreasing.
    private void Push(in Hash32 subtreeRoot, long leaves)
    {
        var hash = subtreeRoot;
        var size = leaves;
        while (_roots.Count > 0 && _roots[^1].Leaves == size)
        {
            hash = Hash32.Combine(_roots[^1].Hash, hash);
            size *= 2;
            _roots.RemoveAt(_roots.Count - 1);
        }

        _roots.Add((hash, size));
        Size += leaves;
    }

    /// <summary>
    /// The root of the left-balanced tree over every leaf appended (RFC 9162 shape, no domain prefixes):
    /// the complete subtrees folded from the right. <see cref="Hash32.Zero"/> for the empty tree.
    /// </summary>
    public Hash32 Root()
    {
        if (_roots.Count == 0)
        {
            return Hash32.Zero;
        }

        var hash = _roots[^1].Hash;
        for (var i = _roots.Count - 2; i >= 0; i--)
        {
            hash = Hash32.Combine(_roots[i].Hash, hash);
        }

        return hash;
    }
}
