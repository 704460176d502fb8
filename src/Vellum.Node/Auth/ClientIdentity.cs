using Microsoft.AspNetCore.Http;
using Vellum.Core.Identity;
using Vellum.Node.Endpoints;
using Vellum.Node.Service;

namespace Vellum.Node.Auth;

/// <summary>
/// Who is calling: the SHA-256 fingerprint of the TLS client certificate (authorization is by fingerprint, not by
/// chain, so self-signed certificates work as in ACL) and the roles the user table gives it.
/// </summary>
internal sealed record ClientIdentity(string UserId, IReadOnlyList<string> Roles)
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
    public static Func<HttpContext, RequestDelegate, Task> Middleware(LedgerService ledger) => async (context, next) =>
    {
        var forwardedUser = context.Request.Headers[NodeCaller.ForwardedUserHeader];
        var forwarded = forwardedUser.Count > 0;
        if (forwarded && !await NodeCaller.IsFromNodeAsync(context, ledger.Service.Certificate).ConfigureAwait(false))
        {
            await AclResponses.Error(context, 403, "ForwardedUserNotAllowed",
                $"Only a member node of this service may name the caller in {NodeCaller.ForwardedUserHeader}; this client certificate is not a node certificate endorsed by the service identity.").ConfigureAwait(false);
            return;
        }

        if (EndpointAccess.Of(context).Proof != CallerProof.User)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        string fingerprint;
        if (forwarded)
        {
            // The node vouches for the caller: it authenticated the user's certificate before forwarding.
            if (forwardedUser.Count != 1 || !CertificateFingerprint.TryNormalize(forwardedUser[0], out var named))
            {
                await AclResponses.Error(context, 401, "InvalidAuthenticationInfo", $"{NodeCaller.ForwardedUserHeader} must hold one certificate fingerprint.").ConfigureAwait(false);
                return;
            }

            fingerprint = named;
        }
        else
        {
            var certificate = await CertificateAsync(context).ConfigureAwait(false);
            if (certificate is null)
            {
                await AclResponses.Error(context, 401, "InvalidAuthenticationInfo", "A client certificate is required (mutual TLS).").ConfigureAwait(false);
                return;
            }

            fingerprint = CertificateFingerprint.Compute(certificate);
        }

        var roles = ledger.Users.RolesOf(fingerprint);
        if (roles.Count == 0)
        {
            await AclResponses.Error(context, 401, "InvalidAuthenticationInfo", $"No user has the certificate with fingerprint {fingerprint}.").ConfigureAwait(false);
            return;
        }

        context.Items[ItemKey] = new ClientIdentity(fingerprint, roles);
        await next(context).ConfigureAwait(false);
    };

    /// <summary>The TLS client certificate of the request's connection, asked for if the handshake did not bring it; null if none.</summary>
    public static ValueTask<System.Security.Cryptography.X509Certificates.X509Certificate2?> CertificateAsync(HttpContext context) =>
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
}
