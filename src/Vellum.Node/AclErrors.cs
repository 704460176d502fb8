namespace Vellum.Node;

/// <summary>One error the data plane answers: its HTTP status and its code in <c>{"error":{"code","message"}}</c>.</summary>
public readonly record struct AclError(int Status, string Code);

/// <summary>
/// Every error the data plane answers, each with its one status: an endpoint, a service or a middleware names an entry
/// here and adds a message (<see cref="Endpoints.AclResponses.Error"/>), so a code comes with one status (but
/// <see cref="BadRequest"/>, which keeps the 4xx Kestrel chose), and docs/api-compatibility.md lists exactly these (a
/// test compares them). Codes are ACL's and CCF's where they have one for the case; Vellum's own say so.
/// </summary>
public static class AclErrors
{
    // 400: the request itself.
    public static readonly AclError InvalidInput = new(400, "InvalidInput");
    public static readonly AclError InvalidQueryParameterValue = new(400, "InvalidQueryParameterValue");
    public static readonly AclError MissingApiVersionParameter = new(400, "MissingApiVersionParameter");
    public static readonly AclError UnsupportedApiVersionValue = new(400, "UnsupportedApiVersionValue");
    public static readonly AclError UnsupportedContentType = new(400, "UnsupportedContentType");
    public static readonly AclError InvalidUserId = new(400, "InvalidUserId");
    public static readonly AclError EntrySizeCapacityExceeded = new(400, "EntrySizeCapacityExceeded");
    public static readonly AclError CollectionIdTooLong = new(400, "CollectionIdTooLong");
    public static readonly AclError CollectionCapacityExceeded = new(400, "CollectionCapacityExceeded");
    public static readonly AclError TagCapacityExceeded = new(400, "TagCapacityExceeded");
    public static readonly AclError CannotRemoveLastAdministrator = new(400, "CannotRemoveLastAdministrator");

    /// <summary>Vellum's: a membership call to a node that is not a cluster member.</summary>
    public static readonly AclError NotACluster = new(400, "NotACluster");

    /// <summary>Another 4xx Kestrel found while reading the request (414, 431, …: no more specific code), with Kestrel's status.</summary>
    public static readonly AclError BadRequest = new(400, "BadRequest");

    // 401 and 403: who is calling.
    public static readonly AclError InvalidAuthenticationInfo = new(401, "InvalidAuthenticationInfo");

    /// <summary>Vellum's: a join request whose token is not valid.</summary>
    public static readonly AclError InvalidJoinToken = new(401, "InvalidJoinToken");

    public static readonly AclError NotAllowed = new(403, "NotAllowed");

    /// <summary>Vellum's: a write naming a forwarded user from a caller that is not a member node.</summary>
    public static readonly AclError ForwardedUserNotAllowed = new(403, "ForwardedUserNotAllowed");

    /// <summary>Vellum's: a member-only call (ledger frames) from a certificate that is not a member's.</summary>
    public static readonly AclError Forbidden = new(403, "Forbidden");

    /// <summary>Vellum's: a membership call on a ledger other than <c>default</c>.</summary>
    public static readonly AclError MembershipNotManagedHere = new(403, "MembershipNotManagedHere");

    /// <summary>Vellum's: a call to make or list ledgers on a ledger other than <c>default</c>.</summary>
    public static readonly AclError LedgersNotManagedHere = new(403, "LedgersNotManagedHere");

    // 404 to 421: what the request names.
    public static readonly AclError TransactionNotFound = new(404, "TransactionNotFound");
    public static readonly AclError UserNotFound = new(404, "UserNotFound");

    /// <summary>Vellum's: a user-defined role the ledger does not define.</summary>
    public static readonly AclError RoleNotFound = new(404, "RoleNotFound");
    public static readonly AclError LedgerNotFound = new(404, "LedgerNotFound");
    public static readonly AclError ResourceNotFound = new(404, "ResourceNotFound");
    public static readonly AclError MethodNotAllowed = new(405, "MethodNotAllowed");
    public static readonly AclError RequestTimeout = new(408, "RequestTimeout");

    /// <summary>Vellum's: a membership change that did not happen (not a member, or another change in progress).</summary>
    public static readonly AclError MembershipChangeFailed = new(409, "MembershipChangeFailed");

    /// <summary>Vellum's: a ledger name that is taken (names are unique across the deployment, in any case).</summary>
    public static readonly AclError LedgerExists = new(409, "LedgerExists");

    /// <summary>Vellum's: a deletion of the ledger <c>default</c>, through which the deployment's members and ledgers are managed.</summary>
    public static readonly AclError LedgerNotDeletable = new(409, "LedgerNotDeletable");

    /// <summary>Vellum's: a member asked for the material of a ledger that was deleted since.</summary>
    public static readonly AclError LedgerDeleted = new(410, "LedgerDeleted");

    public static readonly AclError RequestBodyTooLarge = new(413, "RequestBodyTooLarge");
    public static readonly AclError MisdirectedRequest = new(421, "MisdirectedRequest");

    // 5xx: the node.
    public static readonly AclError InternalError = new(500, "InternalError");
    public static readonly AclError ServiceUnavailable = new(503, "ServiceUnavailable");

    /// <summary>Every entry above.</summary>
    public static IReadOnlyList<AclError> All { get; } =
    [
        InvalidInput, InvalidQueryParameterValue, MissingApiVersionParameter, UnsupportedApiVersionValue, UnsupportedContentType,
        InvalidUserId, EntrySizeCapacityExceeded, CollectionIdTooLong, CollectionCapacityExceeded, TagCapacityExceeded,
        CannotRemoveLastAdministrator, NotACluster, BadRequest, InvalidAuthenticationInfo, InvalidJoinToken, NotAllowed,
        ForwardedUserNotAllowed, Forbidden, MembershipNotManagedHere, LedgersNotManagedHere, TransactionNotFound, UserNotFound, RoleNotFound, LedgerNotFound,
        ResourceNotFound, MethodNotAllowed, RequestTimeout, MembershipChangeFailed, LedgerExists, LedgerNotDeletable, LedgerDeleted, RequestBodyTooLarge,
        MisdirectedRequest,
        InternalError, ServiceUnavailable,
    ];

    /// <summary>The entry for a refusal known only by its status (Kestrel's request errors, the status-code pages).</summary>
    public static AclError ForStatus(int status) => status switch
    {
        400 => InvalidInput,
        404 => ResourceNotFound,
        405 => MethodNotAllowed,
        408 => RequestTimeout,
        413 => RequestBodyTooLarge,
        503 => ServiceUnavailable,
        >= 500 => InternalError,
        _ => BadRequest with { Status = status },
    };
}
