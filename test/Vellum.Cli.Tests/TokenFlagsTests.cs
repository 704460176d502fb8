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
        var key = new RsaSecurityKey(rsa) { KeyId = "k1" };
        var publicJwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(rsa.ExportParameters(false)) { KeyId = "k1" });
        var jwks = Path.Combine(_root, "jwks.json");
        File.WriteAllText(jwks, JsonSerializer.Serialize(new { keys = new[] { new { kty = "RSA", kid = "k1", use = "sig", n = publicJwk.N, e = publicJwk.E } } }));
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

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
