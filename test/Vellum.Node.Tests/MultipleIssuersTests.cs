using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging.Abstractions;
using Vellum.Node.Auth;
using Vellum.TestSupport.Identity;

namespace Vellum.Node.Tests;

/// <summary>
/// Two identity providers trusted at once: the second's user ids carry its prefix, so the same claim from the two names
/// two users; an issuer trusted by some ledgers only is refused by the others; the settings that would let ids collide
/// are refused; a failed key fetch is counted.
/// </summary>
public sealed class MultipleIssuersTests(MultipleIssuersTests.Fixture node) : IClassFixture<MultipleIssuersTests.Fixture>, IAsyncLifetime
{
    private const string V = "api-version=2024-08-22-preview";
    private const string Same = "3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a";

    /// <summary>Entra-like issuer (bare ids) on every ledger; a Keycloak-like one (prefix <c>kc</c>) on <c>default</c> only.</summary>
    public sealed class Fixture : NodeFixture
    {
        public TestIssuer Entra { get; } = new();

        public TestIssuer Keycloak { get; } = new();

        protected override NodeOptions CreateOptions(string data) => new()
        {
            DataDirectory = data,
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            SignatureDelay = TimeSpan.FromMilliseconds(20),
            JwtIssuers =
            [
                new JwtIssuerOptions { Issuer = Entra.Url, CaFile = Entra.CaFile },
                new JwtIssuerOptions { Issuer = Keycloak.Url, CaFile = Keycloak.CaFile, UserClaim = "sub", UserPrefix = "kc", Ledgers = ["default"] },
            ],
        };
    }

    public async ValueTask InitializeAsync()
    {
        await node.Entra.StartAsync();
        await node.Keycloak.StartAsync();
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private HttpClient WithToken(string token)
    {
        var client = node.Client(null);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private async Task<HttpResponseMessage> WriteAsync(HttpClient client, string prefix = "") =>
        await client.PostAsync($"{prefix}/app/transactions?{V}", NodeFixture.Json("""{"contents":"by token"}"""));

    private async Task AddUserAsync(string id, string prefix = "")
    {
        using var added = await node.Admin.PatchAsync($"{prefix}/app/ledgerUsers/{id}?{V}", NodeFixture.Json("""{"assignedRoles":["Contributor"]}""", "application/merge-patch+json"));
        Assert.True(added.IsSuccessStatusCode, await added.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_same_claim_from_two_issuers_names_two_users()
    {
        var fromEntra = WithToken(node.Entra.Token(new Dictionary<string, object> { ["oid"] = Same }));
        var fromKeycloak = WithToken(node.Keycloak.Token(new Dictionary<string, object> { ["sub"] = Same }));

        // Only the Keycloak user "kc:{id}" is registered: the Entra token naming the bare id is no one here.
        await AddUserAsync($"kc:{Same}");
        using (var written = await WriteAsync(fromKeycloak))
        {
            Assert.True(written.IsSuccessStatusCode, await written.Content.ReadAsStringAsync());
        }

        using (var refused = await WriteAsync(fromEntra))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Contains($"No user of this ledger has the id {Same}", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // A bare id may not hold ':' while another issuer's ids are prefixed: "kc:…" from Entra is refused, not matched.
        using (var forged = await WriteAsync(WithToken(node.Entra.Token(new Dictionary<string, object> { ["oid"] = $"kc:{Same}" }))))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
            Assert.Contains("holds ':'", (await NodeFixture.Body(forged)).GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_issuer_trusted_by_some_ledgers_is_refused_by_the_others()
    {
        using (var created = await node.Admin.PutAsync("/node/ledgers/other", null))
        {
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        }

        const string User = "alice";
        await AddUserAsync($"kc:{User}", "/ledgers/other");
        await AddUserAsync($"kc:{User}");
        var fromKeycloak = WithToken(node.Keycloak.Token(new Dictionary<string, object> { ["sub"] = User }));
        using (var refused = await WriteAsync(fromKeycloak, "/ledgers/other"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Contains("not one this ledger trusts", (await NodeFixture.Body(refused)).GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        using (var written = await WriteAsync(fromKeycloak))
        {
            Assert.True(written.IsSuccessStatusCode, await written.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public void Issuers_whose_ids_could_collide_are_refused()
    {
        JwtIssuerOptions Issuer(string url, string? prefix) => new() { Issuer = url, UserPrefix = prefix };
        foreach (var (issuers, expected) in new (JwtIssuerOptions[], string)[]
        {
            ([Issuer("https://a.example", null), Issuer("https://b.example", null)], "user prefix"),
            ([Issuer("https://a.example", "x"), Issuer("https://b.example", "x")], "same user prefix"),
            ([Issuer("https://a.example", null), Issuer("https://a.example", "x")], "named twice"),
            ([Issuer("https://a.example", "Not_Valid")], "a-z 0-9"),
            ([new JwtIssuerOptions { Issuer = "https://a.example", Ledgers = ["Bad_Name"] }], "names the ledger"),
        })
        {
            var refused = Assert.Throws<ArgumentException>(() => NodeOptions.ValidateIssuers(issuers));
            Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
        }

        NodeOptions.ValidateIssuers([Issuer("https://a.example", null), Issuer("https://b.example", "b"), Issuer("https://c.example", "c")]);
    }

    [Fact]
    public async Task An_issuer_s_required_claims_must_be_carried()
    {
        await using var issuer = new TestIssuer();
        await issuer.StartAsync();
        using var tokens = new BearerTokens(
            [new JwtIssuerOptions { Issuer = issuer.Url, CaFile = issuer.CaFile, RequiredClaims = new Dictionary<string, string> { ["roles"] = "ledger-users", ["ver"] = "2.0" } }],
            NullLogger.Instance);
        foreach (var (roles, accepted) in new (object?, bool)[] { (new[] { "x", "ledger-users" }, true), ("ledger-users", true), (null, false), ("other", false), (new[] { "x" }, false) })
        {
            var claims = new Dictionary<string, object> { ["oid"] = Same, ["ver"] = "2.0" };
            if (roles is not null)
            {
                claims["roles"] = roles;
            }

            var (token, refusal) = await tokens.ValidateAsync(issuer.Token(claims), CancellationToken.None);
            Assert.True(accepted == token is not null, $"roles {System.Text.Json.JsonSerializer.Serialize(roles)}: {refusal}");
            if (!accepted)
            {
                Assert.DoesNotContain("roles", refusal, StringComparison.Ordinal); // the settings are not the caller's to learn
            }
        }
    }

    [Fact]
    public async Task A_token_without_tid_takes_its_issuer_s_tenant()
    {
        await using var issuer = new TestIssuer();
        await issuer.StartAsync();
        const string Realm = "77777777-8888-4999-8aaa-bbbbbbbbbbbb";
        using var tokens = new BearerTokens([new JwtIssuerOptions { Issuer = issuer.Url, CaFile = issuer.CaFile, TenantId = Realm.ToUpperInvariant() }], NullLogger.Instance);
        var (without, _) = await tokens.ValidateAsync(issuer.Token(new Dictionary<string, object> { ["oid"] = Same }), CancellationToken.None);
        Assert.Equal(Realm, without!.TenantId);
        const string Own = "12121212-3434-4565-8787-909090909090";
        var (with, _) = await tokens.ValidateAsync(issuer.Token(new Dictionary<string, object> { ["oid"] = Same, ["tid"] = Own }), CancellationToken.None);
        Assert.Equal(Own, with!.TenantId);
    }

    [Fact]
    public async Task A_failed_key_fetch_is_counted()
    {
        long failures = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == BearerTokens.MeterName && instrument.Name == "vellum.auth.jwt_key_fetch_failures")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref failures, value));
        listener.Start();

        // An issuer nobody answers for: its discovery fetch fails, the token is refused and the failure counted.
        await using var unreachable = new TestIssuer();
        using var tokens = new BearerTokens([new JwtIssuerOptions { Issuer = unreachable.Url, CaFile = unreachable.CaFile }], NullLogger.Instance);
        var (token, refusal) = await tokens.ValidateAsync(unreachable.Token(new Dictionary<string, object> { ["oid"] = Same }), CancellationToken.None);
        Assert.Null(token);
        Assert.Contains("cannot be fetched", refusal, StringComparison.Ordinal);
        Assert.True(Interlocked.Read(ref failures) >= 1, "the failed fetch was not counted");
    }
}
