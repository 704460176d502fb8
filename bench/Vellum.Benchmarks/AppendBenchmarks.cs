using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Vellum.Core.Entries;
using Vellum.Ledger;

namespace Vellum.Benchmarks;

/// <summary>
/// Group-commit append through <see cref="LedgerStore.AppendAsync"/>: <see cref="Concurrency"/> appenders each await
/// their own append, so one write (and, when <see cref="Durable"/>, one fsync) serves whatever is queued. Reported per
/// transaction; signatures (every 5,000 transactions or 100 ms) and chunk closes are included, as in production.
/// </summary>
/// <remarks>
/// The ledger grows across iterations (a store is opened once per parameter set), so a measurement is steady-state
/// append rather than the first chunk. The temp directory is on the machine's disk; fsync latency is the disk's.
/// </remarks>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class AppendBenchmarks
{
    private const int Appends = 4_000;
    private readonly UserEntry _entry = new(UserEntry.DefaultCollectionId, TempLedger.Contents());
    private TempLedger _ledger = null!;
    private SingleNodeLedger _store = null!;

    [Params(false, true)]
    public bool Durable { get; set; }

    [Params(1, 16, 256)]
    public int Concurrency { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _ledger = new TempLedger(isPrivate: false);
        _store = _ledger.Open(Durable);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _ledger.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Appends)]
    public Task AppendAsync() => TempLedger.AppendMany(_store, _entry, Appends, Concurrency);
}
