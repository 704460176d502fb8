using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Vellum.Core.Identity;
using Vellum.Node.Auth;
using Vellum.Node.Ledgers;

namespace Vellum.Node.Management;

/// <summary>
/// The deployment's Administrators: the operators of the control plane (<c>--operator-cert</c>, <c>--operator-oid</c>;
/// none named: the deployment's Administrators, <c>--admin-cert</c> and <c>--admin-oid</c>, else the development
/// Administrator, are Owners). They manage the deployment itself — its ledgers (the control plane, <c>/node/ledgers</c>)
/// and its members (join tokens, retirements) — whichever ledgers exist. One check for both surfaces; each answers a
/// refusal in its own shape (ARM's for the control plane, ACL's for the node's own calls).
/// </summary>
internal sealed class DeploymentOperators
{
    /// <summary>The header in which a member names the operator it authenticated (base64url of its JSON).</summary>
    public const string OperatorHeader = "x-vellum-operator";

    private readonly LedgerRegistry _ledgers;
    private readonly NodeOptions _options;
    private readonly ManagementOptions _settings;
    private readonly BearerTokens? _tokens;
    private readonly Dictionary<string, OperatorRole> _certificates = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, OperatorRole> _ids = new(StringComparer.Ordinal);

    /// <param name="ledgers">The node's ledgers (for the deployment identity a forwarding member's certificate must chain to).</param>
    /// <param name="options">The node's options (its <see cref="NodeOptions.Management"/> validated).</param>
    /// <param name="tokens">The node's bearer-token validator, when it trusts an identity provider.</param>
    public DeploymentOperators(LedgerRegistry ledgers, NodeOptions options, BearerTokens? tokens)
    {
        _ledgers = ledgers;
        _options = options;
        _settings = options.Management;
        _tokens = tokens;
        foreach (var spec in _settings.Operators)
        {
            if (spec.IsCertificate)
            {
                _certificates[ManagementOptions.FingerprintOf(spec.Credential)] = spec.Role;
            }
            else
            {
                _ = BearerTokens.TryUserId(spec.Credential, out var id);
                _ids[id] = spec.Role;
            }
        }

        if (_settings.Operators.Count == 0)
        {
            // No operator named: the deployment's Administrators are its Owners (the development one by default).
            foreach (var file in options.AdminCertificates)
            {
                _certificates[ManagementOptions.FingerprintOf(file)] = OperatorRole.Owner;
            }

            foreach (var id in options.AdminObjectIds)
            {
                _ = BearerTokens.TryUserId(id, out var userId);
                _ids[userId] = OperatorRole.Owner;
            }
        }
    }

    /// <summary>Whether a request names an operator as a member sending it on (<see cref="AuthenticateAsync"/> checks that it is one).</summary>
    public static bool IsFromMember(HttpContext context) => context.Request.Headers.ContainsKey(OperatorHeader);

    /// <summary>
    /// The operator a request comes from: named by a member sending it on (<see cref="OperatorHeader"/>, accepted only
    /// over a connection whose client certificate is a current node certificate of the deployment identity); else a
    /// bearer token for the control plane's audience from a trusted issuer (its tenant the token's <c>tid</c>, else
    /// <see cref="ManagementOptions.TenantId"/>); else an operator's client certificate.
    /// </summary>
    public async Task<OperatorCheck> AuthenticateAsync(HttpContext context)
    {
        if (IsFromMember(context))
        {
            if (!_ledgers.IsMember(await ClientIdentity.CertificateAsync(context).ConfigureAwait(false)))
            {
                return OperatorCheck.Refused(OperatorRefusal.NotAMember, $"Only a member node of this deployment may name the operator in {OperatorHeader}.");
            }

            return Forwarded(context);
        }

        if (context.Request.Headers.Authorization is { Count: > 0 } authorization)
        {
            var value = authorization.Count == 1 ? authorization[0] ?? string.Empty : string.Empty;
            string? refusal;
            BearerToken? token = null;
            if (!value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || value.Length <= 7)
            {
                refusal = "The Authorization header is not one bearer token (Authorization: Bearer <JWT>).";
            }
            else if (_tokens is null)
            {
                refusal = "This deployment accepts no bearer tokens (it trusts no identity provider); present an operator's client certificate.";
            }
            else
            {
                (token, refusal) = await _tokens.ValidateAsync(value[7..].Trim(), context.RequestAborted).ConfigureAwait(false);
                if (token is not null && !IsForManagement(token, context))
                {
                    (token, refusal) = (null, "The token is not for this control plane: none of its audiences (aud) is one the control plane accepts.");
                }
            }

            if (token is null)
            {
                return OperatorCheck.Refused(OperatorRefusal.InvalidToken, refusal!);
            }

            return _ids.TryGetValue(token.UserId, out var tokenRole)
                ? new OperatorCheck(new OperatorCaller(token.UserId, "User", token.TenantId ?? _settings.TenantId, tokenRole, null), default, null)
                : OperatorCheck.Refused(OperatorRefusal.NotAnOperator, $"The client '{token.UserId}' is not an operator of this deployment.");
        }

        var certificate = await ClientIdentity.CertificateAsync(context).ConfigureAwait(false); // the connection's: not ours to dispose
        if (certificate is null)
        {
            return OperatorCheck.Refused(OperatorRefusal.Unauthenticated, "Present an operator's client certificate, or a bearer token for the control plane.");
        }

        var fingerprint = CertificateFingerprint.Compute(certificate);
        if (!_certificates.TryGetValue(fingerprint, out var role))
        {
            if (!IsDevelopmentOwner(fingerprint))
            {
                return OperatorCheck.Refused(OperatorRefusal.NotAnOperator, $"The certificate {fingerprint} is not an operator's of this deployment.");
            }

            role = OperatorRole.Owner;
        }

        return new OperatorCheck(new OperatorCaller(fingerprint, "Application", _settings.TenantId, role, certificate.ExportCertificatePem() + "\n"), default, null);
    }

    /// <summary>The header value that names <paramref name="caller"/> to the member a request is sent on to.</summary>
    public static string Encode(OperatorCaller caller) => Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string?>
    {
        ["id"] = caller.Id, ["type"] = caller.IdType, ["tenant"] = caller.TenantId, ["role"] = caller.Role.ToString(), ["cert"] = caller.CertificatePem,
    }));

    /// <summary>The operator a member named (the member was checked already).</summary>
    private static OperatorCheck Forwarded(HttpContext context)
    {
        try
        {
            using var document = JsonDocument.Parse(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.DecodeBytes(context.Request.Headers[OperatorHeader].ToString()));
            var root = document.RootElement;
            string? Text(string name) => root.TryGetProperty(name, out var value) ? value.GetString() : null;
            if (Text("id") is { } id && Text("type") is { } type && Text("tenant") is { } tenant && Enum.TryParse<OperatorRole>(Text("role"), out var role))
            {
                return new OperatorCheck(new OperatorCaller(id, type, tenant, role, Text("cert")) { FromMember = true }, default, null);
            }
        }
        catch (Exception ex) when (ex is JsonException or FormatException or ArgumentException or InvalidOperationException)
        {
        }

        return OperatorCheck.Refused(OperatorRefusal.Damaged, $"The {OperatorHeader} header is damaged.");
    }

    /// <summary>With no operator named anywhere, the development Administrator (made by the first ledger) is an Owner.</summary>
    private bool IsDevelopmentOwner(string fingerprint)
    {
        if (_settings.Operators.Count > 0 || _options.AdminCertificates.Count > 0 || _options.AdminObjectIds.Count > 0)
        {
            return false;
        }

        var file = Path.Combine(_options.DataDirectory, "credentials", "admin_cert.pem");
        return File.Exists(file) && string.Equals(ManagementOptions.FingerprintOf(file), fingerprint, StringComparison.OrdinalIgnoreCase);
    }

    private bool IsForManagement(BearerToken token, HttpContext context)
    {
        var port = context.Request.Host.Port is { } p && p != 443 ? string.Create(CultureInfo.InvariantCulture, $":{p}") : string.Empty;
        IEnumerable<string> accepted = _settings.Audiences.Count > 0 ? _settings.Audiences : [ManagementOptions.DefaultAudience, $"https://{_options.Domain}{port}"];
        return token.Audiences.Any(a => accepted.Any(b => string.Equals(a.TrimEnd('/'), b.TrimEnd('/'), StringComparison.OrdinalIgnoreCase)));
    }
}

/// <summary>Why <see cref="DeploymentOperators.AuthenticateAsync"/> refused a caller.</summary>
internal enum OperatorRefusal
{
    None,

    /// <summary>No credential: 401.</summary>
    Unauthenticated,

    /// <summary>A bearer token that is not valid here: 401, with <c>WWW-Authenticate: Bearer error="invalid_token"</c>.</summary>
    InvalidToken,

    /// <summary>A valid credential that is no operator's: 403.</summary>
    NotAnOperator,

    /// <summary>An operator named by a caller that is not a member: 403.</summary>
    NotAMember,

    /// <summary>A member's operator header that cannot be read: 400.</summary>
    Damaged,
}

/// <summary>The outcome of <see cref="DeploymentOperators.AuthenticateAsync"/>: the caller, or why not.</summary>
internal readonly record struct OperatorCheck(OperatorCaller? Caller, OperatorRefusal Refusal, string? Message)
{
    public static OperatorCheck Refused(OperatorRefusal refusal, string message) => new(null, refusal, message);

    /// <summary>The HTTP status of the refusal.</summary>
    public int Status => Refusal switch
    {
        OperatorRefusal.Unauthenticated or OperatorRefusal.InvalidToken => 401,
        OperatorRefusal.Damaged => 400,
        _ => 403,
    };

    /// <summary>Sets the RFC 6750 challenge of a refused token on <paramref name="response"/>.</summary>
    public void Challenge(HttpResponse response)
    {
        if (Refusal == OperatorRefusal.InvalidToken)
        {
            response.Headers.WWWAuthenticate = $"Bearer error=\"invalid_token\", error_description=\"{Message!.Replace('"', '\'')}\"";
        }
    }
}

/// <summary>An operator of the deployment, by certificate or token, in a tenant.</summary>
/// <param name="Id">Its user id: the token's object id, or the certificate's fingerprint.</param>
/// <param name="IdType">ARM's <c>createdByType</c>: User for a token, Application for a certificate.</param>
/// <param name="TenantId">Its tenant.</param>
/// <param name="Role">Its operator role.</param>
/// <param name="CertificatePem">The caller's certificate, when it came with one (the creator of a ledger made without an Administrator becomes one).</param>
internal sealed record OperatorCaller(string Id, string IdType, string TenantId, OperatorRole Role, string? CertificatePem)
{
    /// <summary>Named by a member that sent the request on (never sent on again).</summary>
    public bool FromMember { get; init; }
}
