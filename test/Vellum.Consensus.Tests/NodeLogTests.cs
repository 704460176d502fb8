using System.Text;

namespace Vellum.Consensus.Tests;

/// <summary>
/// The node log on its own: batches of several ledgers come back per ledger and in order after a restart; a torn tail
/// is ignored; concurrent batches share fsyncs; a full segment syncs the ledgers that wrote to it before it is dropped;
/// and a ledger's log drains before it stops.
/// </summary>
public sealed class NodeLogTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vellum-nodelog-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Batches_of_every_ledger_come_back_per_ledger_in_order_and_a_torn_tail_is_ignored()
    {
        var log = NodeLog.Open(_root);
        log.Start();
        var alpha = await JoinAsync(log, "alpha");
        var beta = await JoinAsync(log, "beta");
        for (var i = 0; i < 10; i++)
        {
            await alpha.Log.ReplicateAsync(Batch($"a{i}"), CancellationToken.None);
            await beta.Log.ReplicateAsync(Batch($"b{i}"), CancellationToken.None);
        }

        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"a{i}"), alpha.Applied);
        await alpha.Log.DisposeAsync();
        await beta.Log.DisposeAsync();
        await log.DisposeAsync();

        // A crash in the middle of the next record: its first bytes are there, the rest is not.
        var segment = Assert.Single(Directory.GetFiles(_root, "*.wal"));
        var torn = new System.Buffers.ArrayBufferWriter<byte>();
        NodeLog.AppendRecord(torn, "alpha"u8, Batch("a-torn").Span);
        using (var file = File.Open(segment, FileMode.Append))
        {
            file.Write(torn.WrittenSpan[..^3]);
        }

        var reopened = NodeLog.Open(_root);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"a{i}"), reopened.Recovered("alpha").Select(Text));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"b{i}"), reopened.Recovered("beta").Select(Text));
        Assert.Empty(reopened.Recovered("gamma"));

        // Started again, then dropped: only the new (empty) segment is left, and a reopen finds nothing.
        reopened.Start();
        reopened.DropRecovered();
        await reopened.DisposeAsync();
        Assert.Single(Directory.GetFiles(_root, "*.wal"));
        var empty = NodeLog.Open(_root);
        Assert.Empty(empty.RecoveredLedgers);
        await empty.DisposeAsync();
    }

    [Fact]
    public async Task Concurrent_batches_of_several_ledgers_share_fsyncs()
    {
        var log = NodeLog.Open(_root);
        log.Start();
        var members = new List<Joined>();
        for (var l = 0; l < 8; l++)
        {
            members.Add(await JoinAsync(log, $"ledger{l}"));
        }

        var writes = members.SelectMany(m => Enumerable.Range(0, 50).Select(i => (m, i)))
            .Select(w => Task.Run(() => w.m.Log.ReplicateAsync(Batch($"{w.i}"), CancellationToken.None).AsTask()));
        await Task.WhenAll(writes).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(400, log.BatchesWritten);
        Assert.True(log.Syncs < log.BatchesWritten, $"{log.Syncs} fsyncs for {log.BatchesWritten} batches");
        Assert.All(members, m => Assert.Equal(50, m.Applied.Count));
        foreach (var member in members)
        {
            await member.Log.DisposeAsync();
        }

        await log.DisposeAsync();
    }

    [Fact]
    public async Task A_full_segment_syncs_the_ledgers_that_wrote_to_it_then_is_dropped()
    {
        var log = NodeLog.Open(_root, new NodeLogOptions { SegmentBytes = 4096 });
        log.Start();
        var alpha = await JoinAsync(log, "alpha");
        var idle = await JoinAsync(log, "idle");
        for (var i = 0; i < 40; i++)
        {
            await alpha.Log.ReplicateAsync(Batch(new string('x', 200)), CancellationToken.None);
        }

        Assert.True(alpha.Syncs > 0, "the ledger that wrote was not synced before its segment went");
        Assert.Equal(0, idle.Syncs);
        Assert.True(Directory.GetFiles(_root, "*.wal").Length <= 2, "segments were kept after their ledgers were synced");
        await alpha.Log.DisposeAsync();
        await idle.Log.DisposeAsync();
        await log.DisposeAsync();
    }

    [Fact]
    public async Task A_roll_syncs_the_ledgers_and_leaves_no_segment_with_an_earlier_batch()
    {
        var log = NodeLog.Open(_root);
        log.Start();
        var gone = await JoinAsync(log, "gone");
        var kept = await JoinAsync(log, "kept");
        for (var i = 0; i < 5; i++)
        {
            await gone.Log.ReplicateAsync(Batch($"g{i}"), CancellationToken.None);
            await kept.Log.ReplicateAsync(Batch($"k{i}"), CancellationToken.None);
        }

        // The ledger closes (as a deleted one does), then the log moves on: its batches are in no segment.
        await gone.Log.DisposeAsync();
        await log.RollAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(kept.Syncs > 0, "a ledger that wrote was not synced before its batches left the log");
        await kept.Log.ReplicateAsync(Batch("k-after"), CancellationToken.None);
        await kept.Log.DisposeAsync();
        await log.DisposeAsync();

        var reopened = NodeLog.Open(_root);
        Assert.Empty(reopened.Recovered("gone"));
        Assert.Equal(["k-after"], reopened.Recovered("kept").Select(Text));
        await reopened.DisposeAsync();

        // A roll asked of a stopped log is refused, not left waiting.
        await Assert.ThrowsAsync<ConsensusNotLeaderException>(() => reopened.RollAsync());
    }

    [Fact]
    public async Task A_stopped_ledger_log_refuses_batches_and_the_node_log_refuses_once_stopped()
    {
        var log = NodeLog.Open(_root);
        log.Start();
        var alpha = await JoinAsync(log, "alpha");
        var pending = Enumerable.Range(0, 20).Select(i => alpha.Log.BeginReplicateAsync(Batch($"{i}"), CancellationToken.None).AsTask().Unwrap()).ToArray();
        await alpha.Log.DisposeAsync();

        // Whatever was handed over before the stop was written and applied; nothing after.
        await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(20, alpha.Applied.Count);
        await Assert.ThrowsAsync<ConsensusNotLeaderException>(async () => await alpha.Log.BeginReplicateAsync(Batch("late"), CancellationToken.None));

        var beta = await JoinAsync(log, "beta");
        await log.DisposeAsync();
        await Assert.ThrowsAsync<ConsensusNotLeaderException>(async () => await beta.Log.BeginReplicateAsync(Batch("late"), CancellationToken.None));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    [Fact]
    public async Task After_a_failed_write_nothing_more_is_accepted_and_every_ledger_still_stops()
    {
        var fail = 0;
        var log = NodeLog.Open(_root, new NodeLogOptions { WriteFault = () => Volatile.Read(ref fail) == 1 ? new IOException("disk gone") : null });
        log.Start();
        var alpha = await JoinAsync(log, "alpha");
        var beta = await JoinAsync(log, "beta");
        await alpha.Log.ReplicateAsync(Batch("a0"), CancellationToken.None);
        await beta.Log.ReplicateAsync(Batch("b0"), CancellationToken.None);

        // The write of this round fails: its batch is not applied, and its writer learns why.
        Volatile.Write(ref fail, 1);
        var failed = await Assert.ThrowsAsync<IOException>(() => alpha.Log.ReplicateAsync(Batch("a1"), CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("restart to recover", failed.Message, StringComparison.Ordinal);
        Assert.Equal("disk gone", failed.InnerException?.Message);

        // Nothing after it can follow it: every ledger's later appends are refused at once, even once the disk is back.
        Volatile.Write(ref fail, 0);
        await Assert.ThrowsAsync<IOException>(() => beta.Log.ReplicateAsync(Batch("b1"), CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        await Assert.ThrowsAsync<IOException>(() => alpha.Log.ReplicateAsync(Batch("a2"), CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(["a0"], alpha.Applied);
        Assert.Equal(["b0"], beta.Applied);

        // Each ledger's log drains and stops, and so does the node log.
        await alpha.Log.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        await beta.Log.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        await log.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        // What was written before the failure comes back on the next open.
        var reopened = NodeLog.Open(_root);
        Assert.Equal(["a0"], reopened.Recovered("alpha").Select(Text));
        Assert.Equal(["b0"], reopened.Recovered("beta").Select(Text));
        await reopened.DisposeAsync();
    }

    private static ReadOnlyMemory<byte> Batch(string text) => Encoding.UTF8.GetBytes(text);

    private static string Text(byte[] batch) => Encoding.UTF8.GetString(batch);

    private static async Task<Joined> JoinAsync(NodeLog log, string name)
    {
        var joined = new Joined();
        joined.Log = log.Join(name, term: 1, () => Interlocked.Increment(ref joined.SyncCount));
        await joined.Log.StartAsync(joined, CancellationToken.None);
        return joined;
    }

    /// <summary>A ledger as the node log sees it: an applier recording what it applied, and a count of its syncs.</summary>
    private sealed class Joined : IConsensusApplier
    {
        public int SyncCount;

        public IConsensusLog Log { get; set; } = null!;

        public List<string> Applied { get; } = [];

        public int Syncs => Volatile.Read(ref SyncCount);

        public long LastAppliedIndex { get; private set; }

        public ValueTask ApplyAsync(LogPosition position, ReadOnlyMemory<byte> batch, CancellationToken token)
        {
            Assert.Equal(LastAppliedIndex + 1, position.Index);
            lock (Applied)
            {
                Applied.Add(Encoding.UTF8.GetString(batch.Span));
            }

            LastAppliedIndex = position.Index;
            return ValueTask.CompletedTask;
        }
    }
}
