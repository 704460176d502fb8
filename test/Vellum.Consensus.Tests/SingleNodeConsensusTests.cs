using System.Net;

namespace Vellum.Consensus.Tests;

public sealed class SingleNodeConsensusTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Batches_are_applied_in_order_with_consecutive_indexes_and_the_fixed_term()
    {
        var applier = new RecordingApplier();
        await using var log = new SingleNodeConsensus(term: 3);
        await log.StartAsync(applier, CancellationToken.None);

        Assert.True(log.IsLeader);
        Assert.Equal(3, log.Term);
        for (var i = 1; i <= 5; i++)
        {
            var position = await log.ReplicateAsync(RecordingApplier.Batch($"b{i}"), CancellationToken.None).AsTask().WaitAsync(Timeout);
            Assert.Equal(new LogPosition(3, i), position);
            Assert.Equal(i, applier.Count); // applied before ReplicateAsync returned
        }

        Assert.Equal(["b1", "b2", "b3", "b4", "b5"], applier.Batches);
        Assert.Equal(5, log.CommitIndex);
    }

    [Fact]
    public async Task Batches_are_applied_on_the_logs_own_writer_thread_never_a_thread_pool_thread()
    {
        var applier = new ThreadRecordingApplier();
        await using var log = new SingleNodeConsensus(term: 1);
        await log.StartAsync(applier, CancellationToken.None);

        // Handing over only queues: several batches can be handed over before the first is applied.
        var handed = new List<Task<LogPosition>>();
        for (var i = 0; i < 10; i++)
        {
            handed.Add(await log.BeginReplicateAsync(RecordingApplier.Batch($"b{i}"), CancellationToken.None));
        }

        var positions = await Task.WhenAll(handed).WaitAsync(Timeout);
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), positions.Select(p => p.Index));
        Assert.Equal(10, applier.Threads.Count);
        Assert.Single(applier.Threads.Distinct());
        Assert.DoesNotContain(true, applier.OnPool);
    }

    [Fact]
    public async Task A_stop_applies_what_was_handed_over_first_then_refuses_more()
    {
        var applier = new ThreadRecordingApplier();
        var log = new SingleNodeConsensus(term: 1);
        await log.StartAsync(applier, CancellationToken.None);
        var handed = await log.BeginReplicateAsync(RecordingApplier.Batch("last"), CancellationToken.None);
        await log.DisposeAsync().AsTask().WaitAsync(Timeout);

        Assert.Equal(1, (await handed.WaitAsync(Timeout)).Index);
        await Assert.ThrowsAsync<ConsensusNotLeaderException>(() => log.BeginReplicateAsync(RecordingApplier.Batch("late"), CancellationToken.None).AsTask());
    }

    /// <summary>Records which thread applied each batch.</summary>
    private sealed class ThreadRecordingApplier : IConsensusApplier
    {
        public List<int> Threads { get; } = [];

        public List<bool> OnPool { get; } = [];

        public long LastAppliedIndex { get; private set; }

        public ValueTask ApplyAsync(LogPosition position, ReadOnlyMemory<byte> batch, CancellationToken token)
        {
            lock (Threads)
            {
                Threads.Add(Environment.CurrentManagedThreadId);
                OnPool.Add(Thread.CurrentThread.IsThreadPoolThread);
            }

            LastAppliedIndex = position.Index;
            return ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task Concurrent_writers_get_distinct_consecutive_indexes_applied_one_at_a_time()
    {
        var applier = new RecordingApplier();
        await using var log = new SingleNodeConsensus(term: 1);
        await log.StartAsync(applier, CancellationToken.None);

        var writes = Enumerable.Range(0, 50).Select(i => log.ReplicateAsync(RecordingApplier.Batch($"w{i}"), CancellationToken.None).AsTask());
        var positions = await Task.WhenAll(writes).WaitAsync(Timeout);

        Assert.Equal(Enumerable.Range(1, 50).Select(i => (long)i), positions.Select(p => p.Index).Order());
        Assert.Equal(Enumerable.Range(1, 50).Select(i => (long)i), applier.Applied.Select(a => a.Position.Index));
    }

    [Fact]
    public async Task A_restart_continues_after_the_appliers_last_index_and_replays_nothing()
    {
        var applier = new RecordingApplier();
        await using (var first = new SingleNodeConsensus(term: 1))
        {
            await first.StartAsync(applier, CancellationToken.None);
            await first.ReplicateAsync(RecordingApplier.Batch("a"), CancellationToken.None);
            await first.ReplicateAsync(RecordingApplier.Batch("b"), CancellationToken.None);
        }

        // The store reopened in a new view: the same applier state (LastAppliedIndex 2), a higher term.
        await using var second = new SingleNodeConsensus(term: 2);
        await second.StartAsync(applier, CancellationToken.None);
        Assert.Equal(2, second.CommitIndex);
        var position = await second.ReplicateAsync(RecordingApplier.Batch("c"), CancellationToken.None);

        Assert.Equal(new LogPosition(2, 3), position);
        Assert.Equal([new LogPosition(1, 1), new LogPosition(1, 2), new LogPosition(2, 3)], applier.Applied.Select(a => a.Position));
        Assert.Equal(0, applier.IgnoredCalls);
    }

    [Fact]
    public async Task A_failed_apply_does_not_consume_the_index()
    {
        var applier = new RecordingApplier { FailAtIndex = 2 };
        await using var log = new SingleNodeConsensus(term: 1);
        await log.StartAsync(applier, CancellationToken.None);
        await log.ReplicateAsync(RecordingApplier.Batch("a"), CancellationToken.None);

        await Assert.ThrowsAsync<IOException>(() => log.ReplicateAsync(RecordingApplier.Batch("b"), CancellationToken.None).AsTask());
        applier.FailAtIndex = null;
        var position = await log.ReplicateAsync(RecordingApplier.Batch("b again"), CancellationToken.None);

        Assert.Equal(2, position.Index);
        Assert.Equal(["a", "b again"], applier.Batches);
    }

    [Fact]
    public async Task Leadership_is_reported_from_start_until_disposal()
    {
        var endPoint = new IPEndPoint(IPAddress.Loopback, 7000);
        var log = new SingleNodeConsensus(term: 4, endPoint);
        Assert.False(log.IsLeader);
        Assert.True(log.LeadershipToken.IsCancellationRequested);
        await Assert.ThrowsAsync<InvalidOperationException>(() => log.ReplicateAsync(RecordingApplier.Batch("x"), CancellationToken.None).AsTask());

        await log.StartAsync(new RecordingApplier(), CancellationToken.None);
        var token = log.LeadershipToken;
        Assert.False(token.IsCancellationRequested);
        await log.WaitForLeaderReadyAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);
        Assert.Equal(endPoint, log.LeaderEndPoint);
        Assert.Equal([new ConsensusMember(endPoint, IsLocal: true, IsLeader: true)], log.Members);

        await log.DisposeAsync();
        Assert.True(token.IsCancellationRequested);
        Assert.False(log.IsLeader);
        Assert.Equal(4, log.Term);
        await Assert.ThrowsAsync<ConsensusNotLeaderException>(() => log.ReplicateAsync(RecordingApplier.Batch("x"), CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task Empty_batches_and_membership_changes_are_refused()
    {
        await using var log = new SingleNodeConsensus(term: 1);
        await log.StartAsync(new RecordingApplier(), CancellationToken.None);

        await Assert.ThrowsAsync<ArgumentException>(() => log.ReplicateAsync(ReadOnlyMemory<byte>.Empty, CancellationToken.None).AsTask());
        await Assert.ThrowsAsync<NotSupportedException>(() => log.AddMemberAsync(new DnsEndPoint("other", 1), CancellationToken.None).AsTask());
    }
}
