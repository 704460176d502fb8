using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Vellum.TestSupport.Cluster;

namespace Vellum.Cluster.Tests;

/// <summary>A primary cut off from both backups, with each node in a network namespace of its own.</summary>
[Collection(nameof(ClusterCollection))]
public sealed partial class PartitionTests(ITestOutputHelper output)
{
    private const string V = "api-version=2022-05-13";

    [Fact]
    public async Task An_isolated_primary_commits_nothing_the_majority_elects_and_commits_and_healing_leaves_one_history()
    {
        if (!File.Exists("/usr/bin/curl") && !File.Exists("/bin/curl"))
        {
            Assert.Skip("curl is not installed (.ci/run installs it): the test writes from inside the isolated namespace with it");
        }

        using var spaces = NetworkNamespaces.TryCreate(3, out var reason);
        if (spaces is null)
        {
            Assert.Skip($"this machine cannot make network namespaces (needs root and iproute2): {reason}");
        }

        await using var cluster = new ClusterProcess(3, spaces.Hosts, spaces.Names);
        await cluster.StartAllAsync();
        var old = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        using (var client = cluster.Client(old))
        {
            for (var k = 0; k < 10; k++)
            {
                Assert.Equal(HttpStatusCode.OK, (await ClusterTests.PostAsync(client, $"before {k}", waitForCommit: true)).Status);
            }
        }

        var before = (await cluster.NetworkAsync(old))!.Value.GetProperty("committedSeqno").GetInt64();
        spaces.Isolate(old);
        var clock = Stopwatch.StartNew();

        // A client on the isolated primary's own side of the cut writes to it, and waits.
        using var isolatedWrite = Process.Start(cluster.InNamespace(old, "curl", Curl(cluster, old, "/app/transactions?" + V, """{"contents":"written to the isolated primary"}""")))!;
        var isolatedAnswer = isolatedWrite.StandardOutput.ReadToEndAsync();

        var next = await cluster.WaitForPrimaryAsync(TimeSpan.FromSeconds(15), not: old);
        output.WriteLine($"new primary {next} after {clock.Elapsed.TotalSeconds:0.00} s of isolation");
        var committed = new List<string>();
        using (var client = cluster.Client(next))
        {
            for (var k = 0; k < 10; k++)
            {
                var (status, id, body) = await ClusterTests.PostAsync(client, $"majority {k}", waitForCommit: true);
                Assert.True(status == HttpStatusCode.OK, body);
                committed.Add(id!);
            }
        }

        // The isolated primary, asked from its own side, has committed nothing since the cut.
        using (var ask = Process.Start(cluster.InNamespace(old, "curl", Curl(cluster, old, "/node/network", body: null)))!)
        {
            var text = await ask.StandardOutput.ReadToEndAsync();
            await ask.WaitForExitAsync().WaitAsync(ClusterProcess.Timeout);
            var network = JsonDocument.Parse(text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]).RootElement;
            Assert.Equal(before, network.GetProperty("committedSeqno").GetInt64());
        }

        spaces.Heal(old);
        await isolatedWrite.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        var answer = await isolatedAnswer;
        output.WriteLine($"the isolated write's answer after healing: {answer.Split('\n')[0].Trim()}");
        Assert.DoesNotContain("HTTP/2 200", answer, StringComparison.Ordinal);
        var lostId = TransactionId().Match(answer);
        Assert.True(lostId.Success, $"the isolated write's answer names no transaction: {answer}");

        using (var client = cluster.Client(next))
        {
            var status = await ClusterTests.JsonAsync(await client.GetAsync($"/app/transactions/{lostId.Groups[1].Value}/status?{V}"));
            Assert.Equal("Invalid", status.GetProperty("state").GetString());
            foreach (var id in committed)
            {
                Assert.Equal("Committed", (await ClusterTests.JsonAsync(await client.GetAsync($"/app/transactions/{id}/status?{V}"))).GetProperty("state").GetString());
            }
        }

        await ClusterTests.AssertAllVerifyToOneRootAsync(cluster);
    }

    private static string[] Curl(ClusterProcess cluster, int node, string path, string? body)
    {
        List<string> args = ["-s", "-i", "--max-time", "80", "--cacert", cluster.ServiceCertificatePath, "--cert", cluster.AdminCertificatePath, "--key", cluster.AdminKeyPath];
        if (body is not null)
        {
            args.AddRange(["-H", "content-type: application/json", "--data", body]);
        }

        args.Add(new Uri(cluster.Url(node), path).ToString());
        return [.. args];
    }

    [GeneratedRegex(@"(?:transaction |x-ms-ccf-transaction-id: )(\d+\.\d+)", RegexOptions.IgnoreCase)]
    private static partial Regex TransactionId();
}
