using System.Collections.Frozen;
using System.Text;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;

namespace Vellum.Node.Ledgers;

/// <summary>
/// The node keys a cluster retired: deployment state, changed only by committed entries of the consensus log (a
/// retirement, <see cref="EncodeRetirement"/>) or by a leader's snapshot, so every member holds the same list; kept in
/// <c>node/retired</c>, one <c>nodeId address</c> line per key (the address may be absent), and written whole,
/// durably, on each change. A retirement is for good: the list only grows, and taking in a snapshot's is a union.
/// </summary>
/// <remarks>
/// Versions before the deployment kept its own list wrote each retirement as a governance transaction of the ledger
/// <c>default</c>: <see cref="IsRetired"/> also asks that ledger's list (given to <see cref="Open"/>), and a start adds
/// what it holds to this one (<see cref="Merge"/>), so the retirements survive <c>default</c>.
/// </remarks>
public sealed class RetiredNodeList : IRetiredNodes
{
    private const byte RetirementKind = 1;
    private const int MaxAddressLength = 255;

    private readonly string _path;
    private readonly Lock _lock = new();
    private readonly Func<IRetiredNodes?> _legacy;
    private volatile FrozenDictionary<Hash32, string> _retired;

    private RetiredNodeList(string path, FrozenDictionary<Hash32, string> retired, Func<IRetiredNodes?> legacy)
    {
        _path = path;
        _retired = retired;
        _legacy = legacy;
    }

    /// <summary>How many keys are retired (not counting those only <c>default</c>'s governance names).</summary>
    public int Count => _retired.Count;

    /// <summary>Opens the list in <paramref name="path"/> (empty when there is no file yet).</summary>
    /// <exception cref="InvalidDataException">The file is damaged.</exception>
    public static RetiredNodeList Open(string path, Func<IRetiredNodes?> legacy)
    {
        var retired = File.Exists(path)
            ? Parse(File.ReadAllBytes(path)) ?? throw new InvalidDataException($"{path} is not a list of retired node keys (one 'nodeId address' per line)")
            : FrozenDictionary<Hash32, string>.Empty;
        return new RetiredNodeList(path, retired, legacy);
    }

    /// <inheritdoc />
    public bool IsRetired(in Hash32 nodeId) => _retired.ContainsKey(nodeId) || _legacy() is { } legacy && legacy.IsRetired(nodeId);

    /// <summary>The deployment change that retires <paramref name="nodeId"/> (at <paramref name="nodeAddress"/>).</summary>
    public static byte[] EncodeRetirement(Hash32 nodeId, string nodeAddress)
    {
        var address = Encoding.UTF8.GetBytes(nodeAddress);
        if (address.Length > MaxAddressLength || nodeAddress.Contains(' ', StringComparison.Ordinal) || nodeAddress.Contains('\n', StringComparison.Ordinal))
        {
            throw new ArgumentException("a node address is at most 255 bytes, without spaces or line breaks", nameof(nodeAddress));
        }

        var change = new byte[1 + Hash32.Size + address.Length];
        change[0] = RetirementKind;
        nodeId.CopyTo(change.AsSpan(1));
        address.CopyTo(change.AsSpan(1 + Hash32.Size));
        return change;
    }

    /// <summary>Applies a committed deployment change (see <see cref="EncodeRetirement"/>).</summary>
    /// <exception cref="InvalidDataException">The change is damaged, or of a kind this version does not know.</exception>
    public void Apply(ReadOnlySpan<byte> change)
    {
        if (change.Length < 1 + Hash32.Size || change[0] != RetirementKind || change.Length > 1 + Hash32.Size + MaxAddressLength)
        {
            throw new InvalidDataException("A deployment change in the consensus log is damaged, or of a kind this version does not know.");
        }

        var address = Encoding.UTF8.GetString(change[(1 + Hash32.Size)..]);
        if (address.Contains(' ', StringComparison.Ordinal) || address.Contains('\n', StringComparison.Ordinal))
        {
            throw new InvalidDataException("A node retirement in the consensus log names a malformed address.");
        }

        Add([(new Hash32(change.Slice(1, Hash32.Size)), address)]);
    }

    /// <summary>The list as it is (this file's format), for a snapshot.</summary>
    public byte[] Describe() => Format(_retired);

    /// <summary>Adds the keys a leader's snapshot names (<see cref="Describe"/>).</summary>
    /// <exception cref="InvalidDataException">The snapshot's list is damaged.</exception>
    public void Restore(ReadOnlySpan<byte> state)
    {
        var named = Parse(state) ?? throw new InvalidDataException("The retired node keys in the leader's snapshot are damaged.");
        Add([.. named.Select(p => (p.Key, p.Value))]);
    }

    /// <summary>Adds keys retired elsewhere (the ledger <c>default</c>'s governance, before this list existed).</summary>
    public void Merge(IEnumerable<Hash32> nodeIds) => Add([.. nodeIds.Select(id => (id, string.Empty))]);

    private void Add(IReadOnlyList<(Hash32 NodeId, string Address)> added)
    {
        lock (_lock)
        {
            var current = _retired;
            if (added.All(a => current.ContainsKey(a.NodeId)))
            {
                return;
            }

            var next = new Dictionary<Hash32, string>(current);
            foreach (var (nodeId, address) in added)
            {
                next.TryAdd(nodeId, address);
            }

            var frozen = next.ToFrozenDictionary();
            Vellum.Storage.IO.Durability.WriteFileAtomic(_path, Format(frozen));
            _retired = frozen;
        }
    }

    private static byte[] Format(FrozenDictionary<Hash32, string> retired)
    {
        var text = new StringBuilder();
        foreach (var (nodeId, address) in retired.OrderBy(p => p.Key.ToString(), StringComparer.Ordinal))
        {
            text.Append(nodeId.ToString());
            if (address.Length > 0)
            {
                text.Append(' ').Append(address);
            }

            text.Append('\n');
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static FrozenDictionary<Hash32, string>? Parse(ReadOnlySpan<byte> bytes)
    {
        var retired = new Dictionary<Hash32, string>();
        foreach (var line in Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            var id = space < 0 ? line : line[..space];
            if (!Hash32.TryParseHex(id, out var nodeId))
            {
                return null;
            }

            retired[nodeId] = space < 0 ? string.Empty : line[(space + 1)..];
        }

        return retired.ToFrozenDictionary();
    }
}
