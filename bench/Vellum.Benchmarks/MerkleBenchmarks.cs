using BenchmarkDotNet.Attributes;
using Vellum.Core.Merkle;
using Vellum.Core.Primitives;

namespace Vellum.Benchmarks;

/// <summary>Appending leaves: the tiled tree the node keeps (over an in-memory tile store) and the frontier the verifier keeps.</summary>
[MemoryDiagnoser]
[ShortRunJob]
public class MerkleAppendBenchmarks
{
    private const int Leaves = 65_536;
    private Hash32[] _leaves = [];

    [GlobalSetup]
    public void Setup()
    {
        _leaves = new Hash32[Leaves];
        for (var i = 0; i < Leaves; i++)
        {
            _leaves[i] = Hash32.Compute(BitConverter.GetBytes(i));
        }
    }

    /// <summary>Per leaf: one SHA-256 amortized, plus writing every full tile (8 KiB per 256 nodes) to the store.</summary>
    [Benchmark(OperationsPerInvoke = Leaves)]
    public long MerkleTree_Append()
    {
        var tree = new MerkleTree(new MemoryTileStore());
        foreach (var leaf in _leaves)
        {
            tree.Append(leaf);
        }

        return tree.Size;
    }

    [Benchmark(OperationsPerInvoke = Leaves)]
    public long MerkleFrontier_Append()
    {
        var frontier = new MerkleFrontier();
        foreach (var leaf in _leaves)
        {
            frontier.Append(leaf);
        }

        return frontier.Size;
    }
}

/// <summary>Inclusion proofs on a tree of 1M leaves whose tiles sit in memory: random (mostly cold-cache) and recent leaves.</summary>
[MemoryDiagnoser]
[ShortRunJob]
public class InclusionProofBenchmarks
{
    private const int TreeSize = 1 << 20;
    private const int Proofs = 1024;
    private MerkleTree _tree = null!;
    private long[] _random = [];
    private long[] _recent = [];

    [GlobalSetup]
    public void Setup()
    {
        _tree = new MerkleTree(new MemoryTileStore());
        for (var i = 0; i < TreeSize; i++)
        {
            _tree.Append(Hash32.Compute(BitConverter.GetBytes(i)));
        }

        var random = new Random(42);
        _random = new long[Proofs];
        _recent = new long[Proofs];
        for (var i = 0; i < Proofs; i++)
        {
            _random[i] = random.NextInt64(TreeSize);
            _recent[i] = TreeSize - 1 - random.Next(10_000);
        }
    }

    [Benchmark(OperationsPerInvoke = Proofs)]
    public int GetInclusionPath_Random()
    {
        var steps = 0;
        foreach (var index in _random)
        {
            steps += _tree.GetInclusionPath(index, TreeSize).Length;
        }

        return steps;
    }

    [Benchmark(OperationsPerInvoke = Proofs)]
    public int GetInclusionPath_Recent()
    {
        var steps = 0;
        foreach (var index in _recent)
        {
            steps += _tree.GetInclusionPath(index, TreeSize).Length;
        }

        return steps;
    }
}
