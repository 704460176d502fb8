namespace Vellum.Core.Merkle;

/// <summary>
/// Persistent home of the full tiles of a <see cref="MerkleTree"/>, in the C2SP tlog-tiles layout: the tile at
/// tile-level <c>L</c> and index <c>N</c> holds the <see cref="TileGeometry.Width"/> consecutive hashes
/// <c>N·256 … N·256+255</c> of tree level <c>8·L</c> (level 0 = leaves), each 32 bytes, concatenated.
/// </summary>
/// <remarks>
/// Only full tiles (<see cref="TileGeometry.TileBytes"/> bytes) are ever written, and a given tile always has the same
/// content, so a tile written twice (after a crash, or a repair) is written with the same bytes. Tiles are a derived
/// cache of the leaves: a store may lose tiles that were written but not flushed, and <see cref="MerkleTree"/> rebuilds
/// them from the leaves. Implementations are called by one tree at a time (the tree's single writer).
/// </remarks>
public interface ITileStore
{
    /// <summary>
    /// Copies the full tile (<paramref name="level"/>, <paramref name="index"/>) into <paramref name="destination"/>
    /// (at least <see cref="TileGeometry.TileBytes"/> bytes). Returns false if the tile is absent or not exactly
    /// <see cref="TileGeometry.TileBytes"/> bytes long (a torn or truncated tile counts as absent).
    /// </summary>
    bool TryReadTile(int level, long index, Span<byte> destination);

    /// <summary>
    /// Stores a full tile of exactly <see cref="TileGeometry.TileBytes"/> bytes, replacing any earlier copy. A reader
    /// never observes a partly written tile. The tile need not be durable until <see cref="Flush"/> returns.
    /// </summary>
    void WriteTile(int level, long index, ReadOnlySpan<byte> hashes);

    /// <summary>Makes every tile written since the previous flush durable.</summary>
    void Flush();

    /// <summary>Drops every tile (before a rebuild from the leaves).</summary>
    void Clear();
}
