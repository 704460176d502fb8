using Vellum.Core.Entries;

namespace Vellum.Node.Service;

/// <summary>
/// Users and their roles: the state left by replaying every user-management transaction in seqno order.
/// Reads are lock-free on an immutable snapshot; changes are applied once durable.
/// </summary>
public sealed class UserTable
{
    private readonly Lock _lock = new();
    private volatile Dictionary<string, string[]> _users = new(StringComparer.Ordinal);

    /// <summary>Number of users.</summary>
    public int Count => _users.Count;

    /// <summary>The roles of <paramref name="userId"/> (normalized), or an empty list.</summary>
    public IReadOnlyList<string> RolesOf(string userId) => _users.TryGetValue(userId, out var roles) ? roles : [];

    /// <summary>Every user and roles, ordered by id.</summary>
    public IReadOnlyList<KeyValuePair<string, string[]>> All()
    {
        var list = _users.ToList();
        list.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return list;
    }

    /// <summary>Applies a durable user change.</summary>
    public void Apply(UserChangeEntry change)
    {
        lock (_lock)
        {
            var next = new Dictionary<string, string[]>(_users, StringComparer.Ordinal);
            if (change.Roles.Count == 0)
            {
                next.Remove(change.UserId);
            }
            else
            {
                next[change.UserId] = [.. change.Roles];
            }

            _users = next;
        }
    }

    /// <summary>Ids of users holding <paramref name="role"/>.</summary>
    public int CountWithRole(string role) => _users.Values.Count(r => r.Contains(role));
}
