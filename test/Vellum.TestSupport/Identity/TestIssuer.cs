using System.Net;
using System.Net.Sockets;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Vellum.TestSupport.Identity;

/// <summary>
/// A real OIDC issuer over HTTPS on 127.0.0.1, for tests: discovery (<c>/.well-known/openid-configuration</c>), its
/// keys (<c>/jwks</c>, which <see cref="Rotate"/> changes while it runs), tokens it signs (<see cref="Token"/>), and a
/// client-credentials token endpoint (<c>/token</c>) for the clients it knows (<see cref="AddClient"/>).
/// Its TLS certificate is self-signed; <see cref="CaFile"/> holds it for <c>--jwt-ca</c>.
/// </summary>
public sealed class TestIssuer : IAsyncDisposable
{
    /// <summary>The audience ACL's clients ask tokens for (the scope <c>https://confidential-ledger.azure.com/.default</c>).</summary>
    public const string AclAudience = "https://confidential-ledger.azure.com";

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (string Secret, string Oid, string? Tenant)> _clients = new(StringComparer.Ordinal);
    private readonly string _folder = Directory.CreateTempSubdirectory("vellum-issuer-").FullName;
    private readonly X509Certificate2 _tls;
    private readonly int _port;
    private WebApplication? _app;
    private volatile SigningKey[] _published;

    public TestIssuer()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        _port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Url = $"https://127.0.0.1:{_port}";

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=test issuer", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        _tls = X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
        CaFile = Path.Combine(_folder, "issuer_ca.pem");
        File.WriteAllText(CaFile, _tls.ExportCertificatePem());

        Rsa = SigningKey.Rsa("k1");
        Ec = SigningKey.Ec("e1");
        _published = [Rsa, Ec];
    }

    /// <summary>The issuer's URL: what its tokens carry as <c>iss</c>.</summary>
    public string Url { get; }

    /// <summary>The issuer's TLS certificate (self-signed), PEM.</summary>
    public string CaFile { get; }

    /// <summary>The RSA key it signs with (RS256, PS256), kid <c>k1</c> until rotated.</summary>
    public SigningKey Rsa { get; private set; }

    /// <summary>The P-256 key it signs with (ES256), kid <c>e1</c>.</summary>
    public SigningKey Ec { get; }

    /// <summary>Requests for its discovery document or keys (a node fetches them once, then again when it meets an unknown kid).</summary>
    public int KeyFetches => _keyFetches;

    private int _keyFetches;

    /// <summary>Serves discovery and keys; call before the first token is checked.</summary>
    public async Task StartAsync()
    {
        if (_app is not null)
        {
            return;
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, _port, listen => listen.UseHttps(_tls)));
        var app = builder.Build();
        app.MapGet("/.well-known/openid-configuration", (HttpContext context) =>
        {
            Interlocked.Increment(ref _keyFetches);
            return Results.Json(new Dictionary<string, object>
            {
                ["issuer"] = Url,
                ["jwks_uri"] = $"{Url}/jwks",
                ["token_endpoint"] = $"{Url}/token",
                ["id_token_signing_alg_values_supported"] = new[] { "RS256", "ES256", "PS256" },
            });
        });
        app.MapPost("/token", async (HttpContext context) =>
        {
            // OAuth 2.0 client credentials (RFC 6749 §4.4), as Azure Identity's ClientSecretCredential asks Entra ID.
            var form = await context.Request.ReadFormAsync();
            if (form["grant_type"] != "client_credentials" || !_clients.TryGetValue(form["client_id"].ToString(), out var client) || client.Secret != form["client_secret"])
            {
                return Results.Json(new { error = "invalid_client" }, statusCode: 401);
            }

            var scope = form["scope"].ToString();
            var audience = scope.EndsWith("/.default", StringComparison.Ordinal) ? scope[..^"/.default".Length] : scope;
            var claims = new Dictionary<string, object> { ["oid"] = client.Oid, ["appid"] = form["client_id"].ToString() };
            if (client.Tenant is { } tenant)
            {
                claims["tid"] = tenant;
            }

            var token = Token(claims, audience);
            return Results.Json(new { access_token = token, token_type = "Bearer", expires_in = 3600 });
        });
        app.MapGet("/jwks", () =>
        {
            Interlocked.Increment(ref _keyFetches);
            return Results.Text(Jwks(_published), "application/json");
        });
        await app.StartAsync();
        _app = app;
    }

    /// <summary>
    /// Registers a client (application) whose client-credential tokens name <paramref name="oid"/> and, when given,
    /// its tenant <paramref name="tenant"/> (<c>tid</c>).
    /// </summary>
    public void AddClient(string clientId, string secret, string oid, string? tenant = null) => _clients[clientId] = (secret, oid, tenant);

    /// <summary>Replaces the RSA key with a new one (kid <paramref name="kid"/>): the old one is no longer published.</summary>
    public void Rotate(string kid)
    {
        Rsa = SigningKey.Rsa(kid);
        _published = [Rsa, Ec];
    }

    /// <summary>A JSON Web Key Set of <paramref name="keys"/>' public parts.</summary>
    public static string Jwks(IEnumerable<SigningKey> keys) =>
        JsonSerializer.Serialize(new { keys = keys.Select(k => k.PublicJwk()).ToArray() });

    /// <summary>
    /// A token signed with <paramref name="key"/> (the RSA key when null) by <paramref name="algorithm"/>, naming
    /// <paramref name="claims"/>, for <paramref name="audience"/>, valid from <paramref name="notBefore"/> to
    /// <paramref name="expires"/> (now − 1 min to now + 1 h when null), issued by <paramref name="issuer"/> (this one's).
    /// </summary>
    public string Token(
        IDictionary<string, object> claims, string audience = AclAudience, SigningKey? key = null, string algorithm = SecurityAlgorithms.RsaSha256,
        DateTime? notBefore = null, DateTime? expires = null, string? issuer = null)
    {
        var now = DateTime.UtcNow;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer ?? Url,
            Audience = audience,
            Claims = claims,
            NotBefore = notBefore ?? now.AddMinutes(-1),
            IssuedAt = (notBefore ?? now.AddMinutes(-1)).AddSeconds(-1),
            Expires = expires ?? now.AddHours(1),
            SigningCredentials = new SigningCredentials((key ?? Rsa).Key, algorithm),
        };
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(descriptor);
    }

    /// <summary>A token with no signature (<c>alg: none</c>).</summary>
    public string UnsignedToken(string oid) =>
        $"{Base64Url("""{"alg":"none","typ":"JWT"}""")}.{Base64Url(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["iss"] = Url, ["aud"] = AclAudience, ["oid"] = oid,
            ["exp"] = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds(), ["nbf"] = DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds(),
        }))}.";

    /// <summary>
    /// A token signed with HMAC-SHA256 whose key is the RSA key's public JWK as published (key confusion: a validator
    /// that took the published key as an HMAC secret would accept it).
    /// </summary>
    public string KeyConfusionToken(string oid)
    {
        var secret = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(Rsa.PublicJwk()))) { KeyId = Rsa.KeyId };
        return Token(new Dictionary<string, object> { ["oid"] = oid }, key: new SigningKey(secret, Rsa.KeyId), algorithm: SecurityAlgorithms.HmacSha256);
    }

    private static string Base64Url(string text) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(text));

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        _tls.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>A key the issuer signs with, and its public JWK.</summary>
    public sealed record SigningKey(SecurityKey Key, string KeyId)
    {
        public static SigningKey Rsa(string kid) => new(new RsaSecurityKey(RSA.Create(2048)) { KeyId = kid }, kid);

        public static SigningKey Ec(string kid) => new(new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = kid }, kid);

        /// <summary>The public part as a JWK object.</summary>
        public Dictionary<string, string> PublicJwk()
        {
            var jwk = Key switch
            {
                RsaSecurityKey rsa => JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(rsa.Rsa.ExportParameters(false)) { KeyId = KeyId }),
                ECDsaSecurityKey ec => JsonWebKeyConverter.ConvertFromECDsaSecurityKey(new ECDsaSecurityKey(ECDsa.Create(ec.ECDsa.ExportParameters(false))) { KeyId = KeyId }),
                _ => throw new InvalidOperationException("only RSA and EC keys are published"),
            };
            var fields = new Dictionary<string, string> { ["kty"] = jwk.Kty, ["kid"] = KeyId, ["use"] = "sig" };
            foreach (var (name, value) in new[] { ("n", jwk.N), ("e", jwk.E), ("crv", jwk.Crv), ("x", jwk.X), ("y", jwk.Y) })
            {
                if (!string.IsNullOrEmpty(value))
                {
                    fields[name] = value;
                }
            }

            return fields;
        }
    }
}
