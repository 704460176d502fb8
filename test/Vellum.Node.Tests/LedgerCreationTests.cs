using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Vellum.Core.Identity;
using Vellum.Node.Ledgers;
using Vellum.Node.Service;

namespace Vellum.Node.Tests;

/// <summary>
/// Making a ledger while a single node runs: <c>PUT /node/ledgers/{name}</c> through <c>default</c>, served at once
/// (path prefix and host name), kept across a restart; bad requests change nothing; an unfinished creation is never served.
/// </summary>
public sealed class LedgerCreationTests : IAsyncLifetime
{
    private const string V = "api-version=2022-05-13";
    private readonly NodeFixture _node = new();

    public ValueTask InitializeAsync() => _node.InitializeAsync();

    public ValueTask DisposeAsync() => _node.DisposeAsync();

    private string[] LedgerFolders() =>
        [.. Directory.GetDirectories(Path.Combine(_node.Root, "data", "ledgers")).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];

    [Fact]
    public async Task An_administrator_of_default_makes_a_private_ledger_that_is_served_at_once()
    {
        using (var response = await _node.Admin.PutAsync("/node/ledgers/alpha", NodeFixture.Json("""{"ledgerType":"Private"}""")))
        {
            var body = await NodeFixture.Body(response);
            Assert.True(response.StatusCode == HttpStatusCode.Created, body.ToString());
            Assert.Equal("alpha", body.GetProperty("name").GetString());
            Assert.Equal("Private", body.GetProperty("ledgerType").GetString());
            Assert.Equal(File.ReadAllText(Path.Combine(_node.Root, "data", "ledgers", "alpha", "credentials", "service_cert.pem")), body.GetProperty("serviceCertificate").GetString());
        }

        Assert.Equal(["alpha", "default"], LedgerFolders());
        Assert.Empty(Directory.GetDirectories(Path.Combine(_node.Root, "data", "node", "staged")));
        Assert.True(_node.Ledgers.TryGet("alpha", out var alpha));
        Assert.True(alpha.IsPrivate);
        Assert.Equal([Roles.Administrator], alpha.Users.RolesOf(NodeFixture.Fingerprint(_node.AdminCertificate)));

        // The deployment's Administrator writes to it at once, by path prefix.
        string id;
        using (var write = await _node.Admin.PostAsync($"/ledgers/alpha/app/transactions?{V}&waitForCommit=true", NodeFixture.Json("""{"contents":"first of alpha"}""")))
        {
            Assert.True(write.IsSuccessStatusCode, await write.Content.ReadAsStringAsync());
            id = write.Headers.GetValues("x-ms-ccf-transaction-id").Single();
        }

        using (var read = await _node.Admin.GetAsync($"/ledgers/alpha/app/transactions/{id}?{V}"))
        {
            Assert.Equal("first of alpha", (await NodeFixture.Body(read)).GetProperty("entry").GetProperty("contents").GetString());
        }

        // Its identity is published, and the TLS server name alpha.localhost gets a certificate alpha's identity endorsed.
        using (var identity = await _node.Admin.GetAsync("/ledgerIdentity/alpha"))
        {
            Assert.Equal(alpha.Service.ExportCertificatePem(), (await NodeFixture.Body(identity)).GetProperty("ledgerTlsCertificate").GetString());
        }

        var presented = await PresentedCertificateAsync("alpha.localhost");
        Assert.True(CertificateEndorsement.IsEndorsedBy(presented, alpha.Service.Certificate));
        Assert.False(CertificateEndorsement.IsEndorsedBy(presented, _node.Ledger.Service.Certificate));

        using (var list = await _node.Admin.GetAsync("/node/ledgers"))
        {
            var ledgers = (await NodeFixture.Body(list)).GetProperty("ledgers").EnumerateArray().Select(l => $"{l.GetProperty("name").GetString()}:{l.GetProperty("ledgerType").GetString()}");
            Assert.Equal(["alpha:Private", "default:Public"], ledgers);
        }
    }

    [Fact]
    public async Task A_taken_or_bad_name_a_bad_body_or_the_wrong_caller_makes_nothing()
    {
        using (var created = await _node.Admin.PutAsync("/node/ledgers/beta", null))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            Assert.Equal("Public", (await NodeFixture.Body(created)).GetProperty("ledgerType").GetString());
        }

        async Task Refused(HttpClient client, string path, string? body, HttpStatusCode status, string code)
        {
            using var response = await client.PutAsync(path, body is null ? null : NodeFixture.Json(body));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"{path}: {(int)response.StatusCode} {text}");
            Assert.Equal(code, JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("code").GetString());
        }

        await Refused(_node.Admin, "/node/ledgers/beta", null, HttpStatusCode.Conflict, "LedgerExists");
        await Refused(_node.Admin, "/node/ledgers/BETA", """{"ledgerType":"Private"}""", HttpStatusCode.Conflict, "LedgerExists");
        await Refused(_node.Admin, "/node/ledgers/default", null, HttpStatusCode.Conflict, "LedgerExists");
        await Refused(_node.Admin, "/node/ledgers/9lives", null, HttpStatusCode.BadRequest, "InvalidInput");
        await Refused(_node.Admin, "/node/ledgers/ab", null, HttpStatusCode.BadRequest, "InvalidInput");
        await Refused(_node.Admin, "/node/ledgers/gamma", """{"ledgerType":"Secret"}""", HttpStatusCode.BadRequest, "InvalidInput");
        await Refused(_node.Admin, "/node/ledgers/gamma", "[1]", HttpStatusCode.BadRequest, "InvalidInput");
        await Refused(_node.Admin, "/ledgers/beta/node/ledgers/gamma", null, HttpStatusCode.Forbidden, "LedgersNotManagedHere");
        await Refused(_node.Client(null), "/node/ledgers/gamma", null, HttpStatusCode.Unauthorized, "InvalidAuthenticationInfo");

        // A Contributor of default is not enough.
        using var contributor = NodeFixture.NewUserCertificate("contributor");
        using (var added = await _node.Admin.PatchAsync($"/app/users/{NodeFixture.Fingerprint(contributor)}?{V}", NodeFixture.Json("""{"assignedRole":"Contributor"}""", "application/merge-patch+json")))
        {
            Assert.True(added.IsSuccessStatusCode, await added.Content.ReadAsStringAsync());
        }

        await Refused(_node.Client(contributor), "/node/ledgers/gamma", null, HttpStatusCode.Forbidden, "NotAllowed");

        // Only a member's node certificate fetches a ledger's material.
        using (var material = await _node.Admin.GetAsync("/node/ledgers/beta/material"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, material.StatusCode);
        }

        // And only a member is asked to stage one (a creator's request before it proposes a creation).
        using (var staging = await _node.Admin.PostAsync("/node/ledgers/gamma/material", new ByteArrayContent([1, 2, 3]) { Headers = { ContentType = new("application/octet-stream") } }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, staging.StatusCode);
        }

        using (var staging = await _node.Client(null).PostAsync("/node/ledgers/gamma/material", new ByteArrayContent([1, 2, 3]) { Headers = { ContentType = new("application/octet-stream") } }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, staging.StatusCode);
        }

        Assert.Equal(["beta", "default"], LedgerFolders());
    }

    [Fact]
    public async Task A_member_asked_to_stage_a_creation_refuses_a_damaged_one_another_ledgers_and_one_it_cannot_fetch()
    {
        // A member of a cluster (of one) is asked, by a caller with a certificate of the deployment identity: a member's.
        var node = new ClusterNodeFixture();
        await node.InitializeAsync();
        await using var stop = node;
        using (var created = await node.Admin.PutAsync("/node/ledgers/beta", null))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var data = Path.Combine(node.Root, "data");
        var client = node.Client(node.Ledgers.Identity!.Tls.Certificate);

        async Task<string> StageAsync(string name, byte[] description, HttpStatusCode status, string code)
        {
            using var response = await client.PostAsync($"/node/ledgers/{name}/material",
                new ByteArrayContent(description) { Headers = { ContentType = new("application/octet-stream") } });
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"{name}: {(int)response.StatusCode} {text}");
            Assert.Equal(code, JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("code").GetString());
            return text;
        }

        // A description that is not a creation's.
        await StageAsync("gamma", [1, 2, 3], HttpStatusCode.BadRequest, "InvalidInput");

        // A creation of a name this member serves as another ledger (another certificate).
        var other = Vellum.Core.Primitives.Hash32.Compute("another certificate"u8);
        await StageAsync("beta", new LedgerCreation(false, other, node.Endpoint).Encode(), HttpStatusCode.Conflict, "LedgerExists");

        // A creator that does not answer: 503 once the member has tried for its 10 s, and nothing staged.
        var text = await StageAsync("gamma", new LedgerCreation(false, other, new Uri("https://127.0.0.1:1/")).Encode(), HttpStatusCode.ServiceUnavailable, "ServiceUnavailable");
        Assert.Contains("could not be fetched in time", text, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(data, "node", "staged", "gamma")));
        Assert.Equal(["beta", "default"], Directory.GetDirectories(Path.Combine(data, "ledgers")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_ledger_made_while_running_is_served_after_a_restart_and_an_unfinished_creation_is_not()
    {
        var root = Directory.CreateTempSubdirectory("vellum-create-").FullName;
        try
        {
            var options = new NodeOptions
            {
                DataDirectory = root,
                Listen = new IPEndPoint(IPAddress.Loopback, 0),
                SignatureDelay = TimeSpan.FromMilliseconds(20),
            };
            string certificate;
            await using (var registry = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
            {
                var made = await registry.CreateAsync(new LedgerSpec(LedgerName.Parse("gamma"), true), default).WaitAsync(TimeSpan.FromSeconds(30));
                certificate = made.Service.ExportCertificatePem();
                await made.AppendEntryAsync("c", "kept"u8.ToArray(), [], default).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
                await Assert.ThrowsAsync<LedgerExistsException>(() => registry.CreateAsync(new LedgerSpec(LedgerName.Parse("Gamma"), false), default));

                // A creation that stopped after staging (a crash) leaves material that is not a ledger.
                var data = new Vellum.Storage.DataDirectory(root);
                data.StageNew(LedgerName.Parse("delta"), isPrivate: false);

                // One adopted whose opening failed is finished by the same creation, and refused to another type.
                data.StageNew(LedgerName.Parse("omega"), isPrivate: true);
                data.Adopt(LedgerName.Parse("omega"));
                await Assert.ThrowsAsync<LedgerExistsException>(() => registry.CreateAsync(new LedgerSpec(LedgerName.Parse("omega"), false), default));
                var omega = await registry.CreateAsync(new LedgerSpec(LedgerName.Parse("omega"), true), default).WaitAsync(TimeSpan.FromSeconds(30));
                Assert.True(omega.IsPrivate);
            }

            await using (var reopened = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
            {
                Assert.Equal(["default", "gamma", "omega"], reopened.All.Select(l => l.Name.Value));
                Assert.True(reopened.TryGet("gamma", out var gamma));
                Assert.True(gamma.IsPrivate);
                Assert.Equal(certificate, gamma.Service.ExportCertificatePem());
                Assert.Equal(1, gamma.Users.Count);
                Assert.True(gamma.Store.DurableSeqno >= 2);

                // The staged name is free: making it now makes a new ledger.
                var delta = await reopened.CreateAsync(new LedgerSpec(LedgerName.Parse("delta"), null), default).WaitAsync(TimeSpan.FromSeconds(30));
                Assert.False(delta.IsPrivate);
            }

            using var service = X509Certificate2.CreateFromPem(certificate);
            var (summary, failure) = Vellum.Storage.Verification.LedgerDirectoryVerifier.Verify(Path.Combine(root, "ledgers", "gamma", "ledger"), service);
            Assert.Null(failure);
            Assert.True(summary!.LastSignedSeqno >= 2);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private async Task<X509Certificate2> PresentedCertificateAsync(string serverName)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _node.Endpoint.Port);
        X509Certificate2? presented = null;
        await using var tls = new System.Net.Security.SslStream(tcp.GetStream(), false, (_, certificate, _, _) =>
        {
            presented = X509CertificateLoader.LoadCertificate(certificate!.GetRawCertData());
            return presented.Subject.Length > 0; // recorded for the test's own checks below
        });
        await tls.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions { TargetHost = serverName });
        return presented!;
    }
}
