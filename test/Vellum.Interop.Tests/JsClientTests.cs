using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Vellum.Core.Identity;
using Vellum.Core.Receipts;
using Vellum.Node;
using Vellum.Node.Ledgers;

namespace Vellum.Interop.Tests;

/// <summary>
/// The official ACL JavaScript client, <c>@azure-rest/confidential-ledger</c> 1.0.0 from npm, against a real node
/// over mutual TLS. The test installs the package itself with <c>npm ci</c> from the committed lock file.
/// </summary>
public sealed class JsClientTests
{
    private const string V = "api-version=2022-05-13";

    private static readonly string JsFolder = Path.Combine(AppContext.BaseDirectory, "js");

    [Fact]
    public async Task The_ACL_JavaScript_client_works_against_a_Vellum_node()
    {
        await NpmCi();
        var root = Path.Combine(Path.GetTempPath(), "vellum-interop-" + Guid.NewGuid().ToString("N"));
        var options = new NodeOptions { DataDirectory = Path.Combine(root, "data"), Listen = new IPEndPoint(IPAddress.Loopback, 0), SignatureDelay = TimeSpan.FromMilliseconds(20) };
        var (app, ledgers) = await NodeHost.BuildAsync(options, logging: _ => { });
        var ledger = ledgers.Default!;
        try
        {
            await app.StartAsync();
            var endpoint = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

            var readerId = WriteReader(root, "CN=ACL Client Cert");
            var receiptsPath = Path.Combine(root, "receipts.json");

            var (exitCode, output, error) = await Run("node", ["interop.js"], JsFolder, TimeSpan.FromSeconds(180), new Dictionary<string, string>
            {
                ["VELLUM_ENDPOINT"] = endpoint,
                ["VELLUM_SERVICE_CERT"] = ledger.Data.Default.ServiceCertificate,
                ["VELLUM_ADMIN_CERT"] = Path.Combine(ledger.Data.Credentials, "admin_cert.pem"),
                ["VELLUM_ADMIN_KEY"] = Path.Combine(ledger.Data.Credentials, "admin_privk.pem"),
                ["VELLUM_READER_CERT"] = Path.Combine(root, "reader_cert.pem"),
                ["VELLUM_READER_KEY"] = Path.Combine(root, "reader_privk.pem"),
                ["VELLUM_READER_ID"] = readerId,
                ["VELLUM_RECEIPTS_OUT"] = receiptsPath,
            });
            Assert.True(exitCode == 0, $"node exited {exitCode}: {output} {error}");
            using var result = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
            Assert.True(result.RootElement.GetProperty("ok").GetBoolean());
            Assert.Equal(["post", "get", "status", "paginate", "receipt", "users", "limits", "governance"],
                result.RootElement.GetProperty("steps").EnumerateArray().Select(s => s.GetString()));

            // Every receipt the JS client fetched verifies with our verifier and the pinned service certificate.
            using var receipts = JsonDocument.Parse(File.ReadAllText(receiptsPath));
            Assert.Equal(4, receipts.RootElement.GetArrayLength());
            foreach (var element in receipts.RootElement.EnumerateArray())
            {
                Assert.True(ReceiptJson.TryParse(element.GetRawText(), out var receipt, out var parseError), parseError);
                var verified = ReceiptVerifier.Verify(receipt, ledger.Service.Certificate);
                Assert.True(verified.IsValid, $"{receipt.TransactionId}: {verified.FailedStep} {verified.Message}");
            }
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            await ledgers.DisposeAsync();
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>
    /// Two ledgers on one node, each at its own host name, through the official client unmodified: each takes and
    /// reads back its own writes; a Reader of alpha gets 401 on beta; a client pinning alpha's certificate cannot reach
    /// beta; and a receipt from each verifies with its own ledger's service certificate only.
    /// </summary>
    [Fact]
    public async Task The_ACL_JavaScript_client_keeps_two_ledgers_of_one_node_apart()
    {
        await NpmCi();
        var root = Path.Combine(Path.GetTempPath(), "vellum-isolation-" + Guid.NewGuid().ToString("N"));
        var options = new NodeOptions
        {
            DataDirectory = Path.Combine(root, "data"), Listen = new IPEndPoint(IPAddress.Loopback, 0), SignatureDelay = TimeSpan.FromMilliseconds(20),
            Ledgers = [new LedgerSpec(LedgerName.Parse("alpha"), IsPrivate: null), new LedgerSpec(LedgerName.Parse("beta"), IsPrivate: true)],
        };
        var (app, ledgers) = await NodeHost.BuildAsync(options, logging: _ => { });
        try
        {
            await app.StartAsync();
            var port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
            Assert.True(ledgers.TryGet("alpha", out var alpha));
            Assert.True(ledgers.TryGet("beta", out var beta));
            var readerId = WriteReader(root, "CN=Alpha Reader");
            var receiptsPath = Path.Combine(root, "receipts.json");

            var (exitCode, output, error) = await Run("node", ["isolation.js"], JsFolder, TimeSpan.FromSeconds(180), new Dictionary<string, string>
            {
                ["VELLUM_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["VELLUM_ALPHA_CERT"] = alpha.Folder.ServiceCertificate,
                ["VELLUM_BETA_CERT"] = beta.Folder.ServiceCertificate,
                ["VELLUM_ADMIN_CERT"] = alpha.Data.DevelopmentAdminCertificate,
                ["VELLUM_ADMIN_KEY"] = alpha.Data.DevelopmentAdminPrivateKey,
                ["VELLUM_READER_CERT"] = Path.Combine(root, "reader_cert.pem"),
                ["VELLUM_READER_KEY"] = Path.Combine(root, "reader_privk.pem"),
                ["VELLUM_READER_ID"] = readerId,
                ["VELLUM_RECEIPTS_OUT"] = receiptsPath,
            });
            Assert.True(exitCode == 0, $"node exited {exitCode}: {output} {error}");
            using var result = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
            Assert.True(result.RootElement.GetProperty("ok").GetBoolean());
            Assert.Equal(["write", "receipt", "users", "pinning"], result.RootElement.GetProperty("steps").EnumerateArray().Select(s => s.GetString()));

            using var receipts = JsonDocument.Parse(File.ReadAllText(receiptsPath));
            foreach (var (name, own, other) in new[] { ("alpha", alpha, beta), ("beta", beta, alpha) })
            {
                Assert.True(ReceiptJson.TryParse(receipts.RootElement.GetProperty(name).GetRawText(), out var receipt, out var parseError), parseError);
                Assert.True(ReceiptVerifier.Verify(receipt, own.Service.Certificate).IsValid, $"{name}'s receipt against its own certificate");
                Assert.False(ReceiptVerifier.Verify(receipt, other.Service.Certificate).IsValid, $"{name}'s receipt against the other ledger's certificate");
            }
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            await ledgers.DisposeAsync();
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>
    /// The official client signing in with a TokenCredential (client-credential tokens from a real OIDC issuer over
    /// HTTPS, as an application does with Entra ID) against a node that trusts that issuer: it posts, reads, lists and
    /// gets a receipt as the application's user, with no client certificate.
    /// </summary>
    [Fact]
    public async Task The_ACL_JavaScript_client_signs_in_with_a_token_credential()
    {
        await NpmCi();
        await using var issuer = new Vellum.TestSupport.Identity.TestIssuer();
        await issuer.StartAsync();
        const string application = "d2c4b6a8-1e3f-4a5b-8c7d-9e0f1a2b3c4d";
        issuer.AddClient("ledger-app", "app-secret", application);
        var root = Path.Combine(Path.GetTempPath(), "vellum-token-" + Guid.NewGuid().ToString("N"));
        var options = new NodeOptions
        {
            DataDirectory = Path.Combine(root, "data"), Listen = new IPEndPoint(IPAddress.Loopback, 0), SignatureDelay = TimeSpan.FromMilliseconds(20),
            JwtIssuers = [new Vellum.Node.Auth.JwtIssuerOptions { Issuer = issuer.Url, CaFile = issuer.CaFile }],
            AdminObjectIds = [application],
        };
        var (app, ledgers) = await NodeHost.BuildAsync(options, logging: _ => { });
        try
        {
            await app.StartAsync();
            var endpoint = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var ledger = ledgers.Default!;
            await RunTokenScriptAsync(endpoint, ledger.Data.Default.ServiceCertificate, issuer, () => string.Empty);

            // Written as the application's user: the entries are in the ledger, and no certificate user was made.
            Assert.Equal([application], ledger.Users.All().Select(u => u.Key));
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            await ledgers.DisposeAsync();
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>
    /// The same client and credential against a backup of a 3-node cluster of <c>vellum</c> processes that trust the
    /// issuer: the backup forwards each write with the caller's token identity, and the primary authorises it as that
    /// user (a Reader's write sent to the backup is refused; an Administrator's user change sent to it is applied).
    /// </summary>
    [Fact]
    public async Task The_ACL_JavaScript_client_signs_in_with_a_token_credential_through_a_backup()
    {
        await NpmCi();
        await using var issuer = new Vellum.TestSupport.Identity.TestIssuer();
        await issuer.StartAsync();
        const string application = "0b9f3c1e-6a2d-4e8f-9b7c-5d4e3f2a1b0c";
        var reader = Guid.NewGuid().ToString();
        issuer.AddClient("ledger-app", "app-secret", application);
        await using var cluster = new Vellum.TestSupport.Cluster.ClusterProcess(3);
        await cluster.StartAllAsync("--jwt-issuer", issuer.Url, "--jwt-ca", issuer.CaFile, "--admin-oid", application);
        await cluster.WaitForAllReadyAsync(Vellum.TestSupport.Cluster.ClusterProcess.Timeout);
        var primary = await cluster.WaitForPrimaryAsync(Vellum.TestSupport.Cluster.ClusterProcess.Timeout);
        var backup = primary == 0 ? 1 : 0;

        await RunTokenScriptAsync(cluster.Url(backup).ToString().TrimEnd('/'), cluster.ServiceCertificatePath, issuer, () => cluster.Log(backup));

        // The primary holds the three entries the backup forwarded.
        using (var admin = cluster.Client(primary))
        {
            using var listed = JsonDocument.Parse(await admin.GetStringAsync($"/app/transactions?{V}&collectionId=token-collection"));
            Assert.Equal(["token entry 0", "token entry 1", "token entry 2"],
                listed.RootElement.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("contents").GetString()));
        }

        // An Administrator's token makes a Reader through the backup; the Reader's own write through the backup is
        // refused by the primary's check, and a write by an id the ledger does not know is not signed in.
        using var asApplication = TokenClient(cluster, backup, issuer.Token(new Dictionary<string, object> { ["oid"] = application }));
        using (var added = await asApplication.PatchAsync($"/app/ledgerUsers/{reader}?{V}",
            new StringContent("""{"assignedRoles":["Reader"]}""", System.Text.Encoding.UTF8, "application/merge-patch+json")))
        {
            Assert.True(added.IsSuccessStatusCode, $"{(int)added.StatusCode} {await added.Content.ReadAsStringAsync()}");
        }

        // A backup signs in the users it has applied: wait until it has the Reader.
        using (var admin = cluster.Client(backup))
        {
            var clock = Stopwatch.StartNew();
            while (await admin.GetAsync($"/app/ledgerUsers/{reader}?{V}") is var response && response.StatusCode != HttpStatusCode.OK)
            {
                response.Dispose();
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the backup never applied the Reader");
                await Task.Delay(50);
            }
        }

        foreach (var (oid, expected) in new[] { (reader, HttpStatusCode.Forbidden), (Guid.NewGuid().ToString(), HttpStatusCode.Unauthorized), (application, HttpStatusCode.OK) })
        {
            using var client = TokenClient(cluster, backup, issuer.Token(new Dictionary<string, object> { ["oid"] = oid }));
            using var posted = await client.PostAsync($"/app/transactions?{V}&collectionId=forwarded",
                new StringContent($$"""{"contents":"written by {{oid}}"}""", System.Text.Encoding.UTF8, "application/json"));
            Assert.True(posted.StatusCode == expected, $"{oid}: {(int)posted.StatusCode} {await posted.Content.ReadAsStringAsync()}");
        }

        using (var admin = cluster.Client(primary))
        {
            using var user = JsonDocument.Parse(await admin.GetStringAsync($"/app/ledgerUsers/{reader}?{V}"));
            Assert.Equal("Reader", user.RootElement.GetProperty("assignedRoles")[0].GetString());
            var listed = await admin.GetStringAsync($"/app/transactions?{V}&collectionId=forwarded");
            Assert.Contains($"written by {application}", listed, StringComparison.Ordinal);
            Assert.DoesNotContain($"written by {reader}", listed, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// The official ARM client, <c>@azure/arm-confidentialledger</c> 1.2.0, unmodified, pointed at a node's deployment
    /// URL with <c>$host</c> and <c>endpoint</c> and a TokenCredential of an operator: it checks a name, creates a ledger
    /// (polled to Succeeded), reads and lists it (by resource group, by subscription with the type filter), changes its
    /// tags and principals and deletes it; between, the data-plane client writes to the new ledger at its
    /// <c>ledgerUri</c> as the principal named at creation.
    /// </summary>
    [Fact]
    public async Task The_ARM_JavaScript_client_manages_a_ledger_and_the_ACL_client_writes_to_it()
    {
        await NpmCi();
        await using var issuer = new Vellum.TestSupport.Identity.TestIssuer();
        await issuer.StartAsync();
        const string application = "7c6b5a49-3827-4615-a4b3-c2d1e0f9a8b7";
        const string tenant = "4f3e2d1c-0b9a-4887-a665-544332211000";
        issuer.AddClient("ops-app", "ops-secret", application, tenant);
        var root = Path.Combine(Path.GetTempPath(), "vellum-arm-" + Guid.NewGuid().ToString("N"));
        var options = new NodeOptions
        {
            DataDirectory = Path.Combine(root, "data"), Listen = new IPEndPoint(IPAddress.Loopback, 0), SignatureDelay = TimeSpan.FromMilliseconds(20),
            JwtIssuers = [new Vellum.Node.Auth.JwtIssuerOptions { Issuer = issuer.Url, CaFile = issuer.CaFile }],
            AdminObjectIds = [application],
            Management = new Vellum.Node.Management.ManagementOptions
            {
                Operators = [new Vellum.Node.Management.OperatorSpec(application, IsCertificate: false, Vellum.Node.Management.OperatorRole.Owner)],
            },
        };
        var (app, ledgers) = await NodeHost.BuildAsync(options, logging: _ => { });
        try
        {
            await app.StartAsync();
            var port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
            var name = "arm-" + Guid.NewGuid().ToString("N")[..8];
            var (exitCode, output, error) = await Run("node", ["arm.js"], JsFolder, TimeSpan.FromSeconds(180), new Dictionary<string, string>
            {
                ["NODE_EXTRA_CA_CERTS"] = Path.Combine(root, "data", "credentials", "deployment_ca_cert.pem"),
                ["VELLUM_MANAGEMENT"] = $"https://localhost:{port}",
                ["VELLUM_TOKEN_URL"] = $"{issuer.Url}/token",
                ["VELLUM_TOKEN_CA"] = issuer.CaFile,
                ["VELLUM_CLIENT_ID"] = "ops-app",
                ["VELLUM_CLIENT_SECRET"] = "ops-secret",
                ["VELLUM_SUBSCRIPTION"] = "0f1e2d3c-4b5a-4697-8887-766554433221",
                ["VELLUM_RESOURCE_GROUP"] = "interop",
                ["VELLUM_LEDGER_NAME"] = name,
                ["VELLUM_PRINCIPAL_ID"] = application,
                ["VELLUM_TENANT_ID"] = tenant,
                ["VELLUM_READER_ID"] = "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d",
            });
            Assert.True(exitCode == 0, $"node exited {exitCode}: {output} {error}");
            using var result = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
            Assert.True(result.RootElement.GetProperty("ok").GetBoolean());
            Assert.Equal(["available", "create", "taken", "get", "list", "update", "data", "delete"],
                result.RootElement.GetProperty("steps").EnumerateArray().Select(s => s.GetString()));

            // Gone for good: not served, no folder, and a tombstone names the caller.
            Assert.False(ledgers.TryGet(name, out _));
            Assert.False(Directory.Exists(Path.Combine(root, "data", "ledgers", name)));
            Assert.Contains(ledgers.Tombstones(), t => t.Name == name && t.DeletedBy.Contains(application, StringComparison.Ordinal) && t.TenantId == tenant);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            await ledgers.DisposeAsync();
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>
    /// Runs <c>token.js</c> (the official client with a client-credentials TokenCredential of the issuer's client
    /// <c>ledger-app</c>) against <paramref name="endpoint"/> and checks that every step passed; on failure the message
    /// includes <paramref name="context"/> (a node's log).
    /// </summary>
    private static async Task RunTokenScriptAsync(string endpoint, string serviceCertificate, Vellum.TestSupport.Identity.TestIssuer issuer, Func<string> context)
    {
        var (exitCode, output, error) = await Run("node", ["token.js"], JsFolder, TimeSpan.FromSeconds(180), new Dictionary<string, string>
        {
            ["VELLUM_ENDPOINT"] = endpoint,
            ["VELLUM_SERVICE_CERT"] = serviceCertificate,
            ["VELLUM_TOKEN_URL"] = $"{issuer.Url}/token",
            ["VELLUM_TOKEN_CA"] = issuer.CaFile,
            ["VELLUM_CLIENT_ID"] = "ledger-app",
            ["VELLUM_CLIENT_SECRET"] = "app-secret",
        });
        Assert.True(exitCode == 0, $"node exited {exitCode}: {output} {error}\n{(exitCode == 0 ? string.Empty : context())}");
        using var result = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        Assert.True(result.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal(["post", "get", "list", "receipt"], result.RootElement.GetProperty("steps").EnumerateArray().Select(s => s.GetString()));
    }

    /// <summary>A client of node <paramref name="i"/> with no client certificate, sending <paramref name="token"/>.</summary>
    private static HttpClient TokenClient(Vellum.TestSupport.Cluster.ClusterProcess cluster, int i, string token)
    {
        var service = X509Certificate2.CreateFromPem(File.ReadAllText(cluster.ServiceCertificatePath));
        var handler = new SocketsHttpHandler
        {
            SslOptions = new System.Net.Security.SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) => ServiceCertificatePin.Accepts(certificate, service),
            },
        };
        var client = new HttpClient(handler) { BaseAddress = cluster.Url(i), Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>
    /// A self-signed reader certificate, as ACL's docs have users make them, written to <c>reader_cert.pem</c> and
    /// <c>reader_privk.pem</c> in <paramref name="folder"/>; its user id (fingerprint).
    /// </summary>
    private static string WriteReader(string folder, string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var certificate = new CertificateRequest(subject, key, HashAlgorithmName.SHA384)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(Path.Combine(folder, "reader_cert.pem"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(folder, "reader_privk.pem"), key.ExportPkcs8PrivateKeyPem());
        return CertificateFingerprint.Compute(certificate);
    }

    private static async Task NpmCi()
    {
        if (Directory.Exists(Path.Combine(JsFolder, "node_modules", "@azure-rest", "confidential-ledger")) &&
            Directory.Exists(Path.Combine(JsFolder, "node_modules", "@azure", "arm-confidentialledger")))
        {
            return;
        }

        var (exitCode, output, error) = await Run("npm", ["ci", "--no-audit", "--no-fund"], JsFolder, TimeSpan.FromMinutes(5), new Dictionary<string, string>());
        Assert.True(exitCode == 0, $"npm ci failed ({exitCode}): {output} {error}");
    }

    private static async Task<(int ExitCode, string Output, string Error)> Run(
        string program, string[] args, string workingDirectory, TimeSpan timeout, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in {timeout}: {await output} {await error}");
        }

        return (process.ExitCode, await output, await error);
    }
}
