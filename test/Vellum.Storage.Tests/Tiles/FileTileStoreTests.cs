using System.Buffers.Binary;
using Vellum.Core.Merkle;
using Vellum.Core.Primitives;
using Vellum.Storage.Tiles;

namespace Vellum.Storage.Tests.Tiles;

public sealed class FileTileStoreTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "vellum-tiles-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static Hash32 Leaf(long i)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, i);
        return Hash32.Compute(bytes);
    }

    private static byte[] Tile(byte seed)
    {
        var bytes = new byte[TileGeometry.TileBytes];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(seed + i);
        }

        return bytes;
    }

    private sealed class CountingReader
    {
        public long LeavesRead { get; private set; }

        public IEnumerable<Hash32> Read(long from, long to)
        {
            for (var i = from; i < to; i++)
            {
                LeavesRead++;
                yield return Leaf(i);
            }
        }
    }

    [Theory]
    [InlineData(0, 0L, "tile/0/000")]
    [InlineData(0, 7L, "tile/0/007")]
    [InlineData(1, 999L, "tile/1/999")]
    [InlineData(0, 1000L, "tile/0/x001/000")]
    [InlineData(2, 1234067L, "tile/2/x001/x234/067")]
    [InlineData(0, 123456789L, "tile/0/x123/x456/789")]
    public void Paths_follow_tlog_tiles(int level, long index, string expected) =>
        Assert.Equal(expected, FileTileStore.TilePath(level, index));

    [Fact]
    public void Tiles_round_trip_and_land_at_their_tlog_path()
    {
        var store = new FileTileStore(_directory);
        var tile = Tile(3);
        store.WriteTile(0, 1_234_067, tile);
        store.Flush();

        Assert.True(File.Exists(Path.Combine(_directory, "tile", "0", "x001", "x234", "067")));
        Assert.Empty(Directory.GetFiles(_directory, "*.tmp", SearchOption.AllDirectories));
        var read = new byte[TileGeometry.TileBytes];
        Assert.True(store.TryReadTile(0, 1_234_067, read));
        Assert.Equal(tile, read);

        // Rewriting a tile (after a repair) replaces it.
        store.WriteTile(0, 1_234_067, Tile(9));
        Assert.True(new FileTileStore(_directory).TryReadTile(0, 1_234_067, read));
        Assert.Equal(Tile(9), read);
    }

    [Fact]
    public void Missing_and_wrong_length_tiles_are_not_read()
    {
        var store = new FileTileStore(_directory);
        var read = new byte[TileGeometry.TileBytes];
        Assert.False(store.TryReadTile(0, 0, read));
        Assert.False(store.TryReadTile(3, 5_000, read));

        store.WriteTile(0, 1, Tile(1));
        var path = Path.Combine(_directory, "tile", "0", "001");
        File.WriteAllBytes(path, new byte[TileGeometry.TileBytes - 1]);
        Assert.False(store.TryReadTile(0, 1, read));
        File.WriteAllBytes(path, []);
        Assert.False(store.TryReadTile(0, 1, read));
        File.WriteAllBytes(path, new byte[TileGeometry.TileBytes + 1]);
        Assert.False(store.TryReadTile(0, 1, read));
    }

    [Fact]
    public void Partial_tiles_are_rejected_on_write()
    {
        var store = new FileTileStore(_directory);
        Assert.Throws<ArgumentException>(() => store.WriteTile(0, 0, new byte[32]));
    }

    [Fact]
    public void Clear_drops_every_tile()
    {
        var store = new FileTileStore(_directory);
        store.WriteTile(0, 0, Tile(0));
        store.WriteTile(1, 2_000, Tile(1));
        store.Clear();
        store.Flush();

        var read = new byte[TileGeometry.TileBytes];
        Assert.False(store.TryReadTile(0, 0, read));
        Assert.False(store.TryReadTile(1, 2_000, read));
        Assert.False(Directory.Exists(Path.Combine(_directory, "tile")));
    }

    [Fact]
    public void A_tree_reopens_from_tile_files_reading_fewer_than_256_leaves()
    {
        const long size = 100_000;
        var original = new MerkleTree(new FileTileStore(_directory));
        for (long i = 0; i < size; i++)
        {
            original.Append(Leaf(i));
        }

        original.Flush();
        Assert.Equal(390 + 1, Directory.GetFiles(Path.Combine(_directory, "tile"), "*", SearchOption.AllDirectories).Length);

        var reader = new CountingReader();
        var reopened = MerkleTree.Open(new FileTileStore(_directory), size, reader.Read);

        Assert.Equal(original.Root(), reopened.Root());
        Assert.InRange(reader.LeavesRead, 0, 255);
        var proof = reopened.GetInclusionProof(4_321, size);
        Assert.True(MerkleProofs.VerifyInclusion(Leaf(4_321), 4_321, size, proof, original.Root()));
        Assert.Equal(original.GetConsistencyProof(77_777, size), reopened.GetConsistencyProof(77_777, size));
    }

    [Fact]
    public void A_tree_reopens_when_tile_files_were_lost_and_writes_them_again()
    {
        const long size = 100_000;
        var store = new FileTileStore(_directory);
        var original = new MerkleTree(store);
        for (long i = 0; i < size; i++)
        {
            original.Append(Leaf(i));
        }

        store.Flush();

        // As after a crash before a flush: the newest tiles are gone, one is empty, and so is the level-1 tile.
        File.Delete(Path.Combine(_directory, "tile", "0", "389"));
        File.Delete(Path.Combine(_directory, "tile", "0", "388"));
        File.WriteAllBytes(Path.Combine(_directory, "tile", "0", "387"), []);
        File.Delete(Path.Combine(_directory, "tile", "1", "000"));

        var reader = new CountingReader();
        var reopened = MerkleTree.Open(new FileTileStore(_directory), size, reader.Read);

        Assert.Equal(original.Root(), reopened.Root());
        Assert.Equal(TileGeometry.TileBytes, new FileInfo(Path.Combine(_directory, "tile", "0", "387")).Length);
        Assert.True(File.Exists(Path.Combine(_directory, "tile", "0", "389")));
        Assert.True(File.Exists(Path.Combine(_directory, "tile", "1", "000")));

        // 3 leaf tiles replayed from the leaves, plus the partial tile's 160 leaves; the level-1 tile came from tiles.
        Assert.Equal((3 * 256) + 160, reader.LeavesRead);
        reopened.Flush();
    }
}
