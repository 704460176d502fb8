using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Vellum.Core.Primitives;

namespace Vellum.Node.Auth;

/// <summary>
/// Checks bearer tokens (JWTs) from the identity providers the node trusts (<see cref="JwtIssuerOptions"/>), for every
/// ledger: the issuer exactly (an Entra ID <c>{tenantid}</c> filled by the token's <c>tid</c>), RS256, ES256 or PS256
/// only (so no <c>none</c> and no HMAC, whose key would be the issuer's public key), a key the issuer publishes (its
/// <c>kid</c>; keys from discovery are fetched again when a token names an unknown one, at most once a minute, and every
/// 30 minutes), <c>exp</c> and <c>nbf</c> with 5 minutes of skew, and a user id in the configured claim. The audience
/// depends on the ledger asked, so it is checked per request (<see cref="BearerToken.IsFor"/>). A token that passes is kept, by
/// its SHA-256, until it expires: it costs one signature check, not one per request.
/// </summary>
public sealed class BearerTokens : IDisposable
{
    /// <summary>The signature algorithms accepted.</summary>
    public static IReadOnlyList<string> Algorithms { get; } = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.RsaSsaPssSha256];

    /// <summary>Clock skew allowed on <c>exp</c> and <c>nbf</c>.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    private const int MaxCached = 10_000;
    private const int MaxUserIdLength = 256;

    private readonly TrustedIssuer[] _issuers;
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly ConcurrentDictionary<Hash32, BearerToken> _cache = new();
    private readonly ILogger _logger;
    private readonly bool _prefixed;
    private long _signatureChecks;

    /// <summary>The meter of the node's authentication (<see cref="KeyFetchFailures"/>).</summary>
    public const string MeterName = "Vellum.Auth";

    private static readonly System.Diagnostics.Metrics.Meter Meter = new(MeterName);

    /// <summary>Fetches of an issuer's keys (discovery and JWKS) that failed, tagged with the issuer.</summary>
    private static readonly System.Diagnostics.Metrics.Counter<long> KeyFetchFailures = Meter.CreateCounter<long>(
        "vellum.auth.jwt_key_fetch_failures", unit: "{fetch}", description: "Fetches of an identity provider's signing keys that failed (the keys held before are kept).");

    /// <summary>Trusts <paramref name="issuers"/> (at least one).</summary>
    public BearerTokens(IReadOnlyList<JwtIssuerOptions> issuers, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(issuers);
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;
        _issuers = [.. issuers.Select(options => new TrustedIssuer(options, logger))];
        _prefixed = issuers.Any(i => i.UserPrefix is not null);
    }

    /// <summary>Tokens whose signature was checked (since start): at most one per token while it is cached.</summary>
    public long SignatureChecks => Interlocked.Read(ref _signatureChecks);

    /// <summary>
    /// The user <paramref name="token"/> names, with the audiences it is for, or the reason it is refused (a message for
    /// the caller that says what was wrong without showing the node's configuration).
    /// </summary>
    public async ValueTask<(BearerToken? Token, string? Refusal)> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        var key = Hash32.Compute(Encoding.UTF8.GetBytes(token));
        if (_cache.TryGetValue(key, out var cached))
        {
            if (cached.Expires > DateTimeOffset.UtcNow)
            {
                return (cached, null);
            }

            _cache.TryRemove(key, out _);
        }

        JsonWebToken jwt;
        try
        {
            jwt = _handler.ReadJsonWebToken(token);
        }
        catch (Exception ex) when (ex is ArgumentException or SecurityTokenMalformedException)
        {
            return (null, "The bearer token is not a JWT (header.payload.signature, base64url).");
        }

        if (!Algorithms.Contains(jwt.Alg))
        {
            return (null, AlgorithmRefusal(jwt));
        }

        if (!jwt.TryGetPayloadValue<string>("iss", out var iss) || iss is null)
        {
            return (null, "The token names no issuer (iss).");
        }

        var (issuer, issuerRefusal) = IssuerOf(jwt, iss);
        if (issuer is null)
        {
            return (null, issuerRefusal);
        }

        IReadOnlyList<SecurityKey> keys;
        try
        {
            keys = await issuer.KeysAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException or ArgumentException or InvalidDataException)
        {
            return (null, "The token's issuer's keys cannot be fetched right now; try again shortly.");
        }

        Interlocked.Increment(ref _signatureChecks);
        var result = await _handler.ValidateTokenAsync(jwt, TrustedIssuer.Parameters(iss, keys)).ConfigureAwait(false);
        if (result.Exception is SecurityTokenSignatureKeyNotFoundException && issuer.Discovers)
        {
            // A key the issuer added since the last fetch (a rotation): fetch again, at most once a minute, and retry.
            LogMessages.TokenKeyUnknown(_logger, issuer.Options.Issuer, jwt.Kid);
            if (await issuer.RefreshForUnknownKeyAsync(cancellationToken).ConfigureAwait(false) is { } refreshed)
            {
                Interlocked.Increment(ref _signatureChecks);
                result = await _handler.ValidateTokenAsync(jwt, TrustedIssuer.Parameters(iss, refreshed)).ConfigureAwait(false);
            }
        }

        if (!result.IsValid)
        {
            return (null, Refusal(result.Exception, jwt));
        }

        foreach (var (name, value) in issuer.Options.RequiredClaims)
        {
            if (!Carries(jwt, name, value))
            {
                // Which claim is not said: the node's settings are not the caller's to learn.
                return (null, "The token does not carry a claim its issuer's tokens must carry here.");
            }
        }

        if (!jwt.TryGetPayloadValue<object>(issuer.Options.UserClaim, out var claim) || claim is not string text || text.Length == 0)
        {
            return (null, $"The token has no '{issuer.Options.UserClaim}' claim (a string) naming the user.");
        }

        if (!TryUserId(text, out var claimed) || !TryUserId(issuer.Options.UserIdOf(claimed), out var userId))
        {
            return (null, $"The token's '{issuer.Options.UserClaim}' claim is not a user id (a GUID, or up to {MaxUserIdLength} of A-Z a-z 0-9 . _ : @ -, its issuer's prefix included).");
        }

        if (issuer.Options.UserPrefix is null && _prefixed && claimed.Contains(':', StringComparison.Ordinal))
        {
            // Bare ids never hold ':' while other issuers' ids are 'prefix:…': none can pass for another issuer's user.
            return (null, $"The token's '{issuer.Options.UserClaim}' claim holds ':', which this issuer's user ids may not while other issuers' ids are prefixed.");
        }

        var tenant = jwt.TryGetPayloadValue<string>("tid", out var tid) && Guid.TryParse(tid, out var tenantGuid)
            ? tenantGuid.ToString("D")
            : issuer.Options.TenantId is { } configured ? Guid.Parse(configured).ToString("D") : null;
        var validated = new BearerToken(userId, [.. jwt.Audiences], issuer.Options.Audiences, jwt.ValidTo == DateTime.MinValue ? DateTimeOffset.UtcNow : new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero))
        {
            TenantId = tenant,
            Ledgers = issuer.Options.Ledgers,
        };
        if (_cache.Count >= MaxCached)
        {
            foreach (var (stale, entry) in _cache)
            {
                if (entry.Expires <= DateTimeOffset.UtcNow)
                {
                    _cache.TryRemove(stale, out _);
                }
            }

            if (_cache.Count >= MaxCached)
            {
                _cache.Clear();
            }
        }

        _cache[key] = validated;
        return (validated, null);
    }

    /// <summary>
    /// A user id as a token gives it: a GUID in lower case (as ACL's object ids), else itself when it is 1 to 256
    /// characters of <c>A-Za-z0-9._:@-</c> (a Keycloak <c>sub</c>, an email-like name).
    /// </summary>
    public static bool TryUserId(string text, out string userId)
    {
        if (Guid.TryParseExact(text, "D", out var guid))
        {
            userId = guid.ToString("D");
            return true;
        }

        userId = text;
        return text.Length is > 0 and <= MaxUserIdLength && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '@' or '-');
    }

    /// <summary>Whether <paramref name="jwt"/> has claim <paramref name="name"/> equal to <paramref name="value"/>, or an array claim holding it.</summary>
    private static bool Carries(JsonWebToken jwt, string name, string value) =>
        jwt.Claims.Any(c => string.Equals(c.Type, name, StringComparison.Ordinal) && string.Equals(c.Value, value, StringComparison.Ordinal));

    private (TrustedIssuer? Issuer, string? Refusal) IssuerOf(JsonWebToken jwt, string iss)
    {
        foreach (var issuer in _issuers)
        {
            var template = issuer.Options.Issuer;
            if (!template.Contains(JwtIssuerOptions.TenantPlaceholder, StringComparison.Ordinal))
            {
                if (string.Equals(template, iss, StringComparison.Ordinal))
                {
                    return (issuer, null);
                }

                continue;
            }

            var parts = template.Split(JwtIssuerOptions.TenantPlaceholder);
            if (!iss.StartsWith(parts[0], StringComparison.Ordinal) || !iss.EndsWith(parts[1], StringComparison.Ordinal) || iss.Length <= parts[0].Length + parts[1].Length)
            {
                continue;
            }

            // An Entra ID issuer of any tenant: the tenant in iss must be the token's own (tid).
            return jwt.TryGetPayloadValue<string>("tid", out var tid) && Guid.TryParseExact(tid, "D", out _) &&
                   string.Equals(iss, parts[0] + tid + parts[1], StringComparison.Ordinal)
                ? (issuer, null)
                : (null, "The token's tenant (tid) is not the tenant of its issuer (iss).");
        }

        return (null, "The token's issuer (iss) is not one this node trusts.");
    }

    private static string AlgorithmRefusal(JsonWebToken jwt) => $"The token is signed with '{jwt.Alg}'; only RS256, ES256 and PS256 are accepted.";

    private static string Refusal(Exception? exception, JsonWebToken jwt) => exception switch
    {
        SecurityTokenExpiredException => $"The token expired at {jwt.ValidTo:O}.",
        SecurityTokenNotYetValidException => $"The token is not valid before {jwt.ValidFrom:O}.",
        SecurityTokenNoExpirationException => "The token has no expiry (exp).",
        SecurityTokenSignatureKeyNotFoundException => $"The token's signing key (kid '{jwt.Kid}') is not one its issuer publishes.",
        SecurityTokenInvalidSignatureException => "The token's signature does not verify.",
        SecurityTokenInvalidAlgorithmException => AlgorithmRefusal(jwt),
        SecurityTokenInvalidIssuerException => "The token's issuer (iss) is not one this node trusts.",
        SecurityTokenInvalidLifetimeException => "The token's validity period (nbf, exp) is not valid.",
        _ => "The token could not be validated (its issuer's keys may be unavailable right now).",
    };

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var issuer in _issuers)
        {
            issuer.Dispose();
        }
    }

    /// <summary>
    /// One trusted issuer: its options, and its keys — fixed (a JWKS file), or from its OIDC discovery document and the
    /// <c>jwks_uri</c> it names, fetched at the first token, again once they are 30 minutes old, and at once (at most
    /// once a minute) for a token that names a key not among them. A failed fetch keeps the keys it had (logged).
    /// </summary>
    private sealed class TrustedIssuer : IDisposable
    {
        private static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(30);
        private static readonly TimeSpan MinForcedInterval = TimeSpan.FromMinutes(1);

        private readonly HttpClient? _client;
        private readonly Uri? _discovery;
        private readonly ILogger _logger;
        private readonly SemaphoreSlim _fetching = new(1, 1);
        private volatile IReadOnlyList<SecurityKey>? _keys;
        private DateTimeOffset _fetchedAt;
        private DateTimeOffset _forcedAt = DateTimeOffset.MinValue;

        public TrustedIssuer(JwtIssuerOptions options, ILogger logger)
        {
            Options = options;
            _logger = logger;
            if (options.JwksFile is { } file)
            {
                _keys = [.. new JsonWebKeySet(File.ReadAllText(file)).GetSigningKeys()];
                return;
            }

            _client = new HttpClient(Handler(options.CaFile)) { Timeout = TimeSpan.FromSeconds(10) };
            _discovery = new Uri(options.Issuer.Replace(JwtIssuerOptions.TenantPlaceholder, "common", StringComparison.Ordinal).TrimEnd('/') + "/.well-known/openid-configuration");
        }

        public JwtIssuerOptions Options { get; }

        public bool Discovers => _client is not null;

        /// <summary>The issuer's keys: fetched when there are none yet or they are old.</summary>
        public async ValueTask<IReadOnlyList<SecurityKey>> KeysAsync(CancellationToken cancellationToken)
        {
            if (_keys is { } keys && (!Discovers || DateTimeOffset.UtcNow - _fetchedAt < MaxAge))
            {
                return keys;
            }

            return await FetchAsync(force: false, cancellationToken).ConfigureAwait(false) ?? _keys ?? [];
        }

        /// <summary>The keys fetched again for a token naming an unknown key; null when the last such fetch was under a minute ago.</summary>
        public async ValueTask<IReadOnlyList<SecurityKey>?> RefreshForUnknownKeyAsync(CancellationToken cancellationToken)
        {
            if (DateTimeOffset.UtcNow - _forcedAt < MinForcedInterval)
            {
                return null;
            }

            return await FetchAsync(force: true, cancellationToken).ConfigureAwait(false);
        }

        private async ValueTask<IReadOnlyList<SecurityKey>?> FetchAsync(bool force, CancellationToken cancellationToken)
        {
            await _fetching.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var now = DateTimeOffset.UtcNow;
                if (force ? now - _forcedAt < MinForcedInterval : _keys is not null && now - _fetchedAt < MaxAge)
                {
                    return force ? null : _keys; // another caller fetched meanwhile
                }

                if (force)
                {
                    _forcedAt = now;
                }

                try
                {
                    using var document = System.Text.Json.JsonDocument.Parse(await _client!.GetStringAsync(_discovery, cancellationToken).ConfigureAwait(false));
                    if (!document.RootElement.TryGetProperty("jwks_uri", out var jwksUri) || !Uri.TryCreate(jwksUri.GetString(), UriKind.Absolute, out var jwks) ||
                        jwks.Scheme != Uri.UriSchemeHttps)
                    {
                        throw new InvalidDataException("the discovery document names no https jwks_uri");
                    }

                    IReadOnlyList<SecurityKey> keys = [.. new JsonWebKeySet(await _client.GetStringAsync(jwks, cancellationToken).ConfigureAwait(false)).GetSigningKeys()];
                    _keys = keys;
                    _fetchedAt = now;
                    return keys;
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException or ArgumentException or InvalidDataException)
                {
                    LogMessages.IssuerKeysUnavailable(_logger, Options.Issuer, ex);
                    KeyFetchFailures.Add(1, new KeyValuePair<string, object?>("issuer", Options.Issuer));
                    if (_keys is null)
                    {
                        throw;
                    }

                    return null;
                }
            }
            finally
            {
                _fetching.Release();
            }
        }

        public static TokenValidationParameters Parameters(string iss, IReadOnlyList<SecurityKey> keys) => new()
        {
            ValidIssuer = iss,
            ValidateAudience = false, // per ledger: BearerToken.IsFor
            ValidAlgorithms = Algorithms,
            ClockSkew = ClockSkew,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ValidateLifetime = true,
            TryAllIssuerSigningKeys = false,
            IssuerSigningKeys = keys,
        };

        /// <summary>TLS to the issuer: the system's trust, and the CA file's certificates when given.</summary>
        private static SocketsHttpHandler Handler(string? caFile)
        {
            var handler = new SocketsHttpHandler();
            if (caFile is null)
            {
                return handler;
            }

            var anchors = new X509Certificate2Collection();
            anchors.ImportFromPemFile(caFile);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (errors == SslPolicyErrors.None)
                {
                    return true;
                }

                if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
                {
                    return false; // no certificate, or a name that does not match
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(anchors);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                return chain.Build(leaf);
            };
            return handler;
        }

        public void Dispose()
        {
            _client?.Dispose();
            _fetching.Dispose();
        }
    }
}

/// <summary>A validated bearer token: whom it names, for which audiences, and until when.</summary>
/// <param name="UserId">The user id (<see cref="BearerTokens.TryUserId"/>).</param>
/// <param name="Audiences">The token's audiences (<c>aud</c>).</param>
/// <param name="Accepted">Its issuer's accepted audiences; empty: the defaults (<see cref="IsFor"/>).</param>
/// <param name="Expires">Its expiry: kept until then.</param>
public sealed record BearerToken(string UserId, IReadOnlyList<string> Audiences, IReadOnlyList<string> Accepted, DateTimeOffset Expires)
{
    /// <summary>Its tenant (<c>tid</c>, a GUID in lower case), else its issuer's configured one; null when neither.</summary>
    public string? TenantId { get; init; }

    /// <summary>The ledgers its issuer is trusted by; empty: every ledger.</summary>
    public IReadOnlyList<string> Ledgers { get; init; } = [];

    /// <summary>Whether ledger <paramref name="name"/> trusts the token's issuer.</summary>
    public bool IsTrustedBy(string name) => Ledgers.Count == 0 || Ledgers.Contains(name, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Whether the token is for the ledger at <paramref name="ledgerUri"/>: one of its audiences is accepted — its
    /// issuer's configured audiences, or by default ACL's (<see cref="JwtIssuerOptions.AclAudience"/>) and the ledger's URI.
    /// </summary>
    public bool IsFor(string ledgerUri)
    {
        foreach (var audience in Audiences)
        {
            var trimmed = audience.TrimEnd('/');
            if (Accepted.Count > 0
                    ? Accepted.Any(a => string.Equals(a.TrimEnd('/'), trimmed, StringComparison.OrdinalIgnoreCase))
                    : string.Equals(trimmed, JwtIssuerOptions.AclAudience, StringComparison.OrdinalIgnoreCase) || string.Equals(trimmed, ledgerUri, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
