using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using Vellum.Core.Primitives;

namespace Vellum.Core.Merkle;

/// <summary>
/// The ledger's append-only Merkle tree, stored as C2SP tlog tiles.
/// </summary>
/// <remarks>
/// <para>
/// Shape: RFC 9162 (left-balanced; MTH(D[n]) splits at the largest power of two below n). Hashes: an interior node
/// is <see cref="Hash32.Combine(in Hash32, in Hash32)"/> = SHA-256(left ‖ right) of the raw 32-byte children, with no
/// RFC 6962 domain-separation prefixes, and leaves are appended already hashed (not hashed again) — the CCF / Azure
/// Confidential Ledger convention. The hash of the empty tree is defined as <see cref="Hash32.Zero"/>; it is never
/// signed in practice.
/// </para>
/// <para>
/// Memory: the tree keeps only its right edge — the partial (not yet full) tile of each tile level, the perfect
/// subtree roots of the current size, and its share of a bounded LRU cache of full tiles (its own, or one
/// <see cref="TileCache"/> shared by many trees under one budget) — so memory does not grow with the number of leaves. Every full tile is written to the <see cref="ITileStore"/> once, when it fills.
/// </para>
/// <para>
/// Tiles are a derived cache of the leaves. <see cref="Open"/> trusts the tiles it finds; the caller (storage) must
/// compare the reopened <see cref="Root"/> with the last signed root in the ledger and, on mismatch, call
/// <see cref="Rebuild"/> (which drops every tile and replays the leaves). A tile found missing is rebuilt from the tiles
/// below it, down to the leaves (read through the leaf reader), and written again.
/// </para>
/// <para>
/// Thread safety: none. The tree has a single writer; callers serialize every call, reads included (reads fill the
/// tile cache). If a call throws because the store failed, the tree refuses further use; reopen it.
/// </para>
/// </remarks>
public sealed partial class MerkleTree
{
    /// <summary>Full tiles cached in memory unless the constructor is told otherwise.</summary>
    public const int DefaultCachedTiles = 64;

    // Sizes are longs, so no tree has a node above level 62 and no more than 8 tile levels.
    private const int MaxLevel = 62;

    private readonly ITileStore _store;
    private readonly TileCache.Owner _cache;
    private readonly Func<long, long, IEnumerable<Hash32>>? _readLeaves;

    // _frontier[b] is the root of the perfect subtree of 2^b leaves ending at the current size, valid iff bit b of
    // _size is set. Folding it gives Root() in O(log n) and merging into it on append produces every interior node
    // exactly once, so appends cost one SHA-256 each, amortized.
    private readonly Hash32[] _frontier = new Hash32[MaxLevel + 1];

    // _edge[L] is the partial tile of tile-level L: hashes of tree level 8L at indices f·256 … f·256+c-1, where
    // c = (_size >> 8L) & 255 and f = _size >> 8(L+1) is the number of full tiles at that level.
    private readonly List<Hash32[]> _edge = [];

    // _edgeInterior[L] memoizes the complete interior nodes of _edge[L]; it moves to the cache with the tile.
    private readonly List<TileInterior> _edgeInterior = [];

    // Serialization buffer for one tile; the tree is single-threaded, so one suffices.
    private readonly byte[] _tileBytes = new byte[TileGeometry.TileBytes];

    private long _size;
    private bool _faulted;

    /// <summary>Creates an empty tree writing its tiles to <paramref name="store"/>.</summary>
    /// <param name="store">Where full tiles go. Tiles already there are overwritten as the tree grows.</param>
    /// <param name="readLeaves">
    /// Optional leaf reader <c>(fromIndex, toIndexExclusive)</c>, used only to rebuild a tile found missing from the
    /// store. Without it a missing tile is an <see cref="InvalidDataException"/>.
    /// </param>
    /// <param name="cachedTiles">Full tiles kept in the tree's own LRU cache (at least 1).</param>
    public MerkleTree(ITileStore store, Func<long, long, IEnumerable<Hash32>>? readLeaves = null, int cachedTiles = DefaultCachedTiles)
        : this(store, readLeaves, new TileCache(cachedTiles))
    {
    }

    /// <summary>Creates an empty tree whose full tiles share <paramref name="cache"/> (and its budget) with other trees.</summary>
    public MerkleTree(ITileStore store, Func<long, long, IEnumerable<Hash32>>? readLeaves, TileCache cache)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(cache);
        _store = store;
        _readLeaves = readLeaves;
        _cache = cache.NewOwner();
    }

    /// <summary>Number of leaves.</summary>
    public long Size => _size;

    /// <summary>
    /// Hashes held in memory by this tree: the right-edge tiles, the frontier and the tile cache (counting every
    /// allocated slot, used or not). Bounded by <c>levels × 256 + 63 + cachedTiles × 256</c> (for a shared cache, the
    /// tiles of this tree it holds now).
    /// </summary>
    internal long HashesInMemory => ((long)_edge.Count * TileGeometry.Width) + _frontier.Length + ((long)_cache.Count * TileGeometry.Width)
        + ((long)(_cache.Count + _edgeInterior.Count) * (TileGeometry.Width - 2));

    /// <summary>Tile levels with at least one node (the tree has nodes at tree level 8·L for L below this).</summary>
    internal int TileLevels => _edge.Count;

    /// <summary>Appends an already-hashed leaf and returns its 0-based index. O(1) amortized.</summary>
    public long Append(in Hash32 leaf)
    {
        ThrowIfFaulted();
        var index = _size;
        if (index == long.MaxValue)
        {
            throw new InvalidOperationException("The tree is full.");
        }

        // Mark faulted until the append completes: a store failure midway leaves the edge half updated.
        _faulted = true;
        PushTileNode(0, index, leaf);
        var node = leaf;
        var level = 0;
        while (((index >> level) & 1) != 0)
        {
            node = Hash32.Combine(_frontier[level], node);
            level++;
            if (level % TileGeometry.Height == 0)
            {
                PushTileNode(level / TileGeometry.Height, index >> level, node);
            }
        }

        _frontier[level] = node;
        _size = index + 1;
        _faulted = false;
        return index;
    }

    /// <summary>The root at the current size (<see cref="Hash32.Zero"/> for the empty tree). O(log n), no I/O.</summary>
    public Hash32 Root()
    {
        ThrowIfFaulted();
        if (_size == 0)
        {
            return Hash32.Zero;
        }

        var bits = _size;
        var level = BitOperations.TrailingZeroCount(bits);
        var root = _frontier[level];
        bits &= bits - 1;
        while (bits != 0)
        {
            level = BitOperations.TrailingZeroCount(bits);
            root = Hash32.Combine(_frontier[level], root);
            bits &= bits - 1;
        }

        return root;
    }

    /// <summary>The root of the first <paramref name="size"/> leaves, for any size up to <see cref="Size"/>.</summary>
    public Hash32 RootAt(long size)
    {
        ThrowIfFaulted();
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, _size);
        if (size == _size)
        {
            return Root();
        }

        return size == 0 ? Hash32.Zero : SubtreeHash(0, size);
    }

    /// <summary>
    /// The node at tree level <paramref name="level"/> (0 = leaves) and index <paramref name="index"/>: the root of
    /// the perfect subtree over leaves <c>index·2^level … (index+1)·2^level − 1</c>, which must all exist. Hashes up
    /// <c>level % 8</c> levels from at most 128 hashes of one tile; at most one tile read.
    /// </summary>
    public Hash32 GetNode(int level, long index)
    {
        ThrowIfFaulted();
        ArgumentOutOfRangeException.ThrowIfNegative(level);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(level, MaxLevel);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        if (index >= (_size >> level))
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"Node {level}/{index} is not complete in a tree of {_size} leaves.");
        }

        return NodeUnchecked(level, index);
    }

    /// <summary>
    /// MTH of leaves <paramref name="start"/> … <paramref name="end"/> − 1 (RFC 9162 §2.1.1 applied to that range):
    /// a perfect aligned range is one <see cref="GetNode"/>; any other range splits at the largest power of two below
    /// its length.
    /// </summary>
    public Hash32 SubtreeHash(long start, long end)
    {
        ThrowIfFaulted();
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(end, start);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(end, _size);
        return SubtreeHashUnchecked(start, end);
    }

    /// <summary>Makes every tile written so far durable (<see cref="ITileStore.Flush"/>).</summary>
    public void Flush() => _store.Flush();

    private Hash32 SubtreeHashUnchecked(long start, long end)
    {
        var count = end - start;
        if (BitOperations.IsPow2(count) && (start & (count - 1)) == 0)
        {
            var level = BitOperations.TrailingZeroCount(count);
            return NodeUnchecked(level, start >> level);
        }

        var k = LargestPowerOfTwoBelow(count);
        return Hash32.Combine(SubtreeHashUnchecked(start, start + k), SubtreeHashUnchecked(start + k, end));
    }

    private Hash32 NodeUnchecked(int level, long index)
    {
        // The perfect subtrees that make up the current size are on the frontier: no hashing, no I/O.
        if (((_size >> level) & 1) != 0 && index == (_size >> level) - 1)
        {
            return _frontier[level];
        }

        return NodeFromTiles(level, index);
    }

    /// <summary>A complete node computed from the one tile (full or right-edge) holding its bottom hashes.</summary>
    private Hash32 NodeFromTiles(int level, long index)
    {
        var tileLevel = level / TileGeometry.Height;
        var up = level % TileGeometry.Height;
        var first = index << up;
        var tileIndex = first / TileGeometry.Width;
        var offset = (int)(first % TileGeometry.Width);
        var count = 1 << up;

        var position = offset >> up;
        if (tileIndex < FullTiles(tileLevel))
        {
            var tile = GetFullTile(tileLevel, tileIndex, out var interior);
            return interior.Node(tile, up, position);
        }

        Debug.Assert(offset + count <= TileGeometry.Width, "a complete node lies within one tile");
        return EdgeInterior(tileLevel).Node(_edge[tileLevel], up, position);
    }

    /// <summary>The interior memo of the right-edge tile at <paramref name="tileLevel"/> (created on first use).</summary>
    private TileInterior EdgeInterior(int tileLevel)
    {
        while (_edgeInterior.Count <= tileLevel)
        {
            _edgeInterior.Add(new TileInterior());
        }

        return _edgeInterior[tileLevel];
    }

    /// <summary>Full tiles at <paramref name="tileLevel"/> for the current size: <c>_size >> 8(L+1)</c>.</summary>
    private long FullTiles(int tileLevel) => ShiftRight(_size, (tileLevel + 1) * TileGeometry.Height);

    // C# masks shift counts to 6 bits, so a shift by 64 would be a shift by 0.
    private static long ShiftRight(long value, int bits) => bits >= 63 ? 0 : value >> bits;

    private void PushTileNode(int tileLevel, long nodeIndex, in Hash32 node)
    {
        while (_edge.Count <= tileLevel)
        {
            _edge.Add(new Hash32[TileGeometry.Width]);
        }

        var interior = EdgeInterior(tileLevel);

        var tile = _edge[tileLevel];
        var position = (int)(nodeIndex % TileGeometry.Width);
        tile[position] = node;
        if (position == TileGeometry.Width - 1)
        {
            var tileIndex = nodeIndex / TileGeometry.Width;
            WriteTile(tileLevel, tileIndex, tile);

            // The full tile moves to the cache (proofs for recent entries read it) and the edge starts a fresh one.
            _edge[tileLevel] = _cache.Rent();
            _cache.Insert(tileLevel, tileIndex, tile, interior);
            _edgeInterior[tileLevel] = _cache.RentInterior();
        }
    }

    private void WriteTile(int tileLevel, long tileIndex, Hash32[] tile)
    {
        var bytes = _tileBytes.AsSpan();
        for (var i = 0; i < TileGeometry.Width; i++)
        {
            tile[i].CopyTo(bytes.Slice(i * Hash32.Size, Hash32.Size));
        }

        _store.WriteTile(tileLevel, tileIndex, bytes);
    }

    /// <summary>A full tile from the cache, else the store, else rebuilt. Use the array at once (see <see cref="TileCache.Owner.TryGet"/>).</summary>
    private Hash32[] GetFullTile(int tileLevel, long tileIndex) => GetFullTile(tileLevel, tileIndex, out _);

    /// <summary>A full tile and its interior memo (see the overload).</summary>
    private Hash32[] GetFullTile(int tileLevel, long tileIndex, out TileInterior interior)
    {
        if (_cache.TryGet(tileLevel, tileIndex, out var cached, out interior))
        {
            return cached;
        }

        Hash32[] tile;
        if (_store.TryReadTile(tileLevel, tileIndex, _tileBytes))
        {
            tile = _cache.Rent();
            ReadOnlySpan<byte> bytes = _tileBytes;
            for (var i = 0; i < TileGeometry.Width; i++)
            {
                tile[i] = new Hash32(bytes.Slice(i * Hash32.Size, Hash32.Size));
            }
        }
        else
        {
            tile = RebuildTile(tileLevel, tileIndex);
        }

        interior = _cache.RentInterior();
        _cache.Insert(tileLevel, tileIndex, tile, interior);
        return tile;
    }

    /// <summary>
    /// Recomputes a full tile that the store lost, from the 256 tiles below it (tile-level 0: from the leaves), and
    /// writes it back. Recursion depth is bounded by the number of tile levels.
    /// </summary>
    private Hash32[] RebuildTile(int tileLevel, long tileIndex)
    {
        if (_readLeaves is null)
        {
            ThrowMissingTile(tileLevel, tileIndex);
        }

        // Not rented from the cache: the recursive reads below insert into the cache and may recycle its spare.
        var tile = new Hash32[TileGeometry.Width];
        if (tileLevel == 0)
        {
            var from = tileIndex * TileGeometry.Width;
            var filled = ReadLeaves(from, from + TileGeometry.Width, tile);
            if (filled != TileGeometry.Width)
            {
                ThrowShortLeafRead(from, from + TileGeometry.Width, filled);
            }
        }
        else
        {
            for (var i = 0; i < TileGeometry.Width; i++)
            {
                tile[i] = Reduce(GetFullTile(tileLevel - 1, (tileIndex * TileGeometry.Width) + i));
            }
        }

        WriteTile(tileLevel, tileIndex, tile);
        return tile;
    }

    private int ReadLeaves(long from, long to, Span<Hash32> destination)
    {
        var filled = 0;
        foreach (var leaf in _readLeaves!(from, to))
        {
            if (filled == destination.Length)
            {
                ThrowShortLeafRead(from, to, filled + 1);
            }

            destination[filled++] = leaf;
        }

        return filled;
    }

    /// <summary>The root of a perfect subtree given its 2^k bottom hashes (k ≤ 8), hashed pairwise upwards.</summary>
    private static Hash32 Reduce(ReadOnlySpan<Hash32> hashes)
    {
        if (hashes.Length == 1)
        {
            return hashes[0];
        }

        Span<Hash32> work = stackalloc Hash32[hashes.Length / 2];
        for (var i = 0; i < work.Length; i++)
        {
            work[i] = Hash32.Combine(hashes[2 * i], hashes[(2 * i) + 1]);
        }

        for (var count = work.Length; count > 1; count /= 2)
        {
            for (var i = 0; i < count / 2; i++)
            {
                work[i] = Hash32.Combine(work[2 * i], work[(2 * i) + 1]);
            }
        }

        return work[0];
    }

    /// <summary>Largest power of two strictly below <paramref name="n"/> (n ≥ 2): the RFC 9162 split point k.</summary>
    internal static long LargestPowerOfTwoBelow(long n) => 1L << (63 - BitOperations.LeadingZeroCount((ulong)(n - 1)));

    private void ThrowIfFaulted()
    {
        if (_faulted)
        {
            ThrowFaulted();
        }
    }

    [DoesNotReturn]
    private static void ThrowFaulted() =>
        throw new InvalidOperationException("An earlier append failed in the tile store; reopen the tree with MerkleTree.Open.");

    [DoesNotReturn]
    private static void ThrowMissingTile(int tileLevel, long tileIndex) =>
        throw new InvalidDataException($"Tile {tileLevel}/{tileIndex} is missing from the store and the tree has no leaf reader to rebuild it.");

    [DoesNotReturn]
    private static void ThrowShortLeafRead(long from, long to, long got) =>
        throw new InvalidDataException($"The leaf reader returned {got} leaves for [{from}, {to}).");
}
