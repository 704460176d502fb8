using Vellum.TestSupport.Consensus;

namespace Vellum.Consensus.Tests;

public sealed class InMemoryConsensusClusterTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private static async Task<(InMemoryConsensusCluster Cluster, RecordingApplier[] Appliers)> StartAsync(int nodes)
    {
        var cluster = new InMemoryConsensusCluster(nodes);
        var appliers = new RecordingApplier[nodes];
        for (var i = 0; i < nodes; i++)
        {
            appliers[i] = new RecordingApplier();
            await cluster[i].StartAsync(appliers[i], CancellationToken.None);
        }

        return (cluster, appliers);
    }

    private static ValueTask<LogPosition> Write(InMemoryConsensusNode node, string text) =>
        node.ReplicateAsync(RecordingApplier.Batch(text), CancellationToken.None);

    [Fact]
    public async Task A_write_commits_and_applies_on_every_connected_node_in_the_same_order()
    {
        var (cluster, appliers) = await StartAsync(3);
        await cluster.ElectLeaderAsync(0);
        Assert.True(cluster[0].IsLeader);
        Assert.Equal(1, cluster[0].Term);
        await cluster[0].WaitForLeaderReadyAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);

        var first = await Write(cluster[0], "a");
        var second = await Write(cluster[0], "b");

        Assert.Equal(new LogPosition(1, 2), first); // index 1 is the term's no-op
        Assert.Equal(new LogPosition(1, 3), second);
        foreach (var applier in appliers)
        {
            Assert.Equal([(first, "a"), (second, "b")], applier.Applied);
        }

        Assert.All(cluster.Nodes, n => Assert.Equal(3, n.CommitIndex));
        Assert.All(cluster.Nodes, n => Assert.Equal(cluster[0].EndPoint, n.LeaderEndPoint));
    }

    [Fact]
    public async Task A_write_needs_a_majority_one_isolated_follower_is_fine_two_are_not()
    {
        var (cluster, appliers) = await StartAsync(3);
        await cluster.ElectLeaderAsync(0);

        cluster.Isolate(2);
        var withMajority = await Write(cluster[0], "two of three");
        Assert.Equal(["two of three"], appliers[0].Batches);
        Assert.Equal(["two of three"], appliers[1].Batches);
        Assert.Empty(appliers[2].Batches);

        cluster.Isolate(1);
        var withoutMajority = Write(cluster[0], "one of three").AsTask();
        await Task.Delay(50);
        Assert.False(withoutMajority.IsCompleted);
        Assert.Equal(withMajority.Index, cluster[0].CommitIndex);
        Assert.Equal(["two of three"], appliers[0].Batches); // not applied without a commit

        // Healing brings the majority back: the pending write commits under the same leader, everywhere.
        await cluster.HealAsync();
        var position = await withoutMajority.WaitAsync(Timeout);
        Assert.Equal(withMajority.Index + 1, position.Index);
        Assert.All(appliers, a => Assert.Equal(["two of three", "one of three"], a.Batches));
    }

    [Fact]
    public async Task An_isolated_leaders_writes_never_apply_and_fail_once_a_new_leader_is_known()
    {
        var (cluster, appliers) = await StartAsync(3);
        await cluster.ElectLeaderAsync(0);
        await Write(cluster[0], "before");

        cluster.Isolate(0);
        var stale = Write(cluster[0], "stale").AsTask(); // the old leader still believes it leads
        await cluster.ElectLeaderAsync(1);
        Assert.True(cluster[0].IsLeader); // it cannot know yet
        var staleToken = cluster[0].LeadershipToken;
        var fresh = await Write(cluster[1], "fresh");
        Assert.Equal(2, fresh.Term);
        Assert.False(stale.IsCompleted);

        await cluster.HealAsync();

        var error = await Assert.ThrowsAsync<ConsensusNotLeaderException>(() => stale.WaitAsync(Timeout));
        Assert.Contains("unknown", error.Message, StringComparison.Ordinal);
        Assert.True(staleToken.IsCancellationRequested);
        Assert.False(cluster[0].IsLeader);
        await Assert.ThrowsAsync<ConsensusNotLeaderException>(() => Write(cluster[0], "late").AsTask());

        // One history on every node: the stale entry was discarded from node 0's log, never applied anywhere.
        Assert.All(appliers, a => Assert.Equal(["before", "fresh"], a.Batches));
        var expected = cluster[1].LogSnapshot().Select(e => (e.Term, Convert.ToHexString(e.Batch.Span))).ToList();
        Assert.All(cluster.Nodes, n => Assert.Equal(expected, n.LogSnapshot().Select(e => (e.Term, Convert.ToHexString(e.Batch.Span))).ToList()));
        Assert.Equal(cluster[1].EndPoint, cluster[0].LeaderEndPoint);
    }

    [Fact]
    public async Task Elections_need_a_connected_majority_and_an_up_to_date_candidate()
    {
        var (cluster, appliers) = await StartAsync(3);
        await cluster.ElectLeaderAsync(0);
        await Write(cluster[0], "a");

        cluster.Isolate(0);
        await Assert.ThrowsAsync<InvalidOperationException>(() => cluster.ElectLeaderAsync(0).AsTask()); // isolated
        cluster.Isolate(1);
        await Assert.ThrowsAsync<InvalidOperationException>(() => cluster.ElectLeaderAsync(2).AsTask()); // 1 of 3 connected
        await cluster.HealAsync();

        // Node 2 misses "b", then the leader crashes: nodes 1 and 2 are a majority without a leader.
        cluster.Isolate(2);
        await Write(cluster[0], "b");
        await cluster[0].DisposeAsync();
        await cluster.HealAsync();
        Assert.Null(cluster[2].LeaderEndPoint); // the healed group knows no leader until it elects one
        Assert.Equal(["a"], appliers[2].Batches);

        // Raft's election restriction: node 1's log is more up to date than node 2's, so node 2 cannot win.
        await Assert.ThrowsAsync<InvalidOperationException>(() => cluster.ElectLeaderAsync(2).AsTask());
        await cluster.ElectLeaderAsync(1);

        await Write(cluster[1], "c");
        Assert.Equal(["a", "b", "c"], appliers[1].Batches);
        Assert.Equal(["a", "b", "c"], appliers[2].Batches);
        Assert.Equal(["a", "b"], appliers[0].Batches); // the crashed node stays out
    }

    [Fact]
    public async Task A_node_started_late_replays_committed_batches_after_its_appliers_index()
    {
        var cluster = new InMemoryConsensusCluster(3);
        var a0 = new RecordingApplier();
        var a1 = new RecordingApplier();
        await cluster[0].StartAsync(a0, CancellationToken.None);
        await cluster[1].StartAsync(a1, CancellationToken.None);
        await cluster.ElectLeaderAsync(0);
        var first = await Write(cluster[0], "a");
        await Write(cluster[0], "b");

        var late = new RecordingApplier(lastAppliedIndex: first.Index); // already holds "a"
        await cluster[2].StartAsync(late, CancellationToken.None);

        Assert.Equal(["b"], late.Batches);
        Assert.Equal(0, late.IgnoredCalls); // "a" was not offered again
    }

    [Fact]
    public async Task Waiting_for_readiness_on_a_follower_completes_when_it_becomes_leader()
    {
        var (cluster, _) = await StartAsync(3);
        await cluster.ElectLeaderAsync(0);
        var wait = cluster[1].WaitForLeaderReadyAsync(CancellationToken.None).AsTask();
        Assert.False(wait.IsCompleted);
        await Assert.ThrowsAsync<ConsensusNotLeaderException>(() => Write(cluster[1], "x").AsTask());

        await cluster.ElectLeaderAsync(1);

        await wait.WaitAsync(Timeout);
        Assert.True(cluster[1].IsLeader);
        Assert.Equal(2, cluster[1].Term);
        Assert.Equal(cluster[1].EndPoint, cluster[1].LeaderEndPoint);
        Assert.False(cluster[0].IsLeader);
    }
}
