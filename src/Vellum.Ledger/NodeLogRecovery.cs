using Vellum.Consensus;
using Vellum.Storage.Ledger;

namespace Vellum.Ledger;

/// <summary>A single node's ledger on open: what the node log holds beyond the ledger's files.</summary>
public static class NodeLogRecovery
{
    /// <summary>
    /// Applies the batches <paramref name="log"/> recovered for <paramref name="ledger"/> to <paramref name="store"/>
    /// (which skips the seqnos it already has and checks the rest like any committed batch), then syncs the store, so
    /// that the log may drop them. Call it after the store opens and before the ledger appends.
    /// </summary>
    public static void Apply(NodeLog log, string ledger, LedgerStore store)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(store);
        foreach (var batch in log.Recovered(ledger))
        {
            store.ApplyCommitted(batch);
        }

        store.SyncToDisk();
    }
}
