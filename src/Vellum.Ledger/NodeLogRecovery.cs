using Vellum.Consensus;
using Vellum.Core.Crypto;
using Vellum.Storage.Ledger;

namespace Vellum.Ledger;

/// <summary>A single node's ledger on open: what the node log holds beyond the ledger's files.</summary>
public static class NodeLogRecovery
{
    /// <summary>
    /// Applies the batches <paramref name="log"/> recovered for <paramref name="ledger"/> to <paramref name="store"/>
    /// (which skips the seqnos it already has and checks the rest like any committed batch), then syncs the store, so
    /// that the log may drop them. Call it after the store opens and before the ledger appends. Records are batches
    /// sealed under the ledger's log key (<paramref name="seal"/>); a record in clear was written by a version before
    /// batches were sealed and is this node's own, as trusted as its ledger files, so it is applied as it is.
    /// </summary>
    /// <exception cref="LedgerCorruptException">A sealed record does not open with the ledger's log key.</exception>
    public static void Apply(NodeLog log, string ledger, LedgerStore store, LogSeal seal)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(seal);
        foreach (var record in log.Recovered(ledger))
        {
            if (!LogSeal.IsSealed(record))
            {
                store.ApplyCommitted(record);
            }
            else if (seal.TryOpen(record, out var batch, out var error))
            {
                store.ApplyCommitted(batch);
            }
            else
            {
                throw new LedgerCorruptException($"a node-log record of ledger '{ledger}' cannot be applied: {error}");
            }
        }

        store.SyncToDisk();
    }
}
