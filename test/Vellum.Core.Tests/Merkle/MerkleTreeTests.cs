using System.Security.Cryptography;
using Vellum.Core.Merkle;
using Vellum.Core.Primitives;
using static Vellum.Core.Tests.Merkle.ReferenceMerkle;

namespace Vellum.Core.Tests.Merkle;

public sealed class MerkleTreeTests
{
    private static MerkleTree Build(long count, ITileStore? store = null)
    {
        var tree = new MerkleTree(store ?? new MemoryTileStore());
        for (long i = 0; i < count; i++)
        {
            Assert.Equal(i, tree.Append(Leaf(i)));
        }

        return tree;
    }

    internal static IEnumerable<Hash32> LeafRange(long from, long to)
    {
        for (var i = from; i < to; i++)
        {
            yield return Leaf(i);
        }
    }

    [Fact]
    public void Known_answer_for_three_leaves()
    {
        var l0 = Hash32.Compute("leaf 0"u8);
        var l1 = Hash32.Compute("leaf 1"u8);
        var l2 = Hash32.Compute("leaf 2"u8);
        var tree = new MerkleTree(new MemoryTileStore());
        tree.Append(l0);
        tree.Append(l1);
        tree.Append(l2);

        // By hand: H(H(l0 ‖ l1) ‖ l2), SHA-256 over raw 32-byte children, no prefixes, leaves not re-hashed.
        var h01 = SHA256.HashData([.. l0.ToArray(), .. l1.ToArray()]);
        var expected = new Hash32(SHA256.HashData([.. h01, .. l2.ToArray()]));

        Assert.Equal(expected, tree.Root());
        Assert.Equal(new Hash32(h01), tree.RootAt(2));
        Assert.Equal(l0, tree.RootAt(1));
        Assert.Equal(l2, tree.GetNode(0, 2));
        Assert.Equal(new[] { l1, l2 }, tree.GetInclusionProof(0, 3));
        Assert.Equal(new[] { new Hash32(h01) }, tree.GetInclusionProof(2, 3));
    }

    [Fact]
    public void Empty_tree_root_is_zero()
    {
        var tree = new MerkleTree(new MemoryTileStore());
        Assert.Equal(0, tree.Size);
        Assert.Equal(Hash32.Zero, tree.Root());
        Assert.Equal(Hash32.Zero, tree.RootAt(0));
    }

    [Fact]
    public void Root_and_RootAt_match_reference_for_every_size_to_1100()
    {
        var leaves = Leaves(1100);
        var tree = new MerkleTree(new MemoryTileStore(), cachedTiles: 2);
        for (var n = 1; n <= leaves.Count; n++)
        {
            tree.Append(leaves[n - 1]);
            Assert.Equal(Mth(leaves, 0, n), tree.Root());
        }

        for (var n = 1; n <= leaves.Count; n++)
        {
            Assert.Equal(Mth(leaves, 0, n), tree.RootAt(n));
        }
    }

    [Fact]
    public void RootAt_matches_reference_across_the_level_two_tile_boundary()
    {
        var leaves = Leaves(70_000);
        var store = new MemoryTileStore();
        var tree = new MerkleTree(store, cachedTiles: 4);
        foreach (var leaf in leaves)
        {
            tree.Append(leaf);
        }

        // 65,536 leaves fill the first level-1 tile: its root is the first level-16 hash (tile-level 2).
        Assert.True(store.Contains(1, 0));
        Assert.False(store.Contains(1, 1));
        foreach (var n in new[] { 255, 256, 257, 511, 512, 513, 65_279, 65_535, 65_536, 65_537, 65_792, 65_793, 69_999, 70_000 })
        {
            Assert.Equal(Mth(leaves, 0, n), tree.RootAt(n));
        }

        Assert.Equal(Mth(leaves, 0, 70_000), tree.Root());
        Assert.Equal(Mth(leaves, 0, 65_536), tree.GetNode(16, 0));
        Assert.Equal(Mth(leaves, 65_536, 65_536 + 4096), tree.GetNode(12, 16));
        Assert.Equal(Mth(leaves, 1024, 1024 + 512), tree.GetNode(9, 2));
    }

    [Fact]
    public void Every_complete_node_matches_reference()
    {
        var leaves = Leaves(1300);
        var tree = new MerkleTree(new MemoryTileStore(), cachedTiles: 1);
        foreach (var leaf in leaves)
        {
            tree.Append(leaf);
        }

        for (var level = 0; (1 << level) <= leaves.Count; level++)
        {
            for (var index = 0; (index + 1) << level <= leaves.Count; index++)
            {
                Assert.Equal(Mth(leaves, index << level, (index + 1) << level), tree.GetNode(level, index));
            }
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => tree.GetNode(0, 1300));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.GetNode(11, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.GetNode(-1, 0));
    }

    [Fact]
    public void SubtreeHash_matches_reference_for_arbitrary_ranges()
    {
        var leaves = Leaves(600);
        var tree = Build(600);
        var random = new Random(7);
        for (var i = 0; i < 500; i++)
        {
            var start = random.Next(0, 599);
            var end = random.Next(start + 1, 601);
            Assert.Equal(Mth(leaves, start, end), tree.SubtreeHash(start, end));
        }
    }

    [Fact]
    public void Proofs_match_the_reference_definitions_exhaustively_for_small_trees()
    {
        var leaves = Leaves(70);
        var tree = Build(70);
        for (var n = 1; n <= 70; n++)
        {
            var root = tree.RootAt(n);
            for (var i = 0; i < n; i++)
            {
                var proof = tree.GetInclusionProof(i, n);
                Assert.Equal(Path(leaves, i, 0, n), proof);
                Assert.True(MerkleProofs.VerifyInclusion(leaves[i], i, n, proof, root));
                var path = tree.GetInclusionPath(i, n);
                Assert.Equal(proof, path.Select(s => s.Sibling));
                Assert.Equal(root, MerkleProofs.Fold(leaves[i], path));
            }

            for (var m = 1; m <= n; m++)
            {
                var proof = tree.GetConsistencyProof(m, n);
                Assert.Equal(SubProof(leaves, m, 0, n, true), proof);
                Assert.True(MerkleProofs.VerifyConsistency(m, n, tree.RootAt(m), root, proof));
            }
        }
    }

    [Fact]
    public void Proof_arguments_out_of_range_throw()
    {
        var tree = Build(10);
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.GetInclusionProof(10, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.GetInclusionProof(0, 11));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.GetInclusionProof(-1, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.GetConsistencyProof(0, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.GetConsistencyProof(6, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.GetConsistencyProof(5, 11));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.RootAt(11));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.SubtreeHash(3, 3));
    }

    [Fact]
    public void An_old_entry_proof_reads_O_log_n_tiles()
    {
        var store = new MemoryTileStore();
        var tree = Build(100_000, store);
        var reopened = MerkleTree.Open(store, tree.Size, LeafRange);
        var before = store.Reads;
        var proof = reopened.GetInclusionProof(12_345, 100_000);
        var reads = store.Reads - before;

        Assert.True(MerkleProofs.VerifyInclusion(Leaf(12_345), 12_345, 100_000, proof, tree.Root()));
        Assert.InRange(reads, 1, 3 * 17);
    }

    [Fact]
    public void Trees_sharing_one_tile_cache_keep_within_its_budget_and_answer_right()
    {
        var cache = new TileCache(3);
        var first = Leaves(3000);
        var second = Leaves(3300).Skip(300).ToList(); // other leaves, so a mix-up of tiles shows
        var a = new MerkleTree(new MemoryTileStore(), null, cache);
        var b = new MerkleTree(new MemoryTileStore(), null, cache);
        for (var i = 0; i < first.Count; i++)
        {
            a.Append(first[i]);
            b.Append(second[i]);
        }

        Assert.InRange(cache.Count, 1, 3);
        for (var level = 0; (1 << level) <= first.Count; level++)
        {
            for (var index = 0; (index + 1) << level <= first.Count; index += 3)
            {
                Assert.Equal(Mth(first, index << level, (index + 1) << level), a.GetNode(level, index));
                Assert.Equal(Mth(second, index << level, (index + 1) << level), b.GetNode(level, index));
            }
        }

        Assert.InRange(cache.Count, 1, 3);
    }

    [Fact]
    public void Trees_on_two_threads_sharing_a_small_cache_never_read_each_others_tiles()
    {
        // Capacity 2 for two busy trees: every read evicts, so a tile handed out again while its tree still reads it
        // would give a wrong node.
        var cache = new TileCache(2);
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, t =>
        {
            var leaves = Leaves(4096 + (t * 512)).Skip(t * 512).ToList();
            var tree = new MerkleTree(new MemoryTileStore(), null, cache);
            foreach (var leaf in leaves)
            {
                tree.Append(leaf);
            }

            var random = new Random(t);
            for (var n = 0; n < 2000; n++)
            {
                var level = random.Next(0, 10);
                var count = leaves.Count >> level;
                var index = random.Next(0, count);
                if (tree.GetNode(level, index) != Mth(leaves, index << level, (index + 1) << level))
                {
                    failures.Enqueue($"tree {t}: node ({level}, {index})");
                }
            }
        });

        Assert.Empty(failures);
        Assert.InRange(cache.Count, 1, 2);
    }
}
