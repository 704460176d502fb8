using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Vellum.Core.Identity;
using Vellum.Core.Receipts;

namespace Vellum.Cli.Tests;

/// <summary>
/// One <c>vellum start</c> serving several ledgers, each at its own host name (TLS server name and Host) with its own
/// certificate, users and files: what one ledger's users, receipts and certificates are worth to another (nothing),
/// the routing rule's refusals, and the flags.
/// </summary>
public sealed class ManyLedgersTests : IDisposable
{
    private const string V = "api-version=2022-05-13";
    private readonly string _root = Directory.CreateTempSubdirectory("vellum-ledgers-").FullName;

    private string Data => Path.Combine(_root, "data");

    [Fact]
    public async Task Two_ledgers_on_one_node_are_served_and_kept_apart_by_name()
    {
        string alphaId, betaId;
        using (var node = await RunningNode.Start(Data, "--ledger", "alpha", "--ledger", "beta:Private"))
        {
            var port = node.Endpoint.Port;
            Assert.Contains($"ledger: alpha (Public) at https://alpha.localhost:{port}", node.Banner, StringComparison.Ordinal);
            Assert.Contains($"ledger: beta (Private) at https://beta.localhost:{port}", node.Banner, StringComparison.Ordinal);
            Assert.DoesNotContain("ledger: default", node.Banner, StringComparison.Ordinal);
            using var alphaService = RunningNode.LedgerServiceCertificate(Data, "alpha");
            using var betaService = RunningNode.LedgerServiceCertificate(Data, "beta");
            Assert.NotEqual(alphaService.Thumbprint, betaService.Thumbprint);

            // Each ledger at its own name, under its own certificate, with its own transactions.
            using var alpha = node.LedgerClient("alpha");
            using var beta = node.LedgerClient("beta");
            alphaId = await RunningNode.Post(alpha, "for alpha");
            betaId = await RunningNode.Post(beta, "for beta");
            await RunningNode.WaitCommitted(alpha, alphaId);
            await RunningNode.WaitCommitted(beta, betaId);
            Assert.Equal("for alpha", (await RunningNode.Json(await alpha.GetAsync($"/app/transactions/{alphaId}?{V}"))).GetProperty("entry").GetProperty("contents").GetString());
            Assert.Equal("for beta", (await RunningNode.Json(await beta.GetAsync($"/app/transactions/{betaId}?{V}"))).GetProperty("entry").GetProperty("contents").GetString());

            // The TLS certificate of each name chains to that ledger's service certificate only.
            Assert.True(ServiceCertificatePin.Accepts(await PresentedAsync(port, "beta.localhost"), betaService));
            Assert.False(ServiceCertificatePin.Accepts(await PresentedAsync(port, "beta.localhost"), alphaService));
            using (var pinnedWrong = node.LedgerClient("beta", pinned: alphaService))
            {
                await Assert.ThrowsAsync<HttpRequestException>(() => pinnedWrong.GetAsync($"/app/transactions/current?{V}"));
            }

            // A receipt from alpha verifies with alpha's service certificate and not with beta's.
            var receiptText = await (await alpha.GetAsync($"/app/transactions/{alphaId}/receipt?{V}")).Content.ReadAsStringAsync();
            Assert.True(ReceiptJson.TryParse(receiptText, out var receipt, out var parseError), parseError);
            Assert.True(ReceiptVerifier.Verify(receipt, alphaService).IsValid);
            Assert.False(ReceiptVerifier.Verify(receipt, betaService).IsValid);

            // A user of alpha is nobody on beta.
            using var reader = NewClientCertificate("alpha reader");
            var fingerprint = CertificateFingerprint.Compute(reader);
            using (var added = await alpha.PatchAsync($"/app/ledgerUsers/{fingerprint}?api-version=2024-08-22-preview",
                new StringContent("""{"assignedRoles":["Reader"]}""", Encoding.UTF8, "application/merge-patch+json")))
            {
                Assert.Equal(HttpStatusCode.OK, added.StatusCode);
            }

            using (var asReader = node.LedgerClient("alpha", clientCertificate: reader))
            {
                Assert.Equal(HttpStatusCode.OK, (await asReader.GetAsync($"/app/transactions/{alphaId}?{V}")).StatusCode);
            }

            using (var onBeta = node.LedgerClient("beta", clientCertificate: reader))
            {
                var refused = await onBeta.GetAsync($"/app/transactions/{betaId}?{V}");
                Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
                Assert.Equal("InvalidAuthenticationInfo", await ErrorCode(refused));
            }

            // The routing rule's refusals: a Host naming another ledger than the TLS server name, an unknown ledger,
            // and (this node has no ledger 'default') a request that names none.
            var (status, body) = await RawGetAsync(port, "alpha.localhost", $"beta.localhost:{port}", $"/app/transactions/{alphaId}?{V}", alphaService);
            Assert.Equal(421, status);
            Assert.Contains("\"MisdirectedRequest\"", body, StringComparison.Ordinal);

            // A name that is no ledger's (and no 'default' here) gets the deployment's certificate.
            using var developmentCa = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(Data, "credentials", "deployment_ca_cert.pem")));
            using (var unknown = node.DeploymentClient(developmentCa, host: "gamma.localhost", nameOnCertificate: "localhost"))
            {
                var answer = await unknown.GetAsync($"/app/transactions/current?{V}");
                Assert.Equal(HttpStatusCode.NotFound, answer.StatusCode);
                Assert.Equal("LedgerNotFound", await ErrorCode(answer));
            }

            // A client at the address (no server name) gets the deployment's certificate too.
            using (var bare = node.DeploymentClient(developmentCa, host: "127.0.0.1"))
            {
                var answer = await bare.GetAsync($"/app/transactions/current?{V}");
                Assert.Equal(HttpStatusCode.NotFound, answer.StatusCode);
                Assert.Equal("LedgerNotFound", await ErrorCode(answer));

                // The path prefix names a ledger too, and /ledgerIdentity/{name} answers on any host without a user.
                var byPath = await RunningNode.Json(await bare.GetAsync($"/ledgers/beta/app/transactions/{betaId}?{V}"));
                Assert.Equal("for beta", byPath.GetProperty("entry").GetProperty("contents").GetString());
                var identity = await RunningNode.Json(await bare.GetAsync("/ledgerIdentity/beta"));
                Assert.Equal("beta", identity.GetProperty("ledgerId").GetString());
                Assert.Equal(File.ReadAllText(Path.Combine(Data, "ledgers", "beta", "credentials", "service_cert.pem")), identity.GetProperty("ledgerTlsCertificate").GetString());
                Assert.Equal(HttpStatusCode.NotFound, (await bare.GetAsync("/ledgerIdentity/gamma")).StatusCode);
            }

            using (var prefixMismatch = await alpha.GetAsync($"/ledgers/beta/app/transactions/{betaId}?{V}"))
            {
                Assert.Equal(HttpStatusCode.MisdirectedRequest, prefixMismatch.StatusCode);
            }

            Assert.Equal(0, await node.Terminate());
        }

        // Each ledger's folder verifies alone, with its own service certificate.
        foreach (var ledger in new[] { "alpha", "beta" })
        {
            var folder = Path.Combine(Data, "ledgers", ledger);
            var (exitCode, output, error) = await RunningNode.RunToExit(
                ["verify", Path.Combine(folder, "ledger"), "--service-cert", Path.Combine(folder, "credentials", "service_cert.pem"),
                    "--secret", Path.Combine(folder, "secrets", "ledger.secret")], TimeSpan.FromSeconds(60));
            Assert.True(exitCode == 0, $"{ledger}: exit {exitCode}: {output}{error}");
        }

        // A restart with no --ledger serves every ledger the folder has.
        using (var node = await RunningNode.Start(Data))
        {
            using var beta = node.LedgerClient("beta");
            Assert.Equal("for beta", (await RunningNode.Json(await beta.GetAsync($"/app/transactions/{betaId}?{V}"))).GetProperty("entry").GetProperty("contents").GetString());
            using var alpha = node.LedgerClient("alpha");
            Assert.Equal(HttpStatusCode.OK, (await alpha.GetAsync($"/app/transactions/{alphaId}?{V}")).StatusCode);
            Assert.Equal(0, await node.Terminate());
        }

        // A type other than the ledger's is refused before anything is opened.
        var views = Directory.GetFiles(Path.Combine(Data, "ledgers"), "view", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllText);
        var refusedStart = await RunningNode.RunToExit(["start", "--data", Data, "--listen", "127.0.0.1:0", "--ledger", "beta:Public"], TimeSpan.FromSeconds(60));
        Assert.Equal(2, refusedStart.ExitCode);
        Assert.Contains("'beta' is Private; its type is fixed at creation", refusedStart.Error, StringComparison.Ordinal);
        foreach (var (file, view) in views)
        {
            Assert.Equal(view, File.ReadAllText(file));
        }
    }

    /// <summary>
    /// Ledgers cost no thread and, idle, no file: a node with 200 ledgers runs as many threads as a node with one
    /// (within a few the runtime may add) and holds none of their files open, and a restart serves them all. Bounds are generous; docs/benchmarks.md has the figures.
    /// </summary>
    [Fact]
    public async Task Two_hundred_ledgers_add_no_threads_and_a_restart_serves_any_of_them()
    {
        int single;
        using (var one = await RunningNode.Start(Path.Combine(_root, "one")))
        {
            await Task.Delay(2000);
            single = Threads(one.ProcessId);
            Assert.Equal(0, await one.Terminate());
        }

        var names = Enumerable.Range(1, 200).Select(i => $"l{i:D3}").ToArray();
        var started = System.Diagnostics.Stopwatch.StartNew();
        using (var many = await RunningNode.Start(Data, [.. names.SelectMany(n => new[] { "--ledger", n })]))
        {
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(90), $"200 ledgers took {started.Elapsed} to create");
            await Task.Delay(2000);
            var threads = Threads(many.ProcessId);
            Assert.True(threads <= single + 8, $"200 ledgers: {threads} threads; one ledger: {single}");
            Assert.Equal(0, LedgerFilesOpen(many.ProcessId)); // idle ledgers hold no file
            Assert.Equal(0, await many.Terminate());
        }

        started.Restart();
        using (var again = await RunningNode.Start(Data))
        {
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(60), $"a restart with 200 ledgers took {started.Elapsed}");
            await Task.Delay(1000);
            Assert.Equal(0, LedgerFilesOpen(again.ProcessId));
            foreach (var name in new[] { "l001", "l137", "l200" })
            {
                using var client = again.LedgerClient(name);
                var id = await RunningNode.Post(client, $"to {name}");
                Assert.Equal($"to {name}", (await RunningNode.Json(await client.GetAsync($"/app/transactions/{id}?{V}"))).GetProperty("entry").GetProperty("contents").GetString());
            }

            Assert.Equal(0, await again.Terminate());
        }
    }

    [Fact]
    public async Task The_deployment_certificate_answers_the_domain_and_reaches_every_ledger_by_path()
    {
        using var node = await RunningNode.Start(Data, "--ledger", "alpha", "--ledger", "beta");
        var port = node.Endpoint.Port;
        var caFile = Path.Combine(Data, "credentials", "deployment_ca_cert.pem");
        Assert.Contains($"deployment: https://localhost:{port}, certificate issued by the development CA {caFile}", node.Banner, StringComparison.Ordinal);
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(caFile));
        using var alphaService = RunningNode.LedgerServiceCertificate(Data, "alpha");

        // The domain's own name gets the deployment's certificate; with no ledger 'default', so does a hello naming
        // nothing or an unknown name; a ledger's name gets that ledger's.
        using var forDomain = await PresentedAsync(port, "localhost");
        Assert.True(RunningNode.ChainsTo(forDomain, ca, "localhost"));
        Assert.True(RunningNode.ChainsTo(forDomain, ca, "127.0.0.1"));
        Assert.False(ServiceCertificatePin.Accepts(forDomain, alphaService));
        using var forNothing = await PresentedAsync(port, string.Empty);
        Assert.Equal(forDomain.Thumbprint, forNothing.Thumbprint);
        using var forUnknown = await PresentedAsync(port, "gamma.localhost");
        Assert.Equal(forDomain.Thumbprint, forUnknown.Thumbprint);
        using var forAlpha = await PresentedAsync(port, "alpha.localhost");
        Assert.True(ServiceCertificatePin.Accepts(forAlpha, alphaService));
        Assert.False(RunningNode.ChainsTo(forAlpha, ca, "alpha.localhost"));

        // A client that trusts the development CA reaches each ledger by path, and no ledger without one.
        using var deployment = node.DeploymentClient(ca);
        using (var posted = await deployment.PostAsync($"/ledgers/alpha/app/transactions?{V}", new StringContent("""{"contents":"through the deployment"}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
            var id = posted.Headers.GetValues("x-ms-ccf-transaction-id").Single();
            using var alpha = node.LedgerClient("alpha");
            await RunningNode.WaitCommitted(alpha, id);
            Assert.Equal("through the deployment", (await RunningNode.Json(await alpha.GetAsync($"/app/transactions/{id}?{V}"))).GetProperty("entry").GetProperty("contents").GetString());
        }

        Assert.Equal(HttpStatusCode.OK, (await deployment.GetAsync($"/ledgers/beta/app/collections?{V}")).StatusCode);
        var none = await deployment.GetAsync($"/app/transactions/current?{V}");
        Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
        Assert.Equal("LedgerNotFound", await ErrorCode(none));

        // The CA is the data folder's: a restart issues a new certificate from the same CA.
        await node.Terminate();
        using var again = await RunningNode.Start(Data);
        using var reissued = await PresentedAsync(again.Endpoint.Port, "localhost");
        Assert.NotEqual(forDomain.Thumbprint, reissued.Thumbprint);
        Assert.True(RunningNode.ChainsTo(reissued, ca, "localhost"));
    }

    [Fact]
    public async Task An_operators_certificate_and_chain_serve_the_domain_and_a_default_ledger_keeps_the_nameless()
    {
        // An operator's PKI: a root, an intermediate, and a leaf for the deployment's domain.
        var pki = Path.Combine(_root, "pki");
        Directory.CreateDirectory(pki);
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootRequest = new CertificateRequest("CN=Operator Root", rootKey, HashAlgorithmName.SHA256);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        rootRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var root = rootRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(30));
        using var intermediateKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var intermediateRequest = new CertificateRequest("CN=Operator Intermediate", intermediateKey, HashAlgorithmName.SHA256);
        intermediateRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        intermediateRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var intermediate = intermediateRequest.Create(root, DateTimeOffset.UtcNow.AddMinutes(-4), DateTimeOffset.UtcNow.AddDays(29), [1, 2, 3, 4]);
        using var intermediateWithKey = intermediate.CopyWithPrivateKey(intermediateKey);
        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var leafRequest = new CertificateRequest("CN=ledgers.example", leafKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("ledgers.example");
        leafRequest.CertificateExtensions.Add(names.Build());
        using var leaf = leafRequest.Create(intermediateWithKey, DateTimeOffset.UtcNow.AddMinutes(-3), DateTimeOffset.UtcNow.AddDays(28), [5, 6, 7, 8]);
        var certificateFile = Path.Combine(pki, "tls.pem");
        var keyFile = Path.Combine(pki, "tls.key");
        File.WriteAllText(certificateFile, leaf.ExportCertificatePem() + "\n" + intermediate.ExportCertificatePem() + "\n");
        File.WriteAllText(keyFile, leafKey.ExportPkcs8PrivateKeyPem() + "\n");

        using var node = await RunningNode.Start(Data, "--domain", "ledgers.example", "--tls-cert", certificateFile, "--tls-key", keyFile);
        var port = node.Endpoint.Port;
        Assert.Contains($"deployment: https://ledgers.example:{port} with the --tls-cert certificate", node.Banner, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(Data, "credentials", "deployment_ca_cert.pem")), "a development CA was made beside the operator's certificate");

        var (presented, sent) = await PresentedWithChainAsync(port, "ledgers.example");
        using (presented)
        {
            Assert.Equal(leaf.Thumbprint, presented.Thumbprint);
            Assert.Contains(intermediate.Thumbprint, sent);
            Assert.True(RunningNode.ChainsTo(presented, root, "ledgers.example", [intermediate]));
        }

        // With a ledger 'default', a hello naming nothing still gets default's certificate (clients at an address).
        using var service = RunningNode.LedgerServiceCertificate(Data, "default");
        using var forNothing = await PresentedAsync(port, string.Empty);
        Assert.True(ServiceCertificatePin.Accepts(forNothing, service));

        // The wrong key for the certificate: refused before anything is made.
        var otherData = Path.Combine(_root, "other");
        File.WriteAllText(Path.Combine(pki, "wrong.key"), rootKey.ExportPkcs8PrivateKeyPem() + "\n");
        var (exitCode, _, error) = await RunningNode.RunToExit(
            ["start", "--data", otherData, "--listen", "127.0.0.1:0", "--tls-cert", certificateFile, "--tls-key", Path.Combine(pki, "wrong.key")], TimeSpan.FromSeconds(60));
        Assert.Equal(2, exitCode);
        Assert.StartsWith("vellum start: ", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(otherData, "ledgers", "default")), "a refused start made a ledger");
    }

    [Theory]
    [InlineData("--ledger", "Bad_Name", "a ledger name has only the letters a-z, digits and '-'")]
    [InlineData("--ledger", "ab", "a ledger name has 3 to 32 characters")]
    [InlineData("--ledger", "alpha:Secret", "the type after ':' is Public or Private")]
    [InlineData("--ledger-id", "x", "--ledger-id is gone")]
    [InlineData("--domain", "not a domain", "--domain 'not a domain' is not a DNS name")]
    [InlineData("--tls-cert", "/nonexistent/tls.pem", "--tls-cert and --tls-key go together")]
    [InlineData("--tls-key", "/nonexistent/tls.key", "--tls-cert and --tls-key go together")]
    [InlineData("--jwt-issuer", "http://plain.example", "is not an https URL")]
    [InlineData("--jwt-audience", "https://confidential-ledger.azure.com", "configure --jwt-issuer, which is missing")]
    [InlineData("--admin-oid", "not an id", "--admin-oid 'not an id' is not a user id")]
    public async Task A_bad_ledger_flag_is_one_line_and_exit_2(string flag, string value, string message)
    {
        var (exitCode, output, error) = await RunningNode.RunToExit(["start", "--data", Data, "--listen", "127.0.0.1:0", flag, value], TimeSpan.FromSeconds(60));
        Assert.Equal(2, exitCode);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("endpoint:", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(Data, "ledgers")), "a refused start made a ledger");
    }

    [Theory]
    [InlineData("--ledger alpha --ledger ALPHA", "--ledger names 'alpha' twice")]
    [InlineData("--ledger-type Private --ledger default:Public", "--ledger-type Private and --ledger default:Public disagree")]
    public async Task Ledger_flags_that_contradict_each_other_exit_2(string flags, string message)
    {
        var (exitCode, _, error) = await RunningNode.RunToExit(["start", "--data", Data, "--listen", "127.0.0.1:0", .. flags.Split(' ')], TimeSpan.FromSeconds(60));
        Assert.Equal(2, exitCode);
        Assert.Equal($"vellum start: {message}", error.TrimEnd('\n'));
        Assert.False(Directory.Exists(Path.Combine(Data, "ledgers")), "a refused start made a ledger");
    }

    [Fact]
    public async Task A_cluster_member_serves_the_ledgers_of_its_first_start_without_default_and_makes_no_ledger_later()
    {
        using var held = new TcpListener(IPAddress.Loopback, 0);
        held.Start();
        var port = ((IPEndPoint)held.LocalEndpoint).Port;
        held.Stop();
        string[] member = ["--node-listen", $"127.0.0.1:{port}"];

        using (var node = await RunningNode.Start(Data, [.. member, "--ledger", "alpha", "--ledger", "beta:Private"]))
        {
            Assert.Contains("ledger: alpha (Public)", node.Banner, StringComparison.Ordinal);
            Assert.Contains("ledger: beta (Private)", node.Banner, StringComparison.Ordinal);
            Assert.DoesNotContain("ledger: default", node.Banner, StringComparison.Ordinal); // the deployment is not a ledger
            Assert.Contains("deployment identity: ", node.Banner, StringComparison.Ordinal);

            // At once, while the ledgers' first transactions (their Administrators) may still be in flight: the stop must
            // not wait for a commit that can no longer come (it did, about 1 run in 6 under load).
            Assert.Equal(0, await node.Terminate());
        }

        // The other members could not apply a ledger this member made alone.
        var (exitCode, _, error) = await RunningNode.RunToExit(["start", "--data", Data, "--listen", "127.0.0.1:0", .. member, "--ledger", "gamma"], TimeSpan.FromSeconds(60));
        Assert.Equal(2, exitCode);
        Assert.Contains("a cluster member cannot make the ledger 'gamma'", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(Data, "ledgers", "gamma")), "the refused ledger was made");
        Assert.False(Directory.Exists(Path.Combine(Data, "ledgers", "default")), "default was made");
    }

    [Fact]
    public async Task Join_refuses_a_folder_holding_a_ledger_that_is_not_the_deployments_and_writes_nothing()
    {
        using var target = await RunningNode.Start(Data, ["--node-listen", $"127.0.0.1:{FreePort()}", "--ledger", "alpha"]);
        string token;
        // Asked of the deployment (its host name; no default here), by the development Administrator, an operator.
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(new Vellum.Storage.DataDirectory(Data).DeploymentCaCertificate));
        using (var admin = target.DeploymentClient(ca))
        using (var issued = await admin.PostAsync("/node/join-tokens", null))
        {
            token = (await RunningNode.Json(issued)).GetProperty("token").GetString()!;
        }

        var pinned = new Vellum.Storage.DataDirectory(Data).DeploymentServiceCertificate;
        async Task<(int ExitCode, string Error)> Join(string folder)
        {
            var (exitCode, _, error) = await RunningNode.RunToExit(
                ["join", "--data", folder, "--listen", $"127.0.0.1:{FreePort()}", "--node-listen", $"127.0.0.1:{FreePort()}",
                    "--target", target.Endpoint.ToString(), "--token", token, "--service-cert", pinned], TimeSpan.FromSeconds(60));
            return (exitCode, error.Trim());
        }

        // A folder with a ledger of its own that the deployment does not have (a single node's, say).
        var single = new Vellum.Storage.DataDirectory(Path.Combine(_root, "single"));
        single.OpenOrCreate(LedgerName.Parse("gamma"), isPrivate: false);
        var refused = await Join(single.Root);
        Assert.Equal((2, $"vellum join: {single.Root} already holds a ledger 'gamma' the deployment does not have"), refused);
        Assert.False(single.HasDeployment);

        // A folder holding another service's ledger under a name the deployment has.
        var other = new Vellum.Storage.DataDirectory(Path.Combine(_root, "other"));
        other.OpenOrCreate(LedgerName.Parse("alpha"), isPrivate: false);
        var before = File.ReadAllText(other.Ledger(LedgerName.Parse("alpha")).ServiceCertificate);
        refused = await Join(other.Root);
        Assert.Equal((2, $"vellum join: {other.Root} already holds another service's ledger 'alpha'"), refused);
        Assert.False(other.HasDeployment);
        Assert.Equal(before, File.ReadAllText(other.Ledger(LedgerName.Parse("alpha")).ServiceCertificate));
        Assert.Equal(0, await target.Terminate());
    }

    /// <summary>
    /// The node's signature budget bounds the roots it signs on its own cadence over all its ledgers: twelve ledgers
    /// written to without waiting for commit would sign about 100 times a second by default; with
    /// <c>maxSignaturesPerSecond</c> 4 (from the config file) they sign about 4 times a second, in turn, and still sign.
    /// Counted with the node's own Prometheus counter of applied signatures.
    /// </summary>
    [Fact]
    public async Task The_signature_budget_bounds_the_signatures_over_all_ledgers()
    {
        var names = Enumerable.Range(1, 12).Select(i => $"busy{i:D2}").ToArray();
        var config = Path.Combine(_root, "settings.json");
        await File.WriteAllTextAsync(config, """{"maxSignaturesPerSecond": 4}""");
        var metricsPort = FreePort();
        using var node = await RunningNode.Start(Data, [.. names.SelectMany(n => new[] { "--ledger", n }), "--metrics-listen", $"127.0.0.1:{metricsPort}", "--config", config]);
        using var metrics = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}"), Timeout = TimeSpan.FromSeconds(30) };
        var clients = names.Select(n => node.LedgerClient(n)).ToArray();
        try
        {
            var before = await SignaturesAppliedAsync(metrics);
            var window = System.Diagnostics.Stopwatch.StartNew();
            await Task.WhenAll(clients.Select(async client =>
            {
                while (window.Elapsed < TimeSpan.FromSeconds(3))
                {
                    await RunningNode.Post(client, "keeps the ledger busy");
                }
            })).WaitAsync(TimeSpan.FromSeconds(60));
            var signed = await SignaturesAppliedAsync(metrics) - before;
            var seconds = window.Elapsed.TotalSeconds;
            Assert.InRange(signed, 2, (long)(4 * seconds) + 6);
        }
        finally
        {
            Array.ForEach(clients, c => c.Dispose());
        }

        Assert.Equal(0, await node.Terminate());
    }

    /// <summary>A TCP port free on 127.0.0.1 a moment ago.</summary>
    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>Signature transactions applied on the node, over all its ledgers (its <c>/metrics</c>).</summary>
    private static async Task<long> SignaturesAppliedAsync(HttpClient metrics)
    {
        var text = await metrics.GetStringAsync("/metrics");
        return text.Split('\n')
            .Where(line => line.StartsWith("vellum_storage_signatures_total{", StringComparison.Ordinal))
            .Sum(line => long.Parse(line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>How many files under <see cref="Data"/>'s <c>ledgers/</c> process <paramref name="pid"/> holds open (Linux: /proc).</summary>
    private int LedgerFilesOpen(int pid) => Directory.GetFiles($"/proc/{pid}/fd").Count(fd =>
        new FileInfo(fd).LinkTarget is { } target && target.StartsWith(Path.Combine(Data, "ledgers") + "/", StringComparison.Ordinal));

    /// <summary>The threads of process <paramref name="pid"/> (Linux: /proc).</summary>
    private static int Threads(int pid) =>
        int.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("Threads:", StringComparison.Ordinal))["Threads:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The certificate the node presents to a TLS client hello naming <paramref name="serverName"/>.</summary>
    private static async Task<X509Certificate2> PresentedAsync(int port, string serverName)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        X509Certificate2? presented = null;
        await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, certificate, _, _) =>
        {
            // Only looked at, never trusted: the test judges it with the pin afterwards.
            presented = certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            return presented is not null;
        });
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = serverName }).WaitAsync(TimeSpan.FromSeconds(30));
        return presented ?? throw new InvalidOperationException("no certificate presented");
    }

    /// <summary>The certificate presented to a hello naming <paramref name="serverName"/>, and the thumbprints of the chain sent with it.</summary>
    private static async Task<(X509Certificate2 Presented, string[] Sent)> PresentedWithChainAsync(int port, string serverName)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        X509Certificate2? presented = null;
        string[] sent = [];
        await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, certificate, chain, _) =>
        {
            presented = certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            sent = chain is null ? [] : [.. chain.ChainPolicy.ExtraStore.Select(c => c.Thumbprint)];
            return presented is not null;
        });
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = serverName }).WaitAsync(TimeSpan.FromSeconds(30));
        return (presented ?? throw new InvalidOperationException("no certificate presented"), sent);
    }

    /// <summary>
    /// One HTTP/1.1 GET over a TLS connection naming <paramref name="serverName"/>, with another Host header (which
    /// HttpClient would also send as the server name): the status code and the body.
    /// </summary>
    private static async Task<(int Status, string Body)> RawGetAsync(int port, string serverName, string host, string path, X509Certificate2 pinned)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, certificate, _, _) => ServiceCertificatePin.Accepts(certificate, pinned));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            ApplicationProtocols = [SslApplicationProtocol.Http11],
        }).WaitAsync(TimeSpan.FromSeconds(30));
        await tls.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"));
        using var reader = new StreamReader(tls, Encoding.UTF8);
        var response = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var status = int.Parse(response.Split(' ', 3)[1], System.Globalization.CultureInfo.InvariantCulture);
        return (status, response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
    }

    private static X509Certificate2 NewClientCertificate(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA384);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    private static async Task<string?> ErrorCode(HttpResponseMessage response)
    {
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("error").GetProperty("code").GetString();
    }
}
