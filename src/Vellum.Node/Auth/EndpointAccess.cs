using Microsoft.AspNetCore.Http;

namespace Vellum.Node.Auth;

/// <summary>How the caller of an endpoint proves who it is.</summary>
internal enum CallerProof
{
    /// <summary>A client certificate in the user table (or a member node naming such a user); the middleware checks it.</summary>
    User,

    /// <summary>Nothing: anyone may call (health, network, the identity service, the OpenAPI document, 404/405 answers).</summary>
    None,

    /// <summary>A join token in the body, which the endpoint checks itself.</summary>
    JoinToken,

    /// <summary>A node certificate endorsed by the service identity, which the endpoint checks itself.</summary>
    NodeCertificate,

    /// <summary>An operator of the deployment (<see cref="Management.DeploymentOperators"/>); the middleware checks it.</summary>
    Operator,
}

/// <summary>
/// Endpoint metadata saying what is checked before the endpoint runs: the caller (<see cref="Proof"/>) and the
/// <c>api-version</c> parameter. Every endpoint the node maps carries one, and the api-version and identity middleware
/// run after routing and read it from the endpoint that matched: the check and the route cannot disagree about a path,
/// whatever its spelling (routing ignores case). An endpoint without one is treated as <see cref="DataPlane"/>: a
/// forgotten declaration fails closed.
/// </summary>
internal sealed record EndpointAccess(CallerProof Proof, bool NeedsApiVersion)
{
    /// <summary>ACL's data plane (<c>/app/…</c>): an authenticated user and an api-version.</summary>
    public static readonly EndpointAccess DataPlane = new(CallerProof.User, NeedsApiVersion: true);

    /// <summary>Vellum's own calls for an authenticated user (an Administrator's membership calls): no api-version.</summary>
    public static readonly EndpointAccess User = new(CallerProof.User, NeedsApiVersion: false);

    /// <summary>Open to anyone.</summary>
    public static readonly EndpointAccess Open = new(CallerProof.None, NeedsApiVersion: false);

    /// <summary>Authenticated by a join token the endpoint checks.</summary>
    public static readonly EndpointAccess JoinToken = new(CallerProof.JoinToken, NeedsApiVersion: false);

    /// <summary>The deployment's own calls for its operators (its members and ledgers): no api-version.</summary>
    public static readonly EndpointAccess Operator = new(CallerProof.Operator, NeedsApiVersion: false);

    /// <summary>Authenticated by an endorsed node certificate the endpoint checks.</summary>
    public static readonly EndpointAccess NodeCertificate = new(CallerProof.NodeCertificate, NeedsApiVersion: false);

    /// <summary>What the endpoint routing chose for the request asks for; <see cref="DataPlane"/> when it says nothing.</summary>
    public static EndpointAccess Of(HttpContext context) => Of(context.GetEndpoint());

    /// <summary>What <paramref name="endpoint"/> declared; the data plane when it declared nothing (or there is none).</summary>
    public static EndpointAccess Of(Endpoint? endpoint) => endpoint?.Metadata.GetMetadata<EndpointAccess>() ?? DataPlane;
}
