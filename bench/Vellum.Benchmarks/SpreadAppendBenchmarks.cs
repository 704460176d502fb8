using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Vellum.Consensus;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Identity;
using Vellum.Ledger;
using Vellum.Storage.Ledger;

namespace Vellum.Benchmarks;

/// <summary>
/// The node's write path below HTTP with many ledgers: <see cref="Ledgers"/> ledgers append through one durable
/// <see cref="NodeLog"/> (one fsync a round for every ledger), each with its own sequencer, seal, applier and store,
/// signed on one <see cref="SignatureClock"/> as a node signs; 256 appenders each append to the ledgers in turn, so
/// with 100 ledgers a round carries a few transactions of many ledgers instead of many of one. Reported per
/// transaction: the difference between 1 and 100 ledgers is what a ledger batch costs on its own (sealing, opening,
/// checking, writing, indexing and handing over per ledger per round), without the HTTP stack in front.
/// </summary>
/// <remarks>
/// With 256 appenders on two cores the time per append hides what a ledger batch costs (the cores are not always
/// busy), so the benchmark also prints the process's CPU time per append over its invocations (the warm-up one included), as a line
/// <c>// CPU per append (N ledgers): …</c> in the log: the figure docs/benchmarks.md quotes.
/// </remarks>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class SpreadAppendBenchmarks
{
    private const int Appends = 20_000;
    private const int Appenders = 256;
    private readonly UserEntry _entry = new(UserEntry.DefaultCollectionId, TempLedger.Contents());
    private TempLedger _data = null!;
    private NodeLog _log = null!;
    private SignatureClock _clock = null!;
    private readonly List<(LedgerStore Store, IConsensusLog Consensus, LedgerApplier Applier, Sequencer Sequencer, LogSeal Seal)> _ledgers = [];
    private long _appended;
    private TimeSpan _cpu;

    [Params(1, 100)]
    public int Ledgers { get; set; }

    /// <summary>The node-wide signature budget (the node's default is 100 a second).</summary>
    [Params(100)]
    public int SignaturesPerSecond { get; set; }

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    private async Task SetupAsync()
    {
        _data = new TempLedger(isPrivate: false);
        _log = NodeLog.Open(_data.Data.NodeLog);
        _log.Start();
        _clock = new SignatureClock(TimeSpan.FromMilliseconds(100), SignaturesPerSecond / 10.0);
        var signer = new NodeRootSigner(_data.Node);
        for (var i = 0; i < Ledgers; i++)
        {
            var directory = _data.Data.Ledger(LedgerName.Parse($"l{i:D4}"));
            var store = LedgerStore.Open(
                new LedgerStoreOptions { LedgerDirectory = directory.Chunks, StateDirectory = directory.State, SyncEachBatch = false },
                _data.Secret,
                _data.Service.Certificate);
            var seal = new LogSeal(_data.Secret);
            var consensus = _log.Join(directory.Name.Value, store.StartView(), store.SyncToDisk);
            var applier = new LedgerApplier(store, seal, catchUp: null);
            var sequencer = new Sequencer(store, consensus, _data.Secret, signer, new SequencerOptions(), clock: _clock);
            await consensus.StartAsync(applier, CancellationToken.None);
            await sequencer.BecomePrimaryAsync(consensus.Term, signInherited: false);
            _ledgers.Add((store, consensus, applier, sequencer, seal));
        }
    }

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    private async Task CleanupAsync()
    {
        Console.WriteLine($"// CPU per append ({Ledgers} ledgers): {_cpu.TotalMicroseconds / Math.Max(1, _appended):F1} us over {_appended} appends");
        await _clock.DisposeAsync();
        foreach (var (store, consensus, applier, sequencer, seal) in _ledgers)
        {
            await consensus.DisposeAsync();
            await applier.DisposeAsync();
            await sequencer.DisposeAsync();
            await store.DisposeAsync();
            seal.Dispose();
        }

        await _log.DisposeAsync();
        _data.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Appends)]
    public async Task AppendAsync()
    {
        var started = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
        var next = -1;
        var workers = new Task[Appenders];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                int n;
                while ((n = Interlocked.Increment(ref next)) < Appends)
                {
                    await _ledgers[n % _ledgers.Count].Sequencer.AppendAsync(_entry);
                }
            });
        }

        await Task.WhenAll(workers);
        _cpu += System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - started;
        _appended += Appends;
    }
}
