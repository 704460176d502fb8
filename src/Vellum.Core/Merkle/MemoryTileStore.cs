namespace Vellum.Core.Merkle;

/// <summary>An in-memory <see cref="ITileStore"/> for tests and ephemeral trees. Thread-safe.</summary>
public sealed class MemoryTileStore : ITileStore
{
    private readonly Dictionary<(int Level, long Index), byte[]> _tiles = [];
    private readonly Lock _lock = new();
    private long _reads;
    private long _writes;

    /// <summary>Number of tiles held.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _tiles.Count;
            }
        }
    }

    /// <summary>Successful <see cref="TryReadTile"/> calls so far (lets tests count I/O).</summary>
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary><see cref="WriteTile"/> calls so far.</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <inheritdoc />
    public bool TryReadTile(int level, long index, Span<byte> destination)
    {
        byte[]? tile;
        lock (_lock)
        {
            _tiles.TryGetValue((level, index), out tile);
        }

        if (tile is null)
        {
            return false;
        }

        tile.CopyTo(destination);
        Interlocked.Increment(ref _reads);
        return true;
    }

    /// <inheritdoc />
    public void WriteTile(int level, long index, ReadOnlySpan<byte> hashes)
    {
        if (hashes.Length != TileGeometry.TileBytes)
        {
            throw new ArgumentException($"A full tile is {TileGeometry.TileBytes} bytes, not {hashes.Length}.", nameof(hashes));
        }

        var copy = hashes.ToArray();
        lock (_lock)
        {
            _tiles[(level, index)] = copy;
        }

        Interlocked.Increment(ref _writes);
    }

    /// <summary>Removes one tile (tests use it to simulate a lost tile). Returns false if it was absent.</summary>
    public bool Remove(int level, long index)
    {
        lock (_lock)
        {
            return _tiles.Remove((level, index));
        }
    }

    /// <summary>True if the tile is held.</summary>
    public bool Contains(int level, long index)
    {
        lock (_lock)
        {
            return _tiles.ContainsKey((level, index));
        }
    }

    /// <inheritdoc />
    public void Flush()
    {
        // Memory is as durable as it gets.
    }

    /// <inheritdoc />
    public void Clear()
    {
        lock (_lock)
        {
            _tiles.Clear();
        }
    }
}
