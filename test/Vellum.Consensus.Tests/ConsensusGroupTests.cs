using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Vellum.Consensus.Tests;

/// <summary>
/// Many ledgers through one consensus log: each appends through its view, the log holds tagged entries, and each
/// committed entry reaches only the applier of the ledger it names, on every member.
/// </summary>
public sealed class ConsensusGroupTests
{
    [Fact]
    public async Task Each_ledger_of_a_three_node_raft_group_gets_its_own_batches_on_every_member()
    {
        await using var raft = new RaftTestCluster(3);
        var groups = new ConsensusGroup[3];
        var views = new IConsensusLog[3][];
        var appliers = new RecordingApplier[3][];
        for (var i = 0; i < 3; i++)
        {
            groups[i] = new ConsensusGroup();
            views[i] = [groups[i].Join("alpha"), groups[i].Join("default")];
            appliers[i] = [new RecordingApplier(), new RecordingApplier()];
            await views[i][0].StartAsync(appliers[i][0], CancellationToken.None);
            await views[i][1].StartAsync(appliers[i][1], CancellationToken.None);
        }

        try
        {
            await Task.WhenAll(Enumerable.Range(0, 3).Select(i => groups[i].StartAsync(raft.Create(i), null, CancellationToken.None).AsTask()));
            var leader = await raft.WaitForLeaderAsync();
            Assert.True(views[leader][0].IsLeader);
            Assert.Equal(raft.Nodes[leader]!.Term, views[leader][1].Term);

            var positions = new List<(int Ledger, LogPosition Position)>();
            for (var n = 0; n < 6; n++)
            {
                var ledger = n % 3 == 0 ? 1 : 0;
                positions.Add((ledger, await views[leader][ledger].ReplicateAsync(RecordingApplier.Batch($"{(ledger == 0 ? "a" : "d")}{n}"), CancellationToken.None)));
            }

            await RaftTestCluster.WaitUntilAsync(
                () => appliers.All(a => a[0].Count == 4 && a[1].Count == 2), RaftTestCluster.Timeout, "every member to apply every batch");
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(["a1", "a2", "a4", "a5"], appliers[i][0].Batches);
                Assert.Equal(["d0", "d3"], appliers[i][1].Batches);
                Assert.Equal(positions.Where(p => p.Ledger == 0).Select(p => p.Position), appliers[i][0].Applied.Select(a => a.Position));
                Assert.Equal(positions.Where(p => p.Ledger == 1).Select(p => p.Position), appliers[i][1].Applied.Select(a => a.Position));
            }

            // The log's indexes are shared: one ledger's batches leave gaps in the other's.
            Assert.Equal(positions.Select(p => p.Position.Index).Order(), positions.Select(p => p.Position.Index));
            Assert.Equal(6, positions.Select(p => p.Position.Index).Distinct().Count());
        }
        finally
        {
            foreach (var group in groups)
            {
                await group.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_ledger_made_through_the_log_joins_on_every_member_before_its_first_batch()
    {
        await using var raft = new RaftTestCluster(3);
        var groups = new ConsensusGroup[3];
        var made = new MakingLedgers[3];
        var defaults = new IConsensusLog[3];
        for (var i = 0; i < 3; i++)
        {
            groups[i] = new ConsensusGroup();
            made[i] = new MakingLedgers(groups[i]);
            defaults[i] = groups[i].Join("default");
            await defaults[i].StartAsync(new RecordingApplier(), CancellationToken.None);
        }

        try
        {
            await Task.WhenAll(Enumerable.Range(0, 3).Select(i => groups[i].StartAsync(raft.Create(i), made[i], CancellationToken.None).AsTask()));
            var leader = await raft.WaitForLeaderAsync();

            // A ledger joins only when the log makes it, not from outside the apply path.
            Assert.Throws<InvalidOperationException>(() => groups[leader].Join("beta"));

            await groups[leader].ProposeLedgerAsync("beta", "made by the leader"u8.ToArray(), CancellationToken.None);
            await RaftTestCluster.WaitUntilAsync(() => made.All(m => m.Views.ContainsKey("beta")), RaftTestCluster.Timeout, "every member to open beta");
            Assert.All(made, m => Assert.Equal(["beta: made by the leader"], m.Opened));

            var position = await made[leader].Views["beta"].ReplicateAsync(RecordingApplier.Batch("b1"), CancellationToken.None);
            await RaftTestCluster.WaitUntilAsync(() => made.All(m => m.Appliers["beta"].Count == 1), RaftTestCluster.Timeout, "every member to apply beta's batch");
            Assert.All(made, m => Assert.Equal(position, m.Appliers["beta"].Applied.Single().Position));

            // A second creation of the name changes nothing anywhere: the first holds.
            await groups[leader].ProposeLedgerAsync("beta", "made again"u8.ToArray(), CancellationToken.None);
            await defaults[leader].ReplicateAsync(RecordingApplier.Batch("d1"), CancellationToken.None);
            await RaftTestCluster.WaitUntilAsync(() => made.All(m => m.Ignored.Count == 1), RaftTestCluster.Timeout, "every member to ignore the second creation");
            Assert.All(made, m => Assert.Equal(["beta: made by the leader"], m.Opened));
            Assert.All(made, m => Assert.Equal("beta: made again", m.Ignored.Single()));

            // A description reaches every member that serves the ledger; one of a name nobody serves reaches no one.
            await groups[leader].ProposeLedgerDescriptionAsync("gamma", "of nothing"u8.ToArray(), CancellationToken.None);
            await groups[leader].ProposeLedgerDescriptionAsync("beta", "tags v2"u8.ToArray(), CancellationToken.None);
            await RaftTestCluster.WaitUntilAsync(() => made.All(m => m.Described.Count == 1), RaftTestCluster.Timeout, "every member to take beta's description");
            Assert.All(made, m => Assert.Equal("beta: tags v2", m.Described.Single()));
        }
        finally
        {
            foreach (var group in groups)
            {
                await group.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_creation_entry_stops_applying_on_a_group_that_makes_no_ledgers()
    {
        var group = new ConsensusGroup();
        await using var _ = group;
        await group.Join("default").StartAsync(new RecordingApplier(), CancellationToken.None);
        var log = new CapturingLog();
        await group.StartAsync(log, null, CancellationToken.None);
        await group.ProposeLedgerAsync("beta", "x"u8.ToArray(), CancellationToken.None);
        var entry = log.Replicated.Single();
        Assert.Equal("VLC1\u0001\u0004betax", Encoding.ASCII.GetString(entry.Span));
        await Assert.ThrowsAsync<InvalidDataException>(() => log.Applier!.ApplyAsync(new LogPosition(1, 1), entry, CancellationToken.None).AsTask());

        // A damaged or unknown operation is refused, not taken for a batch of default's; so is a deletion here.
        await Assert.ThrowsAsync<InvalidDataException>(() => log.Applier!.ApplyAsync(new LogPosition(1, 2), "VLC1\u0007\u0004betax"u8.ToArray(), CancellationToken.None).AsTask());
        await Assert.ThrowsAsync<InvalidDataException>(() => log.Applier!.ApplyAsync(new LogPosition(1, 2), "VLC1\u0002\u0004betax"u8.ToArray(), CancellationToken.None).AsTask());
        await Assert.ThrowsAsync<InvalidDataException>(() => log.Applier!.ApplyAsync(new LogPosition(1, 3), "VLC1\u0001\u0009beta"u8.ToArray(), CancellationToken.None).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => group.ProposeLedgerAsync("beta", new byte[(256 * 1024) + 1], CancellationToken.None).AsTask());
    }

    /// <summary>Opens each ledger the log makes with a recording applier, and notes what it was told.</summary>
    private sealed class MakingLedgers(ConsensusGroup group) : IGroupLedgers
    {
        public System.Collections.Concurrent.ConcurrentDictionary<string, IConsensusLog> Views { get; } = new();

        public System.Collections.Concurrent.ConcurrentDictionary<string, RecordingApplier> Appliers { get; } = new();

        public System.Collections.Concurrent.ConcurrentQueue<string> Opened { get; } = new();

        public System.Collections.Concurrent.ConcurrentQueue<string> Ignored { get; } = new();

        public System.Collections.Concurrent.ConcurrentQueue<string> Deleted { get; } = new();

        /// <summary>Creations (by description) this node finds deleted already, as a node with their tombstones.</summary>
        public HashSet<string> Buried { get; } = [];

        public async ValueTask<bool> OpenLedgerAsync(string name, ReadOnlyMemory<byte> description, CancellationToken token)
        {
            var text = Encoding.ASCII.GetString(description.Span);
            if (Buried.Contains(text))
            {
                return false;
            }

            if (Views.ContainsKey(name))
            {
                Ignored.Enqueue($"{name}: {text}");
                return true;
            }

            var view = group.Join(name);
            var applier = new RecordingApplier();
            await view.StartAsync(applier, token);
            Appliers[name] = applier;
            Views[name] = view;
            Opened.Enqueue($"{name}: {text}");
            return true;
        }

        public System.Collections.Concurrent.ConcurrentQueue<string> Described { get; } = new();

        public ValueTask DescribeLedgerAsync(string name, ReadOnlyMemory<byte> description, CancellationToken token)
        {
            Described.Enqueue($"{name}: {Encoding.ASCII.GetString(description.Span)}");
            return ValueTask.CompletedTask;
        }

        /// <remarks>Deletes the ledger served under the name when the description names the creation it came from.</remarks>
        public ValueTask<bool> DeleteLedgerAsync(string name, ReadOnlyMemory<byte> description, CancellationToken token)
        {
            var text = Encoding.ASCII.GetString(description.Span);
            Deleted.Enqueue($"{name}: {text}");
            var served = Opened.LastOrDefault(o => o.StartsWith(name + ": ", StringComparison.Ordinal));
            if (!Views.ContainsKey(name) || served != $"{name}: {text}")
            {
                return ValueTask.FromResult(false);
            }

            Views.TryRemove(name, out _);
            Buried.Add(text);
            return ValueTask.FromResult(true);
        }

        /// <summary>Names a member would answer 410 for, as deleted while this node was away.</summary>
        public HashSet<string> DeletedElsewhere { get; } = [];

        public System.Collections.Concurrent.ConcurrentQueue<string> Asked { get; } = new();

        public ValueTask<bool> ForgetIfDeletedAsync(string name, CancellationToken token)
        {
            Asked.Enqueue(name);
            return ValueTask.FromResult(DeletedElsewhere.Contains(name) && Views.TryRemove(name, out _));
        }

        /// <summary>The deployment's state: the changes applied, in order, one text each.</summary>
        public List<string> Deployment { get; } = [];

        public ValueTask ChangeDeploymentAsync(ReadOnlyMemory<byte> change, CancellationToken token)
        {
            Deployment.Add(Encoding.ASCII.GetString(change.Span));
            return ValueTask.CompletedTask;
        }

        public byte[] DescribeDeployment() => Encoding.ASCII.GetBytes(string.Join(',', Deployment));

        public ValueTask RestoreDeploymentAsync(ReadOnlyMemory<byte> state, CancellationToken token)
        {
            Deployment.AddRange(Encoding.ASCII.GetString(state.Span).Split(',').Where(c => !Deployment.Contains(c)));
            return ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task A_deployment_change_reaches_the_node_and_travels_in_the_snapshot_which_still_reads_the_version_before()
    {
        var group = new ConsensusGroup();
        await using var _ = group;
        await group.Join("default").StartAsync(new SnapshotApplier { State = [4] }, CancellationToken.None);
        var log = new CapturingLog();
        var made = new MakingLedgers(group);
        await group.StartAsync(log, made, CancellationToken.None);
        await group.ProposeDeploymentChangeAsync("retire n1"u8.ToArray(), CancellationToken.None);
        Assert.Equal("VLC1\u0004\u0000retire n1", Encoding.ASCII.GetString(log.Replicated[0].Span));
        await log.Applier!.ApplyAsync(new LogPosition(1, 1), log.Replicated[0], CancellationToken.None);
        Assert.Equal(["retire n1"], made.Deployment);
        Assert.Equal(1, log.Applier.LastAppliedIndex);

        // The snapshot: version 2, the ledgers' parts, then the deployment's state.
        var snapshot = log.Applier.DescribeAppliedState()!;
        Assert.Equal(2, snapshot[4]);
        Assert.EndsWith("retire n1", Encoding.ASCII.GetString(snapshot), StringComparison.Ordinal);

        // A member that installs it takes the deployment's state in, as well as each ledger's part.
        var other = new ConsensusGroup();
        await using var __ = other;
        var part = new SnapshotApplier();
        await other.Join("default").StartAsync(part, CancellationToken.None);
        var otherLog = new CapturingLog();
        var otherMade = new MakingLedgers(other);
        await other.StartAsync(otherLog, otherMade, CancellationToken.None);
        await otherLog.Applier!.RestoreAsync(new LogPosition(1, 1), snapshot, CancellationToken.None);
        Assert.Equal(["retire n1"], otherMade.Deployment);
        Assert.Equal([4], part.Restored);

        // A version-1 snapshot (the ledgers' parts only) still installs, with no deployment state.
        var first = new byte[snapshot.Length - 4 - "retire n1".Length];
        snapshot.AsSpan(0, first.Length).CopyTo(first);
        first[4] = 1;
        var third = new ConsensusGroup();
        await using var ___ = third;
        var thirdPart = new SnapshotApplier();
        await third.Join("default").StartAsync(thirdPart, CancellationToken.None);
        var thirdLog = new CapturingLog();
        var thirdMade = new MakingLedgers(third);
        await third.StartAsync(thirdLog, thirdMade, CancellationToken.None);
        await thirdLog.Applier!.RestoreAsync(new LogPosition(1, 1), first, CancellationToken.None);
        Assert.Empty(thirdMade.Deployment);
        Assert.Equal([4], thirdPart.Restored);

        // Damaged: a deployment change with a ledger name, an empty one, a version-2 snapshot cut short.
        await Assert.ThrowsAsync<InvalidDataException>(() => log.Applier.ApplyAsync(new LogPosition(1, 2), "VLC1\u0004\u0001bx"u8.ToArray(), CancellationToken.None).AsTask());
        await Assert.ThrowsAsync<InvalidDataException>(() => log.Applier.ApplyAsync(new LogPosition(1, 2), "VLC1\u0004\u0000"u8.ToArray(), CancellationToken.None).AsTask());
        await Assert.ThrowsAsync<InvalidDataException>(() => thirdLog.Applier.RestoreAsync(new LogPosition(1, 1), snapshot.AsMemory(0, snapshot.Length - 1), CancellationToken.None).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => group.ProposeDeploymentChangeAsync(new byte[(4 * 1024) + 1], CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task A_deployment_change_stops_applying_on_a_group_that_keeps_no_deployment_state()
    {
        var group = new ConsensusGroup();
        await using var _ = group;
        await group.Join("default").StartAsync(new RecordingApplier(), CancellationToken.None);
        var log = new CapturingLog();
        await group.StartAsync(log, null, CancellationToken.None);
        await group.ProposeDeploymentChangeAsync("retire n1"u8.ToArray(), CancellationToken.None);
        await Assert.ThrowsAsync<InvalidDataException>(() => log.Applier!.ApplyAsync(new LogPosition(1, 1), log.Replicated[0], CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task A_snapshot_that_leaves_out_a_served_ledger_has_the_node_ask_and_a_deleted_one_is_forgotten()
    {
        // The snapshot a leader sends after beta's deletion was compacted away names default and alpha only.
        var described = new ConsensusGroup();
        await using var __ = described;
        await described.Join("default").StartAsync(new SnapshotApplier { State = [4] }, CancellationToken.None);
        await described.Join("alpha").StartAsync(new SnapshotApplier { State = [5] }, CancellationToken.None);
        var leaderLog = new CapturingLog();
        await described.StartAsync(leaderLog, null, CancellationToken.None);
        var snapshot = leaderLog.Applier!.DescribeAppliedState()!;

        // This node serves default, alpha, beta (deleted while it was away) and gamma (made after the snapshot).
        var group = new ConsensusGroup();
        await using var _ = group;
        var fallback = new SnapshotApplier();
        await group.Join("default").StartAsync(fallback, CancellationToken.None);
        var alpha = new SnapshotApplier();
        await group.Join("alpha").StartAsync(alpha, CancellationToken.None);
        var made = new MakingLedgers(group);
        Assert.True(await made.OpenLedgerAsync("beta", "first"u8.ToArray(), CancellationToken.None));
        Assert.True(await made.OpenLedgerAsync("gamma", "one"u8.ToArray(), CancellationToken.None));
        made.DeletedElsewhere.Add("beta");
        var log = new CapturingLog();
        await group.StartAsync(log, made, CancellationToken.None);

        await log.Applier!.RestoreAsync(new LogPosition(3, 50), snapshot, CancellationToken.None);
        Assert.Equal([4], fallback.Restored);
        Assert.Equal([5], alpha.Restored);
        Assert.Equal(["beta", "gamma"], made.Asked.Order(StringComparer.Ordinal));

        // Beta's entries are skipped from now on (batches it had in flight); gamma's still apply.
        await log.Applier.ApplyAsync(new LogPosition(3, 51), ConsensusGroup.Tag("beta"u8, "late"u8), CancellationToken.None);
        await log.Applier.ApplyAsync(new LogPosition(3, 52), ConsensusGroup.Tag("gamma"u8, "g1"u8), CancellationToken.None);
        Assert.Empty(made.Appliers["beta"].Batches);
        Assert.Equal(["g1"], made.Appliers["gamma"].Batches);
        Assert.Equal(52, log.Applier.LastAppliedIndex);

        // The name is free again: its next creation opens a new ledger whose entries apply.
        await group.ProposeLedgerAsync("beta", "second"u8.ToArray(), CancellationToken.None);
        await log.Applier.ApplyAsync(new LogPosition(3, 53), log.Replicated[0], CancellationToken.None);
        await log.Applier.ApplyAsync(new LogPosition(3, 54), ConsensusGroup.Tag("beta"u8, "b2"u8), CancellationToken.None);
        Assert.Equal(["b2"], made.Appliers["beta"].Batches);
    }

    [Fact]
    public async Task A_deletion_entry_drops_the_ledgers_view_skips_its_later_entries_and_frees_the_name()
    {
        var group = new ConsensusGroup();
        await using var _ = group;
        var fallback = new RecordingApplier();
        await group.Join("default").StartAsync(fallback, CancellationToken.None);
        var log = new CapturingLog();
        var made = new MakingLedgers(group);
        await group.StartAsync(log, made, CancellationToken.None);
        await group.ProposeLedgerAsync("beta", "first"u8.ToArray(), CancellationToken.None);
        await group.ProposeLedgerDeletionAsync("beta", "first"u8.ToArray(), CancellationToken.None);
        Assert.Equal("VLC1\u0002\u0004betafirst", Encoding.ASCII.GetString(log.Replicated[1].Span));
        await group.ProposeLedgerAsync("beta", "second"u8.ToArray(), CancellationToken.None);
        var entries = new List<ReadOnlyMemory<byte>>
        {
            log.Replicated[0], ConsensusGroup.Tag("beta"u8, "b1"u8), log.Replicated[1],
            ConsensusGroup.Tag("beta"u8, "late"u8), // a batch the ledger had in flight: after its deletion, skipped
            log.Replicated[2], ConsensusGroup.Tag("beta"u8, "b2"u8),
        };

        var applier = log.Applier!;
        for (var i = 0; i < entries.Count; i++)
        {
            await applier.ApplyAsync(new LogPosition(1, i + 1), entries[i], CancellationToken.None);
        }

        Assert.Equal(["beta: first", "beta: second"], made.Opened);
        Assert.Equal(["beta: first"], made.Deleted);
        Assert.Equal(["b2"], made.Appliers["beta"].Batches);
        Assert.Equal(6, applier.LastAppliedIndex);
        Assert.Empty(fallback.Batches);

        // A stale deletion (of the first beta) changes nothing for the second; its entries still apply.
        await applier.ApplyAsync(new LogPosition(1, 7), log.Replicated[1], CancellationToken.None);
        await applier.ApplyAsync(new LogPosition(1, 8), ConsensusGroup.Tag("beta"u8, "b3"u8), CancellationToken.None);
        Assert.Equal(["b2", "b3"], made.Appliers["beta"].Batches);
    }

    [Fact]
    public async Task A_node_serving_a_later_ledger_of_a_name_skips_the_earlier_ones_entries_on_replay()
    {
        // A joiner that got the second beta with the deployment's ledgers replays the log from the first beta on.
        var group = new ConsensusGroup();
        await using var _ = group;
        await group.Join("default").StartAsync(new RecordingApplier(), CancellationToken.None);
        var made = new MakingLedgers(group);
        made.Buried.Add("first");
        Assert.True(await made.OpenLedgerAsync("beta", "second"u8.ToArray(), CancellationToken.None));
        var log = new CapturingLog();
        await group.StartAsync(log, made, CancellationToken.None);
        await group.ProposeLedgerAsync("beta", "first"u8.ToArray(), CancellationToken.None);
        await group.ProposeLedgerDeletionAsync("beta", "first"u8.ToArray(), CancellationToken.None);
        await group.ProposeLedgerAsync("beta", "second"u8.ToArray(), CancellationToken.None);
        var entries = new List<ReadOnlyMemory<byte>>
        {
            log.Replicated[0], ConsensusGroup.Tag("beta"u8, "old"u8), log.Replicated[1], ConsensusGroup.Tag("beta"u8, "late"u8),
            log.Replicated[2], ConsensusGroup.Tag("beta"u8, "new"u8),
        };

        for (var i = 0; i < entries.Count; i++)
        {
            await log.Applier!.ApplyAsync(new LogPosition(1, i + 1), entries[i], CancellationToken.None);
        }

        Assert.Equal(["new"], made.Appliers["beta"].Batches);
        Assert.Equal(["beta: second"], made.Ignored); // its own creation, replayed
        Assert.True(made.Views.ContainsKey("beta"));
    }

    [Fact]
    public async Task A_replayed_creation_of_a_ledger_deleted_here_skips_its_entries_until_the_deletion()
    {
        var group = new ConsensusGroup();
        await using var _ = group;
        await group.Join("default").StartAsync(new RecordingApplier(), CancellationToken.None);
        var log = new CapturingLog();
        var made = new MakingLedgers(group);
        made.Buried.Add("first"); // the node deleted that beta before it stopped; its log still holds it all
        await group.StartAsync(log, made, CancellationToken.None);
        await group.ProposeLedgerAsync("beta", "first"u8.ToArray(), CancellationToken.None);
        await group.ProposeLedgerDeletionAsync("beta", "first"u8.ToArray(), CancellationToken.None);
        var applier = log.Applier!;
        await applier.ApplyAsync(new LogPosition(1, 1), log.Replicated[0], CancellationToken.None);
        await applier.ApplyAsync(new LogPosition(1, 2), ConsensusGroup.Tag("beta"u8, "b1"u8), CancellationToken.None);
        await applier.ApplyAsync(new LogPosition(1, 3), log.Replicated[1], CancellationToken.None);
        await applier.ApplyAsync(new LogPosition(1, 4), ConsensusGroup.Tag("beta"u8, "b2"u8), CancellationToken.None);
        Assert.Empty(made.Opened);
        Assert.Equal(["beta: first"], made.Deleted); // told, so that a node missing the tombstone can keep one
        Assert.Equal(4, applier.LastAppliedIndex);

        // A ledger neither served nor deleted still stops the applying.
        await Assert.ThrowsAsync<InvalidDataException>(
            () => applier.ApplyAsync(new LogPosition(1, 5), ConsensusGroup.Tag("gamma"u8, "g"u8), CancellationToken.None).AsTask());
    }

    [Fact]
    public void A_tagged_entry_names_its_ledger_and_an_entry_without_a_tag_is_defaults()
    {
        var entry = ConsensusGroup.Tag("alpha"u8, "batch"u8);
        Assert.Equal("VLG1\u0005alphabatch", Encoding.ASCII.GetString(entry));
        Assert.True(ConsensusGroup.TryUntag(entry, out var ledger, out var batch));
        Assert.Equal("alpha", ledger);
        Assert.Equal("batch", Encoding.ASCII.GetString(batch.Span));

        // A sealed batch of a log written before tags ("VSB1…") is the one ledger of that time.
        Assert.True(ConsensusGroup.TryUntag("VSB1sealed"u8.ToArray(), out ledger, out batch));
        Assert.Equal(ConsensusGroup.UntaggedLedger, ledger);
        Assert.Equal("VSB1sealed", Encoding.ASCII.GetString(batch.Span));

        Assert.False(ConsensusGroup.TryUntag("VLG1"u8.ToArray(), out _, out _));
        Assert.False(ConsensusGroup.TryUntag("VLG1\u0009alpha"u8.ToArray(), out _, out _));
        Assert.False(ConsensusGroup.TryUntag("VLG1\u0000batch"u8.ToArray(), out _, out _));
        Assert.False(ConsensusGroup.TryUntag(new byte[] { 0x56, 0x4C, 0x47, 0x31, 2, 0xC3, 0xA9, 0x62 }, out _, out _));
    }

    [Fact]
    public async Task Entries_are_dispatched_by_tag_and_an_entry_for_a_ledger_not_served_stops_the_applying()
    {
        var (group, log, alpha, fallback) = await StartedGroupAsync();
        await using var _ = group;
        var applier = log.Applier!;

        await applier.ApplyAsync(new LogPosition(1, 1), ConsensusGroup.Tag("alpha"u8, "one"u8), CancellationToken.None);
        await applier.ApplyAsync(new LogPosition(1, 2), "old"u8.ToArray(), CancellationToken.None);
        await applier.ApplyAsync(new LogPosition(1, 3), ConsensusGroup.Tag("default"u8, "two"u8), CancellationToken.None);
        Assert.Equal(["one"], alpha.Batches);
        Assert.Equal(["old", "two"], fallback.Batches);
        Assert.Equal(3, applier.LastAppliedIndex);

        var unknown = await Assert.ThrowsAsync<InvalidDataException>(
            () => applier.ApplyAsync(new LogPosition(1, 4), ConsensusGroup.Tag("beta"u8, "x"u8), CancellationToken.None).AsTask());
        Assert.Contains("'beta'", unknown.Message);
        await Assert.ThrowsAsync<InvalidDataException>(
            () => applier.ApplyAsync(new LogPosition(1, 4), "VLG1\u0009al"u8.ToArray(), CancellationToken.None).AsTask());
        Assert.Equal(3, applier.LastAppliedIndex);
        Assert.Equal(["one"], alpha.Batches);
    }

    [Fact]
    public async Task The_groups_snapshot_holds_each_ledgers_state_and_restores_each_from_its_part()
    {
        var (group, log, alpha, fallback) = await StartedGroupAsync();
        await using var _ = group;
        alpha.State = [1, 2, 3];
        fallback.State = [9];

        var state = log.Applier!.DescribeAppliedState();
        Assert.NotNull(state);

        var (other, otherLog, otherAlpha, otherFallback) = await StartedGroupAsync();
        await using var __ = other;
        await otherLog.Applier!.RestoreAsync(new LogPosition(2, 40), state, CancellationToken.None);
        Assert.Equal([1, 2, 3], otherAlpha.Restored);
        Assert.Equal([9], otherFallback.Restored);
        Assert.Equal(40, otherLog.Applier.LastAppliedIndex);

        // A snapshot described before ledgers shared the log is the untagged ledger's state.
        byte[] old = [1, 0, 0, 0, 0, 0, 0, 0, 7];
        await otherLog.Applier.RestoreAsync(new LogPosition(2, 41), old, CancellationToken.None);
        Assert.Equal(old, otherFallback.Restored);

        // A ledger that takes no snapshots means the group takes none.
        alpha.State = null;
        Assert.Null(log.Applier.DescribeAppliedState());

        // A snapshot naming a ledger this node does not serve, or cut short, is refused.
        var renamed = (byte[])state.Clone();
        "alphz"u8.CopyTo(renamed.AsSpan(renamed.AsSpan().IndexOf("alpha"u8)));
        await Assert.ThrowsAsync<InvalidDataException>(() => otherLog.Applier.RestoreAsync(new LogPosition(2, 42), renamed, CancellationToken.None).AsTask());
        await Assert.ThrowsAsync<InvalidDataException>(() => otherLog.Applier.RestoreAsync(new LogPosition(2, 42), state.AsMemory(0, state.Length - 1), CancellationToken.None).AsTask());
        var counted = (byte[])state.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(counted.AsSpan(5), 3);
        await Assert.ThrowsAsync<InvalidDataException>(() => otherLog.Applier.RestoreAsync(new LogPosition(2, 42), counted, CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task Ledgers_join_before_the_group_starts_and_every_view_must_be_started()
    {
        var group = new ConsensusGroup();
        await using var _ = group;
        var view = group.Join("alpha");
        Assert.Throws<ArgumentException>(() => group.Join("alpha"));
        Assert.Throws<ArgumentException>(() => group.Join(new string('a', 65)));
        Assert.False(view.IsLeader);
        Assert.True(view.LeadershipToken.IsCancellationRequested);
        await Assert.ThrowsAsync<ConsensusNotLeaderException>(() => view.BeginReplicateAsync("x"u8.ToArray(), CancellationToken.None).AsTask());

        var log = new CapturingLog();
        await Assert.ThrowsAsync<InvalidOperationException>(() => group.StartAsync(log, null, CancellationToken.None).AsTask());
        Assert.Null(log.Applier);

        await view.StartAsync(new SnapshotApplier(), CancellationToken.None);
        await group.StartAsync(log, null, CancellationToken.None);
        Assert.NotNull(log.Applier);
        Assert.Throws<InvalidOperationException>(() => group.Join("beta"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => group.StartAsync(new CapturingLog(), null, CancellationToken.None).AsTask());

        // The view's batches reach the log tagged.
        await view.BeginReplicateAsync("x"u8.ToArray(), CancellationToken.None);
        Assert.Equal("VLG1\u0005alphax", Encoding.ASCII.GetString(log.Replicated.Single().Span));

        await group.DisposeAsync();
        Assert.True(log.Disposed);
    }

    private static async Task<(ConsensusGroup Group, CapturingLog Log, SnapshotApplier Alpha, SnapshotApplier Default)> StartedGroupAsync()
    {
        var group = new ConsensusGroup();
        var alpha = new SnapshotApplier();
        var fallback = new SnapshotApplier();
        await group.Join("alpha").StartAsync(alpha, CancellationToken.None);
        await group.Join("default").StartAsync(fallback, CancellationToken.None);
        var log = new CapturingLog();
        await group.StartAsync(log, null, CancellationToken.None);
        return (group, log, alpha, fallback);
    }

    /// <summary>Records batches, describes <see cref="State"/> and keeps what it was restored to.</summary>
    private sealed class SnapshotApplier : IConsensusApplier
    {
        public List<string> Batches { get; } = [];

        public byte[]? State { get; set; } = [0];

        public byte[]? Restored { get; private set; }

        public long LastAppliedIndex { get; private set; }

        public ValueTask ApplyAsync(LogPosition position, ReadOnlyMemory<byte> batch, CancellationToken token)
        {
            Batches.Add(Encoding.ASCII.GetString(batch.Span));
            LastAppliedIndex = position.Index;
            return ValueTask.CompletedTask;
        }

        public byte[]? DescribeAppliedState() => State;

        public ValueTask RestoreAsync(LogPosition position, ReadOnlyMemory<byte> state, CancellationToken token)
        {
            Restored = state.ToArray();
            LastAppliedIndex = position.Index;
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>A log that only keeps the applier it is started with (so a test can feed it entries) and what it is asked to replicate.</summary>
    private sealed class CapturingLog : IConsensusLog
    {
        public IConsensusApplier? Applier { get; private set; }

        public List<ReadOnlyMemory<byte>> Replicated { get; } = [];

        public bool Disposed { get; private set; }

        public bool IsLeader => true;

        public long Term => 1;

        public long CommitIndex => 0;

        public EndPoint? LeaderEndPoint => null;

        public CancellationToken LeadershipToken => CancellationToken.None;

        public IReadOnlyList<ConsensusMember> Members => [];

        public ValueTask StartAsync(IConsensusApplier applier, CancellationToken token)
        {
            Applier = applier;
            return ValueTask.CompletedTask;
        }

        public ValueTask<LogPosition> ReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token)
        {
            Replicated.Add(batch);
            return ValueTask.FromResult(new LogPosition(1, Replicated.Count));
        }

        public ValueTask WaitForLeaderReadyAsync(CancellationToken token) => ValueTask.CompletedTask;

        public ValueTask<bool> AddMemberAsync(EndPoint member, CancellationToken token) => throw new NotSupportedException();

        public ValueTask<bool> RemoveMemberAsync(EndPoint member, CancellationToken token) => throw new NotSupportedException();

        public ValueTask DisposeAsync()
        {
            Disposed = true;
            return ValueTask.CompletedTask;
        }
    }
}
