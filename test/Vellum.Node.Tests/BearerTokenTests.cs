using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.IdentityModel.Tokens;
using Vellum.Node.Auth;
using Vellum.Node.Ledgers;
using Vellum.TestSupport.Identity;

namespace Vellum.Node.Tests;

/// <summary>
/// Bearer tokens from a real OIDC issuer over HTTPS (discovery, keys, its own CA): a token names a ledger user by its
/// <c>oid</c>; each kind of bad token gets 401 <c>InvalidAuthenticationInfo</c> with <c>WWW-Authenticate: Bearer
/// error="invalid_token"</c> and writes nothing; a key rotated at the issuer is taken without a restart; a token is
/// checked once, then kept until it expires.
/// </summary>
public sealed class BearerTokenTests(BearerTokenTests.Fixture node) : IClassFixture<BearerTokenTests.Fixture>, IAsyncLifetime
{
    private const string V = "api-version=2024-08-22-preview";
    private const string Writer = "5b7e0d3a-93c1-4b63-9a61-2f1d0c3e4a55";

    public sealed class Fixture : NodeFixture
    {
        public TestIssuer Issuer { get; } = new();

        protected override NodeOptions CreateOptions(string data) => new()
        {
            DataDirectory = data,
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            SignatureDelay = TimeSpan.FromMilliseconds(20),
            JwtIssuers = [new JwtIssuerOptions { Issuer = Issuer.Url, CaFile = Issuer.CaFile }],
        };
    }

    public async ValueTask InitializeAsync()
    {
        await node.Issuer.StartAsync();
        using var added = await node.Admin.PatchAsync($"/app/ledgerUsers/{Writer.ToUpperInvariant()}?{V}", NodeFixture.Json("""{"assignedRoles":["Contributor"]}""", "application/merge-patch+json"));
        Assert.True(added.IsSuccessStatusCode, await added.Content.ReadAsStringAsync());
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private HttpClient WithToken(string token)
    {
        var client = node.Client(null);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private static Dictionary<string, object> Oid(string oid) => new() { ["oid"] = oid };

    [Fact]
    public async Task A_token_names_its_user_and_is_checked_once()
    {
        var tokens = node.App.Services.GetRequiredService<BearerTokens>();
        var client = WithToken(node.Issuer.Token(Oid(Writer)));
        var checks = tokens.SignatureChecks;
        string id;
        using (var write = await client.PostAsync($"/app/transactions?{V}&waitForCommit=true", NodeFixture.Json("""{"contents":"written with a token"}""")))
        {
            Assert.True(write.StatusCode == HttpStatusCode.OK, await write.Content.ReadAsStringAsync());
            id = write.Headers.GetValues("x-ms-ccf-transaction-id").Single();
        }

        using (var read = await client.GetAsync($"/app/transactions/{id}?{V}"))
        {
            Assert.Equal("written with a token", (await NodeFixture.Body(read)).GetProperty("entry").GetProperty("contents").GetString());
        }

        Assert.Equal(checks + 1, tokens.SignatureChecks);

        // ES256 and PS256 too, and the ledger's own URI as the audience; the user's id in any GUID case.
        foreach (var token in new[]
        {
            node.Issuer.Token(Oid(Writer.ToUpperInvariant()), key: node.Issuer.Ec, algorithm: SecurityAlgorithms.EcdsaSha256),
            node.Issuer.Token(Oid(Writer), algorithm: SecurityAlgorithms.RsaSsaPssSha256, audience: node.Ledger.LedgerUri),
        })
        {
            using var response = await WithToken(token).GetAsync($"/app/transactions/{id}?{V}");
            Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        }

        // A Contributor writes but does not manage users.
        using (var users = await client.GetAsync($"/app/ledgerUsers/{Writer}?{V}"))
        {
            Assert.Equal(HttpStatusCode.OK, users.StatusCode);
        }

        using (var refused = await client.PatchAsync($"/app/ledgerUsers/{Guid.NewGuid()}?{V}", NodeFixture.Json("""{"assignedRoles":["Reader"]}""", "application/merge-patch+json")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }
    }

    [Fact]
    public async Task Every_kind_of_bad_token_gets_401_invalid_token_and_writes_nothing()
    {
        var issuer = node.Issuer;
        var now = DateTime.UtcNow;
        var stranger = TestIssuer.SigningKey.Rsa("k-stranger");
        var impostor = TestIssuer.SigningKey.Rsa(issuer.Rsa.KeyId); // the issuer's kid, another key
        var cases = new (string Name, string Token, string Says)[]
        {
            ("expired", issuer.Token(Oid(Writer), notBefore: now.AddHours(-2), expires: now.AddMinutes(-10)), "expired"),
            ("not yet valid", issuer.Token(Oid(Writer), notBefore: now.AddMinutes(10), expires: now.AddHours(1)), "not valid before"),
            ("wrong audience", issuer.Token(Oid(Writer), audience: "https://management.azure.com/"), "not for this ledger"),
            ("wrong issuer", issuer.Token(Oid(Writer), issuer: "https://issuer.example"), "issuer (iss) is not one this node trusts"),
            ("unknown kid", issuer.Token(Oid(Writer), key: stranger), "not one its issuer publishes"),
            ("another key", issuer.Token(Oid(Writer), key: impostor), "signature does not verify"),
            ("alg none", issuer.UnsignedToken(Writer), "'none'"),
            ("key confusion", issuer.KeyConfusionToken(Writer), "'HS256'"),
            ("no user claim", issuer.Token(new Dictionary<string, object> { ["sub"] = Writer }), "no 'oid' claim"),
            ("not a user id", issuer.Token(Oid("spaces are not allowed")), "not a user id"),
            ("user id too long", issuer.Token(Oid(new string('u', 257))), "not a user id"),
            ("no such user", issuer.Token(Oid(Guid.NewGuid().ToString())), "No user of this ledger"),
            ("malformed", "not.a.jwt", "not a JWT"),
        };

        var before = node.Ledger.LastSeqno;
        foreach (var (name, token, says) in cases)
        {
            using var response = await WithToken(token).PostAsync($"/app/transactions?{V}", NodeFixture.Json("""{"contents":"must not be written"}"""));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{name}: {(int)response.StatusCode} {text}");
            var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
            Assert.Equal("InvalidAuthenticationInfo", error.GetProperty("code").GetString());
            Assert.True(error.GetProperty("message").GetString()!.Contains(says, StringComparison.Ordinal), $"{name}: {error.GetProperty("message").GetString()}");
            var challenge = response.Headers.WwwAuthenticate.ToString();
            Assert.True(challenge.StartsWith("Bearer error=\"invalid_token\"", StringComparison.Ordinal), $"{name}: {challenge}");
        }

        // Not a bearer token at all.
        var basic = node.Client(null);
        basic.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", "dXNlcjpwYXNz");
        using (var response = await basic.GetAsync($"/app/transactions?{V}"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        await Task.Delay(100);
        Assert.Equal(before, node.Ledger.LastSeqno);
    }

    [Fact]
    public async Task An_entra_issuer_of_any_tenant_takes_a_token_only_for_its_own_tenant()
    {
        await using var issuer = new TestIssuer();
        var jwks = Path.Combine(node.Root, "entra-jwks.json");
        File.WriteAllText(jwks, TestIssuer.Jwks([issuer.Rsa]));
        using var tokens = new BearerTokens([new JwtIssuerOptions { Issuer = "https://login.example/{tenantid}/v2.0", JwksFile = jwks }], NullLogger.Instance);
        var tenant = Guid.NewGuid().ToString();
        var other = Guid.NewGuid().ToString();
        var claims = new Dictionary<string, object> { ["oid"] = Writer, ["tid"] = tenant };

        var (ok, refusal) = await tokens.ValidateAsync(issuer.Token(claims, issuer: $"https://login.example/{tenant}/v2.0"), default);
        Assert.True(ok is not null, refusal);
        Assert.Equal(Writer, ok.UserId);
        Assert.True(ok.IsFor("https://alpha.localhost:8443"));

        (ok, refusal) = await tokens.ValidateAsync(issuer.Token(claims, issuer: $"https://login.example/{other}/v2.0"), default);
        Assert.Null(ok);
        Assert.Contains("tenant (tid)", refusal, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Admin_oid_makes_a_token_administrator_and_a_node_without_issuers_refuses_tokens()
    {
        var root = Directory.CreateTempSubdirectory("vellum-oid-").FullName;
        try
        {
            var jwks = Path.Combine(root, "jwks.json");
            File.WriteAllText(jwks, TestIssuer.Jwks([node.Issuer.Rsa]));
            var options = new NodeOptions
            {
                DataDirectory = Path.Combine(root, "data"),
                Listen = new IPEndPoint(IPAddress.Loopback, 0),
                JwtIssuers = [new JwtIssuerOptions { Issuer = node.Issuer.Url, JwksFile = jwks }],
                AdminObjectIds = [Writer.ToUpperInvariant()],
            };
            await using (var registry = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
            {
                var ledger = registry.Default!;
                await WaitUntilAsync(() => ledger.Users.Count > 0);
                Assert.Equal([Vellum.Node.Service.Roles.Administrator], ledger.Users.RolesOf(Writer));
                Assert.Equal(1, ledger.Users.Count);
                Assert.False(File.Exists(Path.Combine(root, "data", "credentials", "admin_cert.pem")));

                // The only Administrator can sign in with a token, so it cannot be demoted.
                Assert.NotNull(await ledger.ChangeUserAsync(null, Writer, [Vellum.Node.Service.Roles.Reader], default));
            }

            // A bad key file or issuer fails the start before anything is opened.
            File.WriteAllText(jwks, "{}");
            Assert.Throws<ArgumentException>(() => options.Validate());
            Assert.Throws<ArgumentException>(() => new NodeOptions { DataDirectory = root, JwtIssuers = [new JwtIssuerOptions { Issuer = "http://plain.example" }] }.Validate());

            // Several issuers need their user ids told apart (a prefix on all but one; MultipleIssuersTests).
            var two = Assert.Throws<ArgumentException>(() => new NodeOptions
            {
                DataDirectory = root,
                JwtIssuers = [new JwtIssuerOptions { Issuer = "https://a.example" }, new JwtIssuerOptions { Issuer = "https://b.example" }],
            }.Validate());
            Assert.Contains("user prefix", two.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 30 s");
            await Task.Delay(20);
        }
    }
}

/// <summary>
/// Keys rotated at the issuer, on a node of its own (the refetch for an unknown key is rate-limited, so no other test
/// may spend it): a new key is taken without a restart; a second unknown key within the minute is not fetched for.
/// </summary>
public sealed class BearerKeyRotationTests(BearerTokenTests.Fixture node) : IClassFixture<BearerTokenTests.Fixture>, IAsyncLifetime
{
    private const string V = "api-version=2024-08-22-preview";
    private const string Reader = "6c8f1e4b-a4d2-4c74-8b72-3e2f1d4f5b66";

    public async ValueTask InitializeAsync()
    {
        await node.Issuer.StartAsync();
        using var added = await node.Admin.PatchAsync($"/app/ledgerUsers/{Reader}?{V}", NodeFixture.Json("""{"assignedRoles":["Reader"]}""", "application/merge-patch+json"));
        Assert.True(added.IsSuccessStatusCode, await added.Content.ReadAsStringAsync());
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private async Task<HttpStatusCode> ReadWithAsync(string token)
    {
        var client = node.Client(null);
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var response = await client.GetAsync($"/app/transactions?{V}");
        return response.StatusCode;
    }

    [Fact]
    public async Task A_key_rotated_at_the_issuer_is_taken_without_a_restart()
    {
        var oid = new Dictionary<string, object> { ["oid"] = Reader };
        Assert.Equal(HttpStatusCode.OK, await ReadWithAsync(node.Issuer.Token(oid)));
        var old = node.Issuer.Token(oid, expires: DateTime.UtcNow.AddHours(2)); // signed before the rotation, not seen yet

        node.Issuer.Rotate("k2");
        Assert.Equal(HttpStatusCode.OK, await ReadWithAsync(node.Issuer.Token(oid)));
        Assert.Equal(HttpStatusCode.Unauthorized, await ReadWithAsync(old)); // the retired key signs nothing any more

        // Another unknown key at once: the keys are not fetched again within the minute (a flood of made-up kids cannot
        // make the node hammer its issuer), so that token waits for the next fetch.
        var fetches = node.Issuer.KeyFetches;
        node.Issuer.Rotate("k3");
        Assert.Equal(HttpStatusCode.Unauthorized, await ReadWithAsync(node.Issuer.Token(oid)));
        Assert.Equal(fetches, node.Issuer.KeyFetches);
    }
}
