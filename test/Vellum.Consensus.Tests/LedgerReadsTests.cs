using System.Text;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;
using Vellum.Ledger;
using Vellum.Storage;
using Vellum.Storage.Ledger;

namespace Vellum.Consensus.Tests;

/// <summary>
/// CCF's status rules and the lookups by id (<see cref="LedgerReads"/>) on a real single-node ledger (store, sequencer,
/// <see cref="SingleNodeConsensus"/>), one rule at a time: every outcome a read can have, and the states of ACL's
/// status call.
/// </summary>
public sealed class LedgerReadsTests : IDisposable
{
    private readonly SequencedLedgerFolder _folder = new("vellum-reads-");

    [Fact]
    public async Task Status_follows_CCF_rules_for_every_view_and_seqno()
    {
        await using var ledger = await OpenAsync();
        var reads = ledger.Reads;

        // Durable, not yet signed: Pending. Signed: Committed.
        var first = await ledger.Sequencer.AppendAsync(Entry(0)).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(("Pending", ReadOutcome.Ready), (reads.Status(first).State, reads.Status(first).Outcome));
        await ledger.Sequencer.WaitForCommitAsync(first.Seqno).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("Committed", reads.Status(first).State);

        // A later view: the first view's seqnos keep their status; the same seqno in the new view is Invalid (it holds
        // another transaction), as is a seqno the old view never reached; a seqno the new view has not assigned, or a
        // view not started, is not found.
        var oldView = first.View;
        await ledger.Sequencer.BecomeBackupAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await ledger.Sequencer.BecomePrimaryAsync(ledger.Log.Term + 1, signInherited: false);
        var view = reads.Position.View;
        Assert.True(view > oldView);
        Assert.Equal("Committed", reads.Status(first).State);
        Assert.Equal(ReadOutcome.Invalid, reads.Status(new TxId(view, first.Seqno)).Outcome);
        var last = reads.Position.LastSeqno;
        Assert.Equal(ReadOutcome.Invalid, reads.Status(new TxId(oldView, last + 5)).Outcome);
        Assert.Equal(ReadOutcome.NotFound, reads.Status(new TxId(view, last + 5)).Outcome);
        var future = reads.Status(new TxId(view + 1, 1));
        Assert.Equal(ReadOutcome.NotFound, future.Outcome);
        Assert.Null(future.State);
        Assert.Contains("has not started", future.Reason, StringComparison.Ordinal);

        // A backup may not have applied what the primary assigned in its view: Pending, not unknown.
        await ledger.Sequencer.BecomeBackupAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(reads.Position.IsPrimary);
        Assert.Equal(("Pending", ReadOutcome.Ready), (reads.Status(new TxId(view, last + 5)).State, reads.Status(new TxId(view, last + 5)).Outcome));
    }

    [Fact]
    public async Task A_transaction_is_found_loading_while_in_consensus_and_ready_once_applied()
    {
        await using var ledger = await OpenAsync();
        var reads = ledger.Reads;
        var first = await ledger.Sequencer.AppendAsync(Entry(0)).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var ready = reads.Transaction(first, userEntriesOnly: true);
        Assert.Equal(ReadOutcome.Ready, ready.Outcome);
        Assert.Equal(first, EntryHeaderOf(ready.Body!).Id);

        // Held inside consensus: assigned, not durable.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ledger.Log.Gate = gate.Task;
        var second = ledger.Sequencer.AppendAsync(Entry(1)).AsTask();
        await ledger.Log.Entered.WaitAsync(TimeSpan.FromSeconds(10));
        var pending = new TxId(first.View, reads.Position.LastSeqno);
        Assert.True(pending.Seqno > reads.Position.DurableSeqno);
        Assert.Equal(ReadOutcome.Loading, reads.Transaction(pending, userEntriesOnly: true).Outcome);
        Assert.Equal(Vellum.Core.Receipts.ReceiptState.Loading, reads.Receipt(reads.Transaction(pending, userEntriesOnly: false)).State);
        Assert.Equal(("Pending", ReadOutcome.Ready), (reads.Status(pending).State, reads.Status(pending).Outcome));
        gate.SetResult();
        Assert.Equal(pending, await second.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(ReadOutcome.Ready, reads.Transaction(pending, userEntriesOnly: true).Outcome);

        // Not an entry: a signature is found only when any kind is asked for, and has a receipt once committed.
        var signature = (await ledger.Sequencer.SignAsync())!.Value;
        await ledger.Sequencer.WaitForCommitAsync(signature.Seqno).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(ReadOutcome.NotFound, reads.Transaction(signature, userEntriesOnly: true).Outcome);
        Assert.Equal(ReadOutcome.Ready, reads.Transaction(signature, userEntriesOnly: false).Outcome);
        var receipt = reads.Receipt(reads.Transaction(first, userEntriesOnly: false));
        Assert.Equal(Vellum.Core.Receipts.ReceiptState.Ready, receipt.State);
        Assert.Equal(first.ToString(), receipt.TransactionId);

        // A seqno not assigned, a view not started: not found, saying why.
        Assert.Equal(ReadOutcome.NotFound, reads.Transaction(new TxId(first.View, reads.Position.LastSeqno + 1), userEntriesOnly: false).Outcome);
        Assert.Contains("is not known", reads.Transaction(new TxId(first.View + 1, 1), userEntriesOnly: false).Reason, StringComparison.Ordinal);

        // In a later view, that view's id for a seqno an older view holds: not found, naming what the seqno holds.
        await ledger.Sequencer.BecomeBackupAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await ledger.Sequencer.BecomePrimaryAsync(ledger.Log.Term + 1, signInherited: false);
        var other = reads.Transaction(new TxId(reads.Position.View, first.Seqno), userEntriesOnly: true);
        Assert.Equal(ReadOutcome.NotFound, other.Outcome);
        Assert.Contains($"seqno {first.Seqno} is {first}", other.Reason, StringComparison.Ordinal);

        // A backup has not applied everything the primary assigned in its view: a later seqno of that view is Loading
        // there (a client that wrote through it polls, as it does for a pending one), of an older view not found.
        var view = reads.Position.View;
        var beyond = reads.Position.LastSeqno + 3;
        await ledger.Sequencer.BecomeBackupAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(reads.Position.IsPrimary);
        Assert.Equal(ReadOutcome.Loading, reads.Transaction(new TxId(view, beyond), userEntriesOnly: true).Outcome);
        Assert.Equal(Vellum.Core.Receipts.ReceiptState.Loading, reads.Receipt(reads.Transaction(new TxId(view, beyond), userEntriesOnly: false)).State);
        Assert.Equal(ReadOutcome.NotFound, reads.Transaction(new TxId(view - 1, beyond), userEntriesOnly: true).Outcome);
        Assert.Equal(ReadOutcome.NotFound, reads.Transaction(new TxId(view + 1, 1), userEntriesOnly: true).Outcome);
    }

    private static EntryHeader EntryHeaderOf(byte[] body)
    {
        Assert.True(EntryHeader.TryRead(body, out var header, out var error), error);
        return header;
    }

    private static UserEntry Entry(int i) => new($"c{i % 3}", [], Encoding.UTF8.GetBytes($"entry {i}"), []);

    // Signatures only when asked for: a transaction stays Pending until the test signs.
    private Task<SequencedLedger> OpenAsync() => _folder.OpenAsync(new SequencerOptions { SignatureDelay = TimeSpan.FromHours(1) });

    public void Dispose() => _folder.Dispose();
}
