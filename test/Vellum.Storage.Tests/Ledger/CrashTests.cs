using System.Diagnostics;
using Vellum.Storage.Verification;

namespace Vellum.Storage.Tests.Ledger;

/// <summary>
/// A child process appends with group commit and is SIGKILLed at a random moment, round after round. Every append it
/// acknowledged must be there after the ledger reopens, nothing else may be damaged, and verify must pass.
/// </summary>
public sealed class CrashTests
{
    private const int Rounds = 20;

    [Theory]
    [InlineData("Public")]
    [InlineData("Private")]
    public async Task Every_acknowledged_append_survives_SIGKILL(string ledgerType)
    {
        using var ledger = new TestLedger(ledgerType == "Private");
        var acknowledged = new Dictionary<long, (int Round, int Index)>();
        var random = new Random(20261128);
        for (var round = 0; round < Rounds; round++)
        {
            var acks = await RunAndKill(ledger.Root, round, ledgerType, TimeSpan.FromMilliseconds(random.Next(50, 400)));
            foreach (var (seqno, r, index) in acks)
            {
                Assert.True(acknowledged.TryAdd(seqno, (r, index)), $"seqno {seqno} acknowledged twice");
            }

            // Reopen in this process: recovery runs, every acknowledged append reads back exactly.
            await using (var store = ledger.Open(ledger.Options(chunkSize: 64 * 1024), signatureInterval: 50))
            {
                foreach (var (seqno, (r, index)) in acknowledged)
                {
                    var (_, entry) = store.ReadUserEntry(seqno);
                    Assert.StartsWith($"round {r} entry {index} ", entry.ContentsText, StringComparison.Ordinal);
                }

                await store.WaitForCommitAsync(store.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            }

            var (_, failure) = LedgerDirectoryVerifier.Verify(ledger.Data.Default.Chunks, ledger.Service.Certificate, ledger.Secret);
            Assert.True(failure is null, $"round {round}: {failure}");
        }

        Assert.True(acknowledged.Count > Rounds * 10, $"only {acknowledged.Count} appends were acknowledged in {Rounds} rounds");
    }

    private static async Task<List<(long Seqno, int Round, int Index)>> RunAndKill(string dataDir, int round, string ledgerType, TimeSpan runFor)
    {
        var host = Path.Combine(AppContext.BaseDirectory, "Vellum.Storage.CrashHost.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(host);
        start.ArgumentList.Add(dataDir);
        start.ArgumentList.Add(round.ToString(System.Globalization.CultureInfo.InvariantCulture));
        start.ArgumentList.Add(ledgerType);
        using var process = Process.Start(start)!;
        var acks = new List<(long, int, int)>();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reader = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                var parts = line.Split(' ');
                if (parts[0] == "ready")
                {
                    ready.TrySetResult();
                }
                else if (parts[0] == "ack")
                {
                    lock (acks)
                    {
                        acks.Add((long.Parse(parts[1]), int.Parse(parts[2]), int.Parse(parts[3])));
                    }
                }
            }
        });
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await ready.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"crash host did not start: {await stderr}");
        }

        await Task.Delay(runFor);
        process.Kill(entireProcessTree: true); // SIGKILL
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await reader.WaitAsync(TimeSpan.FromSeconds(30));
        return acks;
    }
}
