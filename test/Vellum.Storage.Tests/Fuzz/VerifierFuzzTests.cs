using System.Diagnostics;
using Vellum.Core.Format;
using Vellum.Core.Verification;
using Vellum.Storage.Tests.Verification;

namespace Vellum.Storage.Tests.Fuzz;

/// <summary>
/// Mutated copies of real committed chunks: the verifier and every parser never throw, finish quickly, and the verifier
/// reports every change. The corpus is fixed by <see cref="BaseSeed"/> (override with VELLUM_FUZZ_SEED to explore).
/// </summary>
public sealed class VerifierFuzzTests(GeneratedLedger generated, ITestOutputHelper output) : IClassFixture<GeneratedLedger>
{
    private const ulong DefaultSeed = 0x5EED_0001;
    private const int Iterations = 2000;

    internal static ulong BaseSeed =>
        ulong.TryParse(Environment.GetEnvironmentVariable("VELLUM_FUZZ_SEED"), out var seed) ? seed : DefaultSeed;

    /// <summary>Offsets of every length and count field: frame lengths, entry public lengths, positions, trailer count.</summary>
    internal static List<int> Fields(byte[] file, bool committed)
    {
        var fields = new List<int>();
        foreach (var region in GeneratedLedger.Map(file, committed))
        {
            if (region.Kind == "frame header")
            {
                fields.Add(region.Start);
                fields.Add(region.Start + Frame.HeaderSize + 4);
            }
            else if (region.Kind == "positions table")
            {
                for (var p = region.Start; p < region.End; p += 8)
                {
                    fields.Add(p);
                }
            }
        }

        fields.Add(file.Length - ChunkFormat.TrailerSize);
        fields.Add(16);
        return fields;
    }

    [Fact]
    public async Task Mutated_committed_chunks_are_always_reported_and_never_crash_the_readers()
    {
        var chunks = generated.Chunks;
        Assert.EndsWith(ChunkFormat.CommittedSuffix, chunks[1].Name, StringComparison.Ordinal);
        var fields = chunks.Take(2).Select(c => Fields(c.Bytes, committed: true)).ToArray();
        var certificate = generated.Ledger.Service.Certificate;
        var secret = generated.Ledger.Secret;
        var noOps = 0;
        var slowest = TimeSpan.Zero;
        var byKind = new Dictionary<string, int>();
        var total = Stopwatch.StartNew();

        await Task.Run(() =>
        {
            for (var i = 0; i < Iterations; i++)
            {
                var seed = BaseSeed + (ulong)i;
                var mutation = Mutation.ForSeed(seed);
                var target = i % 4 == 3 ? 1 : 0;
                var (name, original) = chunks[target];
                var mutated = mutation.Apply(original, fields[target]);
                var what = $"case seed {seed} (VELLUM_FUZZ_SEED={BaseSeed}, case {i}) on {name}: {mutation}";
                if (mutated.AsSpan().SequenceEqual(original))
                {
                    noOps++;
                    continue;
                }

                var verifier = new LedgerVerifier(certificate, secret);
                if (target == 1)
                {
                    Assert.Null(verifier.VerifyChunk(chunks[0].Name, chunks[0].Bytes));
                }

                var stopwatch = Stopwatch.StartNew();
                VerificationFailure? failure;
                try
                {
                    failure = verifier.VerifyChunk(name, mutated);
                    ChunkParsers.ReadEverything(mutated, secret);
                }
                catch (Exception ex)
                {
                    Assert.Fail($"{what}: threw {ex}");
                    throw;
                }

                var elapsed = stopwatch.Elapsed;
                slowest = elapsed > slowest ? elapsed : slowest;
                Assert.True(elapsed < TimeSpan.FromSeconds(2), $"{what}: took {elapsed}");
                Assert.True(failure is not null, $"{what}: the change was not reported");
                Assert.Equal(name, failure.File);
                var key = failure.Message.Split(' ', 4) is [var a, var b, var c, ..] ? $"{a} {b} {c}" : failure.Message;
                byKind[key] = byKind.GetValueOrDefault(key) + 1;
            }
        }).WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);

        output.WriteLine($"{Iterations} cases from seed {BaseSeed} in {total.Elapsed.TotalSeconds:F1} s: {noOps} no-ops, slowest {slowest.TotalMilliseconds:F1} ms");
        foreach (var (key, count) in byKind.OrderByDescending(p => p.Value))
        {
            output.WriteLine($"{count,6}  {key}…");
        }

        Assert.True(noOps < Iterations / 10, $"{noOps} no-op mutations");
    }

    [Fact]
    public async Task Mutated_entry_bodies_never_crash_the_decoders()
    {
        // Straight at the entry decoders, past the frame checksum that guards them in a file.
        var bodies = new List<byte[]>();
        foreach (var (name, bytes) in generated.Chunks.Take(3))
        {
            foreach (var region in GeneratedLedger.Map(bytes, name.EndsWith(ChunkFormat.CommittedSuffix, StringComparison.Ordinal)))
            {
                if (region.Kind == "frame header")
                {
                    Assert.Equal(FrameStatus.Ok, Frame.TryRead(bytes.AsSpan(region.Start), out var length));
                    bodies.Add(bytes.AsSpan(region.End, length).ToArray());
                }
            }
        }

        var secret = generated.Ledger.Secret;
        await Task.Run(() =>
        {
            for (var i = 0; i < 3000; i++)
            {
                var seed = BaseSeed + 1_000_000 + (ulong)i;
                var mutation = Mutation.ForSeed(seed);
                var body = bodies[i % bodies.Count];
                int[] fields = [4, 8, 16, 88, 88 + 8, 88 + 80]; // public length, view, seqno, and the first u16/u64 of each section
                var mutated = mutation.Apply(body, fields);
                try
                {
                    ChunkParsers.ReadBody(mutated, secret);
                }
                catch (Exception ex)
                {
                    Assert.Fail($"case seed {seed} (VELLUM_FUZZ_SEED={BaseSeed}) on body {i % bodies.Count}: {mutation}: threw {ex}");
                }
            }
        }).WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);
    }

    [Fact]
    public void The_seed_fixes_the_corpus() =>
        Assert.Equal(Mutation.ForSeed(BaseSeed + 17).ToString(), Mutation.ForSeed(BaseSeed + 17).ToString());
}
