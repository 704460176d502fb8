using System.Collections.Frozen;
using Vellum.Core.Entries;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;
using Vellum.Storage.Indexing;
using Vellum.Storage.Ledger;

namespace Vellum.Node.Service;

/// <summary>
/// The retired node keys a ledger's governance names: the state left by replaying its node retirements
/// (<see cref="NodeRetirementEntry"/>) in seqno order. Versions before the deployment kept its own list
/// (<see cref="Ledgers.RetiredNodeList"/>) wrote each retirement so into the ledger <c>default</c>; this version writes
/// none, and reads those into the deployment's list. Lock-free reads of an immutable set, brought up to date from the store
/// whenever a governance transaction was applied since the last look (on every member alike, whoever sequenced it).
/// </summary>
public sealed class RetiredNodeTable : IRetiredNodes
{
    private readonly LedgerStore _store;
    private readonly Lock _lock = new();
    private volatile FrozenSet<Hash32> _retired = FrozenSet<Hash32>.Empty;
    private long _appliedTo;

    /// <summary>A table over <paramref name="store"/>'s governance transactions.</summary>
    public RetiredNodeTable(LedgerStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
    }

    /// <summary>Retired node ids, as of the store's last applied governance transaction.</summary>
    public int Count => Current.Count;

    /// <inheritdoc />
    public bool IsRetired(in Hash32 nodeId) => Current.Contains(nodeId);

    /// <summary>The retired node ids, as of the store's last applied governance transaction.</summary>
    public IReadOnlyCollection<Hash32> Ids => Current;

    private FrozenSet<Hash32> Current
    {
        get
        {
            if (Volatile.Read(ref _appliedTo) < _store.LastGovernanceSeqno)
            {
                Replay();
            }

            return _retired;
        }
    }

    private void Replay()
    {
        lock (_lock)
        {
            var target = _store.LastGovernanceSeqno;
            var from = Volatile.Read(ref _appliedTo);
            if (from >= target)
            {
                return;
            }

            var retired = new HashSet<Hash32>(_retired);
            foreach (var (seqno, body, header) in _store.ReadPosted(LedgerIndex.GovernanceKind, from, target))
            {
                if (!NodeRetirementEntry.TryDecode(body, header, out var entry, out var error))
                {
                    throw new LedgerCorruptException($"governance transaction {seqno} is malformed: {error}");
                }

                retired.Add(entry!.NodeId);
            }

            _retired = retired.ToFrozenSet();
            Volatile.Write(ref _appliedTo, target);
        }
    }
}
