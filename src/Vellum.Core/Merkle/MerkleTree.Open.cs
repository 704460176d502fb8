using Vellum.Core.Primitives;

namespace Vellum.Core.Merkle;

public sealed partial class MerkleTree
{
    /// <summary>
    /// Reopens a tree of <paramref name="size"/> leaves from the full tiles in <paramref name="store"/> and the leaves
    /// after the last full leaf tile, without reading the rest of the leaves.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Reads fewer than 256 leaves, and for each tile level L ≥ 1 the (at most 255) full tiles of level L−1 whose roots
    /// make up level L's partial tile; for 10 million leaves that is 128 leaves and 302 tiles. A tile that should be in
    /// the store but is not (lost before a flush, torn, deleted) is rebuilt from the tiles below it or, at the bottom,
    /// from the leaves it covers, and written again; the same happens if a proof later needs a lost tile.
    /// </para>
    /// <para>
    /// The tiles read are trusted. The caller must compare <see cref="Root"/> with the last signed root in the ledger
    /// and call <see cref="Rebuild"/> on a mismatch.
    /// </para>
    /// </remarks>
    /// <param name="store">The tiles written by the tree before it was closed.</param>
    /// <param name="size">The number of leaves (the ledger's committed transaction count).</param>
    /// <param name="readLeaves">
    /// Reads leaves <c>fromIndex … toIndexExclusive − 1</c> in order; must return exactly that many. Kept by the tree
    /// to rebuild lost tiles later.
    /// </param>
    /// <param name="cache">The cache its full tiles share with other trees; null: a cache of its own of <see cref="DefaultCachedTiles"/>.</param>
    public static MerkleTree Open(ITileStore store, long size, Func<long, long, IEnumerable<Hash32>> readLeaves, TileCache? cache = null)
    {
        ArgumentNullException.ThrowIfNull(readLeaves);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        ArgumentOutOfRangeException.ThrowIfEqual(size, long.MaxValue);
        var tree = new MerkleTree(store, readLeaves, cache ?? new TileCache(DefaultCachedTiles)) { _size = size };
        if (size == 0)
        {
            return tree;
        }

        for (var tileLevel = 0; ShiftRight(size, tileLevel * TileGeometry.Height) > 0; tileLevel++)
        {
            tree._edge.Add(new Hash32[TileGeometry.Width]);
        }

        // Tile-level 0's partial tile: the leaves after the last full leaf tile.
        var partialLeaves = (int)(size % TileGeometry.Width);
        if (partialLeaves > 0)
        {
            var from = size - partialLeaves;
            var filled = tree.ReadLeaves(from, size, tree._edge[0].AsSpan(0, partialLeaves));
            if (filled != partialLeaves)
            {
                ThrowShortLeafRead(from, size, filled);
            }
        }

        // Tile-level L's partial tile: roots of the full tiles of level L-1 not yet covered by a full level-L tile.
        for (var tileLevel = 1; tileLevel < tree._edge.Count; tileLevel++)
        {
            var nodes = ShiftRight(size, tileLevel * TileGeometry.Height);
            var partial = (int)(nodes % TileGeometry.Width);
            var firstTile = nodes - partial;
            var edge = tree._edge[tileLevel];
            for (var i = 0; i < partial; i++)
            {
                edge[i] = Reduce(tree.GetFullTile(tileLevel - 1, firstTile + i));
            }
        }

        // The frontier: the perfect subtrees that make up `size`, each one node of the tiles above.
        for (var bits = size; bits != 0; bits &= bits - 1)
        {
            var level = System.Numerics.BitOperations.TrailingZeroCount(bits);
            tree._frontier[level] = tree.NodeFromTiles(level, (size >> level) - 1);
        }

        return tree;
    }

    /// <summary>
    /// Drops every tile in <paramref name="store"/> and rebuilds the tree of <paramref name="size"/> leaves by
    /// appending them all (one streaming pass over <c>readLeaves(0, size)</c>). For when <see cref="Open"/> yields a
    /// root that does not match the ledger's signed root. Flush the store afterwards to make the tiles durable.
    /// </summary>
    public static MerkleTree Rebuild(ITileStore store, long size, Func<long, long, IEnumerable<Hash32>> readLeaves, TileCache? cache = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(readLeaves);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        store.Clear();
        var tree = new MerkleTree(store, readLeaves, cache ?? new TileCache(DefaultCachedTiles));
        if (size > 0)
        {
            foreach (var leaf in readLeaves(0, size))
            {
                if (tree._size == size)
                {
                    ThrowShortLeafRead(0, size, size + 1);
                }

                tree.Append(leaf);
            }
        }

        if (tree._size != size)
        {
            ThrowShortLeafRead(0, size, tree._size);
        }

        return tree;
    }
}
