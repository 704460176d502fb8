using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Vellum.Cli.Tests;

/// <summary>
/// <c>vellum start --jwt-issuer … --jwt-jwks … --admin-oid …</c>: the token user named by <c>--admin-oid</c> is the
/// ledger's Administrator and signs in with a token of that issuer; no development Administrator is made.
/// </summary>
public sealed class TokenFlagsTests : IDisposable
{
    private const string Issuer = "https://issuer.example/tenant-a";
    private const string AdminOid = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
    private readonly string _root = Directory.CreateTempSubdirectory("vellum-token-flags-").FullName;

    [Fact]
    public async Task A_token_user_named_at_start_administers_the_ledger()
    {
        using var rsa = RSA.Create(2048);
        var (key, jwks) = SigningKey(rsa, "k1");
        var data = Path.Combine(_root, "data");

        using var node = await RunningNode.Start(data, "--jwt-issuer", Issuer, "--jwt-jwks", jwks, "--admin-oid", AdminOid.ToUpperInvariant());
        Assert.False(File.Exists(Path.Combine(data, "credentials", "admin_cert.pem")), "a development Administrator was made");

        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = "https://confidential-ledger.azure.com",
            Claims = new Dictionary<string, object> { ["oid"] = AdminOid },
            Expires = DateTime.UtcNow.AddHours(1),
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });
        var service = node.ServiceCertificate;
        using var client = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, cert, _, _) => Vellum.Core.Identity.ServiceCertificatePin.Accepts(cert, service) },
        }) { BaseAddress = node.Endpoint, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        // Administrator: reads users (itself, by the id its tokens carry) and writes.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        HttpResponseMessage users;
        while ((users = await client.GetAsync("/app/ledgerUsers?api-version=2024-08-22-preview")).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{(int)users.StatusCode} {await users.Content.ReadAsStringAsync()}");
            users.Dispose();
            await Task.Delay(100);
        }

        using (users)
        {
            var listed = JsonDocument.Parse(await users.Content.ReadAsStringAsync()).RootElement.GetProperty("ledgerUsers").EnumerateArray().Single();
            Assert.Equal(AdminOid, listed.GetProperty("userId").GetString());
        }

        using var write = await client.PostAsync("/app/transactions?api-version=2024-08-22-preview", new StringContent("""{"contents":"by token"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, write.StatusCode);

        // Without the token: no client certificate, no user.
        client.DefaultRequestHeaders.Authorization = null;
        using var anonymous = await client.GetAsync("/app/ledgerUsers?api-version=2024-08-22-preview");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task Several_issuers_come_from_the_config_file_and_their_users_carry_its_prefix()
    {
        using var rsa = RSA.Create(2048);
        var (key, jwks) = SigningKey(rsa, "k2");
        const string Keycloak = "https://keycloak.example/realms/ops";

        // Ids that could collide are refused before anything is made; so is the setting in the environment.
        var clash = Path.Combine(_root, "clash.json");
        File.WriteAllText(clash, JsonSerializer.Serialize(new { jwtIssuers = new[] { new { issuer = Issuer, jwks }, new { issuer = Keycloak, jwks } } }));
        var refused = await RunningNode.RunToExit(["start", "--data", Path.Combine(_root, "refused"), "--listen", "127.0.0.1:0", "--config", clash], TimeSpan.FromSeconds(60));
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("user prefix", refused.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_root, "refused", "ledgers")));
        var fromEnvironment = await RunningNode.RunToExit(["start", "--data", Path.Combine(_root, "refused"), "--listen", "127.0.0.1:0"], TimeSpan.FromSeconds(60),
            new Dictionary<string, string> { ["VELLUM_JWT_ISSUERS"] = "x" });
        Assert.Equal(2, fromEnvironment.ExitCode);
        Assert.Contains("config file only", fromEnvironment.Error, StringComparison.Ordinal);

        // Two issuers, the second's users prefixed "kc:": its user alice is the Administrator named "kc:alice".
        var config = Path.Combine(_root, "issuers.json");
        File.WriteAllText(config, JsonSerializer.Serialize(new
        {
            jwtIssuers = new object[] { new { issuer = Issuer, jwks }, new { issuer = Keycloak, jwks, userClaim = "sub", userPrefix = "kc", ledgers = new[] { "default" } } },
            adminOids = new[] { "kc:alice" },
        }));
        using var node = await RunningNode.Start(Path.Combine(_root, "data2"), "--config", config);
        string Token(string issuer, string claim, string value) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = "https://confidential-ledger.azure.com",
            Claims = new Dictionary<string, object> { [claim] = value },
            Expires = DateTime.UtcNow.AddHours(1),
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });
        var service = node.ServiceCertificate;
        using var client = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, cert, _, _) => Vellum.Core.Identity.ServiceCertificatePin.Accepts(cert, service) },
        }) { BaseAddress = node.Endpoint, Timeout = TimeSpan.FromSeconds(30) };

        async Task<HttpStatusCode> WriteAs(string token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/app/transactions?api-version=2024-08-22-preview")
            {
                Content = new StringContent("""{"contents":"by token"}""", System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await client.SendAsync(request);
            return response.StatusCode;
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await WriteAs(Token(Keycloak, "sub", "alice")) is var status && status != HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < deadline, $"kc:alice could not write: {(int)status}");
            await Task.Delay(100);
        }

        // The other issuer's "alice" is someone else.
        Assert.Equal(HttpStatusCode.Unauthorized, await WriteAs(Token(Issuer, "oid", "alice")));
    }

    /// <summary>A signing key of <paramref name="rsa"/> named <paramref name="kid"/>, and a JWKS file of its public part.</summary>
    private (RsaSecurityKey Key, string JwksFile) SigningKey(RSA rsa, string kid)
    {
        var publicJwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(rsa.ExportParameters(false)) { KeyId = kid });
        var jwks = Path.Combine(_root, $"jwks-{kid}.json");
        File.WriteAllText(jwks, JsonSerializer.Serialize(new { keys = new[] { new { kty = "RSA", kid, use = "sig", n = publicJwk.N, e = publicJwk.E } } }));
        return (new RsaSecurityKey(rsa) { KeyId = kid }, jwks);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
