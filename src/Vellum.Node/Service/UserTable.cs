using Vellum.Core.Entries;
using Vellum.Core.Identity;

namespace Vellum.Node.Service;

/// <summary>
/// Users and their roles, and the roles the ledger defines (user-defined roles, <c>/app/roles</c>): the state left by
/// replaying every user-management transaction in seqno order. Reads are lock-free on immutable snapshots; changes
/// are applied once durable.
/// </summary>
/// <remarks>
/// A change that takes roles away counts from the moment it is being written, not from when it is durable:
/// <see cref="BeginChange"/> publishes it as pending, and while it is, <see cref="RolesOf"/> answers the roles the
/// user holds both before and after it (and a role definition being written, the actions the role allows both
/// before and after it). So a revoked caller is refused as soon as its revocation is sequenced, and a grant takes
/// effect only once durable. <see cref="Version"/> moves on every change (pending, applied or dropped),
/// so a request authorized earlier can tell cheaply whether its roles may have changed since.
/// </remarks>
public sealed class UserTable
{
    private readonly Lock _lock = new();
    private volatile Dictionary<string, string[]> _users = new(StringComparer.Ordinal);
    private volatile Dictionary<string, RoleDefinitionEntry> _roles = new(StringComparer.OrdinalIgnoreCase);
    private volatile PendingChange? _pending;
    private volatile RoleDefinitionEntry? _pendingRole;
    private long _version;

    /// <summary>Number of users.</summary>
    public int Count => _users.Count;

    /// <summary>Moves on every change; read it before <see cref="RolesOf"/> to know later whether the roles read may be stale.</summary>
    public long Version => Interlocked.Read(ref _version);

    /// <summary>The roles of <paramref name="userId"/> (normalized), or an empty list; less any a pending change takes away.</summary>
    public IReadOnlyList<string> RolesOf(string userId)
    {
        IReadOnlyList<string> roles = _users.TryGetValue(userId, out var held) ? held : [];
        return _pending is { } pending && pending.UserId == userId ? roles.Where(pending.Roles.Contains).ToArray() : roles;
    }

    /// <summary>Every user and roles, ordered by id.</summary>
    public IReadOnlyList<KeyValuePair<string, string[]>> All()
    {
        var list = _users.ToList();
        list.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return list;
    }

    /// <summary>The roles the ledger defines, ordered by name.</summary>
    public IReadOnlyList<RoleDefinitionEntry> DefinedRoles()
    {
        var list = _roles.Values.ToList();
        list.Sort((a, b) => string.CompareOrdinal(a.RoleName, b.RoleName));
        return list;
    }

    /// <summary>The defined role named <paramref name="name"/> (any case), when there is one.</summary>
    public RoleDefinitionEntry? DefinedRole(string name) => _roles.GetValueOrDefault(name);

    /// <summary>
    /// Whether <paramref name="roles"/> allow <paramref name="action"/>: a built-in role as <see cref="Roles.Allows"/>
    /// says; a defined role when its actions name it (less any a definition being written takes away). A role that is
    /// neither (deleted since it was assigned) allows nothing.
    /// </summary>
    public bool Allows(IReadOnlyList<string> roles, string action)
    {
        if (Roles.Allows(roles, action))
        {
            return true;
        }

        var defined = _roles;
        if (defined.Count == 0 || !Roles.CanBeDefined(action))
        {
            return false;
        }

        var pending = _pendingRole;
        foreach (var role in roles)
        {
            if (defined.TryGetValue(role, out var definition) && definition.Actions.Contains(action) &&
                (pending is null || !string.Equals(pending.RoleName, role, StringComparison.OrdinalIgnoreCase) || pending.Actions.Contains(action)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Publishes a role definition being written (serialized with user changes by the caller).</summary>
    public void BeginRoleChange(RoleDefinitionEntry definition)
    {
        _pendingRole = definition;
        Interlocked.Increment(ref _version);
    }

    /// <summary>Ends the pending role definition: applied (see <see cref="Apply(RoleDefinitionEntry)"/>) or dropped.</summary>
    public void EndRoleChange()
    {
        _pendingRole = null;
        Interlocked.Increment(ref _version);
    }

    /// <summary>Applies a durable role definition (no actions: the role is deleted).</summary>
    public void Apply(RoleDefinitionEntry definition)
    {
        lock (_lock)
        {
            _roles = With(_roles, definition.RoleName, definition.Actions.Count == 0 ? null : definition);
            Interlocked.Increment(ref _version);
        }
    }

    /// <summary>Publishes a change being written (one at a time: user changes are serialized by the caller).</summary>
    public void BeginChange(string userId, IReadOnlyList<string> roles)
    {
        _pending = new PendingChange(userId, [.. roles]);
        Interlocked.Increment(ref _version);
    }

    /// <summary>Ends the pending change: applied (see <see cref="Apply(UserChangeEntry)"/>) or dropped because writing it failed.</summary>
    public void EndChange()
    {
        _pending = null;
        Interlocked.Increment(ref _version);
    }

    /// <summary>Applies a durable user change.</summary>
    public void Apply(UserChangeEntry change)
    {
        lock (_lock)
        {
            _users = With(_users, change.UserId, change.Roles.Count == 0 ? null : [.. change.Roles]);
            Interlocked.Increment(ref _version);
        }
    }

    /// <summary>How many users hold <paramref name="role"/> and can sign in (<see cref="CanSignIn"/>).</summary>
    public int CountSignInWithRole(string role, bool tokensAccepted) => _users.Count(u => CanSignIn(u.Key, tokensAccepted) && u.Value.Contains(role));

    /// <summary>
    /// Whether a user id names a principal that can authenticate here: a certificate fingerprint (mutual TLS) always;
    /// any other id (an object id, a token subject) only when the node accepts bearer tokens
    /// (<paramref name="tokensAccepted"/>: an identity provider is configured).
    /// </summary>
    public static bool CanSignIn(string userId, bool tokensAccepted) =>
        tokensAccepted || userId.Length == CertificateFingerprint.Length && CertificateFingerprint.TryNormalize(userId, out _);

    /// <summary>A copy of <paramref name="current"/> (same comparer) with <paramref name="key"/> set to <paramref name="value"/>, or removed when null.</summary>
    private static Dictionary<string, T> With<T>(Dictionary<string, T> current, string key, T? value)
        where T : class
    {
        var next = new Dictionary<string, T>(current, current.Comparer);
        if (value is null)
        {
            next.Remove(key);
        }
        else
        {
            next[key] = value;
        }

        return next;
    }

    private sealed record PendingChange(string UserId, string[] Roles);
}
