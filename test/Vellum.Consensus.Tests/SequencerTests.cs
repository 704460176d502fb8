using System.Net;
using System.Text;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Identity;
using Vellum.Ledger;
using Vellum.Storage;
using Vellum.Storage.Ledger;
using Vellum.Storage.Verification;

namespace Vellum.Consensus.Tests;

/// <summary>
/// The sequencer on the single-node write path (sequencer → <see cref="SingleNodeConsensus"/> → applier → store), with
/// the consensus log and the applier watched from outside: group commit, the bound on batches in flight, completion
/// only after the apply, and a failed apply. (Adapted from the tests of the helper branch i13-write.)
/// </summary>
public sealed class SequencerTests : IDisposable
{
    private readonly SequencedLedgerFolder _folder = new("vellum-seq-");

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task Appends_gather_into_batches_at_most_MaxBatchesInFlight_are_in_consensus_and_each_returns_after_its_apply(int maxInFlight)
    {
        await using var ledger = await OpenAsync(new SequencerOptions { MaxBatchesInFlight = maxInFlight, SignatureInterval = 100 });
        var early = 0;
        var next = -1;
        var writers = Enumerable.Range(0, 128).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < 3000)
            {
                var id = await ledger.Sequencer.AppendAsync(Entry(i));
                if (ledger.Store.DurableSeqno < id.Seqno)
                {
                    Interlocked.Increment(ref early);
                }
            }
        })).ToArray();
        await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(60));
        await ledger.Sequencer.WaitForCommitAsync(ledger.Sequencer.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, early);
        Assert.True(ledger.Log.Batches < 3000 / 4, $"{ledger.Log.Batches} batches for 3,000 appends: no group commit");
        Assert.InRange(ledger.Log.PeakInFlight, 1, maxInFlight);
        Assert.InRange(ledger.Sequencer.PeakBatchesInFlight, 1, maxInFlight);

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (ledger.Sequencer.BatchesInFlight != 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }

        Assert.Equal(0, ledger.Sequencer.BatchesInFlight);
        Assert.Equal(ledger.Sequencer.LastSeqno, ledger.Store.CommittedSeqno);
        Assert.Null(LedgerDirectoryVerifier.Verify(_folder.Data.Default.Chunks, _folder.Service.Certificate, _folder.Secret).Failure);
    }

    [Fact]
    public async Task A_batch_that_fails_to_apply_fails_its_appends_and_stops_the_sequencer_until_restart()
    {
        // No signature timer: the batches are exactly the appends.
        var quiet = new SequencerOptions { SignatureDelay = TimeSpan.FromHours(1) };
        await using (var ledger = await OpenAsync(quiet, failAtIndex: 3))
        {
            for (var i = 0; i < 2; i++)
            {
                await ledger.Sequencer.AppendAsync(Entry(i));
            }

            var failed = await Assert.ThrowsAsync<IOException>(() => ledger.Sequencer.AppendAsync(Entry(2)).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal("disk gone", failed.Message);
            var refused = await Assert.ThrowsAsync<IOException>(() => ledger.Sequencer.AppendAsync(Entry(3)).AsTask());
            Assert.Contains("restart", refused.Message, StringComparison.Ordinal);
            Assert.Equal(2, ledger.Store.DurableSeqno);
        }

        // Nothing of the failed batch was written: a restart continues after what was applied, in a new view.
        await using (var reopened = await OpenAsync(quiet))
        {
            var id = await reopened.Sequencer.AppendAsync(Entry(4));
            Assert.Equal(3, id.Seqno);
            await reopened.Sequencer.WaitForCommitAsync(id.Seqno).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.Null(LedgerDirectoryVerifier.Verify(_folder.Data.Default.Chunks, _folder.Service.Certificate, _folder.Secret).Failure);
    }

    /// <summary>
    /// A role change waits while a batch is being handed to consensus, and a batch sequenced before it never enters
    /// consensus after it: otherwise a node that lost and regained leadership could append its old view's batch in the
    /// new term, beside the new view's transactions of the same seqnos.
    /// </summary>
    [Fact]
    public async Task A_role_change_waits_for_a_hand_over_in_progress_and_later_batches_of_the_old_role_never_reach_consensus()
    {
        var quiet = new SequencerOptions { SignatureDelay = TimeSpan.FromHours(1), MaxBatchesInFlight = 4 };
        await using var ledger = await OpenAsync(quiet);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ledger.Log.Gate = gate.Task;

        var first = ledger.Sequencer.AppendAsync(Entry(0)).AsTask();
        await ledger.Log.Entered.WaitAsync(TimeSpan.FromSeconds(10));

        // The hand-over of the first batch is inside consensus: the role change waits for it.
        var backup = ledger.Sequencer.BecomeBackupAsync();
        await Task.Delay(200);
        Assert.False(backup.IsCompleted, "the role changed while a batch was being handed to consensus");
        gate.SetResult();
        await backup.WaitAsync(TimeSpan.FromSeconds(10));

        // Handed over in its own role, the first batch commits; nothing can be appended as a backup.
        Assert.Equal(1, (await first.WaitAsync(TimeSpan.FromSeconds(10))).Seqno);
        await Assert.ThrowsAsync<NotPrimaryException>(() => ledger.Sequencer.AppendAsync(Entry(1)).AsTask());
        Assert.Equal(1, ledger.Log.Batches);

        // Primary again in a later view: sequencing continues after what was applied.
        await ledger.Sequencer.BecomePrimaryAsync(ledger.Log.Term + 1, signInherited: false);
        var next = await ledger.Sequencer.AppendAsync(Entry(2)).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(new Vellum.Core.Primitives.TxId(ledger.Log.Term + 1, 2), next);
        await ledger.Sequencer.SignAsync();
        await ledger.Sequencer.WaitForCommitAsync(ledger.Sequencer.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Null(LedgerDirectoryVerifier.Verify(_folder.Data.Default.Chunks, _folder.Service.Certificate, _folder.Secret).Failure);
    }

    /// <summary>
    /// A commit waiter does not outlive its sequencer: a backup waiting for a signature that no stopped sequencer will
    /// apply is woken by the stop with <see cref="ObjectDisposedException"/> (a stop used to leave it waiting for
    /// ever, and a ledger's shutdown with it).
    /// </summary>
    [Fact]
    public async Task A_commit_waiter_fails_when_the_sequencer_stops()
    {
        var quiet = new SequencerOptions { SignatureDelay = TimeSpan.FromHours(1) };
        await using var ledger = await OpenAsync(quiet);
        var id = await ledger.Sequencer.AppendAsync(Entry(0)).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        await ledger.Sequencer.BecomeBackupAsync().WaitAsync(TimeSpan.FromSeconds(10));

        // A backup waits for the primary's signature: none comes.
        var waiter = ledger.Sequencer.WaitForCommitAsync(id.Seqno + 1).AsTask();
        await Task.Delay(200);
        Assert.False(waiter.IsCompleted);

        await ledger.Sequencer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiter.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Consensus_gets_batches_sealed_and_the_applier_takes_no_new_transactions_in_clear()
    {
        byte[] clear;
        long last;
        await using (var ledger = await OpenAsync(new SequencerOptions { SignatureInterval = 100 }))
        {
            for (var i = 0; i < 5; i++)
            {
                await ledger.Sequencer.AppendAsync(Entry(i)).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            }

            await ledger.Sequencer.WaitForCommitAsync(ledger.Sequencer.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.NotEmpty(ledger.Log.Seen);
            Assert.All(ledger.Log.Seen, batch =>
            {
                Assert.True(LogSeal.IsSealed(batch));
                Assert.Equal(-1, batch.AsSpan().IndexOf("entry 3"u8));
            });
            clear = ledger.Store.ReadFrames(1, 1 << 20, out last);
            Assert.True(clear.AsSpan().IndexOf("entry 3"u8) >= 0);
        }

        // A store without these transactions (a member of this ledger that lags).
        using var seal = new LogSeal(_folder.Secret);
        var folder = Path.Combine(_folder.Root, "other");
        await using var behind = LedgerStore.Open(
            new LedgerStoreOptions { LedgerDirectory = Path.Combine(folder, "ledger"), StateDirectory = Path.Combine(folder, "state") }, _folder.Secret, _folder.Service.Certificate);
        var applier = new LedgerApplier(behind, seal, catchUp: null);

        // In clear, from a member of an older format: refused, nothing applied.
        var refused = await Assert.ThrowsAsync<LedgerCorruptException>(() => applier.ApplyAsync(new LogPosition(1, 1), clear, default).AsTask());
        Assert.Contains("older format", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, behind.DurableSeqno);

        // Sealed under another ledger's key: refused too.
        using (var otherSecret = LedgerSecret.Generate())
        using (var otherSeal = new LogSeal(otherSecret))
        {
            refused = await Assert.ThrowsAsync<LedgerCorruptException>(() => applier.ApplyAsync(new LogPosition(1, 1), otherSeal.Seal(clear), default).AsTask());
            Assert.Contains("log key", refused.Message, StringComparison.Ordinal);
            Assert.Equal(0, behind.DurableSeqno);
        }

        // Sealed under this ledger's key: applied.
        await applier.ApplyAsync(new LogPosition(1, 1), seal.Seal(clear), default);
        Assert.Equal(last, behind.DurableSeqno);

        // In clear again, now all applied (a log written before batches were sealed, replayed): taken as a replay.
        await applier.ApplyAsync(new LogPosition(1, 2), clear, default);
        Assert.Equal(last, behind.DurableSeqno);
    }

    private static UserEntry Entry(int i) => new($"c{i % 3}", [], Encoding.UTF8.GetBytes($"entry {i}"), []);

    private Task<SequencedLedger> OpenAsync(SequencerOptions options, long? failAtIndex = null) =>
        _folder.OpenAsync(options, failAtIndex is { } index ? applier => new FailingApplier(applier, index) : null);

    public void Dispose() => _folder.Dispose();

    /// <summary>An applier that fails at one log index, as a full or failing disk would.</summary>
    private sealed class FailingApplier(IConsensusApplier inner, long failAtIndex) : IConsensusApplier
    {
        public long LastAppliedIndex => inner.LastAppliedIndex;

        public ValueTask ApplyAsync(LogPosition position, ReadOnlyMemory<byte> batch, CancellationToken token) =>
            position.Index == failAtIndex ? throw new IOException("disk gone") : inner.ApplyAsync(position, batch, token);
    }
}
