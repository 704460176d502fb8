using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Vellum.TestSupport.Cluster;

namespace Vellum.Cluster.Tests;

/// <summary>Clusters of real <c>vellum start</c> processes, killed with SIGKILL.</summary>
[Collection(nameof(ClusterCollection))]
public sealed partial class ClusterTests(ITestOutputHelper output)
{
    private const string V = "api-version=2022-05-13";

    [Fact]
    public async Task Three_nodes_take_writes_through_any_node_serve_them_everywhere_and_verify_to_one_root()
    {
        await using var cluster = new ClusterProcess(3);
        await cluster.StartAllAsync();
        var primary = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        await cluster.WaitForAllReadyAsync(ClusterProcess.Timeout);

        var written = new Dictionary<string, string>();
        for (var k = 0; k < 30; k++)
        {
            using var client = cluster.Client(k % 3);
            var contents = $"write {k} via node {k % 3}";
            var (status, id, _) = await PostAsync(client, contents, waitForCommit: k % 2 == 0);
            Assert.Equal(HttpStatusCode.OK, status);
            written[id!] = contents;
        }

        // A backup forwards a write to the primary and answers it itself (no redirect to follow).
        var backup = Enumerable.Range(0, 3).First(i => i != primary);
        using (var noRedirect = cluster.Client(backup, followRedirects: false))
        {
            var (status, id, body) = await PostAsync(noRedirect, "forwarded by a backup");
            Assert.True(status == HttpStatusCode.OK, body);
            written[id!] = "forwarded by a backup";
        }

        var last = written.Keys.Select(k => Vellum.Core.Primitives.TxId.Parse(k)).Max(id => id.Seqno);

        // Each node reports the others' progress (their consensus log's commit index) as they last told it.
        var committedIndex = (await cluster.NetworkAsync(primary))!.Value.GetProperty("consensusCommitIndex").GetInt64();
        await WaitUntilAsync(
            async () => await cluster.NetworkAsync(backup) is { } n && n.GetProperty("nodes").EnumerateArray()
                .Where(m => !m.GetProperty("isLocal").GetBoolean())
                .All(m => m.TryGetProperty("reportedConsensusCommitIndex", out var c) && c.GetInt64() >= committedIndex),
            $"node {backup} to hear that the others committed index {committedIndex}");

        for (var i = 0; i < 3; i++)
        {
            await WaitUntilAsync(async () => await cluster.NetworkAsync(i) is { } n && n.GetProperty("committedSeqno").GetInt64() >= last, $"node {i} to commit {last}");
            using var client = cluster.Client(i);
            foreach (var (id, contents) in written)
            {
                var entry = await JsonAsync(await client.GetAsync($"/app/transactions/{id}?{V}"));
                Assert.Equal(contents, entry.GetProperty("entry").GetProperty("contents").GetString());
                var state = await JsonAsync(await client.GetAsync($"/app/transactions/{id}/status?{V}"));
                Assert.Equal("Committed", state.GetProperty("state").GetString());
            }
        }

        await AssertAllVerifyToOneRootAsync(cluster);

        // An upgrade from the version before deployment identities: the same folders without node/deployment/. Each
        // member, started alone, adopts default's service key, so they agree, elect a primary and commit again.
        for (var i = 0; i < 3; i++)
        {
            Directory.Delete(Path.Combine(cluster.Data(i), "node", "deployment"), recursive: true);
        }

        await cluster.StartAllAsync();
        var upgraded = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(
                File.ReadAllText(Path.Combine(cluster.Data(i), "ledgers", "default", "credentials", "service_cert.pem")),
                File.ReadAllText(Path.Combine(cluster.Data(i), "node", "deployment", "service_cert.pem")));
            Assert.Contains("adopted the service key of the ledger 'default'", cluster.Log(i), StringComparison.Ordinal);
        }

        using (var afterUpgrade = cluster.Client(Enumerable.Range(0, 3).First(i => i != upgraded)))
        {
            var (status, _, body) = await PostAsync(afterUpgrade, "after the upgrade, through a backup", waitForCommit: true);
            Assert.True(status == HttpStatusCode.OK, $"{(int)status} {body}");
        }

        await AssertAllVerifyToOneRootAsync(cluster);
    }

    [Fact]
    public async Task A_backup_down_while_ten_thousand_writes_commit_catches_up_when_restarted()
    {
        // Snapshots every 50 batches: the others drop the log entries the absent node misses, so it must fetch the
        // transactions from a peer's ledger.
        await using var cluster = new ClusterProcess(3) { SnapshotInterval = 50 };
        await cluster.StartAllAsync();
        var primary = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        var down = (primary + 1) % 3;
        cluster.Kill(down);

        var ids = new ConcurrentBag<string>();
        var next = -1;
        var clock = Stopwatch.StartNew();
        using (var client = cluster.Client(primary, TimeSpan.FromSeconds(30)))
        {
            await Task.WhenAll(Enumerable.Range(0, 64).Select(async _ =>
            {
                int k;
                while ((k = Interlocked.Increment(ref next)) < 10_000)
                {
                    var (status, id, body) = await PostAsync(client, $"while node {down} was down: {k}");
                    Assert.True(status == HttpStatusCode.OK, body);
                    ids.Add(id!);
                }
            })).WaitAsync(TimeSpan.FromMinutes(3));
            Assert.Equal(HttpStatusCode.OK, (await PostAsync(client, "last", waitForCommit: true)).Status);
        }

        output.WriteLine($"10,000 writes on two of three nodes in {clock.Elapsed.TotalSeconds:0.0} s");
        var target = (await cluster.NetworkAsync(primary))!.Value.GetProperty("committedSeqno").GetInt64();
        Assert.True(target > 10_000);

        clock.Restart();
        await cluster.StartAsync(down);
        await WaitUntilAsync(
            async () => await cluster.NetworkAsync(down) is { } n && n.GetProperty("committedSeqno").GetInt64() >= target && n.GetProperty("ready").GetBoolean(),
            $"node {down} to catch up to {target}");
        output.WriteLine($"node {down} caught up {target} transactions in {clock.Elapsed.TotalSeconds:0.0} s after its restart");
        Assert.True(File.Exists(Path.Combine(cluster.Data(primary), "node", "raft", "snapshot")), "the primary took a snapshot");
        var fetched = cluster.TransactionsFetchedFromPeers(down);
        output.WriteLine($"node {down} fetched {fetched} of them from a peer's ledger");
        Assert.True(fetched >= 10_000, $"fetched {fetched}: {cluster.Log(down)}");

        using (var client = cluster.Client(down))
        {
            foreach (var id in ids.OrderBy(_ => Random.Shared.Next()).Take(100))
            {
                var state = await JsonAsync(await client.GetAsync($"/app/transactions/{id}/status?{V}"));
                Assert.Equal("Committed", state.GetProperty("state").GetString());
            }
        }

        await AssertAllVerifyToOneRootAsync(cluster);
    }

    [Fact]
    public async Task A_cluster_grows_by_joins_and_a_fourth_node_catches_up_a_hundred_thousand_transactions()
    {
        await using var cluster = new ClusterProcess(4) { SnapshotInterval = 100 };
        await cluster.StartAsync(0, alone: true);
        Assert.Equal(0, await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout));
        string token;
        using (var admin = cluster.Client(0))
        {
            var denied = await new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, c, _, _) => c is not null } }) { BaseAddress = cluster.Url(0) }
                .PostAsync("/node/join-tokens", null);
            Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
            token = (await JsonAsync(await admin.PostAsync("/node/join-tokens?lifetimeMinutes=10", null))).GetProperty("token").GetString()!;

            // A wrong token gets nothing (the service key and ledger secret are behind it).
            var forged = token[..^2] + (token[^2] == 'A' ? "B" : "A") + token[^1];
            var refused = await admin.PostAsync("/node/join", new StringContent($$"""{"token":"{{forged}}"}""", Encoding.UTF8, new MediaTypeHeaderValue("application/json")));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.DoesNotContain("PRIVATE KEY", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await cluster.JoinAsync(1, target: 0, token);
        await cluster.JoinAsync(2, target: 1, token);
        for (var i = 1; i <= 2; i++)
        {
            await WaitUntilAsync(async () => await cluster.NetworkAsync(i) is { } n && n.GetProperty("ready").GetBoolean(), $"node {i} to be ready");
        }

        var clock = Stopwatch.StartNew();
        var next = -1;
        using (var client = cluster.Client(0, TimeSpan.FromSeconds(30)))
        {
            await Task.WhenAll(Enumerable.Range(0, 128).Select(async _ =>
            {
                while (Interlocked.Increment(ref next) < 100_000)
                {
                    var (status, _, body) = await PostAsync(client, "one of a hundred thousand");
                    Assert.True(status == HttpStatusCode.OK, body);
                }
            })).WaitAsync(TimeSpan.FromMinutes(4));
            Assert.Equal(HttpStatusCode.OK, (await PostAsync(client, "last", waitForCommit: true)).Status);
        }

        var target = (await cluster.NetworkAsync(0))!.Value.GetProperty("committedSeqno").GetInt64();
        output.WriteLine($"{target} transactions on a 3-node cluster grown by joins, written in {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(target > 100_000);

        clock.Restart();
        await cluster.JoinAsync(3, target: 2, token);
        var deadline = Stopwatch.StartNew();
        while (!(await cluster.NetworkAsync(3) is { } n && n.GetProperty("ready").GetBoolean() && n.GetProperty("committedSeqno").GetInt64() >= target))
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(3), "the fourth node did not catch up in 3 minutes");
            await Task.Delay(200);
        }

        output.WriteLine($"the fourth node joined and caught up {target} transactions in {clock.Elapsed.TotalSeconds:0.0} s");

        // The members' logs were compacted long before; the joiner took the ledger from a peer's files, then the log.
        Assert.True(File.Exists(Path.Combine(cluster.Data(2), "node", "raft", "snapshot")), "the members took snapshots");
        var fetched = cluster.TransactionsFetchedFromPeers(3);
        output.WriteLine($"the fourth node fetched {fetched} of them from a peer's ledger");
        Assert.True(fetched >= 100_000, $"fetched {fetched}");
        // The leader's snapshot may land a moment after the joiner is ready: it had the transactions from the peer's files.
        await WaitUntilAsync(
            async () => await cluster.NetworkAsync(3) is { } j && j.GetProperty("snapshotIndex").GetInt64() > 0, "the fourth node to hold the leader's snapshot");
        var joined = (await cluster.NetworkAsync(3))!.Value;
        Assert.Equal(fetched, joined.GetProperty("transactionsFetchedFromPeers").GetInt64());
        Assert.Contains("The leader sent a snapshot", cluster.Log(3), StringComparison.Ordinal);
        using (var client = cluster.Client(3))
        {
            var network = await JsonAsync(await client.GetAsync("/node/network"));
            Assert.Equal(4, network.GetProperty("nodes").GetArrayLength());
        }

        // Every member learns the fourth node's id (its public key) from /node/network: what retiring it names.
        var fourthId = joined.GetProperty("nodes").EnumerateArray().Single(n => n.GetProperty("isLocal").GetBoolean()).GetProperty("nodeId").GetString();
        var fourthAddress = $"{cluster.Hosts[3]}:{cluster.NodePorts[3]}";
        foreach (var i in new[] { 0, 1, 2 })
        {
            await WaitUntilAsync(
                async () => await cluster.NetworkAsync(i) is { } n &&
                    n.GetProperty("nodes").EnumerateArray().Any(m => m.GetProperty("nodeAddress").GetString() == fourthAddress &&
                        m.TryGetProperty("nodeId", out var id) && id.GetString() == fourthId),
                $"node {i} to know the fourth node's id");
        }

        // Until it is retired, the fourth node's certificate has a member's powers on the others' node endpoints.
        using var fourthCertificate = cluster.NodeCertificate(3);
        using var fourthChannel = cluster.ChannelCertificate(3);
        Assert.False(await NodeChannelRefusesAsync(cluster, 0, fourthChannel), "node 0 refused a member's certificate on its node channel");

        // The node channel is the deployment's: the join handed the fourth node the deployment identity (not default's
        // service key), and a member's node certificate for a ledger, even default, does not open it.
        Assert.Equal(
            File.ReadAllText(Path.Combine(cluster.Data(0), "node", "deployment", "service_cert.pem")),
            File.ReadAllText(Path.Combine(cluster.Data(3), "node", "deployment", "service_cert.pem")));
        Assert.NotEqual(
            File.ReadAllText(Path.Combine(cluster.Data(3), "node", "deployment", "service_cert.pem")),
            File.ReadAllText(Path.Combine(cluster.Data(3), "ledgers", "default", "credentials", "service_cert.pem")));
        Assert.True(await NodeChannelRefusesAsync(cluster, 0, fourthCertificate), "node 0 took a ledger's node certificate on its node channel");
        using (var asFourth = cluster.Client(0, fourthCertificate))
        {
            Assert.Equal(HttpStatusCode.OK, (await asFourth.GetAsync("/node/ledger/frames?from=1")).StatusCode);
        }

        // Retire the fourth node (asked of a backup: forwarded to the primary). With it out, two of the remaining
        // three are a majority; had it stayed a member, two of four would not be, and the write below would not commit.
        using (var admin = cluster.Client(1))
        {
            // 409 while the configuration that added the fourth node is still being committed: one change at a time,
            // as documented, so a client retries.
            var retired = await admin.DeleteAsync($"/node/members/{cluster.Hosts[3]}:{cluster.NodePorts[3]}");
            for (var attempt = 0; retired.StatusCode == HttpStatusCode.Conflict && attempt < 50; attempt++)
            {
                await Task.Delay(200);
                retired = await admin.DeleteAsync($"/node/members/{cluster.Hosts[3]}:{cluster.NodePorts[3]}");
            }

            Assert.Equal(HttpStatusCode.OK, retired.StatusCode);
            var answer = await JsonAsync(retired);
            Assert.Equal(fourthAddress, answer.GetProperty("removed").GetString());
            Assert.Equal(fourthId, answer.GetProperty("retiredNodeId").GetString());
        }

        // Retired: its still valid, still endorsed certificate is refused by every member (the retirement is a
        // committed deployment entry of the consensus log, applied by each).
        foreach (var i in new[] { 0, 1, 2 })
        {
            await AssertRetiredAsync(cluster, i, fourthCertificate);
        }

        // And every member forgets it: it leaves /node/network (and with it catch-up and forwarding).
        foreach (var i in new[] { 0, 1, 2 })
        {
            await WaitUntilAsync(
                async () => await cluster.NetworkAsync(i) is { } n && n.GetProperty("nodes").EnumerateArray().All(m => m.GetProperty("nodeAddress").GetString() != fourthAddress),
                $"node {i} to forget the retired node");
        }

        // Its node channel is refused too: a handshake with its certificate is turned away by every member. (The node
        // itself, out of the configuration, asks the others for votes now and then; when it does on a loaded machine
        // is not something to wait for, so the test knocks itself.)
        foreach (var i in new[] { 0, 1, 2 })
        {
            Assert.True(await NodeChannelRefusesAsync(cluster, i, fourthChannel), $"node {i} accepted the retired node's certificate on its node channel");
            await WaitUntilAsync(() => Task.FromResult(cluster.Log(i).Contains("is of a retired node", StringComparison.Ordinal)), $"node {i} to log the refusal");
        }

        cluster.Kill(3);
        var primary = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        var down = Enumerable.Range(0, 3).First(i => i != primary);
        cluster.Kill(down);
        using (var client = cluster.Client(primary, TimeSpan.FromSeconds(20)))
        {
            var (status, _, body) = await PostAsync(client, "after the fourth node retired and another went down", waitForCommit: true);
            Assert.True(status == HttpStatusCode.OK, $"{(int)status} {body}");
        }

        await cluster.StartAsync(down);
        // A restart keeps the retired list (node/retired, which every member wrote as it applied the retirement).
        await AssertRetiredAsync(cluster, down, fourthCertificate);
        Assert.All(new[] { 0, 1, 2 }, i => Assert.Contains($"{fourthId} {fourthAddress}", File.ReadAllText(Path.Combine(cluster.Data(i), "node", "retired")), StringComparison.Ordinal));
        await AssertAllVerifyToOneRootAsync(cluster, nodes: [0, 1, 2]);
    }

    /// <summary>
    /// Opens member <paramref name="i"/>'s node channel presenting <paramref name="certificate"/>: true when the member
    /// ends it (during the handshake, or at the first read under TLS 1.3, where the server judges the client's
    /// certificate after the client has finished), false when it stays open for 5 s.
    /// </summary>
    private static async Task<bool> NodeChannelRefusesAsync(ClusterProcess cluster, int i, System.Security.Cryptography.X509Certificates.X509Certificate2 certificate)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(cluster.Hosts[i], cluster.NodePorts[i]);
        await using var tls = new System.Net.Security.SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, server, _, _) => server is not null);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await tls.AuthenticateAsClientAsync(
                new System.Net.Security.SslClientAuthenticationOptions { TargetHost = "vellum-node", ClientCertificates = [certificate] }, timeout.Token);
            return await tls.ReadAsync(new byte[1], timeout.Token) == 0;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException)
        {
            return true;
        }
    }

    private static async Task AssertRetiredAsync(ClusterProcess cluster, int i, System.Security.Cryptography.X509Certificates.X509Certificate2 retired)
    {
        using var asRetired = cluster.Client(i, retired);
        await WaitUntilAsync(
            async () =>
            {
                using var frames = await asRetired.GetAsync("/node/ledger/frames?from=1", HttpCompletionOption.ResponseHeadersRead);
                return frames.StatusCode == HttpStatusCode.Forbidden;
            },
            $"node {i} to refuse the retired node's certificate");
        using var forwarded = new HttpRequestMessage(HttpMethod.Get, $"/app/users?{V}");
        forwarded.Headers.Add("x-vellum-forwarded-user", Vellum.Core.Identity.CertificateFingerprint.Compute(cluster.AdminCertificate));
        var response = await asRetired.SendAsync(forwarded);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("ForwardedUserNotAllowed", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    internal static async Task AssertAllVerifyToOneRootAsync(ClusterProcess cluster, int[]? nodes = null)
    {
        nodes ??= [.. Enumerable.Range(0, cluster.Size)];
        // Let every node apply the last signature, then stop them cleanly and check each ledger offline.
        var primary = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        var target = (await cluster.NetworkAsync(primary))!.Value.GetProperty("committedSeqno").GetInt64();
        foreach (var i in nodes)
        {
            await WaitUntilAsync(async () => await cluster.NetworkAsync(i) is { } n && n.GetProperty("committedSeqno").GetInt64() >= target, $"node {i} to reach {target}");
        }

        foreach (var i in nodes)
        {
            Assert.Equal(0, await cluster.TerminateAsync(i));
        }

        var results = new List<JsonElement>();
        foreach (var i in nodes)
        {
            results.Add(await cluster.VerifyAsync(i));
        }

        var roots = results.Select(r => r.GetProperty("lastSignedRoot").GetString()).Distinct().ToArray();
        var sizes = results.Select(r => r.GetProperty("lastSignedSeqno").GetInt64()).Distinct().ToArray();
        Assert.Single(sizes);
        Assert.Single(roots);
    }

    internal static async Task<(HttpStatusCode Status, string? Id, string Body)> PostAsync(HttpClient client, string contents, bool waitForCommit = false)
    {
        using var response = await client.PostAsync($"/app/transactions?{V}{(waitForCommit ? "&waitForCommit=true" : "")}", Json(JsonSerializer.Serialize(new { contents })));
        var body = await response.Content.ReadAsStringAsync();
        var id = response.Headers.TryGetValues("x-ms-ccf-transaction-id", out var values) ? values.Single() : null;
        return (response.StatusCode, id, body);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, new MediaTypeHeaderValue("application/json"));

    internal static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > ClusterProcess.Timeout)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }

            await Task.Delay(50);
        }
    }

    [GeneratedRegex(@"transaction (\d+\.\d+)")]
    private static partial Regex TransactionIdInMessage();

    /// <summary>Eight closed-loop writers with waitForCommit=true against whichever nodes are up.</summary>
    internal sealed class Load : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task[] _writers;
        private int _failures;

        public Load(ClusterProcess cluster)
        {
            _writers = [.. Enumerable.Range(0, 8).Select(w => Task.Run(() => WriteAsync(cluster, w)))];
        }

        public ConcurrentDictionary<string, string> Committed { get; } = new();

        public ConcurrentBag<string> Unknown { get; } = [];

        public int Failures => Volatile.Read(ref _failures);

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await Task.WhenAll(_writers).WaitAsync(ClusterProcess.Timeout);
        }

        private async Task WriteAsync(ClusterProcess cluster, int writer)
        {
            var k = 0;
            while (!_stop.IsCancellationRequested)
            {
                var node = (writer + k) % cluster.Size;
                var contents = $"writer {writer} write {k++}";
                if (!cluster.IsRunning(node))
                {
                    continue;
                }

                try
                {
                    using var client = cluster.Client(node, TimeSpan.FromSeconds(5));
                    var (status, id, body) = await PostAsync(client, contents, waitForCommit: true);
                    if (status == HttpStatusCode.OK)
                    {
                        // Answered only once committed: this write must never be lost.
                        Committed[id!] = contents;
                        continue;
                    }

                    if (TransactionIdInMessage().Match(body) is { Success: true } match)
                    {
                        Unknown.Add(match.Groups[1].Value);
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException or SocketException)
                {
                    // A node killed while the client connects: HttpClient has been seen to let the SocketException of
                    // reading the new socket's remote end point ("Transport endpoint is not connected") through unwrapped.
                }

                Interlocked.Increment(ref _failures);
                await Task.Delay(20);
            }
        }

        public void Dispose() => _stop.Dispose();
    }
}

[CollectionDefinition(nameof(ClusterCollection), DisableParallelization = true)]
public sealed class ClusterCollection;
