using Vellum.Core.Primitives;

namespace Vellum.Core.Merkle;

/// <summary>
/// The interior nodes of one tile (tree levels 8L+1 … 8L+7 above its 256 bottom hashes), computed on first use and
/// kept: a tile stores only its bottom row, so without this every proof step re-hashed up to 128 hashes of it.
/// Nodes of a tile never change once complete (only complete nodes are asked for), so a memo never goes stale — on
/// the right edge too, where it grows as the tile fills.
/// </summary>
internal sealed class TileInterior
{
    // Level u (1..7) holds 256 >> u nodes starting at 256 − (512 >> u): 128 + 64 + … + 2 = 254 slots.
    private const int Slots = 254;

    private readonly Hash32[] _nodes = new Hash32[Slots];
    private readonly bool[] _known = new bool[Slots];

    /// <summary>Forgets every node, for reuse with another tile.</summary>
    public void Reset() => Array.Clear(_known);

    /// <summary>The node <paramref name="up"/> levels above the bottom row at <paramref name="position"/> of that level.</summary>
    public Hash32 Node(ReadOnlySpan<Hash32> bottom, int up, int position)
    {
        if (up == 0)
        {
            return bottom[position];
        }

        var slot = TileGeometry.Width - (2 * TileGeometry.Width >> up) + position;
        if (_known[slot])
        {
            return _nodes[slot];
        }

        var node = Hash32.Combine(Node(bottom, up - 1, 2 * position), Node(bottom, up - 1, (2 * position) + 1));
        _nodes[slot] = node;
        _known[slot] = true;
        return node;
    }
}
