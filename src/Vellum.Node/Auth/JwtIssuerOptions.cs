namespace Vellum.Node.Auth;

/// <summary>
/// An identity provider (OIDC issuer) whose bearer tokens the node accepts on every ledger's data plane, or on those
/// it names (<c>vellum start --jwt-issuer …</c>, or <c>jwtIssuers</c> in the config file for several): Entra ID,
/// Keycloak or any issuer that signs JWTs with RS256, ES256 or PS256.
/// </summary>
public sealed class JwtIssuerOptions
{
    /// <summary>The default audience a token may carry besides the ledger's own URI (ACL's).</summary>
    public const string AclAudience = "https://confidential-ledger.azure.com";

    /// <summary>The placeholder of an Entra ID issuer that serves every tenant; the token's <c>tid</c> fills it.</summary>
    public const string TenantPlaceholder = "{tenantid}";

    /// <summary>
    /// The issuer: the token's <c>iss</c> must equal it exactly. May hold <c>{tenantid}</c> once (Entra ID, e.g.
    /// <c>https://login.microsoftonline.com/{tenantid}/v2.0</c>): the token's <c>tid</c>, a GUID, fills it.
    /// </summary>
    public required string Issuer { get; init; }

    /// <summary>
    /// The audiences accepted (<c>--jwt-audience</c>, repeatable). Empty (the default): ACL's,
    /// <see cref="AclAudience"/>, and the URI of the ledger asked (<c>https://{name}.{domain}:{port}</c>).
    /// </summary>
    public IReadOnlyList<string> Audiences { get; init; } = [];

    /// <summary>
    /// A JSON Web Key Set file (<c>--jwt-jwks</c>): the issuer's keys, fixed, with no discovery. Null (the default): the
    /// keys come from the issuer's OIDC discovery document, <c>{issuer}/.well-known/openid-configuration</c> (with
    /// <c>{tenantid}</c> read as <c>common</c>, as Entra ID serves its keys for every tenant), refreshed every 30 minutes
    /// and at once (at most every minute) when a token names a key not yet known.
    /// </summary>
    public string? JwksFile { get; init; }

    /// <summary>
    /// PEM certificates to trust for TLS to the issuer's discovery and key endpoints (<c>--jwt-ca</c>), besides the
    /// system's; for an issuer with a private CA. Null: the system's trust only.
    /// </summary>
    public string? CaFile { get; init; }

    /// <summary>The claim that holds the user id (<c>--jwt-user-claim</c>, default <c>oid</c>, Entra ID's object id).</summary>
    public string UserClaim { get; init; } = "oid";

    /// <summary>
    /// What this issuer's user ids begin with, <c>{prefix}:</c>, so that an id one issuer mints never matches a user
    /// registered from another: with several issuers, every one but at most one has a prefix (the one without keeps
    /// bare ids, as ACL's Entra object ids are, and none of its ids may hold <c>:</c>). 1 to 32 of <c>a-z 0-9 -</c>.
    /// Null: bare ids.
    /// </summary>
    public string? UserPrefix { get; init; }

    /// <summary>
    /// Claims a token of this issuer must carry, each with the value given (a string claim equal to it, or an array
    /// claim holding it): e.g. <c>{"roles": "ledger-users"}</c>. Empty (the default): none.
    /// </summary>
    public IReadOnlyDictionary<string, string> RequiredClaims { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The tenant (a GUID) of this issuer's tokens that carry no <c>tid</c> (a Keycloak realm, say), for the control
    /// plane's tenancy. Null: the deployment's (<c>--tenant</c>).
    /// </summary>
    public string? TenantId { get; init; }

    /// <summary>The ledgers whose data planes accept this issuer's tokens; empty (the default): every ledger.</summary>
    public IReadOnlyList<string> Ledgers { get; init; } = [];

    /// <summary>The user id a token of this issuer names with <paramref name="claim"/>: the claim, after the prefix if there is one.</summary>
    public string UserIdOf(string claim) => UserPrefix is null ? claim : $"{UserPrefix}:{claim}";

    /// <summary>Checks the values; throws <see cref="ArgumentException"/> naming the first bad one.</summary>
    public void Validate()
    {
        if (!Uri.TryCreate(Issuer.Replace(TenantPlaceholder, "00000000-0000-0000-0000-000000000000", StringComparison.Ordinal), UriKind.Absolute, out var issuer) ||
            issuer.Scheme != Uri.UriSchemeHttps)
        {
            throw new ArgumentException($"the JWT issuer '{Issuer}' is not an https URL", nameof(Issuer));
        }

        if (Issuer.Split(TenantPlaceholder).Length > 2)
        {
            throw new ArgumentException($"the JWT issuer '{Issuer}' holds {TenantPlaceholder} more than once", nameof(Issuer));
        }

        if (JwksFile is not null)
        {
            try
            {
                if (new Microsoft.IdentityModel.Tokens.JsonWebKeySet(File.ReadAllText(JwksFile)).GetSigningKeys().Count == 0)
                {
                    throw new ArgumentException($"the JWKS file {JwksFile} holds no signing key", nameof(JwksFile));
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or Microsoft.IdentityModel.Tokens.SecurityTokenException or ArgumentException and not ArgumentNullException)
            {
                throw new ArgumentException($"the JWKS file {JwksFile} cannot be read as a JSON Web Key Set: {ex.Message}", nameof(JwksFile), ex);
            }
        }

        if (CaFile is not null)
        {
            try
            {
                var anchors = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
                anchors.ImportFromPemFile(CaFile);
                if (anchors.Count == 0)
                {
                    throw new ArgumentException($"the CA file {CaFile} holds no certificate", nameof(CaFile));
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                throw new ArgumentException($"the CA file {CaFile} cannot be read: {ex.Message}", nameof(CaFile), ex);
            }
        }

        if (string.IsNullOrWhiteSpace(UserClaim))
        {
            throw new ArgumentException("the JWT user claim is empty", nameof(UserClaim));
        }

        if (Audiences.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("a JWT audience is empty", nameof(Audiences));
        }

        if (TenantId is not null && !Guid.TryParseExact(TenantId, "D", out _))
        {
            throw new ArgumentException($"the tenant '{TenantId}' of {Issuer} is not a GUID", nameof(TenantId));
        }

        if (RequiredClaims.Any(c => string.IsNullOrWhiteSpace(c.Key)))
        {
            throw new ArgumentException($"a required claim of {Issuer} has no name", nameof(RequiredClaims));
        }

        if (UserPrefix is not null && (UserPrefix.Length is 0 or > 32 || !UserPrefix.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')))
        {
            throw new ArgumentException($"the user prefix '{UserPrefix}' of {Issuer} is not 1 to 32 of a-z 0-9 -", nameof(UserPrefix));
        }

        foreach (var ledger in Ledgers)
        {
            if (!Vellum.Core.Identity.LedgerName.TryParse(ledger, out _, out var error))
            {
                throw new ArgumentException($"the issuer {Issuer} names the ledger '{ledger}': {error}", nameof(Ledgers));
            }
        }
    }
}
