using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;
using Vellum.Core.Identity;
using Vellum.Node.Service;

namespace Vellum.Node.Auth;

/// <summary>
/// Who is calling: the SHA-256 fingerprint of the TLS client certificate (authorization is by fingerprint, not by
/// chain, so self-signed certificates work as in ACL) and the roles the user table gives it, read when the table was
/// at <see cref="UsersVersion"/> (a write re-checks the roles if the table has changed by the time it is sequenced).
/// </summary>
internal sealed record ClientIdentity(string UserId, IReadOnlyList<string> Roles, long UsersVersion)
{
    private const string ItemKey = "vellum.caller";

    /// <summary>The authenticated caller; only for an endpoint that requires a user (<see cref="LedgerAuthorization.Requires"/>).</summary>
    public static ClientIdentity Of(HttpContext context) =>
        Find(context) ?? throw new InvalidOperationException($"{context.Request.Method} {context.Request.Path} has no authenticated caller: its endpoint does not ask for a user.");

    /// <summary>Keeps the authenticated caller with the request, for the endpoint (<see cref="Of"/>).</summary>
    public static void Remember(HttpContext context, ClientIdentity caller) => context.Items[ItemKey] = caller;

    /// <summary>
    /// The user a client certificate authenticates, or why it does not (a 401 message): none presented, outside its
    /// validity period (unless <see cref="NodeOptions.CheckUserCertificateValidity"/> is off), or no user has it.
    /// </summary>
    public static Lookup Identify(LedgerService ledger, X509Certificate2? certificate, DateTimeOffset now)
    {
        if (certificate is null)
        {
            return new(null, "A client certificate is required (mutual TLS).");
        }

        var fingerprint = CertificateFingerprint.Compute(certificate);
        if (ledger.Options.CheckUserCertificateValidity && !CertificateValidity.IsCurrent(certificate, now))
        {
            return new(null, $"The client certificate with fingerprint {fingerprint} is outside its validity period " +
                $"({certificate.NotBefore.ToUniversalTime():O} to {certificate.NotAfter.ToUniversalTime():O}).");
        }

        return ByUserId(ledger, fingerprint, $"No user has the certificate with fingerprint {fingerprint}.");
    }

    /// <summary>
    /// The user a member names in <see cref="NodeCaller.ForwardedUserHeader"/> (the member authenticated the user's
    /// certificate, validity included, before forwarding), or why not.
    /// </summary>
    public static Lookup IdentifyForwarded(LedgerService ledger, string? named) =>
        CertificateFingerprint.TryNormalize(named, out var fingerprint)
            ? ByUserId(ledger, fingerprint, $"No user has the certificate with fingerprint {fingerprint}.")
            : named is not null && ledger.Options.JwtIssuers.Count > 0 && BearerTokens.TryUserId(named, out var userId)
                ? ByUserId(ledger, userId, $"No user has the id {userId}.")
                : new(null, $"{NodeCaller.ForwardedUserHeader} must hold one user id (a certificate fingerprint, or a token user's id).");

    /// <summary>The user a validated bearer token names, when it is for this ledger; or why not.</summary>
    public static Lookup IdentifyBearer(LedgerService ledger, BearerToken token, string ledgerUri) =>
        !token.IsTrustedBy(ledger.Name.Value)
            ? new(null, "The token's issuer (iss) is not one this ledger trusts.")
            : !token.IsFor(ledgerUri)
            ? new(null, "The token is not for this ledger: none of its audiences (aud) is one this ledger accepts.")
            : ByUserId(ledger, token.UserId, $"No user of this ledger has the id {token.UserId}.");

    private static Lookup ByUserId(LedgerService ledger, string userId, string unknown)
    {
        // The version first: if the table changes after it is read, the roles read may be newer, never older.
        var version = ledger.Users.Version;
        var roles = ledger.Users.RolesOf(userId);
        return roles.Count == 0
            ? new(null, unknown)
            : new(new ClientIdentity(userId, roles, version), null);
    }

    /// <summary>The TLS client certificate of the request's connection, asked for if the handshake did not bring it; null if none.</summary>
    public static ValueTask<X509Certificate2?> CertificateAsync(HttpContext context) =>
        context.Connection.ClientCertificate is { } certificate
            ? new(certificate)
            : new(context.Connection.GetClientCertificateAsync(context.RequestAborted));

    /// <summary>The authenticated caller, when the request's endpoint asked for one.</summary>
    public static ClientIdentity? Find(HttpContext context) => context.Items.TryGetValue(ItemKey, out var value) ? value as ClientIdentity : null;

    /// <summary>An identity, or the reason (a 401 message) there is none.</summary>
    internal readonly record struct Lookup(ClientIdentity? Identity, string? Refusal);
}
