using Vellum.Core.Format;
using Vellum.Storage.Ledger;
using Vellum.Storage.Verification;

namespace Vellum.Storage.Tests.Ledger;

/// <summary>
/// Write-behind (<see cref="LedgerStoreOptions.WriteBehindBytes"/>): behind a durable consensus log, applied batches
/// that fit gather in memory and reach the open chunk's file in one write; reads find them either way, and a sync, a
/// chunk's close, <see cref="LedgerStore.ReleaseFiles"/> and a clean stop write them out. The committed frames come
/// from a ledger written through the ordinary path and are applied here one by one, as a round of a node's log
/// carries a ledger's few transactions.
/// </summary>
public sealed class WriteBehindTests : IDisposable
{
    private readonly TestLedger _ledger = new();
    private List<byte[]> _frames = [];

    [Fact]
    public async Task Batches_that_fit_stay_in_memory_are_read_back_and_reach_the_file_at_a_sync()
    {
        await WriteSourceAsync(60);
        var options = Target("gather", writeBehind: 64 * 1024);
        var store = LedgerStore.Open(options, _ledger.Secret, _ledger.Service.Certificate);
        try
        {
            ApplyAll(store);
            Assert.Equal(_frames.Count, store.DurableSeqno);

            // Nothing but the chunk's header is in the file yet.
            Assert.Equal(ChunkFormat.HeaderSize, OpenChunkLength(options));
            for (var seqno = 1; seqno <= _frames.Count; seqno++)
            {
                Assert.Equal(_frames[seqno - 1].AsSpan(Frame.HeaderSize).ToArray(), store.ReadBody(seqno));
            }

            Assert.Equal(Concat(_frames), store.ReadFrames(1, int.MaxValue, out var last));
            Assert.Equal(_frames.Count, last);

            store.SyncToDisk();
            Assert.Equal(ChunkFormat.HeaderSize + _frames.Sum(f => f.Length), OpenChunkLength(options));
            Assert.Equal(1, store.SnapshotSyncs);
        }
        finally
        {
            await store.DisposeAsync();
        }

        await using var reopened = LedgerStore.Open(options, _ledger.Secret, _ledger.Service.Certificate);
        Assert.Equal(_frames.Count, reopened.DurableSeqno);
        var (summary, failure) = LedgerDirectoryVerifier.Verify(options.LedgerDirectory, _ledger.Service.Certificate, _ledger.Secret);
        Assert.Null(failure);
        Assert.Equal(_frames.Count, summary!.Transactions);
    }

    [Fact]
    public async Task A_crash_before_the_tail_is_written_loses_only_what_the_log_passes_again()
    {
        await WriteSourceAsync(40);
        var options = Target("crash", writeBehind: 4096);
        var applied = 0;
        await using (var store = LedgerStore.Open(options, _ledger.Secret, _ledger.Service.Certificate))
        {
            // Up to a moment when some tails are in the file and the last one is not.
            foreach (var (total, onDisk) in ApplyOneByOne(store, options))
            {
                applied++;
                if (onDisk > ChunkFormat.HeaderSize && onDisk < total)
                {
                    break;
                }
            }

            // The files as a crash now would leave them.
            Assert.True(applied < _frames.Count, "no moment with a tail both written and gathered");
            CopyDirectory(options.LedgerDirectory, options.LedgerDirectory + "-crashed");
        }

        var crashed = options with { LedgerDirectory = options.LedgerDirectory + "-crashed", StateDirectory = options.StateDirectory + "-crashed" };
        await using var recovered = LedgerStore.Open(crashed, _ledger.Secret, _ledger.Service.Certificate);
        Assert.InRange(recovered.DurableSeqno, 1, applied - 1);

        // The consensus log passes every batch again: what the files kept is skipped, the rest applied.
        ApplyAll(recovered);
        Assert.Equal(_frames.Count, recovered.DurableSeqno);
        recovered.SyncToDisk();
        Assert.Null(LedgerDirectoryVerifier.Verify(crashed.LedgerDirectory, _ledger.Service.Certificate, _ledger.Secret).Failure);
    }

    [Fact]
    public async Task A_batch_past_the_limit_goes_to_the_file_with_the_tail_in_one_write()
    {
        await WriteSourceAsync(60);
        var options = Target("limit", writeBehind: 2048);
        await using var store = LedgerStore.Open(options, _ledger.Secret, _ledger.Service.Certificate);
        var lengths = new HashSet<long>();
        foreach (var (total, onDisk) in ApplyOneByOne(store, options))
        {
            Assert.InRange(total - onDisk, 0, 2048);
            lengths.Add(onDisk);
        }

        // The file grew in steps, several frames at a time, not frame by frame and not only at the end.
        Assert.InRange(lengths.Count, 3, _frames.Count / 2);
    }

    [Fact]
    public async Task With_no_write_behind_each_batch_is_in_the_file_at_once()
    {
        await WriteSourceAsync(10);
        var options = Target("none", writeBehind: 0);
        await using var store = LedgerStore.Open(options, _ledger.Secret, _ledger.Service.Certificate);
        foreach (var (total, onDisk) in ApplyOneByOne(store, options))
        {
            Assert.Equal(total, onDisk);
        }
    }

    [Fact]
    public async Task Closing_a_chunk_and_releasing_files_write_the_tail_first()
    {
        await WriteSourceAsync(200);
        var options = Target("close", writeBehind: 64 * 1024) with { ChunkSizeThreshold = 4096 };
        await using var store = LedgerStore.Open(options, _ledger.Secret, _ledger.Service.Certificate);

        // All but the last signature (which could close a chunk): the last entries are in the open chunk's tail.
        _frames.RemoveAt(_frames.Count - 1);
        ApplyAll(store);

        // Every closed chunk is whole on disk (the verifier reads the files only); the open one lacks its tail.
        Assert.True(Directory.GetFiles(options.LedgerDirectory, "*.committed").Length >= 2);
        var (before, failureBefore) = LedgerDirectoryVerifier.Verify(options.LedgerDirectory, _ledger.Service.Certificate, _ledger.Secret);
        Assert.Null(failureBefore);
        Assert.InRange(before!.Transactions, 1, _frames.Count - 1);

        store.ReleaseFiles();
        var (summary, failure) = LedgerDirectoryVerifier.Verify(options.LedgerDirectory, _ledger.Service.Certificate, _ledger.Secret);
        Assert.Null(failure);
        Assert.Equal(_frames.Count, summary!.Transactions);

        // After the release, reads and the next write open the file again.
        Assert.Equal(_frames[^1].AsSpan(Frame.HeaderSize).ToArray(), store.ReadBody(_frames.Count));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1024 * 1024 + 1)]
    public void A_write_behind_size_out_of_range_is_refused(int bytes) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Target("bad", writeBehind: 0) with { WriteBehindBytes = bytes });

    public void Dispose() => _ledger.Dispose();

    /// <summary>Writes <paramref name="entries"/> entries (and their signatures) and keeps every frame.</summary>
    private async Task WriteSourceAsync(int entries)
    {
        await using (var source = _ledger.Open())
        {
            await TestLedger.AppendMany(source, entries, concurrency: 1);
            await source.WaitForCommitAsync(source.LastSeqno);
            _frames = [];
            for (var seqno = 1L; seqno <= source.DurableSeqno; seqno++)
            {
                _frames.Add(source.ReadFrames(seqno, 1, out _));
            }
        }
    }

    /// <summary>A store of its own folder behind a durable log; one chunk unless a test makes them small.</summary>
    private LedgerStoreOptions Target(string name, int writeBehind) => _ledger.Options(chunkSize: 1 << 20) with
    {
        LedgerDirectory = Path.Combine(_ledger.Root, name, "ledger"),
        StateDirectory = Path.Combine(_ledger.Root, name, "state"),
        SyncEachBatch = false,
        WriteBehindBytes = writeBehind,
    };

    private void ApplyAll(LedgerStore store)
    {
        foreach (var frame in _frames)
        {
            store.ApplyCommitted(frame);
        }
    }

    /// <summary>Applies the frames one by one; after each, the chunk's length so far and its open file's length.</summary>
    private IEnumerable<(long Total, long OnDisk)> ApplyOneByOne(LedgerStore store, LedgerStoreOptions options)
    {
        var total = (long)ChunkFormat.HeaderSize;
        foreach (var frame in _frames)
        {
            store.ApplyCommitted(frame);
            total += frame.Length;
            yield return (total, OpenChunkLength(options));
        }
    }

    private static long OpenChunkLength(LedgerStoreOptions options)
    {
        var open = Directory.GetFiles(options.LedgerDirectory, "ledger_*").Where(f => !f.EndsWith(".committed", StringComparison.Ordinal)).ToList();
        return new FileInfo(Assert.Single(open)).Length;
    }

    private static byte[] Concat(List<byte[]> frames) => [.. frames.SelectMany(f => f)];

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }
}
