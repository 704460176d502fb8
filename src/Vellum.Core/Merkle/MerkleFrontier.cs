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

    /// <summary>Appends a leaf (already hashed).</summary>
    public void Append(in Hash32 leaf)
    {
        var hash = leaf;
        long leaves = 1;
        while (_roots.Count > 0 && _roots[^1].Leaves == leaves)
        {
            hash = Hash32.Combine(_roots[^1].Hash, hash);
            leaves *= 2;
            _roots.RemoveAt(_roots.Count - 1);
        }

        _roots.Add((hash, leaves));
        Size++;
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
