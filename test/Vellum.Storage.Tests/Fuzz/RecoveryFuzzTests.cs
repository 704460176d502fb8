using Vellum.Core.Format;
using Vellum.Storage.Ledger;
using Vellum.Storage.Verification;

namespace Vellum.Storage.Tests.Fuzz;

/// <summary>A small Private ledger whose last chunk is open, and everything needed to judge a recovery of a copy of it.</summary>
public sealed class OpenChunkLedger : IAsyncLifetime
{
    internal TestLedger Ledger { get; private set; } = null!;

    public string OpenChunkName { get; private set; } = null!;

    public byte[] OpenChunk { get; private set; } = null!;

    public long OpenFirstSeqno { get; private set; }

    /// <summary>Every transaction's body, index = seqno.</summary>
    public List<byte[]> Bodies { get; } = [[]];

    /// <summary>End offset of each frame of the open chunk, in seqno order from <see cref="OpenFirstSeqno"/>.</summary>
    public List<int> OpenFrameEnds { get; } = [];

    public async ValueTask InitializeAsync()
    {
        Ledger = new TestLedger(isPrivate: true);
        var options = Ledger.Options(chunkSize: 6 * 1024, durable: false);
        await using (var store = Ledger.Open(options, signatureInterval: 7))
        {
            for (var i = 0; i < 60; i++)
            {
                await store.AppendAsync(TestLedger.Entry(i, tags: i % 3 == 0 ? ["t"] : []));
            }

            await store.WaitForCommitAsync(store.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        }

        // Reopened with a large chunk threshold, so the open chunk surely holds a few signatures and entries.
        await using (var store = Ledger.Open(Ledger.Options(chunkSize: 1 << 20, durable: false), signatureInterval: 7))
        {
            for (var i = 60; i < 80; i++)
            {
                await store.AppendAsync(TestLedger.Entry(i, tags: i % 3 == 0 ? ["t"] : []));
            }

            await store.WaitForCommitAsync(store.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            for (long s = 1; s <= store.LastSeqno; s++)
            {
                Bodies.Add(store.ReadBody(s));
            }
        }

        var open = Directory.GetFiles(Ledger.Data.Default.Chunks).Single(f => ChunkFormat.TryParseName(Path.GetFileName(f), out _, out _, out var c) && !c);
        OpenChunkName = Path.GetFileName(open);
        OpenChunk = File.ReadAllBytes(open);
        Assert.True(ChunkFormat.TryParseName(OpenChunkName, out var first, out _, out _));
        OpenFirstSeqno = first;
        var offset = ChunkFormat.HeaderSize;
        while (offset < OpenChunk.Length)
        {
            Assert.Equal(FrameStatus.Ok, Frame.TryRead(OpenChunk.AsSpan(offset), out var length));
            offset += Frame.HeaderSize + length;
            OpenFrameEnds.Add(offset);
        }

        Assert.Equal(Bodies.Count - 1, OpenFirstSeqno + OpenFrameEnds.Count - 1);
        Assert.True(OpenFrameEnds.Count >= 5, $"open chunk holds {OpenFrameEnds.Count} entries");
    }

    public ValueTask DisposeAsync()
    {
        Ledger.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Recovery of a mutated open chunk: the store either opens — and then the directory verifies and every transaction
/// written before the first changed byte reads back unchanged — or refuses with <see cref="LedgerCorruptException"/>.
/// Nothing else, and never a hang.
/// </summary>
public sealed class RecoveryFuzzTests(OpenChunkLedger fixture, ITestOutputHelper output) : IClassFixture<OpenChunkLedger>
{
    private const int Iterations = 100;

    [Fact]
    public async Task A_mutated_open_chunk_either_recovers_intact_or_is_refused_as_corrupt()
    {
        var fields = new List<int> { 16 };
        var start = ChunkFormat.HeaderSize;
        foreach (var end in fixture.OpenFrameEnds)
        {
            fields.Add(start);
            fields.Add(start + Frame.HeaderSize + 4);
            start = end;
        }

        int opened = 0, refused = 0, noOps = 0;
        for (var i = 0; i < Iterations; i++)
        {
            var seed = VerifierFuzzTests.BaseSeed + 2_000_000 + (ulong)i;
            var mutation = Mutation.ForSeed(seed);
            var mutated = mutation.Apply(fixture.OpenChunk, fields);
            if (mutated.AsSpan().SequenceEqual(fixture.OpenChunk))
            {
                noOps++;
                continue;
            }

            var what = $"case seed {seed} (VELLUM_FUZZ_SEED={VerifierFuzzTests.BaseSeed}, case {i}): {mutation}";
            var firstChange = mutated.AsSpan().CommonPrefixLength(fixture.OpenChunk);
            var intact = fixture.OpenFirstSeqno - 1 + fixture.OpenFrameEnds.Count(end => end <= firstChange);
            if (await RecoverCopy(mutated, intact, what))
            {
                opened++;
            }
            else
            {
                refused++;
            }
        }

        output.WriteLine($"{Iterations} cases: {opened} opened, {refused} refused as corrupt, {noOps} no-ops");
        Assert.True(opened > 0 && refused > 0, $"{opened} opened, {refused} refused: the corpus should reach both outcomes");
    }

    /// <summary>True when the store opened (and passed the checks), false when it refused with LedgerCorruptException.</summary>
    private async Task<bool> RecoverCopy(byte[] mutated, long intact, string what)
    {
        var root = Path.Combine(Path.GetTempPath(), "vellum-fuzz-" + Guid.NewGuid().ToString("N"));
        CopyDirectory(fixture.Ledger.Root, root);
        File.WriteAllBytes(Path.Combine(new DataDirectory(root).Default.Chunks, fixture.OpenChunkName), mutated);
        using var copy = new TestLedger(isPrivate: true, root: root);
        var options = copy.Options(chunkSize: 6 * 1024, durable: false);
        TestStore store;
        try
        {
            store = await Task.Run(() => copy.Open(options, signatureInterval: 7)).WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
        }
        catch (LedgerCorruptException)
        {
            return false;
        }
        catch (Exception ex) when (ex is not TimeoutException)
        {
            Assert.Fail($"{what}: open threw {ex}");
            throw;
        }

        try
        {
            Assert.True(store.LastSeqno >= intact, $"{what}: opened with {store.LastSeqno} transactions; {intact} were before the change");
            for (long s = 1; s <= intact; s++)
            {
                Assert.True(store.ReadBody(s).AsSpan().SequenceEqual(fixture.Bodies[(int)s]), $"{what}: transaction {s} reads back changed");
                if (store.ReadHeader(s).Kind == Vellum.Core.Entries.EntryKind.UserEntry)
                {
                    store.ReadUserEntry(s); // decrypts
                }
            }
        }
        finally
        {
            await store.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
        }

        var (_, failure) = LedgerDirectoryVerifier.Verify(copy.Data.Default.Chunks, copy.Service.Certificate, copy.Secret);
        Assert.True(failure is null, $"{what}: recovered ledger fails verification: {failure}");
        return true;
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        foreach (var directory in Directory.GetDirectories(from))
        {
            CopyDirectory(directory, Path.Combine(to, Path.GetFileName(directory)));
        }
    }
}
