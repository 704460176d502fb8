using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Vellum.TestSupport.Cluster;

namespace Vellum.Cluster.Tests;

/// <summary>
/// A deployment that never had the ledger <c>default</c>, as real processes: it issues join tokens, takes members in,
/// elects a new primary when its primary is killed, and every member ends with the same ledgers.
/// </summary>
[Collection(nameof(ClusterCollection))]
public sealed class DeploymentWithoutDefaultClusterTests
{
    private const string V = "api-version=2022-05-13";
    private static readonly string[] Ledgers = ["alpha", "beta"];

    [Fact]
    public async Task Three_members_without_default_join_fail_over_and_agree_on_every_ledger()
    {
        await using var cluster = new ClusterProcess(3) { Domain = "vellum.test" };
        await cluster.StartAsync(0, alone: true, "--ledger", "alpha", "--ledger", "beta:Private");
        Assert.False(Directory.Exists(Path.Combine(cluster.Data(0), "ledgers", "default")));
        Assert.Equal(0, await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout));

        // The deployment's operator (the Administrator given to every member) asks as the deployment: no ledger named.
        string token;
        using (var deployment = cluster.DeploymentClient(0))
        {
            using var response = await deployment.PostAsync("/node/join-tokens?lifetimeMinutes=10", null);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, text);
            token = JsonDocument.Parse(text).RootElement.GetProperty("token").GetString()!;
        }

        await cluster.JoinAsync(1, target: 0, token);
        await cluster.JoinAsync(2, target: 0, token);
        await cluster.WaitForAllReadyAsync(ClusterProcess.Timeout);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(Ledgers, Directory.GetDirectories(Path.Combine(cluster.Data(i), "ledgers")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        }

        // Each member lists all three in /node/network once discovery (every 2 s) has run.
        for (var i = 0; i < 3; i++)
        {
            using var client = cluster.DeploymentClient(i, TimeSpan.FromSeconds(2));
            await ManyLedgersClusterTests.WaitUntilAsync(
                async () =>
                {
                    using var network = JsonDocument.Parse(await client.GetStringAsync("/node/network"));
                    return network.RootElement.GetProperty("nodes").GetArrayLength() == 3;
                },
                ClusterProcess.Timeout,
                $"node {i} to know every member");
        }

        // Writes reach each ledger through every member (a backup sends them on to the primary).
        var written = new List<(string Ledger, string Id, string Contents)>();
        await WriteEverywhereAsync(cluster, [0, 1, 2], "before", written);

        // A backup is stopped and made to forget every member but the primary (as one that joined first and has not
        // yet heard of the later ones); then the primary dies. The backup, started again, knows the client address of
        // no live member: it asks the other over the node channel, and a write through it reaches the new primary.
        var killed = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        var lonely = Enumerable.Range(0, 3).First(i => i != killed);
        var other = 3 - killed - lonely;
        Assert.Equal(0, await cluster.TerminateAsync(lonely));
        var peersFile = Path.Combine(cluster.Data(lonely), "node", "peers");
        var primaryUrl = cluster.Url(killed).ToString().TrimEnd('/');
        File.WriteAllLines(peersFile, File.ReadAllLines(peersFile).Where(line => line.Split(' ')[1].TrimEnd('/') == primaryUrl));
        Assert.Single(File.ReadAllLines(peersFile));
        cluster.Kill(killed);
        await cluster.StartAsync(lonely, alone: true); // no --peer: it knows only what its folder holds
        var next = await cluster.WaitForPrimaryAsync(TimeSpan.FromSeconds(30), not: killed);
        Assert.NotEqual(killed, next);
        using (var client = cluster.DeploymentClient(lonely))
        {
            await ManyLedgersClusterTests.WaitUntilAsync(
                async () =>
                {
                    using var network = JsonDocument.Parse(await client.GetStringAsync("/node/network"));
                    return network.RootElement.GetProperty("nodes").EnumerateArray().Any(n => n.GetProperty("url").GetString() == cluster.Url(other).ToString().TrimEnd('/'));
                },
                ClusterProcess.Timeout,
                $"node {lonely} to learn node {other}'s client address");
        }

        int[] alive = [lonely, other];
        await WriteEverywhereAsync(cluster, alive, "after the failover", written);
        using (var backup = cluster.DeploymentClient(alive.First(i => i != next)))
        {
            using var network = JsonDocument.Parse(await backup.GetStringAsync("/node/network"));
            Assert.Equal("Backup", network.RootElement.GetProperty("role").GetString());
            Assert.Equal(cluster.Url(next).ToString().TrimEnd('/'), network.RootElement.GetProperty("primary").GetString());
        }

        // The killed member comes back (its own folder, no identity copied) and catches up with every write.
        await cluster.StartAsync(killed);
        await cluster.WaitForAllReadyAsync(ClusterProcess.Timeout);
        await WriteEverywhereAsync(cluster, [0, 1, 2], "after the restart", written);
        foreach (var i in Enumerable.Range(0, 3))
        {
            foreach (var (ledger, id, contents) in written)
            {
                using var client = ManyLedgersClusterTests.HostClient(cluster, i, ledger);
                await ManyLedgersClusterTests.WaitUntilAsync(
                    async () =>
                    {
                        using var status = await client.GetAsync($"/app/transactions/{id}/status?{V}");
                        using var state = status.IsSuccessStatusCode ? JsonDocument.Parse(await status.Content.ReadAsStringAsync()) : null;
                        return state?.RootElement.GetProperty("state").GetString() == "Committed";
                    },
                    ClusterProcess.Timeout,
                    $"{ledger} {id} committed on node {i}");
                using var entry = JsonDocument.Parse(await client.GetStringAsync($"/app/transactions/{id}?{V}"));
                Assert.Equal(contents, entry.RootElement.GetProperty("entry").GetProperty("contents").GetString());
            }
        }

        // Stopped (the backups first, so that no election can add a signature some member lacks), every member's copy
        // of each ledger verifies to one root.
        var last = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        foreach (var i in Enumerable.Range(0, 3).OrderBy(i => i == last))
        {
            Assert.Equal(0, await cluster.TerminateAsync(i));
        }

        foreach (var ledger in Ledgers)
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => cluster.VerifyAsync(i, ledger)));
            Assert.Single(results.Select(r => r.GetProperty("lastSignedRoot").GetString()).Distinct());
        }
    }

    /// <summary>Writes one entry to each ledger through each member named, waiting for commit; records them.</summary>
    private static async Task WriteEverywhereAsync(ClusterProcess cluster, int[] members, string when, List<(string, string, string)> written)
    {
        foreach (var i in members)
        {
            foreach (var ledger in Ledgers)
            {
                var contents = $"{ledger} through node {i} {when}";
                using var client = ManyLedgersClusterTests.HostClient(cluster, i, ledger);
                var clock = System.Diagnostics.Stopwatch.StartNew();
                while (true)
                {
                    using var response = await client.PostAsync($"/app/transactions?{V}&waitForCommit=true",
                        new StringContent(JsonSerializer.Serialize(new { contents }), Encoding.UTF8, new MediaTypeHeaderValue("application/json")));
                    if (response.StatusCode == HttpStatusCode.ServiceUnavailable && clock.Elapsed < ClusterProcess.Timeout)
                    {
                        // A backup that has not yet heard of a new primary says so and writes nothing; a client retries.
                        await Task.Delay(100);
                        continue;
                    }

                    Assert.True(response.StatusCode == HttpStatusCode.OK, $"{ledger} through node {i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                    written.Add((ledger, response.Headers.GetValues("x-ms-ccf-transaction-id").Single(), contents));
                    break;
                }
            }
        }
    }
}
