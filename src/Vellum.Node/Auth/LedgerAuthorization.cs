using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;
using Vellum.Node.Endpoints;
using Vellum.Node.Ledgers;
using Vellum.Node.Management;
using Vellum.Node.Service;

namespace Vellum.Node.Auth;

/// <summary>
/// Who may call what, declared on each endpoint (<see cref="Requires"/>) and checked in one place: the middleware after
/// routing reads the declaration from the endpoint that matched, so a path's spelling cannot take a request past it,
/// and an endpoint that declares nothing is treated as ACL's data plane (an authenticated user), so a forgotten
/// declaration fails closed.
/// </summary>
/// <remarks>
/// One middleware rather than ASP.NET Core's authentication and authorization middleware with a scheme and a policy per
/// action: that was tried and measured (docs/benchmarks.md, "Authorization as endpoint metadata"); its per-request
/// service scope, handler and evaluator objects cost 6–10 µs of CPU per request here, 7–15 % of the append and read
/// throughput, for checks that are a fingerprint lookup and a role test.
/// </remarks>
internal static class LedgerAuthorization
{
    /// <summary>
    /// Declares what an endpoint needs: <paramref name="access"/> (how the caller proves who it is, and whether an
    /// api-version is required) and, for a user, the ledger <paramref name="action"/> its roles must allow (none: any
    /// user of the ledger).
    /// </summary>
    public static TBuilder Requires<TBuilder>(this TBuilder builder, EndpointAccess access, string? action = null)
        where TBuilder : IEndpointConventionBuilder
    {
        if (action is not null && access.Proof != CallerProof.User)
        {
            throw new ArgumentException($"Only an endpoint for users can require the action {action}.", nameof(action));
        }

        builder.WithMetadata(access);
        return action is null ? builder : builder.WithMetadata(new LedgerActionRequirement(action));
    }

    /// <summary>Declares an endpoint of the deployment's own, for its operators of <paramref name="role"/> (an Owner may do what a Reader may).</summary>
    public static TBuilder RequiresOperator<TBuilder>(this TBuilder builder, OperatorRole role)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.WithMetadata(EndpointAccess.Operator);
        return builder.WithMetadata(new OperatorRequirement(role));
    }

    /// <summary>
    /// Runs after routing, on every path. A request naming a user in <see cref="NodeCaller.ForwardedUserHeader"/> is a
    /// write a backup forwarded: it is accepted only over a connection whose client certificate is a node certificate
    /// endorsed by the ledger's service identity, and from anyone else gets 403 before any endpoint runs. Then, for an
    /// endpoint for users, the caller is authenticated (<see cref="Authenticate"/>; 401 <c>InvalidAuthenticationInfo</c>
    /// saying why not) and its roles must allow the endpoint's action (403 <c>NotAllowed</c>); both change nothing.
    /// Other endpoints are open or check a join token or a node certificate themselves.
    /// </summary>
    public static async Task Middleware(HttpContext context, RequestDelegate next)
    {
        var ledger = context.Features.Get<LedgerService>();
        var forwardedUser = context.Request.Headers[NodeCaller.ForwardedUserHeader];
        if (forwardedUser.Count > 0 && (ledger is null || !await NodeCaller.IsFromNodeAsync(context, ledger).ConfigureAwait(false)))
        {
            await AclResponses.Error(context, AclErrors.ForwardedUserNotAllowed,
                $"Only a member node of this service may name the caller in {NodeCaller.ForwardedUserHeader}; this client certificate is not a current node certificate endorsed by the service identity.").ConfigureAwait(false);
            return;
        }

        var proof = EndpointAccess.Of(context).Proof;
        if (proof == CallerProof.Operator)
        {
            await OperatorAsync(context, next).ConfigureAwait(false);
            return;
        }

        if (proof != CallerProof.User)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var lookup = await Authenticate(context, ledger ?? LedgerRouting.Of(context), forwardedUser).ConfigureAwait(false);
        if (lookup.Identity is not { } caller)
        {
            await AclResponses.Error(context, AclErrors.InvalidAuthenticationInfo, lookup.Refusal!).ConfigureAwait(false);
            return;
        }

        if (context.GetEndpoint()?.Metadata.GetMetadata<LedgerActionRequirement>() is { } requirement && !(ledger ?? LedgerRouting.Of(context)).Users.Allows(caller.Roles, requirement.Action))
        {
            await AclResponses.Error(context, AclErrors.NotAllowed, $"Not allowed to call {context.Request.Method} {context.Request.Path}").ConfigureAwait(false);
            return;
        }

        ClientIdentity.Remember(context, caller);
        await next(context).ConfigureAwait(false);
    }

    /// <summary>
    /// The deployment's own calls: the caller must be an operator (<see cref="DeploymentOperators"/>; 401
    /// <c>InvalidAuthenticationInfo</c> saying why not) of the role the endpoint asks (403 <c>NotAllowed</c>); it is
    /// kept as the request's <see cref="OperatorCaller"/> feature.
    /// </summary>
    private static async Task OperatorAsync(HttpContext context, RequestDelegate next)
    {
        var check = await context.RequestServices.GetRequiredService<DeploymentOperators>().AuthenticateAsync(context).ConfigureAwait(false);
        if (check.Caller is not { } caller)
        {
            check.Challenge(context.Response);
            await AclResponses.Error(context, check.Refusal switch
            {
                OperatorRefusal.Unauthenticated or OperatorRefusal.InvalidToken => AclErrors.InvalidAuthenticationInfo,
                OperatorRefusal.Damaged => AclErrors.InvalidInput,
                _ => AclErrors.NotAllowed,
            }, check.Message!).ConfigureAwait(false);
            return;
        }

        if (context.GetEndpoint()?.Metadata.GetMetadata<OperatorRequirement>() is { Role: OperatorRole.Owner } && caller.Role != OperatorRole.Owner)
        {
            await AclResponses.Error(context, AclErrors.NotAllowed,
                $"Not allowed to call {context.Request.Method} {context.Request.Path}: the operator '{caller.Id}' is a Reader, and this is an Owner's.").ConfigureAwait(false);
            return;
        }

        context.Features.Set(caller);
        await next(context).ConfigureAwait(false);
    }

    /// <summary>
    /// The ledger user a request comes from: on a request a member forwarded (checked above), the user the member names;
    /// with an <c>Authorization: Bearer</c> header, the user the token names (<see cref="BearerAsync"/>); otherwise by
    /// its TLS client certificate's fingerprint.
    /// </summary>
    private static async ValueTask<ClientIdentity.Lookup> Authenticate(HttpContext context, LedgerService ledger, StringValues forwardedUser)
    {
        if (forwardedUser.Count > 0)
        {
            return ClientIdentity.IdentifyForwarded(ledger, forwardedUser.Count == 1 ? forwardedUser[0] : null);
        }

        if (context.Request.Headers.Authorization is { Count: > 0 } authorization)
        {
            return await BearerAsync(context, ledger, authorization).ConfigureAwait(false);
        }

        return ClientIdentity.Identify(ledger, await ClientIdentity.CertificateAsync(context).ConfigureAwait(false), DateTimeOffset.UtcNow);
    }

    /// <summary>
    /// A bearer token (<see cref="BearerTokens"/>): the user it names if the token is valid, for this ledger, and names
    /// one of its users. A refused token also gets <c>WWW-Authenticate: Bearer error="invalid_token"</c> (RFC 6750).
    /// </summary>
    private static async ValueTask<ClientIdentity.Lookup> BearerAsync(HttpContext context, LedgerService ledger, StringValues authorization)
    {
        var value = authorization.Count == 1 ? authorization[0] ?? string.Empty : string.Empty;
        ClientIdentity.Lookup lookup;
        if (!value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || value.Length <= 7)
        {
            lookup = new(null, "The Authorization header is not one bearer token (Authorization: Bearer <JWT>).");
        }
        else if (context.RequestServices.GetService(typeof(BearerTokens)) is not BearerTokens tokens)
        {
            lookup = new(null, "This node accepts no bearer tokens (it trusts no identity provider); present a client certificate.");
        }
        else
        {
            var (token, refusal) = await tokens.ValidateAsync(value[7..].Trim(), context.RequestAborted).ConfigureAwait(false);
            lookup = token is null ? new(null, refusal) : ClientIdentity.IdentifyBearer(ledger, token, ledger.LedgerUri);
        }

        if (lookup.Identity is null)
        {
            context.Response.Headers.WWWAuthenticate = $"Bearer error=\"invalid_token\", error_description=\"{lookup.Refusal!.Replace('"', '\'')}\"";
        }

        return lookup;
    }
}

/// <summary>The ledger actions, named as ACL's role actions; which built-in role allows which is <see cref="Roles.Allows"/>.</summary>
internal static class LedgerActions
{
    public const string EntriesRead = "Microsoft.ConfidentialLedger/ledger/entries/read";
    public const string EntriesWrite = "Microsoft.ConfidentialLedger/ledger/entries/write";
    public const string UsersRead = "Microsoft.ConfidentialLedger/ledger/users/read";
    public const string UsersWrite = "Microsoft.ConfidentialLedger/ledger/users/write";

    public const string RolesRead = "Microsoft.ConfidentialLedger/ledger/roles/read";
    public const string RolesWrite = "Microsoft.ConfidentialLedger/ledger/roles/write";
}

/// <summary>Endpoint metadata: the caller must be an operator of the deployment in <paramref name="Role"/> (or an Owner).</summary>
internal sealed record OperatorRequirement(OperatorRole Role);

/// <summary>Endpoint metadata: the caller's roles in the request's ledger must allow <paramref name="Action"/>.</summary>
internal sealed record LedgerActionRequirement(string Action);
