using System.Collections.Frozen;
using Vellum.Core.Entries;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;
using Vellum.Storage.Indexing;
using Vellum.Storage.Ledger;

namespace Vellum.Node.Service;

/// <summary>
/// The retired node keys: the state left by replaying a ledger's node retirements (<see cref="NodeRetirementEntry"/>)
/// in seqno order. The deployment keeps them in the ledger <c>default</c>, so every member applies the same list and
/// a restart rebuilds it from the ledger. Lock-free reads of an immutable set, brought up to date from the store
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
