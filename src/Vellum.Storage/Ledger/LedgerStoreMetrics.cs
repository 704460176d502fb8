using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Vellum.Storage.Ledger;

/// <summary>
/// The stores' meter, <c>Vellum.Storage</c>: appends, signatures, group-commit batch sizes, write time, and the durable
/// and committed watermarks with the lag between them (transactions waiting for a signature), each measurement tagged
/// with its ledger (<c>ledger</c>). One meter and one set of instruments for the process, whatever the number of
/// ledgers; each open store adds itself to the watermark gauges and leaves on dispose.
/// </summary>
internal sealed class LedgerStoreMetrics : IDisposable
{
    public const string MeterName = "Vellum.Storage";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> Appends =
        Meter.CreateCounter<long>("vellum.storage.transactions", "{transaction}", "Transactions applied (written to the ledger files).");
    private static readonly Counter<long> Signatures = Meter.CreateCounter<long>("vellum.storage.signatures", "{signature}", "Signature transactions applied.");
    private static readonly Histogram<int> BatchTransactions =
        Meter.CreateHistogram<int>("vellum.storage.batch.transactions", "{transaction}", "Transactions per applied batch (one write).");
    private static readonly Histogram<double> WriteSeconds =
        Meter.CreateHistogram<double>("vellum.storage.fsync.duration", "s", "Time of each batch's write (and fsync, where the store syncs each batch; behind a durable log, a copy into the gathered tail or the tail's write).");

    private static readonly Lock StoresLock = new();
    private static LedgerStoreMetrics[] _stores = [];

    private readonly LedgerStore _store;
    private readonly KeyValuePair<string, object?> _ledger;
    private int _disposed;

    static LedgerStoreMetrics()
    {
        Meter.CreateObservableGauge("vellum.storage.durable_seqno", () => Observe(static s => s.DurableSeqno), "{seqno}", "Last applied transaction.");
        Meter.CreateObservableGauge(
            "vellum.storage.committed_seqno", () => Observe(static s => s.CommittedSeqno), "{seqno}", "Last committed transaction (covered by an applied signature).");
        Meter.CreateObservableGauge(
            "vellum.storage.signature_lag", () => Observe(static s => s.DurableSeqno - s.CommittedSeqno), "{transaction}", "Applied transactions waiting for a signature.");
    }

    public LedgerStoreMetrics(LedgerStore store, string ledger)
    {
        _store = store;
        _ledger = new KeyValuePair<string, object?>("ledger", ledger);
        lock (StoresLock)
        {
            _stores = [.. _stores, this];
        }
    }

    public void BatchWritten(PendingBatch batch, long startTimestamp)
    {
        WriteSeconds.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, _ledger);
        BatchTransactions.Record(batch.Count, _ledger);
        Appends.Add(batch.Count, _ledger);
        if (batch.SignatureCount > 0)
        {
            Signatures.Add(batch.SignatureCount, _ledger);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        lock (StoresLock)
        {
            _stores = [.. _stores.Where(s => !ReferenceEquals(s, this))];
        }
    }

    private static Measurement<long>[] Observe(Func<LedgerStore, long> read)
    {
        var stores = Volatile.Read(ref _stores);
        var measurements = new Measurement<long>[stores.Length];
        for (var i = 0; i < stores.Length; i++)
        {
            measurements[i] = new Measurement<long>(read(stores[i]._store), stores[i]._ledger);
        }

        return measurements;
    }
}
