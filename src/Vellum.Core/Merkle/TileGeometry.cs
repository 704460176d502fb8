namespace Vellum.Core.Merkle;

/// <summary>Shape of a tlog tile: 256 hashes of one tree level, i.e. 8 tree levels per tile level.</summary>
public static class TileGeometry
{
    /// <summary>Tree levels spanned by one tile level: a tile-level <c>L</c> tile holds hashes of tree level <c>8·L</c>.</summary>
    public const int Height = 8;

    /// <summary>Hashes in a full tile (2^<see cref="Height"/>).</summary>
    public const int Width = 1 << Height;

    /// <summary>Bytes in a full tile.</summary>
    public const int TileBytes = Width * Vellum.Core.Primitives.Hash32.Size;
}
