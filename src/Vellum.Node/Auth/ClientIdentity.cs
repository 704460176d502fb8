using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;
using Vellum.Core.Identity;
using Vellum.Node.Endpoints;
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

    /// <summary>The authenticated caller; only for an endpoint whose <see cref="EndpointAccess"/> asks for a user.</summary>
    public static ClientIdentity Of(HttpContext context) =>
        Find(context) ?? throw new InvalidOperationException($"{context.Request.Method} {context.Request.Path} has no authenticated caller: its endpoint does not ask for a user.");

    /// <summary>
    /// Runs after routing: authenticates the caller of every endpoint whose <see cref="EndpointAccess"/> asks for a user
    /// (the <c>/app</c> data plane, and the Administrator's <c>POST /node/join-tokens</c> and
    /// <c>DELETE /node/members/…</c>); unknown or missing certificates get 401 and change nothing. Other endpoints are
    /// open (health, network) or check a join token or a node certificate themselves.
    /// </summary>
    /// <remarks>
    /// A request naming a user in <see cref="NodeCaller.ForwardedUserHeader"/> is a write a backup forwarded: it is
    /// accepted only over a connection whose client certificate is a node certificate endorsed by the service
    /// identity, and then the caller is the named user, with the roles this node's user table gives it. From anyone
    /// else the header gets 403 on every path, before any endpoint runs, so that nothing changes.
    /// </remarks>
    public static async Task Middleware(HttpContext context, RequestDelegate next)
    {
        // The ledger the request was routed to (none for a ledger's identity, which names its ledger in the path).
        var ledger = context.Features.Get<LedgerService>();
        var forwardedUser = context.Request.Headers[NodeCaller.ForwardedUserHeader];
        var forwarded = forwardedUser.Count > 0;
        if (forwarded && (ledger is null || !await NodeCaller.IsFromNodeAsync(context, ledger).ConfigureAwait(false)))
        {
            await AclResponses.Error(context, 403, "ForwardedUserNotAllowed",
                $"Only a member node of this service may name the caller in {NodeCaller.ForwardedUserHeader}; this client certificate is not a current node certificate endorsed by the service identity.").ConfigureAwait(false);
            return;
        }

        if (EndpointAccess.Of(context).Proof != CallerProof.User)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        ledger ??= Ledgers.LedgerRouting.Of(context);
        var lookup = forwarded
            ? IdentifyForwarded(ledger, forwardedUser.Count == 1 ? forwardedUser[0] : null)
            : Identify(ledger, await CertificateAsync(context).ConfigureAwait(false), DateTimeOffset.UtcNow);
        if (lookup.Identity is not { } identity)
        {
            await AclResponses.Error(context, 401, "InvalidAuthenticationInfo", lookup.Refusal!).ConfigureAwait(false);
            return;
        }

        context.Items[ItemKey] = identity;
        await next(context).ConfigureAwait(false);
    }

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

        return ByFingerprint(ledger, fingerprint);
    }

    /// <summary>
    /// The user a member names in <see cref="NodeCaller.ForwardedUserHeader"/> (the member authenticated the user's
    /// certificate, validity included, before forwarding), or why not.
    /// </summary>
    public static Lookup IdentifyForwarded(LedgerService ledger, string? named) =>
        CertificateFingerprint.TryNormalize(named, out var fingerprint)
            ? ByFingerprint(ledger, fingerprint)
            : new(null, $"{NodeCaller.ForwardedUserHeader} must hold one certificate fingerprint.");

    private static Lookup ByFingerprint(LedgerService ledger, string fingerprint)
    {
        // The version first: if the table changes after it is read, the roles read may be newer, never older.
        var version = ledger.Users.Version;
        var roles = ledger.Users.RolesOf(fingerprint);
        return roles.Count == 0
            ? new(null, $"No user has the certificate with fingerprint {fingerprint}.")
            : new(new ClientIdentity(fingerprint, roles, version), null);
    }

    /// <summary>The TLS client certificate of the request's connection, asked for if the handshake did not bring it; null if none.</summary>
    public static ValueTask<X509Certificate2?> CertificateAsync(HttpContext context) =>
        context.Connection.ClientCertificate is { } certificate
            ? new(certificate)
            : new(context.Connection.GetClientCertificateAsync(context.RequestAborted));

    /// <summary>The authenticated caller, when the request's endpoint asked for one.</summary>
    public static ClientIdentity? Find(HttpContext context) => context.Items.TryGetValue(ItemKey, out var value) ? value as ClientIdentity : null;

    /// <summary>
    /// 403 in the ACL shape when the caller's roles do not allow the call; 401 when there is no authenticated caller
    /// (an endpoint that checks roles but forgot to ask for a user fails closed).
    /// </summary>
    public static async Task<bool> Allowed(HttpContext context, Func<IReadOnlyList<string>, bool> permission)
    {
        if (Find(context) is not { } caller)
        {
            await AclResponses.Error(context, 401, "InvalidAuthenticationInfo", $"{context.Request.Method} {context.Request.Path} needs an authenticated user.").ConfigureAwait(false);
            return false;
        }

        if (permission(caller.Roles))
        {
            return true;
        }

        await AclResponses.Error(context, 403, "NotAllowed", $"Not allowed to call {context.Request.Method} {context.Request.Path}").ConfigureAwait(false);
        return false;
    }

    /// <summary>An identity, or the reason (a 401 message) there is none.</summary>
    internal readonly record struct Lookup(ClientIdentity? Identity, string? Refusal);
}
