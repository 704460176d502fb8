using Vellum.Core.Primitives;

namespace Vellum.Core.Merkle;

/// <summary>
/// A bounded LRU cache of full tiles read back from (or just written to) the <see cref="ITileStore"/>, so that proofs
/// for recent entries, and the several nodes of one proof that share a tile, cost no I/O. Not thread-safe: owned by
/// one <see cref="MerkleTree"/>.
/// </summary>
internal sealed class TileCache
{
    private readonly int _capacity;
    private readonly Dictionary<(int Level, long Index), LinkedListNode<Entry>> _map;
    private readonly LinkedList<Entry> _lru = new();

    // The array and interior of the last evicted tile, handed out again so a steady state allocates nothing.
    private Hash32[]? _spare;
    private TileInterior? _spareInterior;

    public TileCache(int capacity)
    {
        _capacity = capacity;
        _map = new Dictionary<(int, long), LinkedListNode<Entry>>(capacity);
    }

    public int Count => _map.Count;

    public int Capacity => _capacity;

    /// <summary>A tile-sized array the caller fills and then passes to <see cref="Insert"/> (or keeps).</summary>
    public Hash32[] Rent()
    {
        var array = _spare ?? new Hash32[TileGeometry.Width];
        _spare = null;
        return array;
    }

    /// <summary>A cleared interior memo for a new tile.</summary>
    public TileInterior RentInterior()
    {
        var interior = _spareInterior ?? new TileInterior();
        _spareInterior = null;
        interior.Reset();
        return interior;
    }

    /// <summary>The interior memo of a cached tile (the tile must be cached).</summary>
    public TileInterior Interior(int level, long index) => _map[(level, index)].Value.Interior;

    /// <summary>
    /// The cached tile, or null. The array stays valid only until the next <see cref="Insert"/> or
    /// <see cref="Rent"/>: callers use it at once and do not keep it.
    /// </summary>
    public Hash32[]? TryGet(int level, long index)
    {
        if (!_map.TryGetValue((level, index), out var node))
        {
            return null;
        }

        if (node != _lru.First)
        {
            _lru.Remove(node);
            _lru.AddFirst(node);
        }

        return node.Value.Tile;
    }

    /// <summary>
    /// Adds a full tile, taking ownership of <paramref name="tile"/> and of <paramref name="interior"/> (its memo so far,
    /// or null for a fresh one), and evicts the least recently used one.
    /// </summary>
    public void Insert(int level, long index, Hash32[] tile, TileInterior? interior = null)
    {
        interior ??= RentInterior();
        if (_map.TryGetValue((level, index), out var existing))
        {
            // Same tile, same content (tiles are immutable); keep the newer array.
            existing.Value = new Entry(level, index, tile, interior);
            _lru.Remove(existing);
            _lru.AddFirst(existing);
            return;
        }

        if (_map.Count >= _capacity)
        {
            // Reuse the evicted list node as well as its array: a full cache allocates nothing per tile.
            var last = _lru.Last!;
            _lru.RemoveLast();
            _map.Remove((last.Value.Level, last.Value.Index));
            _spare = last.Value.Tile;
            _spareInterior = last.Value.Interior;
            last.Value = new Entry(level, index, tile, interior);
            _lru.AddFirst(last);
            _map[(level, index)] = last;
            return;
        }

        _map[(level, index)] = _lru.AddFirst(new Entry(level, index, tile, interior));
    }

    public void Clear()
    {
        _map.Clear();
        _lru.Clear();
    }

    private record struct Entry(int Level, long Index, Hash32[] Tile, TileInterior Interior);
}
