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

    /// <summary>Reader, Contributor and Administrator read.</summary>
    public static bool CanRead(IReadOnlyList<string> roles) => roles.Count > 0;

    /// <summary>Contributor and Administrator write entries.</summary>
    public static bool CanWrite(IReadOnlyList<string> roles) => roles.Contains(Contributor) || roles.Contains(Administrator);

    /// <summary>Administrator manages users.</summary>
    public static bool CanManageUsers(IReadOnlyList<string> roles) => roles.Contains(Administrator);

    /// <summary>
    /// Whether <paramref name="roles"/> allow a ledger action (<c>Auth.LedgerActions</c>): every role reads entries and
    /// users; Contributor and Administrator write entries; Administrator manages users, the cluster's members and (through `default`) the deployment's ledgers.
    /// An unknown action is allowed to no one.
    /// </summary>
    public static bool Allows(IReadOnlyList<string> roles, string action) => action switch
    {
        Auth.LedgerActions.EntriesRead or Auth.LedgerActions.UsersRead => CanRead(roles),
        Auth.LedgerActions.EntriesWrite => CanWrite(roles),
        Auth.LedgerActions.UsersWrite or Auth.LedgerActions.MembersWrite or Auth.LedgerActions.LedgersWrite or Auth.LedgerActions.LedgersRead or Auth.LedgerActions.LedgersDelete => CanManageUsers(roles),
        _ => false,
    };
}
