using System.Net.Security;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Vellum.Node.Endpoints;
using Vellum.Node.Service;

namespace Vellum.Node.Ledgers;

/// <summary>
/// Which ledger a request is for, one rule for every endpoint: the TLS server name (SNI) <c>{name}.{domain}</c>, the
/// Host <c>{name}.{domain}</c> (any port) and the path prefix <c>/ledgers/{name}/…</c> each name a ledger or none; the
/// names given must agree (else 421 Misdirected Request), a name not served here is 404 <c>LedgerNotFound</c>, and a
/// request that names none is for <c>default</c> (404 <c>LedgerNotFound</c> when the node serves no such ledger).
/// The deployment's own calls (<see cref="IsDeploymentEndpoint"/>: its members and its ledgers) choose no ledger: they
/// are served to a request that names none, whether <c>default</c> exists or not, and refused (403) to one that names a
/// ledger. The deployment's own server name between members (<see cref="DeploymentIdentity.ServerName"/>) names no
/// ledger either: a cluster member serves only the deployment's calls there and discovery's <c>/node/network</c>.
/// </summary>
internal sealed class LedgerRouting
{
    private const string Prefix = "/ledgers/";
    private const string IdentityPrefix = "/ledgerIdentity/";

    private readonly LedgerRegistry _ledgers;
    private readonly string _domain;
    private readonly string _suffix;

    public LedgerRouting(LedgerRegistry ledgers, string domain)
    {
        _ledgers = ledgers;
        _domain = domain;
        _suffix = "." + domain;
    }

    /// <summary>The ledger the routing middleware chose for <paramref name="context"/>.</summary>
    public static LedgerService Of(HttpContext context) =>
        context.Features.Get<LedgerService>() ??
        throw new InvalidOperationException($"{context.Request.Method} {context.Request.Path} was not routed to a ledger");

    /// <summary>
    /// The ledger named <c>{name}.{domain}</c> by a TLS server name or a host, as a span of <paramref name="host"/>;
    /// empty when it names none (another name, the domain itself, an address).
    /// </summary>
    public ReadOnlySpan<char> NameIn(ReadOnlySpan<char> host)
    {
        if (host.Length > _suffix.Length && host.EndsWith(_suffix, StringComparison.OrdinalIgnoreCase))
        {
            var label = host[..^_suffix.Length];
            if (!label.Contains('.'))
            {
                return label;
            }
        }

        return [];
    }

    /// <summary>
    /// The certificate a TLS handshake for <paramref name="serverName"/> gets: <c>{name}.{domain}</c> of a ledger served
    /// here, that ledger's; <c>{domain}</c>, the deployment's; no name or any other, <c>default</c>'s when the node
    /// serves it, else the deployment's.
    /// </summary>
    public SslStreamCertificateContext CertificateFor(string? serverName)
    {
        if (serverName is { Length: > 0 })
        {
            if (_ledgers.Identity is { } identity && serverName.Equals(DeploymentIdentity.ServerName, StringComparison.OrdinalIgnoreCase))
            {
                return identity.Tls.Context;
            }

            if (serverName.Equals(_domain, StringComparison.OrdinalIgnoreCase))
            {
                return _ledgers.Deployment.Context;
            }

            if (_ledgers.TryGet(NameIn(serverName), out var ledger))
            {
                return ledger.Tls.Context;
            }
        }

        return _ledgers.Default?.Tls.Context ?? _ledgers.Deployment.Context;
    }

    /// <summary>Chooses the request's ledger (see the type) before routing; strips a <c>/ledgers/{name}</c> prefix.</summary>
    public async Task Middleware(HttpContext context, RequestDelegate next)
    {
        var path = context.Request.Path.Value ?? string.Empty;
        if (path.StartsWith(IdentityPrefix, StringComparison.OrdinalIgnoreCase))
        {
            // A ledger's identity is the node's to give, on any host: it names its ledger in the path.
            await next(context).ConfigureAwait(false);
            return;
        }

        var handshakeName = context.Features.Get<ITlsHandshakeFeature>()?.HostName;
        if (IsDeploymentName(context.Request.Host.Host) || IsDeploymentName(handshakeName))
        {
            // Between members, about the deployment: no ledger is chosen, and only those calls are served.
            if (_ledgers.Identity is null || !(IsDeploymentEndpoint(path) || IsNetwork(path)) || !IsDeploymentName(context.Request.Host.Host) || !IsDeploymentName(handshakeName))
            {
                await AclResponses.Error(context, AclErrors.LedgerNotFound,
                    $"{DeploymentIdentity.ServerName} serves only the calls between a cluster's members about the deployment, over TLS with that server name.").ConfigureAwait(false);
                return;
            }

            await next(context).ConfigureAwait(false);
            return;
        }

        var named = ReadOnlySpan<char>.Empty;
        string? fromPath = null;
        if (path.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            var end = path.IndexOf('/', Prefix.Length);
            fromPath = end < 0 ? path[Prefix.Length..] : path[Prefix.Length..end];
            context.Request.PathBase = context.Request.PathBase.Add(new PathString(end < 0 ? path : path[..end]));
            context.Request.Path = new PathString(end < 0 ? "/" : path[end..]);
            named = fromPath;
        }

        var fromHost = NameIn(context.Request.Host.Host);
        var fromServerName = context.Features.Get<ITlsHandshakeFeature>()?.HostName is { Length: > 0 } serverName ? NameIn(serverName) : [];
        if (!Agree(ref named, fromHost) || !Agree(ref named, fromServerName))
        {
            await AclResponses.Error(context, AclErrors.MisdirectedRequest,
                $"This request names two ledgers (TLS server name '{context.Features.Get<ITlsHandshakeFeature>()?.HostName}', host '{context.Request.Host.Host}'{(fromPath is null ? string.Empty : $", path prefix '{fromPath}'")}); send it to the ledger's own host name.").ConfigureAwait(false);
            return;
        }

        if (IsDeploymentEndpoint(context.Request.Path.Value ?? string.Empty))
        {
            if (!named.IsEmpty)
            {
                var (error, what) = context.Request.Path.StartsWithSegments("/node/ledgers", StringComparison.OrdinalIgnoreCase)
                    ? (AclErrors.LedgersNotManagedHere, "ledgers") : (AclErrors.MembershipNotManagedHere, "members");
                await AclResponses.Error(context, error,
                    $"The deployment's {what} are managed on the deployment's host name ({_domain}, or an address), not through the ledger '{named}'.").ConfigureAwait(false);
                return;
            }

            await next(context).ConfigureAwait(false); // no ledger: the deployment's
            return;
        }

        LedgerService? ledger;
        if (named.IsEmpty)
        {
            ledger = _ledgers.Default;
            if (ledger is null && IsNodeStatus(context.Request.Path.Value ?? string.Empty))
            {
                await next(context).ConfigureAwait(false); // the node's own status, with no ledger to speak for
                return;
            }

            if (ledger is null)
            {
                await AclResponses.Error(context, AclErrors.LedgerNotFound,
                    $"This node serves no ledger 'default'; name a ledger by its host name ({{name}}{_suffix}) or path (/ledgers/{{name}}/…).").ConfigureAwait(false);
                return;
            }
        }
        else if (!_ledgers.TryGet(named, out ledger))
        {
            await AclResponses.Error(context, AclErrors.LedgerNotFound, $"No ledger '{named}' here.").ConfigureAwait(false);
            return;
        }

        if (ledger.IsClosing)
        {
            await AclResponses.Error(context, AclErrors.ServiceUnavailable, $"The ledger '{ledger.Name}' is being deleted.").ConfigureAwait(false);
            return;
        }

        if (ledger.Users.Count == 0 && context.Request.Path.StartsWithSegments("/app", StringComparison.OrdinalIgnoreCase))
        {
            // Made, but its first users are not committed (or, on a backup, not applied) yet: nobody could sign in.
            context.Response.Headers.RetryAfter = "1";
            await AclResponses.Error(context, AclErrors.ServiceUnavailable, $"The ledger '{ledger.Name}' is being created; retry shortly.").ConfigureAwait(false);
            return;
        }

        context.Features.Set(ledger);
        await next(context).ConfigureAwait(false);
    }

    private static bool IsDeploymentName(string? name) => DeploymentIdentity.ServerName.Equals(name, StringComparison.OrdinalIgnoreCase);

    private static bool IsNetwork(string path) => path.Equals("/node/network", StringComparison.OrdinalIgnoreCase);

    /// <summary><c>/node/network</c> and <c>/node/health/…</c>: answered for the node itself when no ledger is named and there is no <c>default</c>.</summary>
    private static bool IsNodeStatus(string path) => IsNetwork(path) || path.StartsWith("/node/health/", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The deployment's own calls, which belong to no ledger: its members (<c>/node/join-tokens</c>, <c>/node/join</c>,
    /// <c>/node/members[/{nodeAddress}]</c>) and its ledgers (<c>/node/ledgers[/{name}[/material]]</c>).
    /// </summary>
    internal static bool IsDeploymentEndpoint(string path)
    {
        var span = path.AsSpan().TrimEnd('/');
        if (span.Equals("/node/join-tokens", StringComparison.OrdinalIgnoreCase) || span.Equals("/node/join", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        foreach (var (root, depth) in (ReadOnlySpan<(string, int)>)[("/node/members", 1), ("/node/ledgers", 2)])
        {
            if (span.StartsWith(root, StringComparison.OrdinalIgnoreCase) && (span.Length == root.Length || span[root.Length] == '/'))
            {
                var rest = span[root.Length..];
                return rest.Count('/') <= depth && (depth == 1 || rest.Count('/') < 2 || rest.EndsWith("/material", StringComparison.OrdinalIgnoreCase));
            }
        }

        return false;
    }

    /// <summary>Merges a ledger name given one more way: false when both name one and they differ.</summary>
    private static bool Agree(ref ReadOnlySpan<char> named, ReadOnlySpan<char> other)
    {
        if (other.IsEmpty)
        {
            return true;
        }

        if (named.IsEmpty)
        {
            named = other;
            return true;
        }

        return named.Equals(other, StringComparison.OrdinalIgnoreCase);
    }
}
