using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Vellum.TestSupport.Cluster;

namespace Vellum.Cluster.Tests;

/// <summary>
/// Ten ledgers on a cluster of real processes: one Raft group carries them all, writes reach every ledger through any
/// member, the primary is killed under load, a joining member receives every ledger, and no member's consensus log holds
/// an entry's contents in clear.
/// </summary>
[Collection(nameof(ClusterCollection))]
public sealed class ManyLedgersClusterTests(ITestOutputHelper output)
{
    private const string V = "api-version=2022-05-13";

    // Contents start with this, so that a member's Raft log can be searched for any of them in clear.
    private const string Marker = "plain-contents-";

    private static readonly string[] Ledgers = ["default", .. Enumerable.Range(1, 9).Select(i => $"ledger-{i:D2}")];

    private static bool IsPrivate(string ledger) => ledger is "ledger-03" or "ledger-06" or "ledger-09";

    private static string Prefix(string ledger) => ledger == "default" ? string.Empty : $"/ledgers/{ledger}";

    /// <summary>
    /// An Administrator client of member <paramref name="i"/> that names <paramref name="ledger"/> by Host
    /// (<c>{ledger}.{domain}</c>, also the TLS server name) and pins that ledger's service certificate.
    /// </summary>
    internal static HttpClient HostClient(ClusterProcess cluster, int i, string ledger)
    {
        var service = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(
            File.ReadAllText(Path.Combine(cluster.Data(0), "ledgers", ledger, "credentials", "service_cert.pem")));
        var handler = new SocketsHttpHandler
        {
            SslOptions = new System.Net.Security.SslClientAuthenticationOptions
            {
                ClientCertificates = [cluster.AdminCertificate],
                RemoteCertificateValidationCallback = (_, certificate, _, _) => Vellum.Core.Identity.ServiceCertificatePin.Accepts(certificate, service),
            },
        };
        var client = new HttpClient(handler) { BaseAddress = cluster.Url(i), DefaultRequestVersion = HttpVersion.Version20, Timeout = TimeSpan.FromSeconds(20) };
        client.DefaultRequestHeaders.Host = $"{ledger}.{cluster.Domain}";
        return client;
    }

    [Fact]
    public async Task Ten_ledgers_share_one_raft_group_through_primary_kills_a_join_and_never_appear_in_clear_in_a_log()
    {
        // A domain of its own (not the default localhost), given to every start and join: a joined member serves
        // under it too, so a backup forwards a write routed by Host to the ledger the Host names.
        await using var cluster = new ClusterProcess(4) { Domain = "vellum.test" };

        // The first member makes the ledgers on its first start; the others join and receive every one of them.
        await cluster.StartAsync(0, alone: true, [.. Ledgers.SelectMany(l => new[] { "--ledger", IsPrivate(l) ? $"{l}:Private" : l })]);
        Assert.Equal(0, await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout));
        var token = await JoinTokenAsync(cluster, 0);
        await cluster.JoinAsync(1, target: 0, token);
        await cluster.JoinAsync(2, target: 1, token);
        await WaitForLedgersReadyAsync(cluster, [0, 1, 2]);
        foreach (var i in new[] { 1, 2 })
        {
            Assert.Equal(Ledgers, Directory.GetDirectories(Path.Combine(cluster.Data(i), "ledgers")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        }

        // Membership belongs to the deployment: another ledger's Administrator cannot hand out every ledger's keys.
        using (var admin = cluster.Client(0))
        {
            using var refused = await admin.PostAsync("/ledgers/ledger-01/node/join-tokens", null);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains("MembershipNotManagedHere", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // A backup forwards a write to the primary for the ledger it names, and answers it itself.
        var primaryAtStart = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        using (var backup = cluster.Client(primaryAtStart == 1 ? 2 : 1, followRedirects: false))
        {
            using var response = await backup.PostAsync($"/ledgers/ledger-05/app/transactions?{V}&waitForCommit=true", Body($"{Marker}forwarded"));
            Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
            Assert.Single(response.Headers.GetValues("x-ms-ccf-transaction-id"));
        }

        // The same by Host (ledger-05.vellum.test; the TLS server name follows it), sent to a joined backup.
        using (var backup = HostClient(cluster, primaryAtStart == 1 ? 2 : 1, "ledger-05"))
        {
            using var response = await backup.PostAsync($"/app/transactions?{V}&waitForCommit=true", Body($"{Marker}forwarded by host"));
            Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
            var id = response.Headers.GetValues("x-ms-ccf-transaction-id").Single();
            using var primary = cluster.Client(primaryAtStart);
            using var entry = JsonDocument.Parse(await primary.GetStringAsync($"/ledgers/ledger-05/app/transactions/{id}?{V}"));
            Assert.Equal($"{Marker}forwarded by host", entry.RootElement.GetProperty("entry").GetProperty("contents").GetString());
        }

        var load = new Load(cluster, [0, 1, 2]);
        try
        {
            for (var round = 1; round <= 3; round++)
            {
                await Task.Delay(1500);
                var primary = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
                var before = load.Acknowledged.Count;
                var clock = Stopwatch.StartNew();
                cluster.Kill(primary);
                var next = await cluster.WaitForPrimaryAsync(TimeSpan.FromSeconds(10), not: primary);
                await WaitUntilAsync(() => load.Acknowledged.Count > before + 10, TimeSpan.FromSeconds(10), "writes to commit after the failover");
                output.WriteLine($"round {round}: killed node {primary}; node {next} primary and writing again after {clock.Elapsed.TotalSeconds:0.0} s");
                await cluster.StartAsync(primary);
                await WaitForLedgersReadyAsync(cluster, [0, 1, 2]);
            }
        }
        finally
        {
            await load.StopAsync();
        }

        Assert.True(load.Refused.IsEmpty, string.Join("\n", load.Refused.Take(5)));
        var written = load.Acknowledged.ToArray();
        output.WriteLine($"{written.Length} writes acknowledged over {Ledgers.Length} ledgers ({load.Unknown} unknown outcomes)");
        foreach (var (reason, count) in load.Reasons.OrderByDescending(r => r.Value).Take(12))
        {
            output.WriteLine($"  {count} × {reason}");
        }

        foreach (var ledger in Ledgers)
        {
            Assert.True(written.Count(w => w.Ledger == ledger) >= 10, $"too few writes reached {ledger}");
        }

        // A fourth member joins and receives every ledger with every acknowledged write.
        var last = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        await cluster.JoinAsync(3, target: last, await JoinTokenAsync(cluster, last));
        await WaitForLedgersReadyAsync(cluster, [0, 1, 2, 3]);
        await WaitForSameCommitsAsync(cluster, [0, 1, 2, 3]);
        using (var client = cluster.Client(3, TimeSpan.FromSeconds(30)))
        {
            var next = -1;
            await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
            {
                while (Interlocked.Increment(ref next) is var k && k < written.Length)
                {
                    var (ledger, id, contents) = written[k];
                    using var response = await client.GetAsync($"{Prefix(ledger)}/app/transactions/{id}?{V}");
                    var text = await response.Content.ReadAsStringAsync();
                    Assert.True(response.IsSuccessStatusCode, $"{ledger} {id} on the joined node: {(int)response.StatusCode} {text}");
                    Assert.Equal(contents, JsonDocument.Parse(text).RootElement.GetProperty("entry").GetProperty("contents").GetString());
                }
            }));
        }

        // Every ledger on every member verifies offline to one root; no member's Raft log holds contents in clear.
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(0, await cluster.TerminateAsync(i));
            Assert.False(Directory.Exists(Path.Combine(cluster.Data(i), "node", "log")), "a cluster member has no single-node log");
            foreach (var file in Directory.EnumerateFiles(Path.Combine(cluster.Data(i), "node", "raft"), "*", SearchOption.AllDirectories))
            {
                Assert.True(File.ReadAllBytes(file).AsSpan().IndexOf("plain-contents-"u8) < 0, $"{file} holds an entry's contents in clear");
            }
        }

        foreach (var ledger in Ledgers)
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => cluster.VerifyAsync(i, ledger)));
            Assert.Single(results.Select(r => r.GetProperty("lastSignedRoot").GetString()).Distinct());
            Assert.Single(results.Select(r => r.GetProperty("lastSignedSeqno").GetInt64()).Distinct());
        }
    }

    [Fact]
    public async Task A_ledger_made_on_a_running_cluster_reaches_every_member_one_that_was_down_and_one_that_joins_and_its_keys_never_enter_a_log()
    {
        await using var cluster = new ClusterProcess(4) { Domain = "vellum.test" };
        await cluster.StartAsync(0, alone: true);
        Assert.Equal(0, await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout));
        var token = await JoinTokenAsync(cluster, 0);
        await cluster.JoinAsync(1, target: 0, token);
        await cluster.JoinAsync(2, target: 1, token);
        await WaitForReadyAsync(cluster, [0, 1, 2], ["default"]);

        // A ledger made and written while every member is up, to be deleted while member 2 is down.
        using (var admin = cluster.Client(0, TimeSpan.FromSeconds(40)))
        {
            using var created = await admin.PutAsync("/node/ledgers/doomed", new StringContent("""{"ledgerType":"Private"}""", Encoding.UTF8, "application/json"));
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
            await WaitForReadyAsync(cluster, [0, 1, 2], ["doomed"]);
            using var first = await admin.PostAsync($"/ledgers/doomed/app/transactions?{V}&waitForCommit=true", Body($"{Marker}doomed words"));
            Assert.True(first.StatusCode == HttpStatusCode.OK, await first.Content.ReadAsStringAsync());
        }

        var doomedSecret = File.ReadAllText(Path.Combine(cluster.Data(2), "ledgers", "doomed", "secrets", "ledger.secret")).Trim();
        var doomedKey = KeyBody(File.ReadAllText(Path.Combine(cluster.Data(2), "ledgers", "doomed", "secrets", "service_privk.pem")));

        // Member 2 is down while the ledgers are made (and doomed deleted); a majority (0 and 1) commits each change.
        Assert.Equal(0, await cluster.TerminateAsync(2));
        var primary = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        var backup = primary == 0 ? 1 : 0;
        using (var viaBackup = cluster.Client(backup, TimeSpan.FromSeconds(40), followRedirects: false))
        {
            // Sent to a backup: forwarded to the primary, which makes it on every member.
            using var created = await viaBackup.PutAsync("/node/ledgers/gamma", new StringContent("""{"ledgerType":"Private"}""", Encoding.UTF8, "application/json"));
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
            using var taken = await viaBackup.PutAsync("/node/ledgers/GAMMA", null);
            Assert.Equal(HttpStatusCode.Conflict, taken.StatusCode);

            // Deleted through a backup too: every member that applies the deletion erases it and keeps its tombstone.
            using var deleted = await viaBackup.DeleteAsync("/node/ledgers/doomed");
            var tombstone = await deleted.Content.ReadAsStringAsync();
            Assert.True(deleted.StatusCode == HttpStatusCode.OK, tombstone);
            Assert.Equal("Private", JsonDocument.Parse(tombstone).RootElement.GetProperty("ledgerType").GetString());
            using var onPrimary = cluster.Client(primary, TimeSpan.FromSeconds(10));
            using var gone = await onPrimary.GetAsync($"/ledgers/doomed/app/transactions?{V}");
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
            await WaitUntilAsync(async () => (await viaBackup.GetAsync($"/ledgers/doomed/app/transactions?{V}")).StatusCode == HttpStatusCode.NotFound,
                ClusterProcess.Timeout, "the backup to apply the deletion");
        }

        using (var admin = cluster.Client(primary, TimeSpan.FromSeconds(40)))
        using (var created = await admin.PutAsync("/node/ledgers/delta", null))
        {
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        }

        var made = new[] { "gamma", "delta" };
        await WaitForReadyAsync(cluster, [0, 1], made);
        var written = new List<(string Ledger, string Id, string Contents)>();
        async Task WriteAsync(int member, string ledger, string contents)
        {
            using var client = cluster.Client(member, TimeSpan.FromSeconds(20));
            using var response = await client.PostAsync($"/ledgers/{ledger}/app/transactions?{V}&waitForCommit=true", Body(contents));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{ledger} via {member}: {await response.Content.ReadAsStringAsync()}");
            written.Add((ledger, response.Headers.GetValues("x-ms-ccf-transaction-id").Single(), contents));
        }

        await WriteAsync(backup, "gamma", $"{Marker}gamma via a backup");
        await WriteAsync(primary, "delta", $"{Marker}delta via the primary");

        // The member that was down applies the creations when it is back (it fetches each ledger's material from the
        // others) and the deletion (it erases its copy).
        await cluster.StartAsync(2);
        await WaitForReadyAsync(cluster, [2], made);
        Assert.StartsWith("Private", File.ReadAllText(Path.Combine(cluster.Data(2), "ledgers", "gamma", "state", "ledger-type")), StringComparison.Ordinal);
        await WaitUntilAsync(() => Task.FromResult(!Directory.Exists(Path.Combine(cluster.Data(2), "ledgers", "doomed"))), ClusterProcess.Timeout, "node 2 to erase the deleted ledger");

        // The name is free again: a new ledger of it reaches every member (and the joiner below, which replays the
        // first one's creation, entries and deletion before it, and skips them).
        using (var admin = cluster.Client(await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout), TimeSpan.FromSeconds(40)))
        using (var created = await admin.PutAsync("/node/ledgers/doomed", null))
        {
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        }

        made = [.. made, "doomed"];
        await WaitForReadyAsync(cluster, [0, 1, 2], made);
        await WriteAsync(0, "doomed", $"{Marker}doomed again");

        // A user-defined role, defined through a backup (forwarded), is a transaction every member applies.
        var current = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        using (var viaBackup = cluster.Client(current == 0 ? 1 : 0, TimeSpan.FromSeconds(40)))
        using (var defined = await viaBackup.PutAsync("/app/roles?api-version=2024-08-22-preview",
            new StringContent("""{"roles":[{"roleName":"auditor","roleActions":["Microsoft.ConfidentialLedger/ledger/entries/read"]}]}""", Encoding.UTF8, "application/json")))
        {
            Assert.True(defined.StatusCode == HttpStatusCode.OK, await defined.Content.ReadAsStringAsync());
        }

        async Task WaitForRoleAsync(int member)
        {
            using var client = cluster.Client(member, TimeSpan.FromSeconds(5));
            await WaitUntilAsync(async () => (await client.GetAsync("/app/roles?roleName=auditor&api-version=2024-08-22-preview")).StatusCode == HttpStatusCode.OK,
                ClusterProcess.Timeout, $"node {member} to apply the role");
        }

        foreach (var member in new[] { 0, 1, 2 })
        {
            await WaitForRoleAsync(member);
        }

        // The primary dies; the ledgers live on; it comes back with them.
        cluster.Kill(primary);
        var next = await cluster.WaitForPrimaryAsync(TimeSpan.FromSeconds(15), not: primary);
        await WriteAsync(next, "gamma", $"{Marker}gamma after a failover");
        await WriteAsync(next == 2 ? backup : 2, "delta", $"{Marker}delta after a failover");
        await cluster.StartAsync(primary);

        // A joining member receives them with the others.
        var last = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        await cluster.JoinAsync(3, target: last, await JoinTokenAsync(cluster, last));
        await WaitForReadyAsync(cluster, [0, 1, 2, 3], made);
        await WaitForRoleAsync(3);
        foreach (var ledger in made)
        {
            await WriteAsync(last, ledger, $"{Marker}{ledger} last");
        }

        for (var i = 0; i < 4; i++)
        {
            using var client = cluster.Client(i, TimeSpan.FromSeconds(20));
            foreach (var (ledger, id, contents) in written)
            {
                await WaitUntilAsync(async () => (await client.GetAsync($"/ledgers/{ledger}/app/transactions/{id}?{V}")) is { IsSuccessStatusCode: true } r &&
                    JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("state").GetString() == "Ready", ClusterProcess.Timeout, $"{ledger} {id} on node {i}");
                using var response = await client.GetAsync($"/ledgers/{ledger}/app/transactions/{id}?{V}");
                Assert.Equal(contents, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("entry").GetProperty("contents").GetString());
            }
        }

        // Every member has committed as far as the primary on each (the last writes signed at once) before they stop.
        using (var leader = cluster.Client(last, TimeSpan.FromSeconds(2)))
        {
            foreach (var ledger in made)
            {
                var target = (await NetworkAsync(leader, ledger))!.Value.GetProperty("committedSeqno").GetInt64();
                for (var i = 0; i < 4; i++)
                {
                    using var client = cluster.Client(i, TimeSpan.FromSeconds(2));
                    await WaitUntilAsync(async () => await NetworkAsync(client, ledger) is { } n && n.GetProperty("committedSeqno").GetInt64() >= target, ClusterProcess.Timeout, $"{ledger} on node {i} to commit {target}");
                }
            }
        }

        // Every member holds the same identity and secret for each; none of it, and no contents, is in any Raft log.
        var secrets = made.Select(l => File.ReadAllText(Path.Combine(cluster.Data(0), "ledgers", l, "secrets", "ledger.secret")).Trim()).ToArray();
        var keys = made.Select(l => KeyBody(File.ReadAllText(Path.Combine(cluster.Data(0), "ledgers", l, "secrets", "service_privk.pem")))).ToArray();
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(0, await cluster.TerminateAsync(i));
            for (var k = 0; k < made.Length; k++)
            {
                Assert.Equal(secrets[k], File.ReadAllText(Path.Combine(cluster.Data(i), "ledgers", made[k], "secrets", "ledger.secret")).Trim());
            }

            var staged = Path.Combine(cluster.Data(i), "node", "staged");
            Assert.True(!Directory.Exists(staged) || Directory.GetDirectories(staged).Length == 0, $"node {i} left a ledger staged");
            Assert.Single(Directory.GetFiles(Path.Combine(cluster.Data(i), "node", "tombstones")));
            var deleting = Path.Combine(cluster.Data(i), "node", "deleting");
            Assert.True(!Directory.Exists(deleting) || Directory.GetFileSystemEntries(deleting).Length == 0, $"node {i} left a deleted ledger's files");

            // The deleted ledger's secret and key are nowhere in the member's folder: what its log still holds of it
            // stays sealed under a key nobody can derive.
            foreach (var file in Directory.EnumerateFiles(cluster.Data(i), "*", SearchOption.AllDirectories))
            {
                var bytes = File.ReadAllBytes(file);
                Assert.True(bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(doomedSecret)) < 0 && bytes.AsSpan().IndexOf(Convert.FromHexString(doomedSecret)) < 0, $"{file} holds the deleted ledger's secret");
                Assert.True(bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(doomedKey)) < 0, $"{file} holds the deleted ledger's service key");
                Assert.True(bytes.AsSpan().IndexOf("plain-contents-doomed words"u8) < 0, $"{file} holds the deleted ledger's contents in clear");
            }

            foreach (var file in Directory.EnumerateFiles(Path.Combine(cluster.Data(i), "node", "raft"), "*", SearchOption.AllDirectories))
            {
                var bytes = File.ReadAllBytes(file);
                Assert.True(bytes.AsSpan().IndexOf("plain-contents-"u8) < 0, $"{file} holds an entry's contents in clear");
                foreach (var secret in secrets)
                {
                    Assert.True(bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(secret)) < 0 && bytes.AsSpan().IndexOf(Convert.FromHexString(secret)) < 0, $"{file} holds a ledger secret");
                }

                foreach (var key in keys)
                {
                    Assert.True(bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(key)) < 0, $"{file} holds a service key");
                }
            }
        }

        foreach (var ledger in made)
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => cluster.VerifyAsync(i, ledger)));
            Assert.True(results.Select(r => r.GetProperty("lastSignedRoot").GetString()).Distinct().Count() == 1,
                $"{ledger}: {string.Join(", ", results.Select(r => $"{r.GetProperty("lastSignedSeqno").GetInt64()} {r.GetProperty("lastSignedRoot").GetString()![..8]}"))}");
        }
    }

    [Fact]
    public async Task A_member_that_missed_a_deletion_compacted_into_a_snapshot_erases_the_ledger_when_it_installs_the_snapshot()
    {
        // Snapshots every 20 batches: once the writes below are in, the log no longer holds the deletion's entry.
        await using var cluster = new ClusterProcess(3) { SnapshotInterval = 20 };
        await cluster.StartAllAsync();
        var primary = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        using (var admin = cluster.Client(primary, TimeSpan.FromSeconds(40)))
        {
            using var created = await admin.PutAsync("/node/ledgers/doomed", null);
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
            await WaitForReadyAsync(cluster, [0, 1, 2], ["doomed"]);
            using var written = await admin.PostAsync($"/ledgers/doomed/app/transactions?{V}&waitForCommit=true", Body($"{Marker}doomed straggler words"));
            Assert.True(written.StatusCode == HttpStatusCode.OK, await written.Content.ReadAsStringAsync());
        }

        var away = (primary + 1) % 3;
        await WaitUntilAsync(() => Task.FromResult(File.Exists(Path.Combine(cluster.Data(away), "ledgers", "doomed", "credentials", "service_cert.pem"))),
            ClusterProcess.Timeout, $"node {away} to hold the ledger");
        Assert.Equal(0, await cluster.TerminateAsync(away));

        string deletedBy;
        using (var admin = cluster.Client(primary, TimeSpan.FromSeconds(40)))
        {
            using var deleted = await admin.DeleteAsync("/node/ledgers/doomed");
            var tombstone = await deleted.Content.ReadAsStringAsync();
            Assert.True(deleted.StatusCode == HttpStatusCode.OK, tombstone);
            deletedBy = JsonDocument.Parse(tombstone).RootElement.GetProperty("deletedBy").GetString()!;
            for (var k = 0; k < 60; k++)
            {
                using var response = await admin.PostAsync($"/app/transactions?{V}", Body($"after the deletion {k}"));
                Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
            }

            using var last = await admin.PostAsync($"/app/transactions?{V}&waitForCommit=true", Body("last"));
            Assert.True(last.StatusCode == HttpStatusCode.OK, await last.Content.ReadAsStringAsync());
        }

        Assert.True(File.Exists(Path.Combine(cluster.Data(primary), "node", "raft", "snapshot")), "the primary took a snapshot");
        await cluster.StartAsync(away);
        await WaitUntilAsync(() => Task.FromResult(!Directory.Exists(Path.Combine(cluster.Data(away), "ledgers", "doomed"))),
            ClusterProcess.Timeout, $"node {away} to erase the ledger deleted while it was away");

        // It installed the leader's snapshot (the writes it missed came from a peer's ledger, not from the log) and keeps
        // the deletion's own tombstone, which the member it asked sent with its 410.
        Assert.True(cluster.TransactionsFetchedFromPeers(away) > 0, cluster.Log(away));
        var kept = Assert.Single(Directory.GetFiles(Path.Combine(cluster.Data(away), "node", "tombstones"), "doomed.*.json"));
        Assert.Equal(deletedBy, JsonDocument.Parse(File.ReadAllText(kept)).RootElement.GetProperty("deletedBy").GetString());
        using (var client = cluster.Client(away, TimeSpan.FromSeconds(10)))
        {
            using var gone = await client.GetAsync($"/ledgers/doomed/app/transactions?{V}");
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }

        Assert.Equal(0, await cluster.TerminateAsync(away));
        foreach (var file in Directory.EnumerateFiles(Path.Combine(cluster.Data(away), "ledgers"), "*", SearchOption.AllDirectories))
        {
            Assert.True(File.ReadAllBytes(file).AsSpan().IndexOf("plain-contents-doomed straggler words"u8) < 0, $"{file} holds the deleted ledger's contents");
        }

        // Back with the ledger gone it starts and serves default as before.
        await cluster.StartAsync(away);
        await WaitForReadyAsync(cluster, [away], ["default"]);
    }

    /// <summary>The base64 body of a PEM key's first line of data (enough to find the key anywhere in a file).</summary>
    private static string KeyBody(string pem) => pem.Split('\n')[1].Trim();

    /// <summary>Waits until each ledger named is ready on each member named; a timeout says what the member logged last.</summary>
    private static async Task WaitForReadyAsync(ClusterProcess cluster, int[] members, string[] ledgers)
    {
        foreach (var i in members)
        {
            using var client = cluster.Client(i, TimeSpan.FromSeconds(2));
            foreach (var ledger in ledgers)
            {
                try
                {
                    await WaitUntilAsync(async () => await NetworkAsync(client, ledger) is { } n && n.GetProperty("ready").GetBoolean(), ClusterProcess.Timeout, $"{ledger} on node {i} to be ready");
                }
                catch (TimeoutException e)
                {
                    var network = await NetworkAsync(client, ledger);
                    var log = string.Join('\n', cluster.Log(i).Split('\n').TakeLast(40));
                    throw new TimeoutException($"{e.Message}; /node/network: {network?.ToString() ?? "no answer"}; its log ends:\n{log}", e);
                }
            }
        }
    }

    internal static async Task<string> JoinTokenAsync(ClusterProcess cluster, int i)
    {
        using var admin = cluster.Client(i);
        using var response = await admin.PostAsync("/node/join-tokens?lifetimeMinutes=10", null);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("token").GetString()!;
    }

    /// <summary>Waits until every ledger of every member named is ready (applied what is committed, knows its users).</summary>
    private static async Task WaitForLedgersReadyAsync(ClusterProcess cluster, int[] members)
    {
        foreach (var i in members)
        {
            using var client = cluster.Client(i, TimeSpan.FromSeconds(2));
            foreach (var ledger in Ledgers)
            {
                await WaitUntilAsync(async () => await NetworkAsync(client, ledger) is { } n && n.GetProperty("ready").GetBoolean(), ClusterProcess.Timeout, $"{ledger} on node {i} to be ready");
            }
        }
    }

    /// <summary>Waits until every member named has committed, for every ledger, as far as the primary.</summary>
    private static async Task WaitForSameCommitsAsync(ClusterProcess cluster, int[] members)
    {
        var primary = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        using var leader = cluster.Client(primary, TimeSpan.FromSeconds(2));
        foreach (var ledger in Ledgers)
        {
            // A write with waitForCommit signs at once, so every ledger ends on a signature the members all apply.
            using (var response = await leader.PostAsync($"{Prefix(ledger)}/app/transactions?{V}&waitForCommit=true", Body("last")))
            {
                Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            }

            var target = (await NetworkAsync(leader, ledger))!.Value.GetProperty("committedSeqno").GetInt64();
            foreach (var i in members)
            {
                using var client = cluster.Client(i, TimeSpan.FromSeconds(2));
                await WaitUntilAsync(async () => await NetworkAsync(client, ledger) is { } n && n.GetProperty("committedSeqno").GetInt64() >= target, ClusterProcess.Timeout, $"{ledger} on node {i} to commit {target}");
            }
        }
    }

    private static async Task<JsonElement?> NetworkAsync(HttpClient client, string ledger)
    {
        try
        {
            using var response = await client.GetAsync($"{Prefix(ledger)}/node/network");
            return response.IsSuccessStatusCode ? JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone() : null;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    private static StringContent Body(string contents) =>
        new(JsonSerializer.Serialize(new { contents }), Encoding.UTF8, new MediaTypeHeaderValue("application/json"));

    private static Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        WaitUntilAsync(() => Task.FromResult(condition()), timeout, what);

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds:0} s waiting for {what}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Six closed-loop writers over every ledger through every member named; a quarter wait for commit.</summary>
    private sealed class Load
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task[] _writers;
        private int _unknown;

        public Load(ClusterProcess cluster, int[] members)
        {
            _writers = [.. Enumerable.Range(0, 6).Select(w => Task.Run(() => WriteAsync(cluster, members, w)))];
        }

        public ConcurrentQueue<(string Ledger, string Id, string Contents)> Acknowledged { get; } = new();

        public int Unknown => Volatile.Read(ref _unknown);

        /// <summary>Why writes were not acknowledged, with how many times each.</summary>
        public ConcurrentDictionary<string, int> Reasons { get; } = new();

        /// <summary>Writes refused as the client's fault (4xx): none should be.</summary>
        public ConcurrentQueue<string> Refused { get; } = new();

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await Task.WhenAll(_writers).WaitAsync(ClusterProcess.Timeout);
        }

        private async Task WriteAsync(ClusterProcess cluster, int[] members, int writer)
        {
            var clients = members.Select(i => cluster.Client(i, TimeSpan.FromSeconds(5))).ToArray();
            try
            {
                for (var k = 0; !_stop.IsCancellationRequested; k++)
                {
                    var member = (writer + k) % members.Length;
                    var ledger = Ledgers[(writer + (k * 7)) % Ledgers.Length];
                    if (!cluster.IsRunning(members[member]))
                    {
                        await Task.Delay(10);
                        continue;
                    }

                    var contents = $"{Marker}{ledger}-{writer}-{k}";
                    try
                    {
                        using var response = await clients[member].PostAsync(
                            $"{Prefix(ledger)}/app/transactions?{V}{(k % 4 == 0 ? "&waitForCommit=true" : "")}", Body(contents), _stop.Token);
                        if (response.StatusCode == HttpStatusCode.OK && response.Headers.TryGetValues("x-ms-ccf-transaction-id", out var ids))
                        {
                            Acknowledged.Enqueue((ledger, ids.Single(), contents));
                        }
                        else
                        {
                            Interlocked.Increment(ref _unknown);
                            var text = await response.Content.ReadAsStringAsync();
                            Reasons.AddOrUpdate($"{(ledger == "default" ? "default" : "other")} {(int)response.StatusCode} {text[..Math.Min(text.Length, 200)]}", 1, (_, n) => n + 1);
                            if ((int)response.StatusCode is >= 400 and < 500)
                            {
                                Refused.Enqueue($"{ledger} via node {members[member]}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                            }
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                    {
                        // The member was killed, or the write's outcome is unknown: it is not counted as written.
                        Interlocked.Increment(ref _unknown);
                        Reasons.AddOrUpdate(ex.GetType().Name, 1, (_, n) => n + 1);
                    }
                }
            }
            finally
            {
                foreach (var client in clients)
                {
                    client.Dispose();
                }
            }
        }
    }
}
