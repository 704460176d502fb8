namespace Vellum.Node.Service;

/// <summary>The built-in roles and what each may do.</summary>
public static class Roles
{
    public const string Administrator = "Administrator";
    public const string Contributor = "Contributor";
    public const string Reader = "Reader";

    /// <summary>The role names accepted in <c>assignedRole</c> / <c>assignedRoles</c>, as ACL spells them.</summary>
    public static bool TryNormalize(string? name, out string role)
    {
        role = name switch
        {
            Administrator => Administrator,
            Contributor => Contributor,
            Reader => Reader,
            _ => string.Empty,
        };
        return role.Length > 0;
    }

    /// <summary>Whether <paramref name="name"/> is a built-in role's, in any case (none can be defined under it).</summary>
    public static bool IsBuiltIn(string name) =>
        string.Equals(name, Administrator, StringComparison.OrdinalIgnoreCase) || string.Equals(name, Contributor, StringComparison.OrdinalIgnoreCase) ||
        string.Equals(name, Reader, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The actions a user-defined role can allow that Vellum enforces (ACL's role actions). A role may name others
    /// (applications name their own), which Vellum keeps but does not enforce; Vellum's own actions (members,
    /// ledgers) are the built-in Administrator's alone.
    /// </summary>
    public static IReadOnlyList<string> EnforcedActions { get; } =
    [
        Auth.LedgerActions.EntriesRead, Auth.LedgerActions.EntriesWrite, Auth.LedgerActions.UsersRead, Auth.LedgerActions.UsersWrite,
        Auth.LedgerActions.RolesRead, Auth.LedgerActions.RolesWrite,
    ];

    /// <summary>Whether a user-defined role can allow <paramref name="action"/> (see <see cref="EnforcedActions"/>).</summary>
    public static bool CanBeDefined(string action) => EnforcedActions.Contains(action);

    /// <summary>Reader, Contributor and Administrator read.</summary>
    public static bool CanRead(IReadOnlyList<string> roles) => roles.Contains(Reader) || roles.Contains(Contributor) || roles.Contains(Administrator);

    /// <summary>Contributor and Administrator write entries.</summary>
    public static bool CanWrite(IReadOnlyList<string> roles) => roles.Contains(Contributor) || roles.Contains(Administrator);

    /// <summary>Administrator manages users.</summary>
    public static bool CanManageUsers(IReadOnlyList<string> roles) => roles.Contains(Administrator);

    /// <summary>
    /// Whether <paramref name="roles"/> allow a ledger action (<c>Auth.LedgerActions</c>): every role reads entries and
    /// users; Contributor and Administrator write entries; Administrator manages users (the deployment's members and ledgers are its operators', not a ledger role's).
    /// An unknown action is allowed to no one.
    /// </summary>
    public static bool Allows(IReadOnlyList<string> roles, string action) => action switch
    {
        Auth.LedgerActions.EntriesRead or Auth.LedgerActions.UsersRead or Auth.LedgerActions.RolesRead => CanRead(roles),
        Auth.LedgerActions.RolesWrite => CanManageUsers(roles),
        Auth.LedgerActions.EntriesWrite => CanWrite(roles),
        Auth.LedgerActions.UsersWrite => CanManageUsers(roles),
        _ => false,
    };
}
