using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Vellum.Cli.Tests;

/// <summary>
/// <c>vellum ledger create|list|show|update|delete</c> run as processes against a real <c>vellum start</c>: as its
/// development Administrator (an Owner of the control plane when no operator is named), or with a bearer token.
/// </summary>
public sealed class LedgerCommandTests : IDisposable
{
    private const string ReaderOid = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private readonly string _root = Directory.CreateTempSubdirectory("vellum-ledger-command-").FullName;

    [Fact]
    public async Task A_ledger_is_created_listed_shown_changed_and_deleted()
    {
        var data = Path.Combine(_root, "data");
        using var node = await RunningNode.Start(data);
        var port = node.Endpoint.Port;
        string[] at = ["--endpoint", $"https://localhost:{port}", "--data", data];
        var folder = Path.Combine(data, "ledgers", "books");

        // Create: the operation is followed to its end; the progress line, stderr not being a terminal, once.
        var created = await Vellum(["create", "books", "--type", "Private", "--tag", "env=test", "--tag", "team=ledger", "--principal", $"{ReaderOid}:Reader", .. at]);
        Assert.True(created.ExitCode == 0, created.Output + created.Error);
        Assert.Contains($"books: Succeeded, ledgerUri https://books.localhost:{port}, identityServiceUri https://localhost:{port}/ledgerIdentity/books", created.Output,
            StringComparison.Ordinal);
        Assert.Single(created.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => line.StartsWith("creating books: Succeeded (", StringComparison.Ordinal));
        Assert.True(Directory.Exists(folder));

        // Again: refused (create does not change a ledger that exists).
        var again = await Vellum(["create", "books", .. at]);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("exists already", again.Error, StringComparison.Ordinal);

        // List (by subscription: no --resource-group given): one aligned line.
        var listed = await Vellum(["list", .. at]);
        Assert.True(listed.ExitCode == 0, listed.Error);
        var row = Assert.Single(listed.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["books", "Private", "Succeeded", $"https://books.localhost:{port}"], row);
        var otherGroup = await Vellum(["list", "--resource-group", "elsewhere", .. at]);
        Assert.Equal((0, string.Empty), (otherGroup.ExitCode, otherGroup.Output));
        var publicOnly = await Vellum(["list", "--type", "Public", .. at]);
        Assert.Equal((0, string.Empty), (publicOnly.ExitCode, publicOnly.Output));

        // Show: the resource, indented, with its tags and principals.
        var shown = await Show("books", at);
        Assert.Equal("test", shown.GetProperty("tags").GetProperty("env").GetString());
        Assert.Equal("ledger", shown.GetProperty("tags").GetProperty("team").GetString());
        var reader = Assert.Single(shown.GetProperty("properties").GetProperty("aadBasedSecurityPrincipals").EnumerateArray());
        Assert.Equal((ReaderOid, "Reader"), (reader.GetProperty("principalId").GetString(), reader.GetProperty("ledgerRoleName").GetString()));

        // Update: a tag added, one removed, the reader promoted; the rest (the creator's Administrator role) kept.
        var updated = await Vellum(["update", "books", "--tag", "owner=ops", "--remove-tag", "team", "--principal", $"{ReaderOid}:Contributor", .. at]);
        Assert.True(updated.ExitCode == 0, updated.Error);
        Assert.StartsWith("books: Succeeded, ledgerUri ", updated.Output, StringComparison.Ordinal);
        shown = await Show("books", at);
        Assert.Equal(["env", "owner"], shown.GetProperty("tags").EnumerateObject().Select(t => t.Name).Order(StringComparer.Ordinal));
        Assert.Equal("ops", shown.GetProperty("tags").GetProperty("owner").GetString());
        Assert.Equal("Contributor", shown.GetProperty("properties").GetProperty("aadBasedSecurityPrincipals")[0].GetProperty("ledgerRoleName").GetString());
        Assert.Equal("Administrator", Assert.Single(shown.GetProperty("properties").GetProperty("certBasedSecurityPrincipals").EnumerateArray()).GetProperty("ledgerRoleName").GetString());

        // Only the given CA is trusted: a chain to another certificate is refused.
        var untrusted = await Vellum(["list", .. at, "--ca", Path.Combine(folder, "credentials", "service_cert.pem")]);
        Assert.Equal(1, untrusted.ExitCode);
        Assert.Contains("TLS handshake failed", untrusted.Error, StringComparison.Ordinal);

        // Delete: not without --yes.
        var unconfirmed = await Vellum(["delete", "books", .. at]);
        Assert.Equal(2, unconfirmed.ExitCode);
        Assert.Contains("irreversible", unconfirmed.Error, StringComparison.Ordinal);
        Assert.True(Directory.Exists(folder));
        Assert.Equal("books", (await Show("books", at)).GetProperty("name").GetString());

        var deleted = await Vellum(["delete", "books", "--yes", .. at]);
        Assert.True(deleted.ExitCode == 0, deleted.Error);
        Assert.Equal("books: deleted", deleted.Output.Trim());
        Assert.Contains("deleting books: Succeeded (", deleted.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(folder));

        var twice = await Vellum(["delete", "books", "--yes", .. at]);
        Assert.Equal((0, "books: no such ledger"), (twice.ExitCode, twice.Output.Trim()));
        var gone = await Vellum(["show", "books", .. at]);
        Assert.Equal(1, gone.ExitCode);
        Assert.StartsWith("vellum ledger: 404 ResourceNotFound: ", gone.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_operator_with_a_bearer_token_from_VELLUM_TOKEN_creates_and_lists()
    {
        const string Issuer = "https://issuer.example/ops";
        const string OperatorOid = "6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f";
        using var rsa = RSA.Create(2048);
        var publicJwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(rsa.ExportParameters(false)) { KeyId = "k1" });
        var jwks = Path.Combine(_root, "jwks.json");
        File.WriteAllText(jwks, JsonSerializer.Serialize(new { keys = new[] { new { kty = "RSA", kid = "k1", use = "sig", n = publicJwk.N, e = publicJwk.E } } }));
        var data = Path.Combine(_root, "token-data");
        using var node = await RunningNode.Start(data, "--jwt-issuer", Issuer, "--jwt-jwks", jwks, "--admin-oid", OperatorOid);
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = "https://management.azure.com/",
            Claims = new Dictionary<string, object> { ["oid"] = OperatorOid },
            Expires = DateTime.UtcNow.AddHours(1),
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = "k1" }, SecurityAlgorithms.RsaSha256),
        });
        string[] at = ["--endpoint", $"https://localhost:{node.Endpoint.Port}", "--ca", Path.Combine(data, "credentials", "deployment_ca_cert.pem"), "--resource-group", "ops"];
        var environment = new Dictionary<string, string> { ["VELLUM_TOKEN"] = token };

        var created = await Vellum(["create", "journal", "--json", .. at], environment);
        Assert.True(created.ExitCode == 0, created.Error);
        using (var resource = JsonDocument.Parse(created.Output))
        {
            Assert.Equal("Public", resource.RootElement.GetProperty("properties").GetProperty("ledgerType").GetString());
            var creator = Assert.Single(resource.RootElement.GetProperty("properties").GetProperty("aadBasedSecurityPrincipals").EnumerateArray());
            Assert.Equal((OperatorOid, "Administrator"), (creator.GetProperty("principalId").GetString(), creator.GetProperty("ledgerRoleName").GetString()));
        }

        var listed = await Vellum(["list", .. at], environment);
        Assert.True(listed.ExitCode == 0, listed.Error);
        Assert.StartsWith("journal  Public  Succeeded  https://journal.localhost:", listed.Output, StringComparison.Ordinal);

        // A token that is not the operator's is refused by the deployment (exit 1, its error).
        var refused = await Vellum(["list", "--token", "not.a.token", .. at]);
        Assert.Equal(1, refused.ExitCode);
        Assert.StartsWith("vellum ledger: 401 AuthenticationFailed: ", refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_usage_exits_2_with_one_line_before_anything_is_sent()
    {
        // Nothing listens on port 1: a request would fail with exit 1, not 2.
        var data = Path.Combine(_root, "nowhere");
        string[] at = ["--endpoint", "https://localhost:1", "--data", data];
        var noToken = new Dictionary<string, string> { ["VELLUM_TOKEN"] = string.Empty };
        (string[] Args, string Says)[] cases =
        [
            (["create", "books", "--principal", $"{ReaderOid}:Owner", .. at], "the role is Administrator, Contributor or Reader, not 'Owner'"),
            (["create", "books", "--tag", "novalue", .. at], "--tag 'novalue' is not key=value"),
            (["update", "books", "--principal", $"{ReaderOid}:Writer", .. at], "not 'Writer'"),
            (["list", "--endpoint", "https://localhost:1"], "no credentials"),
            (["list", "--data", data], "--endpoint is required"),
            (["list", .. at], "cannot read the client certificate"),
            (["create", "Not_A_Name", .. at], "is not a ledger name"),
        ];
        foreach (var (args, says) in cases)
        {
            var run = await Vellum(args, noToken);
            Assert.True(run.ExitCode == 2, $"{string.Join(' ', args)}: {run.ExitCode} {run.Error}");
            var line = Assert.Single(run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains(says, line, StringComparison.Ordinal);
            Assert.StartsWith("vellum ledger ", line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_listener_of_the_control_plane_s_own_answers_it_alone()
    {
        var data = Path.Combine(_root, "own-listener");
        var managementPort = FreePort();

        using var node = await RunningNode.Start(data, "--management-listen", $"127.0.0.1:{managementPort}");
        var port = node.Endpoint.Port;

        // The CLI at the control plane's port; the ledger's URLs name the main listener, where the ledger is served.
        var created = await Vellum(["create", "papers", "--endpoint", $"https://localhost:{managementPort}", "--data", data]);
        Assert.True(created.ExitCode == 0, created.Output + created.Error);
        Assert.Contains($"papers: Succeeded, ledgerUri https://papers.localhost:{port}, identityServiceUri https://localhost:{port}/ledgerIdentity/papers", created.Output,
            StringComparison.Ordinal);
        using (var ledger = node.LedgerClient("papers"))
        using (var write = await ledger.PostAsync("/app/transactions?api-version=2022-05-13", new StringContent("""{"contents":"on the main listener"}""", System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.True(write.IsSuccessStatusCode, await write.Content.ReadAsStringAsync());
        }

        // The main listener no longer answers the control plane; the control plane's answers nothing else.
        var path = $"/subscriptions/{Guid.Empty}/providers/Microsoft.ConfidentialLedger/ledgers?api-version=2022-05-13";
        using (var main = node.Client())
        using (var refused = await main.GetAsync(path))
        {
            Assert.Equal(System.Net.HttpStatusCode.NotFound, refused.StatusCode);
            Assert.Contains("--management-listen", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var trusted = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(data, "credentials", "deployment_ca_cert.pem")));
        using var own = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = new System.Net.Security.SslClientAuthenticationOptions
            {
                // The deployment's certificate whatever name the client sends (here none: an address).
                RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && RunningNode.ChainsTo(cert, trusted, "localhost"),
                ClientCertificates = [X509CertificateLoader.LoadPkcs12(AdminCertificate(data).Export(X509ContentType.Pkcs12), null)],
            },
        }) { BaseAddress = new Uri($"https://127.0.0.1:{managementPort}") };
        using (var listed = await own.GetAsync(path))
        {
            Assert.True(listed.IsSuccessStatusCode, await listed.Content.ReadAsStringAsync());
            Assert.Contains("\"papers\"", await listed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var notHere = await own.GetAsync("/app/transactions?api-version=2022-05-13"))
        {
            Assert.Equal(System.Net.HttpStatusCode.NotFound, notHere.StatusCode);
            Assert.Contains("control plane only", await notHere.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Refused at start: not host:port, or the port of another listener of the node.
        var listen = FreePort();
        foreach (var wrong in new[] { "nowhere", $"127.0.0.1:{listen}" })
        {
            var start = await RunningNode.RunToExit(
                ["start", "--data", Path.Combine(_root, "refused"), "--listen", $"127.0.0.1:{listen}", "--management-listen", wrong], Limit);
            Assert.True(start.ExitCode == 2, $"{wrong}: {start.ExitCode} {start.Error}");
            Assert.Contains("management", start.Error, StringComparison.Ordinal);
        }
    }

    /// <summary>A port the system just gave out and took back (free now, barring a race with another test).</summary>
    private static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static X509Certificate2 AdminCertificate(string data) => X509Certificate2.CreateFromPem(
        File.ReadAllText(Path.Combine(data, "credentials", "admin_cert.pem")), File.ReadAllText(Path.Combine(data, "credentials", "admin_privk.pem")));

    private static Task<(int ExitCode, string Output, string Error)> Vellum(string[] args, IReadOnlyDictionary<string, string>? environment = null) =>
        RunningNode.RunToExit(["ledger", .. args], Limit, environment);

    private static async Task<JsonElement> Show(string name, string[] at)
    {
        var shown = await Vellum(["show", name, .. at]);
        Assert.True(shown.ExitCode == 0, shown.Error);
        Assert.Contains("\n  \"name\": ", shown.Output, StringComparison.Ordinal); // indented
        return JsonDocument.Parse(shown.Output).RootElement.Clone();
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
