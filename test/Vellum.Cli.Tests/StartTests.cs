using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Vellum.Core.Receipts;
using Vellum.Storage.Verification;
using static Vellum.Cli.Tests.RunningNode;

namespace Vellum.Cli.Tests;

/// <summary><c>vellum start</c> as a real process: start, write, SIGTERM or SIGKILL, start again, read everything back.</summary>
public sealed class StartTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vellum-start-" + Guid.NewGuid().ToString("N"));

    private string Data => Path.Combine(_root, "data");

    [Fact]
    public async Task Restart_after_SIGTERM_continues_the_same_ledger_and_receipts_still_verify()
    {
        var ids = new List<string>();
        using (var node = await RunningNode.Start(Data))
        {
            Assert.Contains("ledger id: default (Public)", node.Banner, StringComparison.Ordinal);
            using var client = node.Client();
            for (var i = 0; i < 40; i++)
            {
                ids.Add(await Post(client, $"before restart {i}"));
            }

            await WaitCommitted(client, ids[^1]);
            Assert.Equal(0, await node.Terminate());
        }

        using (var node = await RunningNode.Start(Data))
        {
            Assert.DoesNotContain("development administrator", node.Banner, StringComparison.Ordinal); // created once
            using var client = node.Client();
            for (var i = 0; i < ids.Count; i++)
            {
                var entry = await Json(await client.GetAsync($"/app/transactions/{ids[i]}?api-version=2022-05-13"));
                Assert.Equal($"before restart {i}", entry.GetProperty("entry").GetProperty("contents").GetString());
                var receipt = await client.GetStringAsync($"/app/transactions/{ids[i]}/receipt?api-version=2022-05-13");
                Assert.True(ReceiptJson.TryParse(receipt, out var parsed, out var error), error);
                Assert.True(ReceiptVerifier.Verify(parsed, node.ServiceCertificate).IsValid);
            }

            var after = await Post(client, "after restart");
            Assert.True(Core.Primitives.TxId.Parse(after).View > Core.Primitives.TxId.Parse(ids[0]).View);
            await WaitCommitted(client, after);
            Assert.Equal(0, await node.Terminate());
        }

        using var service = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(Data, "ledgers", "default", "credentials", "service_cert.pem")));
        Assert.Null(LedgerDirectoryVerifier.Verify(Path.Combine(Data, "ledgers", "default", "ledger"), service).Failure);
    }

    [Fact]
    public async Task SIGKILL_under_load_loses_no_acknowledged_write()
    {
        var acknowledged = new List<(string Id, string Contents)>();
        using (var node = await RunningNode.Start(Data))
        {
            using var client = node.Client();
            using var stop = new CancellationTokenSource();
            var writers = Enumerable.Range(0, 16).Select(w => Task.Run(async () =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var contents = $"writer {w} entry {i}";
                    try
                    {
                        var id = await Post(client, contents);
                        lock (acknowledged)
                        {
                            acknowledged.Add((id, contents));
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                    {
                        return; // the node died mid-request: that write was never acknowledged
                    }
                }
            })).ToArray();
            // Kill once writes flow (a fixed delay was too short on a loaded machine: the first writes were still
            // warming up, and none had been acknowledged), with sixteen writers in flight.
            var flowing = Stopwatch.StartNew();
            int Acknowledged()
            {
                lock (acknowledged)
                {
                    return acknowledged.Count;
                }
            }

            while (Acknowledged() < 200 && flowing.Elapsed < TimeSpan.FromSeconds(30) && !writers.All(w => w.IsCompleted))
            {
                await Task.Delay(50);
            }

            node.Kill();
            stop.Cancel();
            await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(30));
        }

        Assert.True(acknowledged.Count > 50, $"only {acknowledged.Count} writes acknowledged");
        using (var node = await RunningNode.Start(Data))
        {
            using var client = node.Client();
            foreach (var (id, contents) in acknowledged)
            {
                var entry = await Json(await client.GetAsync($"/app/transactions/{id}?api-version=2022-05-13"));
                Assert.Equal(contents, entry.GetProperty("entry").GetProperty("contents").GetString());
            }

            Assert.Equal(0, await node.Terminate());
        }

        using var service = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(Data, "ledgers", "default", "credentials", "service_cert.pem")));
        var (summary, failure) = LedgerDirectoryVerifier.Verify(Path.Combine(Data, "ledgers", "default", "ledger"), service);
        Assert.Null(failure);
        Assert.True(summary!.Transactions >= acknowledged.Count);
    }

    [Theory]
    [InlineData("--listen", "nowhere")]
    [InlineData("--listen", "127.0.0.1:99999")]
    [InlineData("--ledger-type", "Secret")]
    [InlineData("--admin-cert", "/nonexistent.pem")]
    [InlineData("--snapshot-interval", "-1")]
    [InlineData("--max-signatures-per-second", "0")]
    [InlineData("--max-signatures-per-second", "10001")]
    [InlineData("--backup-writes", "bounce")]
    [InlineData("--backup-writes", "Forward")]
    [InlineData("--data", "/proc/vellum-cannot-be-here")]
    public async Task Bad_options_and_unusable_data_folders_exit_2_with_one_line(string option, string value)
    {
        var args = option == "--data" ? new[] { "start", option, value, "--listen", "127.0.0.1:0" } : ["start", "--data", Data, "--listen", "127.0.0.1:0", option, value];
        var (exitCode, _, error) = await RunningNode.RunToExit(args, TimeSpan.FromSeconds(60));
        Assert.Equal(2, exitCode);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => line.StartsWith("vellum", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_later_start_with_another_ledger_type_is_refused()
    {
        using (var node = await RunningNode.Start(Data, "--ledger-type", "Private"))
        {
            Assert.Contains("(Private)", node.Banner, StringComparison.Ordinal);
            Assert.Equal(0, await node.Terminate());
        }

        var (exitCode, _, error) = await RunningNode.RunToExit(["start", "--data", Data, "--listen", "127.0.0.1:0", "--ledger-type", "Public"], TimeSpan.FromSeconds(60));
        Assert.Equal(2, exitCode);
        Assert.Contains("fixed at creation", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_neither_reads_nor_watches_the_working_directory_that_holds_its_data()
    {
        // The default data folder (./vellum-data) is under the working directory. A stray appsettings.json there must
        // not configure the node (here: an extra endpoint), and nothing may watch that directory for changes: a watcher
        // over it wakes on every write to every ledger file.
        var work = Path.Combine(_root, "work");
        Directory.CreateDirectory(work);
        var strayPort = FreePort();
        await File.WriteAllTextAsync(Path.Combine(work, "appsettings.json"),
            JsonSerializer.Serialize(new
            {
                Kestrel = new { Endpoints = new { Stray = new { Url = $"http://127.0.0.1:{strayPort}" } } },
                urls = $"http://127.0.0.1:{strayPort}",
            }));

        using var node = await RunningNode.StartWith(["start", "--listen", "127.0.0.1:0"], Path.Combine(work, "vellum-data"), workingDirectory: work);
        Assert.True(Directory.Exists(Path.Combine(work, "vellum-data", "ledgers", "default")));
        using (var client = node.Client())
        {
            await WaitCommitted(client, await Post(client, "written under the working directory"));
        }

        using (var probe = new System.Net.Sockets.TcpClient())
        {
            await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => probe.ConnectAsync(IPAddress.Loopback, strayPort));
        }

        // Every inotify watch of the process is listed as a "inotify wd:" line in its descriptors' fdinfo.
        var watches = 0;
        foreach (var fd in Directory.EnumerateFiles($"/proc/{node.ProcessId}/fdinfo"))
        {
            try
            {
                watches += File.ReadLines(fd).Count(line => line.StartsWith("inotify wd:", StringComparison.Ordinal));
            }
            catch (IOException)
            {
                // closed since it was listed
            }
        }

        Assert.Equal(0, watches);
        Assert.Equal(0, await node.Terminate());
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
