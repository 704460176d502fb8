using Vellum.Core.Primitives;

namespace Vellum.Core.Merkle;

/// <summary>
/// A bounded LRU cache of full tiles read back from (or just written to) an <see cref="ITileStore"/>, so that proofs
/// for recent entries, and the several nodes of one proof that share a tile, cost no I/O. One cache may serve many
/// trees (every ledger of a node: one budget, <see cref="Capacity"/> tiles in all, whatever the number of ledgers);
/// each tree holds an <see cref="Owner"/> of it. Thread-safe across owners; one owner's calls must not overlap (a tree
/// is single-threaded).
/// </summary>
/// <remarks>
/// A tile costs about 16 KiB (8 KiB of hashes and 8 KiB of interior memo). An evicted tile's arrays go back to the
/// owner whose tile it was, for its next <see cref="Owner.Rent"/>, never to another owner: a tree may still be reading
/// a tile it got from <see cref="Owner.TryGet"/> while another tree's insert evicts it, and only that tree's own next
/// rent (after it is done reading, since its calls do not overlap) may overwrite it. A tree appending steadily so
/// allocates nothing.
/// </remarks>
public sealed class TileCache
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(Owner Owner, int Level, long Index), LinkedListNode<Entry>> _map;
    private readonly LinkedList<Entry> _lru = new();

    /// <param name="capacity">Full tiles kept in all (at least 1).</param>
    public TileCache(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _map = new Dictionary<(Owner, int, long), LinkedListNode<Entry>>(Math.Min(capacity, 1024));
    }

    /// <summary>The most full tiles the cache holds, for all its owners together.</summary>
    public int Capacity { get; }

    /// <summary>Full tiles held now, for all owners.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _map.Count;
            }
        }
    }

    /// <summary>A new owner (one per tree): its tiles are its own, the budget is shared.</summary>
    public Owner NewOwner() => new(this);

    private bool TryGet(Owner owner, int level, long index, out Hash32[] tile, out TileInterior interior)
    {
        lock (_lock)
        {
            if (!_map.TryGetValue((owner, level, index), out var node))
            {
                tile = null!;
                interior = null!;
                return false;
            }

            if (node != _lru.First)
            {
                _lru.Remove(node);
                _lru.AddFirst(node);
            }

            tile = node.Value.Tile;
            interior = node.Value.Interior;
            return true;
        }
    }

    private void Insert(Owner owner, int level, long index, Hash32[] tile, TileInterior interior)
    {
        lock (_lock)
        {
            if (_map.TryGetValue((owner, level, index), out var existing))
            {
                // Same tile, same content (tiles are immutable); keep the newer arrays.
                existing.Value = new Entry(owner, level, index, tile, interior);
                _lru.Remove(existing);
                _lru.AddFirst(existing);
                return;
            }

            if (_map.Count >= Capacity)
            {
                // Reuse the evicted list node; its arrays go back to their owner.
                var last = _lru.Last!;
                _lru.RemoveLast();
                var evicted = last.Value;
                _map.Remove((evicted.Owner, evicted.Level, evicted.Index));
                evicted.Owner.Returned(evicted.Tile, evicted.Interior);
                last.Value = new Entry(owner, level, index, tile, interior);
                _lru.AddFirst(last);
                _map[(owner, level, index)] = last;
                owner.Count++;
                return;
            }

            _map[(owner, level, index)] = _lru.AddFirst(new Entry(owner, level, index, tile, interior));
            owner.Count++;
        }
    }

    private readonly record struct Entry(Owner Owner, int Level, long Index, Hash32[] Tile, TileInterior Interior);

    /// <summary>One tree's handle on the cache. Its calls must not overlap one another.</summary>
    public sealed class Owner
    {
        private readonly TileCache _cache;

        // The arrays of this owner's last evicted tile, handed out again by the next Rent (under the cache's lock).
        private Hash32[]? _spare;
        private TileInterior? _spareInterior;

        internal Owner(TileCache cache) => _cache = cache;

        /// <summary>Full tiles of this owner held now (under the cache's lock; read without it, an estimate).</summary>
        internal int Count { get; set; }

        /// <summary>
        /// The cached tile and its interior memo, or false. The tile stays intact until this owner's next
        /// <see cref="Rent"/>: use it at once and do not keep it.
        /// </summary>
        internal bool TryGet(int level, long index, out Hash32[] tile, out TileInterior interior) => _cache.TryGet(this, level, index, out tile, out interior);

        /// <summary>A tile-sized array to fill and then pass to <see cref="Insert"/> (or keep).</summary>
        internal Hash32[] Rent()
        {
            lock (_cache._lock)
            {
                var array = _spare ?? new Hash32[TileGeometry.Width];
                _spare = null;
                return array;
            }
        }

        /// <summary>A cleared interior memo for a new tile.</summary>
        internal TileInterior RentInterior()
        {
            TileInterior interior;
            lock (_cache._lock)
            {
                interior = _spareInterior ?? new TileInterior();
                _spareInterior = null;
            }

            interior.Reset();
            return interior;
        }

        /// <summary>Adds a full tile, taking ownership of <paramref name="tile"/> and <paramref name="interior"/>; evicts the least recently used tile of any owner.</summary>
        internal void Insert(int level, long index, Hash32[] tile, TileInterior interior) => _cache.Insert(this, level, index, tile, interior);

        /// <summary>Takes back the arrays of one of this owner's evicted tiles (under the cache's lock).</summary>
        internal void Returned(Hash32[] tile, TileInterior interior)
        {
            Count--;
            _spare = tile;
            _spareInterior = interior;
        }
    }
}
