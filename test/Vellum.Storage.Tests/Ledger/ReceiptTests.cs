using System.Text;
using Vellum.Core.Entries;
using Vellum.Core.Receipts;

namespace Vellum.Storage.Tests.Ledger;

public sealed class ReceiptTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Every_committed_transaction_has_a_receipt_that_verifies_with_the_ACL_algorithm(bool isPrivate)
    {
        using var ledger = new TestLedger(isPrivate);
        var ids = new List<long>();
        await using (var store = ledger.Open(ledger.Options(chunkSize: 8 * 1024), signatureInterval: 7))
        {
            for (var i = 0; i < 120; i++)
            {
                var claims = i % 3 == 0 ? new[] { EntryClaim.NewLedgerEntry() } : [];
                var id = await store.AppendAsync(new UserEntry($"c{i % 2}", [], Encoding.UTF8.GetBytes($"receipt entry {i}"), claims));
                ids.Add(id.Seqno);
            }

            await store.WaitForCommitAsync(store.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            AssertReceipts(store.Store, ids, ledger);
        }

        // After a restart the tree comes back from its tiles and the receipts are the same.
        await using (var store = ledger.Open(ledger.Options(chunkSize: 8 * 1024), signatureInterval: 7))
        {
            AssertReceipts(store.Store, ids, ledger);
        }
    }

    [Fact]
    public async Task A_transaction_not_yet_covered_by_a_signature_answers_Loading_and_reveals_no_commit_evidence()
    {
        using var ledger = new TestLedger();
        await using var store = new TestStore(await Vellum.Ledger.SingleNodeLedger.OpenAsync(
            ledger.Options(),
            new Vellum.Ledger.SequencerOptions { SignatureInterval = 1000, SignatureDelay = TimeSpan.FromHours(1) },
            ledger.Secret,
            ledger.Service.Certificate,
            new Vellum.Core.Identity.NodeRootSigner(ledger.Node)));
        var id = await store.AppendAsync(TestLedger.Entry(1));
        var pending = store.GetReceipt(id.Seqno);
        Assert.Equal(ReceiptState.Loading, pending.State);
        Assert.Null(pending.Receipt);

        await store.WaitForCommitAsync(id.Seqno).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        var ready = store.GetReceipt(id.Seqno);
        Assert.Equal(ReceiptState.Ready, ready.State);
        Assert.True(ReceiptVerifier.Verify(ready, ledger.Service.Certificate).IsValid);
    }

    private static void AssertReceipts(Vellum.Storage.Ledger.LedgerStore store, List<long> ids, TestLedger ledger)
    {
        foreach (var seqno in ids)
        {
            var receipt = store.GetReceipt(seqno);
            Assert.Equal(ReceiptState.Ready, receipt.State);
            var result = ReceiptVerifier.Verify(receipt, ledger.Service.Certificate);
            Assert.True(result.IsValid, $"seqno {seqno}: {result.FailedStep} {result.Message}");
            Assert.Equal(ledger.Secret.CommitEvidence(new Vellum.Core.Primitives.TxId(store.ReadHeader(seqno).Id.View, seqno)), receipt.Receipt!.LeafComponents!.CommitEvidence);

            // Through JSON, as a client receives it.
            Assert.True(ReceiptJson.TryParse(ReceiptJson.Serialize(receipt), out var parsed, out var error), error);
            Assert.True(ReceiptVerifier.Verify(parsed, ledger.Service.Certificate).IsValid);
            var hasClaims = receipt.ApplicationClaims is { Count: > 0 };
            Assert.Equal(!hasClaims, receipt.Receipt.LeafComponents.ClaimsDigest == new string('0', 64));
        }

        // A receipt for one transaction does not verify for another's leaf.
        var a = store.GetReceipt(ids[0]).Receipt!;
        var b = store.GetReceipt(ids[1]).Receipt!;
        var swapped = a with { LeafComponents = b.LeafComponents };
        Assert.False(ReceiptVerifier.Verify(swapped, ledger.Service.Certificate).IsValid);
    }
}
