using System.Net;
using Vellum.Consensus;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Format;
using Vellum.Core.Identity;
using Vellum.Ledger;
using Vellum.Storage.Ledger;
using Vellum.Storage.Verification;

namespace Vellum.Storage.Tests.Ledger;

/// <summary>
/// The replicated write path, driven by a loopback "consensus" in the test: each node's sequencer hands batches to it,
/// and it keeps a committed log that every connected node's store applies in order. It checks primary, backups, role
/// changes, what a lost role does to writes, and the checks on committed batches — without a network.
/// </summary>
public sealed class ReplicatedStoreTests : IDisposable
{
    private readonly TestLedger _ledger = new();
    private readonly List<string> _directories = [];

    [Fact]
    public async Task Backups_apply_the_primarys_batches_and_end_identical()
    {
        await using var cluster = new LoopbackCluster(this, 3);
        await cluster.ElectAsync(0, view: 2);
        await TestLedger.AppendMany(cluster.Sequencers[0], 300, concurrency: 16);

        cluster.AssertIdentical();
        Assert.Equal(2, cluster.Stores[1].ReadHeader(1).Id.View);
        Assert.True(cluster.Stores[1].CommittedSeqno >= 300);
        cluster.AssertEachVerifies();
    }

    [Fact]
    public async Task A_backup_refuses_appends_and_waits_for_commit_without_signing()
    {
        await using var cluster = new LoopbackCluster(this, 3);
        await cluster.ElectAsync(0, view: 2);
        var id = await cluster.Sequencers[0].AppendAsync(TestLedger.Entry(1));

        await Assert.ThrowsAsync<NotPrimaryException>(() => cluster.Sequencers[1].AppendAsync(TestLedger.Entry(2)).AsTask());
        Assert.Null(await Record.ExceptionAsync(() => cluster.Sequencers[1].WaitForCommitAsync(id.Seqno).AsTask().WaitAsync(TimeSpan.FromSeconds(10))));
        Assert.Equal(cluster.Stores[0].CommittedSeqno, cluster.Stores[1].CommittedSeqno);
    }

    [Fact]
    public async Task A_new_primary_signs_at_once_and_the_old_primarys_unreplicated_writes_are_lost()
    {
        await using var cluster = new LoopbackCluster(this, 3);
        await cluster.ElectAsync(0, view: 2);
        await TestLedger.AppendMany(cluster.Sequencers[0], 50, concurrency: 8);
        cluster.Quiesce();
        var before = cluster.Stores[1].DurableSeqno;

        // The old primary sequences writes that never reach consensus.
        var lost = await cluster.HoldWritesAsync(firstEntry: 100, count: 6);

        await cluster.ElectAsync(1, view: 3);
        cluster.Release(commitHeld: false);
        foreach (var write in lost)
        {
            await Assert.ThrowsAsync<ReplicationLostException>(() => write.WaitAsync(TimeSpan.FromSeconds(10)));
        }

        // The new primary's first transaction is a signature over what it inherited.
        await cluster.Sequencers[1].WaitForCommitAsync(before + 1).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var first = cluster.Stores[1].ReadHeader(before + 1);
        Assert.Equal(EntryKind.Signature, first.Kind);
        Assert.Equal(3, first.Id.View);

        await TestLedger.AppendMany(cluster.Sequencers[1], 40, concurrency: 8, start: 1000);
        cluster.AssertIdentical();
        Assert.Throws<NotPrimaryException>(() => cluster.Sequencers[0].AppendAsync(TestLedger.Entry(1)).AsTask().GetAwaiter().GetResult());
        cluster.AssertEachVerifies();
    }

    [Fact]
    public async Task A_write_whose_primary_lost_its_role_may_still_commit()
    {
        await using var cluster = new LoopbackCluster(this, 3);
        await cluster.ElectAsync(0, view: 2);
        await TestLedger.AppendMany(cluster.Sequencers[0], 10, concurrency: 2);
        cluster.Quiesce();
        var before = cluster.Sequencers[0].LastSeqno;

        var write = (await cluster.HoldWritesAsync(firstEntry: 77, count: 1))[0];

        // Consensus commits the held batch (a majority had it) but the old primary only hears that it lost its role.
        cluster.Release(commitHeld: true);
        await Assert.ThrowsAsync<ReplicationLostException>(() => write.WaitAsync(TimeSpan.FromSeconds(10)));
        await cluster.ElectAsync(2, view: 3);

        var held = cluster.Stores[2].ReadHeader(before + 1);
        Assert.Equal(2, held.Id.View);
        Assert.Equal(EntryKind.UserEntry, held.Kind);
        await TestLedger.AppendMany(cluster.Sequencers[2], 20, concurrency: 4, start: 500);
        cluster.AssertIdentical();
        cluster.AssertEachVerifies();
    }

    [Fact]
    public async Task A_batch_in_flight_when_its_primary_lost_its_role_is_applied_as_another_primarys_if_it_commits()
    {
        await using var cluster = new LoopbackCluster(this, 3);
        await cluster.ElectAsync(0, view: 2);
        await TestLedger.AppendMany(cluster.Sequencers[0], 10, concurrency: 2);
        cluster.Quiesce();
        var before = cluster.Sequencers[0].LastSeqno;

        var writes = await cluster.HoldWritesAsync(firstEntry: 80, count: 4);

        // The old primary is told it lost its role (its tree goes back to what is durable, its batches in flight are
        // forgotten) and only then does its own batch come back committed: it is checked and added to the tree like
        // any other primary's batch.
        cluster.Release(commitHeld: true, oldPrimaryApplies: true);
        foreach (var write in writes)
        {
            await Assert.ThrowsAsync<ReplicationLostException>(() => write.WaitAsync(TimeSpan.FromSeconds(10)));
        }

        // The held batch (the first of the four writes, perhaps all of them) reaches the ledger on every node. The
        // writes failed at the rollback already; the loopback applies the log right after, so wait for it.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (cluster.Stores[0].DurableSeqno == before && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }

        cluster.Quiesce();
        Assert.True(cluster.Stores[0].DurableSeqno > before);
        Assert.Equal(cluster.Stores[1].DurableSeqno, cluster.Stores[0].DurableSeqno);
        Assert.Equal(0, cluster.Sequencers[0].BatchesInFlight);

        // Signatures over the grown ledger check out on the old primary, which proves its tree holds those leaves.
        await cluster.ElectAsync(2, view: 3);
        await TestLedger.AppendMany(cluster.Sequencers[2], 40, concurrency: 4, start: 500);
        cluster.AssertIdentical();
        cluster.AssertEachVerifies();

        await cluster.ElectAsync(0, view: 4);
        await TestLedger.AppendMany(cluster.Sequencers[0], 10, concurrency: 2, start: 900);
        cluster.AssertIdentical();
        cluster.AssertEachVerifies();
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(256, true)]
    [InlineData(257, false)]
    public void Batches_in_flight_are_from_1_to_256(int value, bool valid)
    {
        var error = Record.Exception(() => new SequencerOptions { MaxBatchesInFlight = value });
        if (valid)
        {
            Assert.Null(error);
        }
        else
        {
            Assert.IsType<ArgumentOutOfRangeException>(error);
        }
    }

    [Fact]
    public async Task A_replayed_batch_changes_nothing()
    {
        await using var cluster = new LoopbackCluster(this, 2);
        await cluster.ElectAsync(0, view: 2);
        await TestLedger.AppendMany(cluster.Sequencers[0], 30, concurrency: 4);
        cluster.Quiesce();
        var durable = cluster.Stores[1].DurableSeqno;

        foreach (var batch in cluster.Log)
        {
            cluster.Stores[1].ApplyCommitted(batch);
        }

        Assert.Equal(durable, cluster.Stores[1].DurableSeqno);
        cluster.AssertIdentical();
    }

    [Fact]
    public async Task A_snapshot_fsyncs_a_ledger_only_if_it_applied_something_since_the_last_fsync()
    {
        // As under a durable consensus log: applied batches are not fsynced one by one, the snapshot syncs them.
        await using var cluster = new LoopbackCluster(this, 2, syncEachBatch: false);
        await cluster.ElectAsync(0, view: 2);
        await TestLedger.AppendMany(cluster.Sequencers[0], 3, concurrency: 1);
        cluster.Quiesce();
        var store = cluster.Stores[1];

        store.SyncToDisk();
        Assert.Equal(1, store.SnapshotSyncs);

        // Nothing applied since: a node with many idle ledgers issues no fsync for them.
        store.SyncToDisk();
        store.SyncToDisk();
        Assert.Equal(1, store.SnapshotSyncs);

        await TestLedger.AppendMany(cluster.Sequencers[0], 2, concurrency: 1);
        cluster.Quiesce();
        store.SyncToDisk();
        Assert.Equal(2, store.SnapshotSyncs);
        cluster.AssertIdentical();
    }

    [Fact]
    public async Task A_backup_that_missed_the_log_catches_up_from_another_members_frames()
    {
        await using var cluster = new LoopbackCluster(this, 3);
        await cluster.ElectAsync(0, view: 2);
        cluster.Disconnect(2);
        await TestLedger.AppendMany(cluster.Sequencers[0], 300, concurrency: 16);
        cluster.Quiesce();
        var source = cluster.Stores[1];
        var behind = cluster.Stores[2];
        Assert.Equal(0, behind.DurableSeqno);

        // Small answers: each stays within the bound (or is one frame), and they continue one another.
        var answers = 0;
        while (behind.DurableSeqno < source.DurableSeqno)
        {
            var from = behind.DurableSeqno + 1;
            var frames = source.ReadFrames(from, 2048, out var last);
            Assert.True(frames.Length <= 2048 || last == from, $"{frames.Length} bytes for {from}..{last}");
            behind.ApplyCommitted(frames);
            Assert.Equal(last, behind.DurableSeqno);
            answers++;
        }

        Assert.True(answers > 1);
        Assert.Single(Frames(source.ReadFrames(1, 1, out var only)));
        Assert.Equal(1, only);
        Assert.Empty(source.ReadFrames(source.DurableSeqno + 1, 4096, out var none));
        Assert.Equal(source.DurableSeqno, none);

        // Consensus then replays what the node missed: all of it is skipped by seqno.
        cluster.Reconnect(2);
        cluster.Quiesce();
        cluster.AssertIdentical();
        cluster.AssertEachVerifies();
    }

    [Fact]
    public async Task Bad_batches_from_another_primary_are_refused_and_change_nothing()
    {
        await using var cluster = new LoopbackCluster(this, 2);
        await cluster.ElectAsync(0, view: 2);
        await TestLedger.AppendMany(cluster.Sequencers[0], 20, concurrency: 4);
        var backup = cluster.Stores[1];
        cluster.Quiesce();

        // The primary goes on; the backup, disconnected, has not applied these batches.
        cluster.Disconnect(1);
        var durable = backup.DurableSeqno;
        await TestLedger.AppendMany(cluster.Sequencers[0], 10, concurrency: 2, start: 100);
        var unapplied = cluster.Log.Skip(cluster.Applied(1)).SelectMany(b => b).ToArray();
        Assert.True(ContainsSignature(unapplied));

        var flipped = unapplied.ToArray();
        flipped[^5] ^= 0x40;
        Assert.Contains("checksum", Assert.Throws<LedgerCorruptException>(() => backup.ApplyCommitted(flipped)).Message, StringComparison.Ordinal);

        var firstLength = Frames(unapplied).Skip(1).First().Offset;
        Assert.Contains("does not follow", Assert.Throws<LedgerCorruptException>(() => backup.ApplyCommitted(unapplied.AsSpan(firstLength))).Message, StringComparison.Ordinal);

        var forged = ForgeRoot(unapplied)!;
        Assert.Contains("signature", Assert.Throws<LedgerCorruptException>(() => backup.ApplyCommitted(forged)).Message, StringComparison.Ordinal);

        Assert.Equal(durable, backup.DurableSeqno);
        cluster.Reconnect(1);
        cluster.AssertIdentical();
    }

    private static bool ContainsSignature(byte[] frames)
    {
        foreach (var (body, _) in Frames(frames))
        {
            if (EntryHeader.TryRead(body, out var header, out _) && header.Kind == EntryKind.Signature)
            {
                return true;
            }
        }

        return false;
    }

    private static IEnumerable<(byte[] Body, int Offset)> Frames(byte[] frames)
    {
        var offset = 0;
        while (offset < frames.Length)
        {
            Assert.Equal(FrameStatus.Ok, Frame.TryRead(frames.AsSpan(offset), out var length));
            yield return (frames.AsSpan(offset + Frame.HeaderSize, length).ToArray(), offset);
            offset += Frame.HeaderSize + length;
        }
    }

    /// <summary>The batch with its signature's root altered and the frame's checksum made valid again.</summary>
    private static byte[]? ForgeRoot(byte[] frames)
    {
        var copy = frames.ToArray();
        foreach (var (body, offset) in Frames(frames))
        {
            if (EntryHeader.TryRead(body, out var header, out _) && header.Kind == EntryKind.Signature)
            {
                // The public section starts with u64 tree size, then the root.
                body[EntryHeader.Size + 8] ^= 1;
                Frame.WriteHeader(copy.AsSpan(offset), body);
                body.CopyTo(copy, offset + Frame.HeaderSize);
                return copy;
            }
        }

        return null;
    }

    internal string NewDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "vellum-repl-" + Guid.NewGuid().ToString("N"));
        _directories.Add(path);
        return path;
    }

    public void Dispose()
    {
        _ledger.Dispose();
        foreach (var directory in _directories)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>N stores sharing a service identity and ledger secret, each with its own node identity and folder.</summary>
    private sealed class LoopbackCluster : IAsyncDisposable
    {
        private readonly ReplicatedStoreTests _test;
        private readonly LogSeal _seal;
        private readonly int[] _applied;
        private readonly bool[] _connected;
        private readonly List<NodeIdentity> _nodes = [];
        private readonly Lock _lock = new();
        private readonly Lock[] _nodeLocks;
        private TaskCompletionSource? _hold;
        private int _holdNode = -1;
        private TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _commitHeld;
        private bool _oldPrimaryApplies;
        private int _leader = -1;

        public LoopbackCluster(ReplicatedStoreTests test, int count, bool syncEachBatch = true)
        {
            _test = test;
            _seal = new LogSeal(test._ledger.Secret);
            _applied = new int[count];
            _nodeLocks = Enumerable.Range(0, count).Select(_ => new Lock()).ToArray();
            _connected = Enumerable.Repeat(true, count).ToArray();
            var stores = new List<LedgerStore>();
            var sequencers = new List<Sequencer>();
            for (var i = 0; i < count; i++)
            {
                var root = test.NewDirectory();
                var options = new LedgerStoreOptions
                {
                    LedgerDirectory = Path.Combine(root, "ledger"),
                    StateDirectory = Path.Combine(root, "state"),
                    IsPrivate = test._ledger.IsPrivate,
                    ChunkSizeThreshold = 8 * 1024,
                    SyncEachBatch = syncEachBatch,
                };
                var node = NodeIdentity.Create(test._ledger.Service);
                _nodes.Add(node);
                var store = LedgerStore.Open(options, test._ledger.Secret, test._ledger.Service.Certificate);
                stores.Add(store);
                sequencers.Add(new Sequencer(store, new LoopbackConsensus(this, i), test._ledger.Secret, new NodeRootSigner(node), test._ledger.SequencerOptions(signatureInterval: 25)));
            }

            Stores = stores;
            Sequencers = sequencers;
        }

        public IReadOnlyList<LedgerStore> Stores { get; }

        public IReadOnlyList<Sequencer> Sequencers { get; }

        public List<byte[]> Log { get; } = [];

        public int Applied(int node)
        {
            lock (_lock)
            {
                return _applied[node];
            }
        }

        public async Task ElectAsync(int node, long view)
        {
            lock (_lock)
            {
                _leader = node;
            }

            for (var i = 0; i < Stores.Count; i++)
            {
                if (i != node)
                {
                    await Sequencers[i].BecomeBackupAsync();
                }
            }

            CatchUp(node);
            await Sequencers[node].BecomePrimaryAsync(view);
        }

        private void Hold()
        {
            lock (_lock)
            {
                _hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _holdNode = _leader;
                _held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        private Task WaitUntilHeldAsync() => _held.Task.WaitAsync(TimeSpan.FromSeconds(10));

        /// <summary>Holds consensus, appends <paramref name="count"/> entries on the leader and waits until its first batch is held.</summary>
        public async Task<Task<Vellum.Core.Primitives.TxId>[]> HoldWritesAsync(int firstEntry, int count)
        {
            Hold();
            Sequencer leader;
            lock (_lock)
            {
                leader = Sequencers[_leader];
            }

            var writes = Enumerable.Range(firstEntry, count).Select(i => leader.AppendAsync(TestLedger.Entry(i)).AsTask()).ToArray();
            await WaitUntilHeldAsync();
            return writes;
        }

        /// <summary>Lets held batches go; they commit only if <paramref name="commitHeld"/>, and their primary is told it lost its role.</summary>
        /// <remarks>With <paramref name="oldPrimaryApplies"/>, the old primary applies the log (its held batch too) right after it hears.</remarks>
        public void Release(bool commitHeld, bool oldPrimaryApplies = false)
        {
            TaskCompletionSource? hold;
            lock (_lock)
            {
                _commitHeld = commitHeld;
                _oldPrimaryApplies = oldPrimaryApplies;
                hold = _hold;
                _hold = null;
                _holdNode = -1;
            }

            hold?.TrySetResult();
        }

        public void Disconnect(int node)
        {
            lock (_lock)
            {
                _connected[node] = false;
            }
        }

        public void Reconnect(int node)
        {
            lock (_lock)
            {
                _connected[node] = true;
            }

            CatchUp(node);
        }

        /// <summary>Waits until the primary has written all it sequenced, then brings every connected node up to date.</summary>
        public void Quiesce()
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (Enumerable.Range(0, Stores.Count).Any(i => Sequencers[i].IsPrimary && Stores[i].DurableSeqno != Sequencers[i].LastSeqno) &&
                DateTime.UtcNow < deadline)
            {
                Thread.Sleep(5);
            }

            for (var i = 0; i < Stores.Count; i++)
            {
                CatchUp(i);
            }
        }

        public void AssertIdentical()
        {
            Quiesce();

            var reference = Stores[0];
            foreach (var store in Stores.Skip(1))
            {
                Assert.Equal(reference.DurableSeqno, store.DurableSeqno);
                Assert.Equal(reference.CommittedSeqno, store.CommittedSeqno);
                for (var seqno = 1L; seqno <= reference.DurableSeqno; seqno++)
                {
                    Assert.Equal(reference.ReadBody(seqno), store.ReadBody(seqno));
                }
            }
        }

        public void AssertEachVerifies()
        {
            foreach (var store in Stores)
            {
                var (summary, failure) = LedgerDirectoryVerifier.Verify(store.Options.LedgerDirectory, _test._ledger.Service.Certificate, _test._ledger.Secret);
                Assert.Null(failure);
                Assert.Equal(store.DurableSeqno, summary!.Transactions);
            }
        }

        private void CatchUp(int node)
        {
            // One applier per node at a time, as consensus would: two threads catching the same node up must not
            // apply its batches out of order.
            lock (_nodeLocks[node])
            {
                CatchUpLocked(node);
            }
        }

        private void CatchUpLocked(int node)
        {
            while (true)
            {
                byte[] next;
                lock (_lock)
                {
                    if (!_connected[node] || _applied[node] >= Log.Count)
                    {
                        return;
                    }

                    next = Log[_applied[node]];
                    _applied[node]++;
                }

                Stores[node].ApplyCommitted(next);
            }
        }

        private async ValueTask<LogPosition> ReplicateAsync(int node, ReadOnlyMemory<byte> frames, CancellationToken cancellationToken)
        {
            Task? hold;
            lock (_lock)
            {
                if (_leader != node)
                {
                    throw new ReplicationLostException();
                }

                hold = _holdNode == node ? _hold?.Task : null;
            }

            // The log holds the batches as the applier passes them to stores: opened from the sequencer's seal.
            Assert.True(LogSeal.IsSealed(frames.Span));
            Assert.True(_seal.TryOpen(frames.Span, out var copy, out var sealError), sealError);
            if (hold is not null)
            {
                _held.TrySetResult();
                await hold.WaitAsync(cancellationToken).ConfigureAwait(false);
                lock (_lock)
                {
                    if (_commitHeld)
                    {
                        Log.Add(copy);
                    }
                }

                // Either way the old primary hears only that it is no longer primary.
                await Sequencers[node].BecomeBackupAsync();
                bool oldPrimaryApplies;
                lock (_lock)
                {
                    oldPrimaryApplies = _oldPrimaryApplies;
                }

                for (var i = 0; i < Stores.Count; i++)
                {
                    if (i != node || oldPrimaryApplies)
                    {
                        CatchUp(i);
                    }
                }

                throw new ReplicationLostException();
            }

            long index;
            lock (_lock)
            {
                Log.Add(copy);
                index = Log.Count;
            }

            for (var i = 0; i < Stores.Count; i++)
            {
                CatchUp(i);
            }

            return new LogPosition(1, index);
        }

        public async ValueTask DisposeAsync()
        {
            Release(commitHeld: false);
            foreach (var sequencer in Sequencers)
            {
                await sequencer.DisposeAsync();
            }

            foreach (var store in Stores)
            {
                await store.DisposeAsync();
            }

            foreach (var node in _nodes)
            {
                node.Dispose();
            }

            _seal.Dispose();
        }

        /// <summary>The consensus a node's sequencer sees: the loopback log, led by whichever node was elected last.</summary>
        private sealed class LoopbackConsensus(LoopbackCluster cluster, int node) : IConsensusLog
        {
            public bool IsLeader => cluster._leader == node;

            public long Term => 1;

            public long CommitIndex => cluster.Log.Count;

            public EndPoint? LeaderEndPoint => null;

            public CancellationToken LeadershipToken => CancellationToken.None;

            public IReadOnlyList<ConsensusMember> Members => [];

            public ValueTask StartAsync(IConsensusApplier applier, CancellationToken token) => ValueTask.CompletedTask;

            public ValueTask<LogPosition> ReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token) => cluster.ReplicateAsync(node, batch, token);

            // As Raft's: the batch is in the log when this returns; its commit completes the task returned.
            public ValueTask<Task<LogPosition>> BeginReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token) =>
                ValueTask.FromResult(cluster.ReplicateAsync(node, batch, token).AsTask());

            public ValueTask WaitForLeaderReadyAsync(CancellationToken token) => ValueTask.CompletedTask;

            public ValueTask<bool> AddMemberAsync(EndPoint member, CancellationToken token) => throw new NotSupportedException();

            public ValueTask<bool> RemoveMemberAsync(EndPoint member, CancellationToken token) => throw new NotSupportedException();

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
