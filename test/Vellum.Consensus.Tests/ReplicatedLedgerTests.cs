using System.Text;
using Vellum.Consensus.Raft;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Identity;
using Vellum.Ledger;
using Vellum.Storage.Ledger;
using Vellum.Storage.Verification;

namespace Vellum.Consensus.Tests;

/// <summary>
/// Ledger stores joined to real Raft nodes (TCP with mutual TLS on 127.0.0.1): the whole replicated write path below
/// the HTTP layer — sequencing on the primary, consensus, applying on every node, role changes.
/// </summary>
[Collection(nameof(RaftCollection))]
public sealed class ReplicatedLedgerTests : IAsyncLifetime
{
    private readonly RaftTestCluster _raft = new(3);
    private readonly LedgerSecret _secret = LedgerSecret.Generate();
    private readonly Node?[] _nodes = new Node?[3];

    [Fact]
    public async Task Writes_on_the_primary_reach_every_node_and_every_directory_verifies()
    {
        for (var i = 0; i < 3; i++)
        {
            await StartAsync(i);
        }

        var primary = await WaitForPrimaryAsync();
        var acked = await AppendManyAsync(_nodes[primary]!.Sequencer, 200);
        await _nodes[primary]!.Sequencer.WaitForCommitAsync(acked.Max()).AsTask().WaitAsync(RaftTestCluster.Timeout);

        await WaitIdenticalAsync();
        foreach (var seqno in acked)
        {
            Assert.Equal(EntryKind.UserEntry, _nodes[0]!.Store.ReadHeader(seqno).Kind);
        }

        // Backups refuse writes; only the primary sequences.
        var backup = Enumerable.Range(0, 3).First(i => i != primary);
        await Assert.ThrowsAsync<NotPrimaryException>(() => _nodes[backup]!.Sequencer.AppendAsync(Entry(0)).AsTask());
        AssertEachVerifies();

        // Every member's Raft log holds the batches sealed under the ledger's log key: no entry in clear, while the
        // ledger files (a Public ledger's) hold them in clear.
        for (var i = 0; i < 3; i++)
        {
            var walFiles = Directory.GetFiles(_raft.WalPath(i), "*", SearchOption.AllDirectories);
            Assert.True(walFiles.Sum(f => new FileInfo(f).Length) > 200 * 8, $"node {i}'s WAL holds the batches");
            foreach (var file in walFiles)
            {
                var bytes = ReadShared(file);
                Assert.Equal(-1, bytes.AsSpan().IndexOf("entry 17"u8));
                Assert.Equal(-1, bytes.AsSpan().IndexOf("entry 199"u8));
            }

            Assert.Contains(Directory.GetFiles(_nodes[i]!.Store.Options.LedgerDirectory), f => ReadShared(f).AsSpan().IndexOf("entry 199"u8) >= 0);
        }
    }

    private static byte[] ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    [Fact]
    public async Task A_new_primary_takes_over_signs_at_once_and_a_restarted_node_catches_up()
    {
        for (var i = 0; i < 3; i++)
        {
            await StartAsync(i);
        }

        var first = await WaitForPrimaryAsync();
        var acked = await AppendManyAsync(_nodes[first]!.Sequencer, 100);
        await _nodes[first]!.Sequencer.WaitForCommitAsync(acked.Max()).AsTask().WaitAsync(RaftTestCluster.Timeout);
        await WaitIdenticalAsync();
        var oldView = _nodes[first]!.Sequencer.View;

        await StopAsync(first);
        var second = await WaitForPrimaryAsync();
        Assert.NotEqual(first, second);
        var store = _nodes[second]!.Store;
        var sequencer = _nodes[second]!.Sequencer;
        Assert.True(sequencer.View > oldView);

        // The new view opens with a signature over everything inherited.
        await RaftTestCluster.WaitUntilAsync(() => store.DurableSeqno > acked.Max() && store.ReadHeader(store.DurableSeqno).Id.View == sequencer.View, RaftTestCluster.Timeout, "the new primary's first transaction");
        var firstOfView = Enumerable.Range(1, (int)store.DurableSeqno).Select(s => store.ReadHeader(s)).First(h => h.Id.View == sequencer.View);
        Assert.Equal(EntryKind.Signature, firstOfView.Kind);

        var more = await AppendManyAsync(sequencer, 100, start: 1000);
        await sequencer.WaitForCommitAsync(more.Max()).AsTask().WaitAsync(RaftTestCluster.Timeout);

        // Every write acknowledged before the failover is still there.
        foreach (var seqno in acked)
        {
            Assert.Equal(EntryKind.UserEntry, store.ReadHeader(seqno).Kind);
        }

        await StartAsync(first);
        await WaitIdenticalAsync();
        AssertEachVerifies();
    }

    [Fact]
    public async Task The_log_is_compacted_at_snapshots_and_a_node_behind_them_fetches_the_ledger_then_follows_the_log()
    {
        var (primary, behind, acked) = await WriteWithOneAwayAsync();
        var leader = _nodes[primary]!;

        // The node comes back with its old ledger; the leader no longer holds what it misses, so it sends its
        // snapshot, and the node fetches the transactions (here straight from the leader's store: the node layer
        // does it over HTTPS) and checks them before writing them.
        // The fetch is made slower than the leader's RPC timeout (250 ms), as a real one over the network can be: the
        // leader gives up on that InstallSnapshot and sends it again while the node is still catching up.
        var fetched = 0L;
        await StartAsync(behind, snapshotInterval: 5, catchUp: async (target, token) =>
        {
            await Task.Delay(1500, token);
            var store = _nodes[behind]!.Store;
            while (store.DurableSeqno < target)
            {
                var frames = leader.Store.ReadFrames(store.DurableSeqno + 1, 4096, out var last);
                Assert.NotEmpty(frames);
                store.ApplyCommitted(frames);
                Assert.Equal(last, store.DurableSeqno);
                fetched += frames.Length;
            }
        });

        await WaitIdenticalAsync();

        // The snapshot counts as installed once it is also kept on disk, a moment after the fetch made the ledgers equal.
        var rejoined = _nodes[behind]!;
        await RaftTestCluster.WaitUntilAsync(() => rejoined.Consensus.SnapshotsInstalled >= 1, RaftTestCluster.Timeout, "the node to catch up through a snapshot");
        Assert.True(fetched > 0);
        foreach (var seqno in acked)
        {
            Assert.Equal(EntryKind.UserEntry, _nodes[behind]!.Store.ReadHeader(seqno).Kind);
        }

        // And the log goes on from the snapshot: a write after it reaches the node through consensus alone.
        var more = await AppendManyAsync(_nodes[primary]!.Sequencer, 10, start: 5000);
        await _nodes[primary]!.Sequencer.WaitForCommitAsync(more.Max()).AsTask().WaitAsync(RaftTestCluster.Timeout);
        await WaitIdenticalAsync();
        AssertEachVerifies();

        // A restart reads the snapshot back and replays only the log after it.
        await StopAsync(behind);
        await StartAsync(behind, snapshotInterval: 5);
        await WaitIdenticalAsync();
        Assert.True(_nodes[behind]!.Consensus.SnapshotIndex > 0);
    }

    [Fact]
    public async Task A_node_that_installed_a_snapshot_whose_reply_the_leader_missed_is_replicated_to_from_the_log()
    {
        var (primary, behind, _) = await WriteWithOneAwayAsync();
        var leader = _nodes[primary]!;

        // The leader's log must go on past its snapshot, so that the node can only reach the end through entries.
        for (var k = 0; leader.Consensus.AppliedIndex < leader.Consensus.CommitIndex || leader.Consensus.CommitIndex <= leader.Consensus.SnapshotIndex; k++)
        {
            Assert.True(k < 20, $"commit {leader.Consensus.CommitIndex}, snapshot {leader.Consensus.SnapshotIndex}");
            var one = await AppendManyAsync(leader.Sequencer, 1, start: 1000 + k);
            await leader.Sequencer.WaitForCommitAsync(one.Max()).AsTask().WaitAsync(RaftTestCluster.Timeout);
            await Task.Delay(50);
        }

        var target = leader.Consensus.CommitIndex;

        // The node installs the snapshot, and its answer reaches the leader after the leader gave up on the request (a
        // slow disk or network at that moment): every later copy of the same snapshot finds it already held.
        await StartAsync(behind, snapshotInterval: 5, installLag: TimeSpan.FromSeconds(1.5), catchUp: (needed, _) =>
        {
            var store = _nodes[behind]!.Store;
            while (store.DurableSeqno < needed)
            {
                store.ApplyCommitted(leader.Store.ReadFrames(store.DurableSeqno + 1, 4096, out long _));
            }

            return Task.CompletedTask;
        });

        // No writes from here: the node reaches the leader's last entry only if the leader replicates to it again.
        var rejoined = _nodes[behind]!;
        await RaftTestCluster.WaitUntilAsync(() => rejoined.Consensus.SnapshotsInstalled >= 1, RaftTestCluster.Timeout, "the node to install the snapshot");
        await RaftTestCluster.WaitUntilAsync(() => rejoined.Consensus.CommitIndex >= target, RaftTestCluster.Timeout,
            $"the node to commit {target} (it is at {rejoined.Consensus.CommitIndex}, snapshot {rejoined.Consensus.SnapshotIndex})");
        await WaitIdenticalAsync();
    }

    [Fact]
    public async Task Ledger_writes_that_never_reached_the_disk_come_back_from_the_raft_log()
    {
        // Applied batches are not fsynced on their own in a Raft cluster (the WAL holds them, fsynced before they
        // committed). Model a power loss on one node: the unsynced tail of its open ledger chunk is gone. (One large
        // chunk, so the tail is in the open one: a chunk is fsynced when it closes.)
        for (var i = 0; i < 3; i++)
        {
            await StartAsync(i, chunkSizeThreshold: 1 << 20);
        }

        var primary = await WaitForPrimaryAsync();
        var acked = await AppendManyAsync(_nodes[primary]!.Sequencer, 300);
        await _nodes[primary]!.Sequencer.WaitForCommitAsync(acked.Max()).AsTask().WaitAsync(RaftTestCluster.Timeout);
        await WaitIdenticalAsync();

        var victim = (primary + 1) % 3;
        var directory = _nodes[victim]!.Store.Options.LedgerDirectory;
        var before = _nodes[victim]!.Store.DurableSeqno;
        await StopAsync(victim);
        var open = Directory.GetFiles(directory, "ledger_*").Single(f => !f.EndsWith(".committed", StringComparison.Ordinal));
        var length = new FileInfo(open).Length;
        Assert.True(length > 4000, $"the open chunk holds {length} bytes");
        using (var file = File.OpenHandle(open, FileMode.Open, FileAccess.ReadWrite))
        {
            // Mid-frame, a few transactions back: a torn tail the store's recovery cuts at the last whole frame.
            RandomAccess.SetLength(file, length - 1500);
        }

        await StartAsync(victim, chunkSizeThreshold: 1 << 20);
        await WaitIdenticalAsync();
        Assert.Equal(before, _nodes[victim]!.Store.DurableSeqno);
        foreach (var seqno in acked)
        {
            Assert.Equal(EntryKind.UserEntry, _nodes[victim]!.Store.ReadHeader(seqno).Kind);
        }

        AssertEachVerifies();
    }

    [Fact]
    public async Task Several_batches_in_flight_commit_in_order_and_survive_a_failover()
    {
        for (var i = 0; i < 3; i++)
        {
            await StartAsync(i, maxBatchesInFlight: 4);
        }

        var first = await WaitForPrimaryAsync();
        var store = _nodes[first]!.Sequencer;

        // Closed-loop writers, so that batches keep coming while earlier ones are in consensus.
        var acked = await WriteInLoopsAsync(store, writers: 16, each: 40, start: 0);
        await store.WaitForCommitAsync(acked.Max()).AsTask().WaitAsync(RaftTestCluster.Timeout);
        Assert.True(store.PeakBatchesInFlight > 1, $"at most {store.PeakBatchesInFlight} batch was in flight");
        Assert.True(store.PeakBatchesInFlight <= 4);
        await WaitIdenticalAsync();

        // The primary goes while writers are busy: what it acknowledged stays, the rest fails as unknown.
        var busy = WriteInLoopsAsync(store, writers: 16, each: 1000, start: 100_000, tolerateLoss: true);
        await RaftTestCluster.WaitUntilAsync(() => store.BatchesInFlight > 0, RaftTestCluster.Timeout, "batches in flight");
        await StopAsync(first);
        var survivedBeforeStop = await busy;
        var second = await WaitForPrimaryAsync();
        var next = _nodes[second]!.Sequencer;
        var more = await WriteInLoopsAsync(next, writers: 8, each: 10, start: 200_000);
        await next.WaitForCommitAsync(more.Max()).AsTask().WaitAsync(RaftTestCluster.Timeout);
        foreach (var seqno in acked.Concat(survivedBeforeStop))
        {
            Assert.Equal(EntryKind.UserEntry, _nodes[second]!.Store.ReadHeader(seqno).Kind);
        }

        await StartAsync(first, maxBatchesInFlight: 4);
        await WaitIdenticalAsync();
        AssertEachVerifies();
    }

    /// <summary>Writers that each append one entry after another; with <paramref name="tolerateLoss"/>, a writer stops at its first failure.</summary>
    private static async Task<List<long>> WriteInLoopsAsync(Sequencer store, int writers, int each, int start, bool tolerateLoss = false)
    {
        var acked = new List<long>();
        var tasks = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (var k = 0; k < each; k++)
            {
                try
                {
                    var id = await store.AppendAsync(Entry(start + (w * each) + k));
                    lock (acked)
                    {
                        acked.Add(id.Seqno);
                    }
                }
                catch (Exception ex) when (tolerateLoss && ex is ReplicationLostException or NotPrimaryException or ObjectDisposedException)
                {
                    return;
                }
            }
        })).ToArray();
        await Task.WhenAll(tasks).WaitAsync(RaftTestCluster.Timeout);
        return acked;
    }

    /// <summary>
    /// Three nodes that snapshot every 5 entries; one (returned as <c>Behind</c>) is stopped, and enough batches go in
    /// without it for the others to snapshot several times and drop those entries.
    /// </summary>
    private async Task<(int Primary, int Behind, List<long> Acked)> WriteWithOneAwayAsync()
    {
        for (var i = 0; i < 3; i++)
        {
            await StartAsync(i, snapshotInterval: 5);
        }

        var primary = await WaitForPrimaryAsync();
        var behind = (primary + 1) % 3;
        await StopAsync(behind);
        var leader = _nodes[primary]!;
        var acked = new List<long>();
        for (var round = 0; round < 20; round++)
        {
            acked.AddRange(await AppendManyAsync(leader.Sequencer, 20, start: round * 20));
        }

        await leader.Sequencer.WaitForCommitAsync(acked.Max()).AsTask().WaitAsync(RaftTestCluster.Timeout);
        await RaftTestCluster.WaitUntilAsync(() => leader.Consensus.SnapshotIndex > 10, RaftTestCluster.Timeout, "the leader to take a snapshot");
        return (primary, behind, acked);
    }

    private async Task StartAsync(
        int i, int snapshotInterval = 0, Func<long, CancellationToken, Task>? catchUp = null, long chunkSizeThreshold = 16 * 1024, int maxBatchesInFlight = 1,
        TimeSpan installLag = default)
    {
        var root = _raft.WalPath(i) + "-ledger";
        var options = new LedgerStoreOptions
        {
            LedgerDirectory = Path.Combine(root, "ledger"),
            StateDirectory = Path.Combine(root, "state"),
            ChunkSizeThreshold = chunkSizeThreshold,
            SyncEachBatch = false,
        };
        var consensus = new RaftConsensus(new RaftConsensusOptions
        {
            LocalEndPoint = _raft.EndPoints[i],
            Members = _raft.EndPoints,
            WalPath = _raft.WalPath(i),
            NodeIdentity = _raft.Identities[i],
            ServiceCertificate = _raft.Service.Certificate,
            LoggerFactory = _raft.Logs,
            SnapshotInterval = snapshotInterval,
        });
        var store = LedgerStore.Open(options, _secret, _raft.Service.Certificate);
        var applier = new LedgerApplier(store, new Vellum.Core.Crypto.LogSeal(_secret), catchUp is null ? null : new CatchUp(catchUp));
        var sequencer = new Sequencer(store, consensus, _secret, new NodeRootSigner(_raft.Identities[i]), new SequencerOptions
        {
            SignatureInterval = 50,
            SignatureDelay = TimeSpan.FromMilliseconds(20),
            MaxBatchesInFlight = maxBatchesInFlight,
        });
        await consensus.StartAsync(installLag > TimeSpan.Zero ? new LaggingInstall(applier, installLag) : applier, CancellationToken.None).AsTask().WaitAsync(RaftTestCluster.Timeout);
        var stopping = new CancellationTokenSource();
        _nodes[i] = new Node(consensus, applier, sequencer, store, stopping, Task.Run(() => sequencer.FollowLeadershipAsync(stopping.Token)));
    }

    private async Task StopAsync(int i)
    {
        var node = _nodes[i]!;
        _nodes[i] = null;
        await node.DisposeAsync();
    }

    private async Task<int> WaitForPrimaryAsync()
    {
        var primary = -1;
        await RaftTestCluster.WaitUntilAsync(
            () =>
            {
                var primaries = Enumerable.Range(0, 3).Where(i => _nodes[i] is { } n && n.Sequencer.IsPrimary && n.Consensus.IsLeader).ToArray();
                primary = primaries.Length == 1 ? primaries[0] : -1;
                return primary >= 0;
            },
            RaftTestCluster.Timeout,
            "one primary");
        return primary;
    }

    private async Task WaitIdenticalAsync()
    {
        var nodes = _nodes.Where(n => n is not null).Select(n => n!).ToArray();
        var running = nodes.Select(n => n.Store).ToArray();
        await RaftTestCluster.WaitUntilAsync(
            () =>
            {
                var primary = nodes.FirstOrDefault(n => n.Sequencer.IsPrimary);
                return primary is not null && primary.Store.DurableSeqno == primary.Sequencer.LastSeqno &&
                    running.All(s => s.DurableSeqno == primary.Store.DurableSeqno && s.CommittedSeqno == primary.Store.CommittedSeqno);
            },
            RaftTestCluster.Timeout,
            "every node to hold the same ledger");
        // Up to what every node holds: the primary may sign again after the wait (its clock runs on), and a backup then
        // lacks that last transaction for a moment (a whole-suite run of 2026-12-05 read it there and failed).
        var last = running.Min(s => s.DurableSeqno);
        for (var seqno = 1L; seqno <= last; seqno++)
        {
            var body = running[0].ReadBody(seqno);
            foreach (var other in running.Skip(1))
            {
                Assert.Equal(body, other.ReadBody(seqno));
            }
        }
    }

    private void AssertEachVerifies()
    {
        foreach (var node in _nodes.Where(n => n is not null))
        {
            // A running node's files trail what it applied by the ledger's gathered tail (write-behind, behind the
            // Raft log): written out first, as a snapshot or a stop does.
            node!.Store.SyncToDisk();
            var (summary, failure) = LedgerDirectoryVerifier.Verify(node!.Store.Options.LedgerDirectory, _raft.Service.Certificate, _secret);
            Assert.Null(failure);
            Assert.Equal(node.Store.DurableSeqno, summary!.Transactions);
        }
    }

    private static UserEntry Entry(int i) => new($"c{i % 3}", [], Encoding.UTF8.GetBytes($"entry {i}"), []);

    private static async Task<List<long>> AppendManyAsync(Sequencer store, int count, int start = 0)
    {
        var tasks = Enumerable.Range(start, count).Select(i => store.AppendAsync(Entry(i)).AsTask()).ToArray();
        var ids = await Task.WhenAll(tasks).WaitAsync(RaftTestCluster.Timeout);
        return [.. ids.Select(id => id.Seqno)];
    }

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        for (var i = 0; i < _nodes.Length; i++)
        {
            if (_nodes[i] is not null)
            {
                await StopAsync(i);
            }
        }

        await _raft.DisposeAsync();
        _secret.Dispose();
    }

    /// <summary>An applier whose snapshot installs finish <c>lag</c> late, whatever the request's token says.</summary>
    private sealed class LaggingInstall(IConsensusApplier inner, TimeSpan lag) : IConsensusApplier
    {
        public long LastAppliedIndex => inner.LastAppliedIndex;

        public ValueTask ApplyAsync(LogPosition position, ReadOnlyMemory<byte> batch, CancellationToken token) => inner.ApplyAsync(position, batch, token);

        public byte[]? DescribeAppliedState() => inner.DescribeAppliedState();

        public async ValueTask RestoreAsync(LogPosition position, ReadOnlyMemory<byte> state, CancellationToken token)
        {
            await inner.RestoreAsync(position, state, token);
            await Task.Delay(lag, CancellationToken.None);
        }
    }

    /// <summary>One member: consensus, the applier under it, the sequencer over it (following leadership), the store.</summary>
    private sealed record Node(RaftConsensus Consensus, LedgerApplier Applier, Sequencer Sequencer, LedgerStore Store, CancellationTokenSource Stopping, Task Roles)
        : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            // Consensus first: no more batches are applied to a store being closed.
            await Stopping.CancelAsync();
            await Consensus.DisposeAsync().AsTask().WaitAsync(RaftTestCluster.Timeout);
            await Roles.WaitAsync(RaftTestCluster.Timeout);
            await Applier.DisposeAsync().AsTask().WaitAsync(RaftTestCluster.Timeout);
            await Sequencer.DisposeAsync().AsTask().WaitAsync(RaftTestCluster.Timeout);
            await Store.DisposeAsync().AsTask().WaitAsync(RaftTestCluster.Timeout);
            Stopping.Dispose();
        }
    }

    private sealed class CatchUp(Func<long, CancellationToken, Task> fetch) : ILedgerCatchUp
    {
        public async Task<bool> CatchUpAsync(long targetSeqno, CancellationToken cancellationToken)
        {
            await fetch(targetSeqno, cancellationToken);
            return true;
        }
    }
}
