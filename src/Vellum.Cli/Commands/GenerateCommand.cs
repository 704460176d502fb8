using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Vellum.Core.Entries;
using Vellum.Core.Identity;
using Vellum.Ledger;
using Vellum.Storage;

namespace Vellum.Cli.Commands;

/// <summary>
/// <c>vellum generate &lt;data-dir&gt; --count N</c>: appends N entries to the ledger in a data folder (creating it and
/// its identities on first use) through the real storage engine, with group commit and signatures. For demos,
/// benchmarks and tests of <c>vellum verify</c>.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var directory = new Argument<string>("data-dir") { Description = "The node data folder (created if missing)." };
        var count = new Option<int>("--count") { Description = "Entries to append.", DefaultValueFactory = _ => 10_000 };
        var size = new Option<int>("--contents-size") { Description = "Bytes of contents per entry.", DefaultValueFactory = _ => 256 };
        var type = new Option<string?>("--ledger-type") { Description = "Public or Private (first use only; fixed afterwards)." };
        var collections = new Option<int>("--collections") { Description = "Spread entries over this many collections.", DefaultValueFactory = _ => 4 };
        var concurrency = new Option<int>("--concurrency") { Description = "Appends in flight at once (group commit batches them).", DefaultValueFactory = _ => 256 };
        var command = new Command("generate", "Append entries to a ledger with the real storage engine (demo and test data).")
        {
            directory, count, size, type, collections, concurrency,
        };
        command.SetAction(result => Run(
            result.GetValue(directory)!, result.GetValue(count), result.GetValue(size), result.GetValue(type),
            result.GetValue(collections), result.GetValue(concurrency)));
        return command;
    }

    private static int Run(string directory, int count, int contentsSize, string? type, int collections, int concurrency)
    {
        if (!LedgerTypeOption.TryParse(type, out var isPrivate))
        {
            Console.Error.WriteLine($"vellum generate: --ledger-type is Public or Private, not '{type}'");
            return 2;
        }

        if (count < 0 || contentsSize < 0 || collections < 1 || concurrency < 1)
        {
            Console.Error.WriteLine("vellum generate: counts must be positive");
            return 2;
        }

        if (!StartCommand.TryLock("generate", directory, out var folderLock))
        {
            return 2;
        }

        using (folderLock)
        {
            return Run(new DataDirectory(directory), isPrivate, count, contentsSize, collections, concurrency);
        }
    }

    private static int Run(DataDirectory data, bool? isPrivate, int count, int contentsSize, int collections, int concurrency)
    {
        ServiceIdentity service;
        NodeIdentity node;
        Vellum.Core.Crypto.LedgerSecret secret;
        bool ledgerPrivate;
        try
        {
            (service, node, secret, ledgerPrivate) = data.OpenOrCreate(isPrivate);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or InvalidDataException)
        {
            Console.Error.WriteLine($"vellum generate: {ex.Message}");
            return 2;
        }

        using (service)
        using (node)
        using (secret)
        {
            var stopwatch = Stopwatch.StartNew();
            var ledger = SingleNodeLedger.OpenAsync(
                data.Default.StoreOptions(ledgerPrivate), new SequencerOptions { IsPrivate = ledgerPrivate }, secret, service.Certificate, new NodeRootSigner(node),
                nodeLog: (data.NodeLog, data.Default.Name.Value)).GetAwaiter().GetResult();
            try
            {
                AppendAll(ledger, count, contentsSize, collections, concurrency).GetAwaiter().GetResult();
                ledger.WaitForCommitAsync().AsTask().GetAwaiter().GetResult();
            }
            finally
            {
                ledger.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"appended {count} entries in {stopwatch.Elapsed.TotalSeconds:F2} s to {data.Default.Chunks} ({(ledgerPrivate ? "Private" : "Public")}); service certificate {data.Default.ServiceCertificate}; ledger secret {data.Default.LedgerSecretFile}"));
            return 0;
        }
    }

    private static async Task AppendAll(SingleNodeLedger ledger, int count, int contentsSize, int collections, int concurrency)
    {
        var contents = new byte[contentsSize];
        for (var i = 0; i < contents.Length; i++)
        {
            contents[i] = (byte)('a' + (i % 26));
        }

        var collectionIds = new string[collections];
        for (var i = 0; i < collections; i++)
        {
            collectionIds[i] = i == 0 ? UserEntry.DefaultCollectionId : $"collection-{i}";
        }

        var next = -1;
        var workers = new Task[Math.Min(concurrency, Math.Max(1, count))];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    await ledger.AppendAsync(new UserEntry(collectionIds[i % collections], contents)).ConfigureAwait(false);
                }
            });
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
    }
}
