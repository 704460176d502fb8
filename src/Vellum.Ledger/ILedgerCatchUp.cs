namespace Vellum.Ledger;

/// <summary>
/// Fetches committed transactions this node lacks from another member and applies them to the store (checked like any
/// committed batch). The node implements it, since it knows the peers; the applier is given it when it is made.
/// </summary>
public interface ILedgerCatchUp
{
    /// <summary>Fetches and applies until the ledger reaches <paramref name="targetSeqno"/>; true when it did.</summary>
    Task<bool> CatchUpAsync(long targetSeqno, CancellationToken cancellationToken);
}
