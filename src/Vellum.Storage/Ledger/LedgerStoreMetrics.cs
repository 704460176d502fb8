using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Vellum.Storage.Ledger;

/// <summary>
/// The store's meter, <c>Vellum.Storage</c>: appends, signatures, group-commit batch sizes, fsync time, and the
/// durable and committed watermarks with the lag between them (transactions waiting for a signature).
/// </summary>
internal sealed class LedgerStoreMetrics : IDisposable
{
    public const string MeterName = "Vellum.Storage";

    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _appends;
    private readonly Counter<long> _signatures;
    private readonly Histogram<int> _batchTransactions;
    private readonly Histogram<double> _fsyncSeconds;

    public LedgerStoreMetrics(LedgerStore store)
    {
        _appends = _meter.CreateCounter<long>("vellum.storage.transactions", "{transaction}", "Transactions applied (written to the ledger files).");
        _signatures = _meter.CreateCounter<long>("vellum.storage.signatures", "{signature}", "Signature transactions applied.");
        _batchTransactions = _meter.CreateHistogram<int>("vellum.storage.batch.transactions", "{transaction}", "Transactions per group-commit batch (one write, one fsync).");
        _fsyncSeconds = _meter.CreateHistogram<double>("vellum.storage.fsync.duration", "s", "Time of each batch's write and fsync.");
        _meter.CreateObservableGauge("vellum.storage.durable_seqno", () => store.DurableSeqno, "{seqno}", "Last applied transaction.");
        _meter.CreateObservableGauge("vellum.storage.committed_seqno", () => store.CommittedSeqno, "{seqno}", "Last committed transaction (covered by an applied signature).");
        _meter.CreateObservableGauge("vellum.storage.signature_lag", () => store.DurableSeqno - store.CommittedSeqno, "{transaction}", "Applied transactions waiting for a signature.");
    }

    public void BatchWritten(PendingBatch batch, long startTimestamp)
    {
        _fsyncSeconds.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);
        _batchTransactions.Record(batch.Count);
        _appends.Add(batch.Count);
        if (batch.SignatureCount > 0)
        {
            _signatures.Add(batch.SignatureCount);
        }
    }

    public void Dispose() => _meter.Dispose();
}
