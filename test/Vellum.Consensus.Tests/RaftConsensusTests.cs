using System.Diagnostics;
using Vellum.Consensus.Raft;
using Vellum.Core.Identity;

namespace Vellum.Consensus.Tests;

[CollectionDefinition(nameof(RaftCollection), DisableParallelization = true)]
public sealed class RaftCollection;

/// <summary>
/// Real DotNext Raft nodes over TCP with mutual TLS on 127.0.0.1, three or four in this process. They run one test at a
/// time (2 shared cores: parallel clusters would trade election timeouts for CPU).
/// </summary>
[Collection(nameof(RaftCollection))]
public sealed class RaftConsensusTests
{
    private const int TestTimeout = 60_000;
    private static readonly TimeSpan Timeout = RaftTestCluster.Timeout;

    private static ReadOnlyMemory<byte> Batch(string text) => RecordingApplier.Batch(text);

    [Fact(Timeout = TestTimeout)]
    public async Task Three_nodes_elect_a_leader_and_apply_the_same_batches_in_the_same_order()
    {
        await using var cluster = new RaftTestCluster(3);
        await cluster.StartAllAsync();
        var leaderIndex = await cluster.WaitForLeaderAsync();
        var leader = cluster.Nodes[leaderIndex]!;
        var followers = Enumerable.Range(0, 3).Where(i => i != leaderIndex).ToArray();

        // Followers refuse writes and name the leader.
        var refused = await Assert.ThrowsAsync<ConsensusNotLeaderException>(
            () => cluster.Nodes[followers[0]]!.ReplicateAsync(Batch("no"), CancellationToken.None).AsTask());
        await RaftTestCluster.WaitUntilAsync(
            () => followers.All(f => Equals(cluster.Nodes[f]!.LeaderEndPoint, cluster.EndPoints[leaderIndex])), Timeout, "followers to know the leader");
        Assert.True(refused.Leader is null || Equals(refused.Leader, cluster.EndPoints[leaderIndex]));

        await leader.WaitForLeaderReadyAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);
        List<LogPosition> positions = [];
        for (var i = 0; i < 10; i++)
        {
            positions.Add(await leader.ReplicateAsync(Batch($"seq{i}"), CancellationToken.None).AsTask().WaitAsync(Timeout));
        }

        // Concurrent writers too: each gets its own position.
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 10)
            .Select(i => leader.ReplicateAsync(Batch($"conc{i}"), CancellationToken.None).AsTask())).WaitAsync(Timeout);
        positions.AddRange(concurrent);

        Assert.Equal(20, positions.Distinct().Count());
        Assert.All(positions, p => Assert.Equal(leader.Term, p.Term));
        await RaftTestCluster.WaitUntilAsync(() => cluster.Appliers.All(a => a.Count == 20), Timeout, "all nodes to apply 20 batches");

        var history = cluster.Appliers[leaderIndex].Applied;
        Assert.Equal(positions.OrderBy(p => p.Index), history.Select(h => h.Position).OrderBy(p => p.Index));
        Assert.Equal(history.Select(h => h.Position).OrderBy(p => p.Index), history.Select(h => h.Position)); // log order
        Assert.All(cluster.Appliers, a => Assert.Equal(history, a.Applied));

        // The follower fsync-before-ack path ran (DurableWriteAheadLog); it is the only thing that counts it.
        Assert.All(followers, f => Assert.True(cluster.Nodes[f]!.FollowerAppendFlushes > 0, $"node {f} flushed no follower append"));
        Assert.True(leader.IsLeader);
        Assert.Equal(cluster.EndPoints[leaderIndex], leader.LeaderEndPoint);
        await RaftTestCluster.WaitUntilAsync(
            () => followers.All(f => !cluster.Nodes[f]!.IsLeader && Equals(cluster.Nodes[f]!.LeaderEndPoint, cluster.EndPoints[leaderIndex])), Timeout, "the followers to know the leader");
        Assert.Equal(3, leader.Members.Count);
        Assert.Single(leader.Members, m => m.IsLeader && m.IsLocal);
        Assert.True(leader.CommitIndex >= history[^1].Position.Index);
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Only_a_node_endorsed_by_the_service_identity_takes_part(bool endorsed)
    {
        // Four members configured everywhere; node 3's certificate comes from another service unless endorsed. Node 3
        // trusts the real service, so only the other nodes' checks of its certificate can keep it out. The endorsed
        // case is the control: the same setup with a good certificate must replicate to node 3, so a pass of the
        // other case cannot come from anything but the TLS check.
        await using var cluster = new RaftTestCluster(4);
        using var otherService = ServiceIdentity.Create();
        if (!endorsed)
        {
            cluster.UseIdentity(3, NodeIdentity.Create(otherService));
        }

        await cluster.StartAllAsync();
        var leaderIndex = await cluster.WaitForLeaderAsync();
        var leader = cluster.Nodes[leaderIndex]!;
        for (var i = 0; i < 5; i++)
        {
            await leader.ReplicateAsync(Batch($"b{i}"), CancellationToken.None).AsTask().WaitAsync(Timeout);
        }

        var good = new[] { 0, 1, 2 };
        await RaftTestCluster.WaitUntilAsync(() => good.All(i => cluster.Appliers[i].Count == 5), Timeout, "the endorsed nodes to apply");
        if (endorsed)
        {
            await RaftTestCluster.WaitUntilAsync(() => cluster.Appliers[3].Count == 5, Timeout, "node 3 to apply");
            Assert.Equal(cluster.Appliers[0].Applied, cluster.Appliers[3].Applied);
            return;
        }

        Assert.NotEqual(3, leaderIndex);

        // Several heartbeat and election periods: node 3 keeps trying and is refused every time.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(0, cluster.Appliers[3].Count);
        Assert.False(cluster.Nodes[3]!.IsLeader);
        await Assert.ThrowsAsync<ConsensusNotLeaderException>(() => cluster.Nodes[3]!.ReplicateAsync(Batch("rogue"), CancellationToken.None).AsTask());
        Assert.All(good, i => Assert.Equal(["b0", "b1", "b2", "b3", "b4"], cluster.Appliers[i].Batches));
        Assert.True(cluster.Logs.Contains(3002), "no node logged a rejected, unendorsed peer certificate");
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Stopping_the_leader_elects_a_new_one_within_3_seconds_and_writes_continue()
    {
        await using var cluster = new RaftTestCluster(3);
        await cluster.StartAllAsync();
        var oldIndex = await cluster.WaitForLeaderAsync();
        var oldTerm = cluster.Nodes[oldIndex]!.Term;
        for (var i = 0; i < 3; i++)
        {
            await cluster.Nodes[oldIndex]!.ReplicateAsync(Batch($"before{i}"), CancellationToken.None).AsTask().WaitAsync(Timeout);
        }

        var oldToken = cluster.Nodes[oldIndex]!.LeadershipToken;
        Assert.False(oldToken.IsCancellationRequested);
        var clock = Stopwatch.StartNew();
        await cluster.StopAsync(oldIndex);
        Assert.True(oldToken.IsCancellationRequested);
        var rest = Enumerable.Range(0, 3).Where(i => i != oldIndex).ToArray();
        var newIndex = await cluster.WaitForLeaderAsync(TimeSpan.FromSeconds(3), rest);
        var failover = clock.Elapsed;
        TestContext.Current.TestOutputHelper?.WriteLine($"new leader after {failover.TotalMilliseconds:0} ms");

        var newLeader = cluster.Nodes[newIndex]!;
        Assert.True(newLeader.Term > oldTerm);
        for (var i = 0; i < 3; i++)
        {
            var position = await newLeader.ReplicateAsync(Batch($"after{i}"), CancellationToken.None).AsTask().WaitAsync(Timeout);
            Assert.Equal(newLeader.Term, position.Term);
        }

        await RaftTestCluster.WaitUntilAsync(() => rest.All(i => cluster.Appliers[i].Count == 6), Timeout, "the survivors to apply 6 batches");
        Assert.Equal(cluster.Appliers[rest[0]].Applied, cluster.Appliers[rest[1]].Applied);
        Assert.Equal(["before0", "before1", "before2", "after0", "after1", "after2"], cluster.Appliers[newIndex].Batches);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_restarted_node_replays_its_WAL_and_catches_up_and_applies_nothing_twice()
    {
        await using var cluster = new RaftTestCluster(3);
        await cluster.StartAllAsync();
        var leaderIndex = await cluster.WaitForLeaderAsync();
        var leader = cluster.Nodes[leaderIndex]!;
        var follower = Enumerable.Range(0, 3).First(i => i != leaderIndex);
        for (var i = 0; i < 5; i++)
        {
            await leader.ReplicateAsync(Batch($"a{i}"), CancellationToken.None).AsTask().WaitAsync(Timeout);
        }

        await RaftTestCluster.WaitUntilAsync(() => cluster.Appliers[follower].Count == 5, Timeout, "the follower to apply 5 batches");
        var durable = cluster.Appliers[follower];
        await cluster.StopAsync(follower);

        // The cluster moves on without it (2 of 3 is a majority).
        for (var i = 0; i < 5; i++)
        {
            await leader.ReplicateAsync(Batch($"b{i}"), CancellationToken.None).AsTask().WaitAsync(Timeout);
        }

        // Restart with the applier that kept its state: the WAL holds entries it already applied; none comes again.
        await cluster.StartAsync(follower, durable);
        await RaftTestCluster.WaitUntilAsync(() => durable.Count == 10, Timeout, "the restarted follower to catch up");
        Assert.Equal(0, durable.IgnoredCalls);
        Assert.Equal(cluster.Appliers[leaderIndex].Applied, durable.Applied);

        // Restart again with an applier that lost everything: the local WAL alone replays the committed history
        // (StartAsync returns once what the WAL knows to be committed is applied), positions included.
        await cluster.StopAsync(follower);
        var fresh = new RecordingApplier();
        await cluster.StartAsync(follower, fresh);
        Assert.Equal(cluster.Appliers[leaderIndex].Applied, fresh.Applied);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_cold_started_node_leads_alone_and_grows_the_cluster_with_AddMember()
    {
        await using var cluster = new RaftTestCluster(3);
        var first = await cluster.StartAsync(0, coldStart: true);
        Assert.Equal(0, await cluster.WaitForLeaderAsync());
        await first.ReplicateAsync(Batch("alone"), CancellationToken.None).AsTask().WaitAsync(Timeout);

        await cluster.StartAsync(1, join: true);
        Assert.True(await first.AddMemberAsync(cluster.EndPoints[1], CancellationToken.None).AsTask().WaitAsync(Timeout));
        await cluster.StartAsync(2, join: true);
        Assert.True(await first.AddMemberAsync(cluster.EndPoints[2], CancellationToken.None).AsTask().WaitAsync(Timeout));
        // The leader's member list follows a committed configuration asynchronously (DotNext applies it in a loop).
        await RaftTestCluster.WaitUntilAsync(() => first.Members.Count == 3, Timeout, "the leader to list 3 members");

        var leaderIndex = await cluster.WaitForLeaderAsync();
        await cluster.Nodes[leaderIndex]!.ReplicateAsync(Batch("three"), CancellationToken.None).AsTask().WaitAsync(Timeout);
        await RaftTestCluster.WaitUntilAsync(() => cluster.Appliers.All(a => a.Count == 2), Timeout, "all nodes to apply both batches");
        Assert.All(cluster.Appliers, a => Assert.Equal(["alone", "three"], a.Batches));
        Assert.All(cluster.Appliers, a => Assert.Equal(cluster.Appliers[0].Applied, a.Applied));
    }
}

[Collection(nameof(RaftCollection))]
public sealed class RaftConsensusFaultTests
{
    private const int TestTimeout = 60_000;
    private static readonly TimeSpan Timeout = RaftTestCluster.Timeout;

    [Fact(Timeout = TestTimeout)]
    public async Task A_follower_whose_applier_fails_stops_applying_while_the_others_go_on()
    {
        await using var cluster = new RaftTestCluster(3);
        await cluster.StartAllAsync();
        var leaderIndex = await cluster.WaitForLeaderAsync();
        var leader = cluster.Nodes[leaderIndex]!;
        var follower = Enumerable.Range(0, 3).First(i => i != leaderIndex);
        var first = await leader.ReplicateAsync(RecordingApplier.Batch("ok"), CancellationToken.None).AsTask().WaitAsync(Timeout);
        cluster.Appliers[follower].FailAtIndex = first.Index + 1;

        for (var i = 0; i < 3; i++)
        {
            await leader.ReplicateAsync(RecordingApplier.Batch($"more{i}"), CancellationToken.None).AsTask().WaitAsync(Timeout);
        }

        var healthy = Enumerable.Range(0, 3).Where(i => i != follower).ToArray();
        await RaftTestCluster.WaitUntilAsync(() => healthy.All(i => cluster.Appliers[i].Count == 4), Timeout, "the healthy nodes to apply");
        await RaftTestCluster.WaitUntilAsync(() => cluster.Logs.Contains(3006), Timeout, "the failed apply to be logged");
        Assert.Equal(["ok"], cluster.Appliers[follower].Batches); // nothing skipped past the failure, nothing after it
    }

    [Fact(Timeout = TestTimeout)]
    public async Task A_failed_start_leaves_nothing_open()
    {
        await using var cluster = new RaftTestCluster(1);
        using var squatter = new System.Net.Sockets.TcpListener(cluster.EndPoints[0]);
        squatter.Start();
        var blocked = new RaftConsensus(new RaftConsensusOptions
        {
            LocalEndPoint = cluster.EndPoints[0],
            ColdStart = true,
            WalPath = cluster.WalPath(0),
            NodeIdentity = cluster.Identities[0],
            ServiceCertificate = cluster.Service.Certificate,
        });

        await Assert.ThrowsAnyAsync<Exception>(() => blocked.StartAsync(new RecordingApplier(), CancellationToken.None).AsTask().WaitAsync(Timeout));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => blocked.StartAsync(new RecordingApplier(), CancellationToken.None).AsTask());

        // The WAL folder and the port are free again: a new instance starts on them and leads.
        squatter.Stop();
        var node = await cluster.StartAsync(0, coldStart: true);
        Assert.Equal(0, await cluster.WaitForLeaderAsync());
        var position = await node.ReplicateAsync(RecordingApplier.Batch("x"), CancellationToken.None).AsTask().WaitAsync(Timeout);
        Assert.Equal(0, position.Term);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task The_log_files_hold_no_byte_the_log_did_not_write()
    {
        // glibc's M_PERTURB fills every block malloc hands out with one byte (and every freed block with another), so
        // memory that reaches a file without being written first shows as runs of those bytes. Such memory once held
        // whatever the process had freed: a request's plaintext, for one.
        Assert.SkipUnless(OperatingSystem.IsLinux(), "glibc's malloc tuning");
        await using var cluster = new RaftTestCluster(1);
        const byte Freed = 0xA5, Handed = unchecked((byte)~Freed);
        Assert.Equal(1, NativeHeap.mallopt(NativeHeap.Perturb, Freed));
        try
        {
            var node = await cluster.StartAsync(0, coldStart: true);
            await cluster.WaitForLeaderAsync();
            for (var i = 0; i < 300; i++) // several pages of the log's entry table
            {
                await node.ReplicateAsync(RecordingApplier.Batch($"entry {i}"), CancellationToken.None).AsTask().WaitAsync(Timeout);
            }

            await cluster.StopAsync(0);
        }
        finally
        {
            Assert.Equal(1, NativeHeap.mallopt(NativeHeap.Perturb, 0));
        }

        var files = Directory.GetFiles(Path.Combine(cluster.WalPath(0), "log"), "*", SearchOption.AllDirectories);
        Assert.Contains(files, f => Path.GetFileName(Path.GetDirectoryName(f)) == "metadata");
        foreach (var file in files)
        {
            var bytes = File.ReadAllBytes(file);
            foreach (var fill in new[] { Freed, Handed })
            {
                var run = new byte[16];
                run.AsSpan().Fill(fill);
                Assert.True(bytes.AsSpan().IndexOf(run) < 0, $"{file} holds memory the log never wrote (runs of 0x{fill:x2})");
            }
        }
    }

    private static class NativeHeap
    {
        public const int Perturb = -6; // M_PERTURB

        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mallopt")]
        public static extern int mallopt(int parameter, int value);
    }
}
