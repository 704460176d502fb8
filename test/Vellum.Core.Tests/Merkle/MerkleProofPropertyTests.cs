using CsCheck;
using Vellum.Core.Merkle;
using Vellum.Core.Primitives;
using static Vellum.Core.Tests.Merkle.ReferenceMerkle;

namespace Vellum.Core.Tests.Merkle;

/// <summary>One tree, built once and shared by the property tests of one class (tests in a class run one at a time).</summary>
public sealed class SharedTreeFixture
{
    public const int Size = 20_000;

    public SharedTreeFixture()
    {
        // A small cache so that the samples exercise tile reads, not just cache hits.
        Tree = new MerkleTree(new MemoryTileStore(), cachedTiles: 4);
        for (var i = 0; i < Size; i++)
        {
            Tree.Append(Leaf(i));
        }
    }

    public MerkleTree Tree { get; }
}

public sealed class MerkleProofPropertyTests(SharedTreeFixture fixture, ITestOutputHelper output) : IClassFixture<SharedTreeFixture>
{
    private const int Iterations = 400;
    private readonly MerkleTree _tree = fixture.Tree;

    private static readonly Gen<(int Index, int Size, int Seed)> IndexAndSize =
        from size in Gen.Int[1, SharedTreeFixture.Size]
        from index in Gen.Int[0, size - 1]
        from seed in Gen.Int
        select (index, size, seed);

    private static readonly Gen<(int OldSize, int NewSize, int Seed)> OldAndNewSize =
        from newSize in Gen.Int[1, SharedTreeFixture.Size]
        from oldSize in Gen.Int[1, newSize]
        from seed in Gen.Int
        select (oldSize, newSize, seed);

    private static Hash32 FlipBit(Hash32 hash, int bit)
    {
        var bytes = hash.ToArray();
        bytes[bit / 8 % Hash32.Size] ^= (byte)(1 << (bit % 8));
        return new Hash32(bytes);
    }

    private static Hash32 RandomHash(Random random)
    {
        var bytes = new byte[Hash32.Size];
        random.NextBytes(bytes);
        return new Hash32(bytes);
    }

    [Fact]
    public void Inclusion_proofs_verify_and_any_alteration_fails()
    {
        var ambiguousSizes = 0;
        IndexAndSize.Sample(
            sample =>
            {
                var (index, size, seed) = sample;
                var random = new Random(seed);
                var leaf = Leaf(index);
                var root = _tree.RootAt(size);
                var proof = _tree.GetInclusionProof(index, size);
                var path = _tree.GetInclusionPath(index, size);

                Assert.True(MerkleProofs.VerifyInclusion(leaf, index, size, proof, root));
                Assert.Equal(root, MerkleProofs.Fold(leaf, path));
                Assert.True(MerkleProofs.TryRootFromInclusionProof(leaf, index, size, proof, out var computed));
                Assert.Equal(root, computed);

                if (proof.Count > 0)
                {
                    var altered = proof.ToList();
                    var at = random.Next(altered.Count);
                    altered[at] = FlipBit(altered[at], random.Next(256));
                    Assert.False(MerkleProofs.VerifyInclusion(leaf, index, size, altered, root));

                    var dropped = proof.ToList();
                    dropped.RemoveAt(random.Next(dropped.Count));
                    Assert.False(MerkleProofs.VerifyInclusion(leaf, index, size, dropped, root));

                    var otherIndex = (index + 1 + random.Next(size - 1)) % size;
                    Assert.False(MerkleProofs.VerifyInclusion(leaf, otherIndex, size, proof, root));
                }

                var added = proof.ToList();
                added.Insert(random.Next(added.Count + 1), RandomHash(random));
                Assert.False(MerkleProofs.VerifyInclusion(leaf, index, size, added, root));
                Assert.False(MerkleProofs.VerifyInclusion(FlipBit(leaf, random.Next(256)), index, size, proof, root));
                Assert.False(MerkleProofs.VerifyInclusion(leaf, index, size, proof, FlipBit(root, random.Next(256))));
                Assert.False(MerkleProofs.VerifyInclusion(leaf, size + random.Next(10), size, proof, root));
                Assert.False(MerkleProofs.VerifyInclusion(leaf, -1 - random.Next(10), size, proof, root));

                // Another size fails unless the leaf sits on an identically shaped path in a tree of that size; then
                // the proof folds the same way and the root (bound to its size only by a signature) matches.
                var otherSize = 1 + ((size + random.Next(SharedTreeFixture.Size - 1)) % SharedTreeFixture.Size);
                Assert.NotEqual(size, otherSize);
                var sameShape = otherSize > index && SameShape(path, _tree.GetInclusionPath(index, otherSize));
                ambiguousSizes += sameShape ? 1 : 0;
                Assert.Equal(sameShape, MerkleProofs.VerifyInclusion(leaf, index, otherSize, proof, root));
            },
            iter: Iterations,
            threads: 1);
        output.WriteLine($"{ambiguousSizes} of {Iterations} altered sizes had an identically shaped path");
    }

    [Fact]
    public void Consistency_proofs_verify_and_any_alteration_fails()
    {
        var ambiguous = 0;
        OldAndNewSize.Sample(
            sample =>
            {
                var (m, n, seed) = sample;
                var random = new Random(seed);
                var oldRoot = _tree.RootAt(m);
                var newRoot = _tree.RootAt(n);
                var proof = _tree.GetConsistencyProof(m, n);

                Assert.True(MerkleProofs.VerifyConsistency(m, n, oldRoot, newRoot, proof));

                if (proof.Count > 0)
                {
                    var altered = proof.ToList();
                    var at = random.Next(altered.Count);
                    altered[at] = FlipBit(altered[at], random.Next(256));
                    Assert.False(MerkleProofs.VerifyConsistency(m, n, oldRoot, newRoot, altered));

                    var dropped = proof.ToList();
                    dropped.RemoveAt(random.Next(dropped.Count));
                    Assert.False(MerkleProofs.VerifyConsistency(m, n, oldRoot, newRoot, dropped));
                }

                var added = proof.ToList();
                added.Insert(random.Next(added.Count + 1), RandomHash(random));
                Assert.False(MerkleProofs.VerifyConsistency(m, n, oldRoot, newRoot, added));
                Assert.False(MerkleProofs.VerifyConsistency(m, n, FlipBit(oldRoot, random.Next(256)), newRoot, proof));
                Assert.False(MerkleProofs.VerifyConsistency(m, n, oldRoot, FlipBit(newRoot, random.Next(256)), proof));
                Assert.False(MerkleProofs.VerifyConsistency(n + 1, n, oldRoot, newRoot, proof));
                Assert.False(MerkleProofs.VerifyConsistency(0, n, oldRoot, newRoot, proof));

                // Other sizes fail unless the verifier folds the same hashes the same way for them (see
                // SymbolicConsistency), which is a property of the sizes, not a weakness of one proof.
                var expected = SymbolicConsistency(m, n, proof.Count);
                var otherM = 1 + ((m + random.Next(SharedTreeFixture.Size - 1)) % SharedTreeFixture.Size);
                var otherN = 1 + ((n + random.Next(SharedTreeFixture.Size - 1)) % SharedTreeFixture.Size);
                var mAmbiguous = SymbolicConsistency(otherM, n, proof.Count) == expected;
                var nAmbiguous = SymbolicConsistency(m, otherN, proof.Count) == expected;
                ambiguous += (mAmbiguous ? 1 : 0) + (nAmbiguous ? 1 : 0);
                Assert.Equal(mAmbiguous, MerkleProofs.VerifyConsistency(otherM, n, oldRoot, newRoot, proof));
                Assert.Equal(nAmbiguous, MerkleProofs.VerifyConsistency(m, otherN, oldRoot, newRoot, proof));
            },
            iter: Iterations,
            threads: 1);
        output.WriteLine($"{ambiguous} of {2 * Iterations} altered sizes were folded identically");
    }

    [Fact]
    public void Known_size_ambiguities_are_what_the_oracles_say()
    {
        // Leaf 0 of 3 and of 4 fold the same way; so do consistency 2→3 and 2→4.
        Assert.True(SameShape(_tree.GetInclusionPath(0, 3), _tree.GetInclusionPath(0, 4)));
        var proof = _tree.GetInclusionProof(0, 3);
        Assert.True(MerkleProofs.VerifyInclusion(Leaf(0), 0, 4, proof, _tree.RootAt(3)));
        Assert.False(MerkleProofs.VerifyInclusion(Leaf(0), 0, 4, proof, _tree.RootAt(4)));

        var consistency = _tree.GetConsistencyProof(2, 3);
        Assert.Equal(SymbolicConsistency(2, 3, 1), SymbolicConsistency(2, 4, 1));
        Assert.True(MerkleProofs.VerifyConsistency(2, 4, _tree.RootAt(2), _tree.RootAt(3), consistency));
        Assert.False(MerkleProofs.VerifyConsistency(2, 4, _tree.RootAt(2), _tree.RootAt(4), consistency));
    }

    [Fact]
    public void Malformed_arguments_are_false_not_exceptions()
    {
        var leaf = Leaf(0);
        Assert.False(MerkleProofs.VerifyInclusion(leaf, 0, 0, [], leaf));
        Assert.True(MerkleProofs.VerifyInclusion(leaf, 0, 1, [], leaf));
        Assert.False(MerkleProofs.VerifyInclusion(leaf, 0, 1, [leaf], leaf));
        Assert.False(MerkleProofs.VerifyInclusion(leaf, long.MaxValue, long.MaxValue, [], leaf));
        Assert.False(MerkleProofs.VerifyInclusion(leaf, 0, 2, null!, leaf));
        Assert.False(MerkleProofs.VerifyConsistency(5, 5, leaf, Leaf(1), []));
        Assert.True(MerkleProofs.VerifyConsistency(5, 5, leaf, leaf, []));
        Assert.False(MerkleProofs.VerifyConsistency(5, 5, leaf, leaf, [leaf]));
        Assert.False(MerkleProofs.VerifyConsistency(4, 8, leaf, leaf, []));
        Assert.False(MerkleProofs.VerifyConsistency(-1, 8, leaf, leaf, [leaf]));
        Assert.False(MerkleProofs.VerifyConsistency(3, 8, leaf, leaf, null!));
        Assert.False(MerkleProofs.VerifyConsistency(long.MaxValue - 1, long.MaxValue, leaf, leaf, [leaf, leaf]));
        Assert.Equal(leaf, MerkleProofs.Fold(leaf, []));
    }

    private static bool SameShape(ProofStep[] a, ProofStep[] b) =>
        a.Length == b.Length && a.Select(s => s.SiblingIsLeft).SequenceEqual(b.Select(s => s.SiblingIsLeft));

    /// <summary>
    /// The RFC 9162 §2.1.4.2 verifier run on symbols: the expressions that must equal the old and the new root for
    /// sizes (m, n) and a proof of <paramref name="length"/> hashes p0, p1, …, or null if the verifier rejects the
    /// shape outright. Two size pairs with equal expressions accept exactly the same (proof, roots).
    /// </summary>
    private static (string Old, string New)? SymbolicConsistency(long m, long n, int length)
    {
        if (m <= 0 || m > n)
        {
            return null;
        }

        if (m == n)
        {
            return length == 0 ? ("old", "old") : null;
        }

        if (length == 0)
        {
            return null;
        }

        var path = Enumerable.Range(0, length).Select(i => $"p{i}").ToList();
        if ((m & (m - 1)) == 0)
        {
            path.Insert(0, "old");
        }

        var fn = m - 1;
        var sn = n - 1;
        while ((fn & 1) == 1)
        {
            fn >>= 1;
            sn >>= 1;
        }

        string fr = path[0], sr = path[0];
        foreach (var c in path.Skip(1))
        {
            if (sn == 0)
            {
                return null;
            }

            if ((fn & 1) == 1 || fn == sn)
            {
                fr = $"H({c},{fr})";
                sr = $"H({c},{sr})";
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                sr = $"H({sr},{c})";
            }

            fn >>= 1;
            sn >>= 1;
        }

        return sn == 0 ? (fr, sr) : null;
    }
}
