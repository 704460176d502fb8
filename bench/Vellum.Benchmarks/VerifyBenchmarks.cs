using BenchmarkDotNet.Attributes;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Verification;
using Vellum.Storage.Verification;

namespace Vellum.Benchmarks;

/// <summary>
/// <see cref="LedgerVerifier.VerifyChunk"/> over the chunk files of a generated ledger held in memory (no disk I/O),
/// reported per transaction. 40,000 entries of 256-byte contents: 9 chunks, 8 signatures per 40,000 transactions.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class VerifyBenchmarks
{
    private const int Entries = 40_000;
    private TempLedger _ledger = null!;
    private (string Name, byte[] Bytes)[] _chunks = [];
    private long _transactions;

    [Params(false, true)]
    public bool IsPrivate { get; set; }

    /// <summary>With the ledger secret: commit evidence is checked and Private contents decrypted.</summary>
    [Params(false, true)]
    public bool WithSecret { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _ledger = new TempLedger(IsPrivate);
        var store = _ledger.Open(durable: false);
        try
        {
            TempLedger.AppendMany(store, new UserEntry(UserEntry.DefaultCollectionId, TempLedger.Contents()), Entries, 64).GetAwaiter().GetResult();
            store.WaitForCommitAsync().AsTask().GetAwaiter().GetResult();
            _transactions = store.Sequencer.LastSeqno;
        }
        finally
        {
            store.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        _chunks = LedgerDirectoryVerifier.OrderChunks(Directory.EnumerateFiles(_ledger.Data.Default.Chunks))
            .ConvertAll(path => (Path.GetFileName(path), File.ReadAllBytes(path)))
            .ToArray();

        // Fail at setup, not silently in the measurement, if the generated ledger does not verify.
        if (Run() != _transactions)
        {
            throw new InvalidOperationException("the generated ledger does not verify");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _ledger.Dispose();

    [Benchmark(OperationsPerInvoke = Entries)]
    public long VerifyChunks() => Run();

    private long Run()
    {
        var verifier = new LedgerVerifier(_ledger.Service.Certificate, WithSecret ? _ledger.Secret : null);
        foreach (var (name, bytes) in _chunks)
        {
            var failure = verifier.VerifyChunk(name, bytes);
            if (failure is not null)
            {
                throw new InvalidOperationException(failure.ToString());
            }
        }

        var (summary, finishFailure) = verifier.Finish();
        return summary?.Transactions ?? throw new InvalidOperationException(finishFailure!.ToString());
    }
}
