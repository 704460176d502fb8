using System.Collections.Concurrent;
using Vellum.Consensus;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;
using Vellum.Storage.Ledger;
using Vellum.Node.Service;
using Vellum.Storage;

namespace Vellum.Node.Ledgers;

/// <summary>No ledger of that name is served here.</summary>
public sealed class LedgerNotFoundException(string message) : InvalidOperationException(message);

/// <summary>The ledger cannot be deleted (<c>default</c>, which carries the node channel and the deployment's management).</summary>
public sealed class LedgerNotDeletableException(string message) : InvalidOperationException(message);

/// <summary>
/// Deleting a ledger while the node runs, for good. The ledger stops taking requests (503) and waits, briefly, for the
/// writes it took to be signed; then every node that serves it keeps a <see cref="LedgerTombstone"/>, moves its folder
/// out of <c>ledgers/</c> with one rename, closes it and erases the folder, secrets first. On a single node that is
/// done at once, and the node log moves to a new segment so that none of its batches stay there; on a cluster it is
/// done by every member when it applies the deletion entry the primary proposes
/// (<see cref="ConsensusGroup.ProposeLedgerDeletionAsync"/>, whose description is the tombstone): a member that was down
/// does it when it catches up, and one that replays the log finds the tombstone and skips the ledger's entries. Since
/// each copy of the ledger's batches in a consensus log is sealed under a key derived from its secret, which never
/// enters a log, no readable copy stays anywhere. The name is free again.
/// </summary>
public sealed partial class LedgerRegistry
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<LedgerTombstone>> _awaitedDeletions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task> _erasures = new(StringComparer.Ordinal);
    private volatile bool _rollOwed;

    /// <summary>How long a deletion waits for the ledger's last writes to be signed before it goes on without them.</summary>
    private static readonly TimeSpan QuiesceTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Deletes ledger <paramref name="name"/> for good (see the type) and returns what is kept of it: on a single node at
    /// once; on a cluster through the consensus log (primary only), returning once this member has deleted it.
    /// </summary>
    /// <param name="name">The ledger.</param>
    /// <param name="deletedBy">The caller's user id, kept in the tombstone.</param>
    /// <param name="cancellationToken">Cancels the wait (a committed deletion happens anyway).</param>
    /// <exception cref="LedgerNotFoundException">No such ledger is served here.</exception>
    /// <exception cref="LedgerNotDeletableException">The ledger <c>default</c> of a deployment that adopted its service key as its identity.</exception>
    /// <exception cref="NotPrimaryException">A cluster member that is not the primary (a write like any other).</exception>
    public async Task<LedgerTombstone> DeleteAsync(LedgerName name, string deletedBy, CancellationToken cancellationToken)
    {
        if (name == LedgerName.Default && Identity is { } identity && _default is { } adopted &&
            identity.Service.Certificate.RawDataMemory.Span.SequenceEqual(adopted.Service.Certificate.RawDataMemory.Span))
        {
            throw new LedgerNotDeletableException(
                "The ledger 'default' cannot be deleted here: this deployment adopted its service key as the deployment identity when the cluster " +
                "was upgraded from a version without one, and that key endorses every member's node channel, so deleting 'default' would not destroy it.");
        }

        await _creating.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!TryGet(name.Value, out var ledger) || ledger.IsClosing)
            {
                throw new LedgerNotFoundException($"No ledger '{name}' here.");
            }

            if (_group is not null)
            {
                await EnsureReadyLeaderAsync(cancellationToken).ConfigureAwait(false);
            }

            await QuiesceAsync(ledger, cancellationToken).ConfigureAwait(false);
            var tombstone = ledger.Tombstone(deletedBy, DateTimeOffset.UtcNow);
            if (_group is not null)
            {
                return await DeleteReplicatedAsync(ledger, tombstone, cancellationToken).ConfigureAwait(false);
            }

            // A single node: closed first, so that its files are complete and its node-log member drained. A crash
            // once the tombstone is kept finishes the deletion at the next start.
            Remove(ledger);
            await ledger.DisposeAsync().ConfigureAwait(false);
            _data.KeepTombstone(_data.TombstoneFile(name, tombstone.ServiceCertificateDigest.ToString()), tombstone.ToJson());
            if (_data.Bury(name) is { } buried)
            {
                _data.Erase(buried);
            }

            LogMessages.LedgerDeleted(_logger, name.Value, tombstone.LastSigned.ToString(), tombstone.DeletedBy);
            await RollNodeLogAsync().ConfigureAwait(false);
            return tombstone;
        }
        finally
        {
            _creating.Release();
        }
    }

    /// <summary>
    /// After a deletion, the node log's segments may still hold the deleted ledger's batches (sealed under a key nobody
    /// has now): a ledger made later under that name would find them at the next start and fail to open them. Moving to
    /// a new segment drops them; until that has worked, no ledger is made.
    /// </summary>
    private async Task RollNodeLogAsync()
    {
        if (_nodeLog is null)
        {
            return;
        }

        _rollOwed = true;
        await _nodeLog.RollAsync().ConfigureAwait(false);
        _rollOwed = false;
    }

    /// <summary>Stops the ledger taking requests, then waits (bounded) until a signature covers the writes it took.</summary>
    private static async Task QuiesceAsync(LedgerService ledger, CancellationToken cancellationToken)
    {
        ledger.BeginClosing();
        if (!ledger.IsPrimary)
        {
            return;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(QuiesceTimeout);
        try
        {
            await ledger.Sequencer.WaitForCommitAsync(ledger.Sequencer.LastSeqno, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The tombstone records what was signed by now; the rest is deleted with the ledger.
        }
    }

    private async Task<LedgerTombstone> DeleteReplicatedAsync(LedgerService ledger, LedgerTombstone tombstone, CancellationToken cancellationToken)
    {
        var name = ledger.Name.Value;
        var awaited = _awaitedDeletions.GetOrAdd(name, _ => new TaskCompletionSource<LedgerTombstone>(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(CreationTimeout);
            try
            {
                await _group!.ProposeLedgerDeletionAsync(name, tombstone.Encode(), timeout.Token).ConfigureAwait(false);
            }
            catch (ConsensusNotLeaderException ex)
            {
                throw new NotPrimaryException(ex.Message, ex);
            }

            return await awaited.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch when (!awaited.Task.IsCompleted && TryGet(name, out var still) && ReferenceEquals(still, ledger))
        {
            // Not deleted here (yet): the ledger serves again. A deletion that commits later still deletes it everywhere.
            ledger.EndClosing();
            throw;
        }
        finally
        {
            _awaitedDeletions.TryRemove(new KeyValuePair<string, TaskCompletionSource<LedgerTombstone>>(name, awaited));
        }
    }

    /// <inheritdoc />
    ValueTask<bool> IGroupLedgers.DeleteLedgerAsync(string name, ReadOnlyMemory<byte> description, CancellationToken token)
    {
        if (!LedgerName.TryParse(name, out var ledgerName, out var nameError) || ledgerName.Value != name)
        {
            throw new InvalidDataException($"The consensus log deletes a ledger named '{name}': {nameError ?? "not in its canonical form"}.");
        }

        if (!LedgerTombstone.TryDecode(name, description.Span, out var tombstone, out var error))
        {
            throw new InvalidDataException($"The consensus log's deletion of the ledger '{name}' is damaged: {error}.");
        }

        var file = _data.TombstoneFile(ledgerName, tombstone.ServiceCertificateDigest.ToString());
        if (!TryGet(name, out var ledger) || LedgerCreation.DigestOf(ledger.Service.Certificate) != tombstone.ServiceCertificateDigest)
        {
            // Deleted here already (a replay), never opened here, or an earlier ledger of the name: keep the record only.
            if (!File.Exists(file))
            {
                _data.KeepTombstone(file, tombstone.ToJson());
            }

            return ValueTask.FromResult(false);
        }

        Forget(ledger, tombstone, file);
        return ValueTask.FromResult(true);
    }

    /// <inheritdoc />
    async ValueTask<bool> IGroupLedgers.ForgetIfDeletedAsync(string name, CancellationToken token)
    {
        if (!TryGet(name, out var ledger))
        {
            return false;
        }

        var digest = LedgerCreation.DigestOf(ledger.Service.Certificate);
        var (deleted, tombstone) = await DeletedAtMembersAsync(ledger.Name, digest, token).ConfigureAwait(false);
        if (!deleted)
        {
            return false;
        }

        // The deletion's own tombstone, from the member that kept it; one made here only if that member sent none.
        tombstone = tombstone is not null && tombstone.Name == name && tombstone.ServiceCertificateDigest == digest
            ? tombstone
            : ledger.Tombstone("unknown (deleted while this member was away)", DateTimeOffset.UtcNow);
        Forget(ledger, tombstone, _data.TombstoneFile(ledger.Name, digest.ToString()));
        return true;
    }

    /// <summary>
    /// Deletes a served ledger on the apply path: the tombstone is kept and the ledger leaves the lookups now; it closes,
    /// and its folder is buried and erased, off this path, since closing waits for its batches in flight, which are
    /// applied (skipped) after this entry. A crash before the folder is buried finishes the deletion at the next start
    /// (a folder with a tombstone of its own is not served); a creation of the name waits for the erasure (see
    /// OpenLedgerAsync).
    /// </summary>
    private void Forget(LedgerService ledger, LedgerTombstone tombstone, string file)
    {
        var ledgerName = ledger.Name;
        var name = ledgerName.Value;
        ledger.BeginClosing();
        Remove(ledger);
        _data.KeepTombstone(file, tombstone.ToJson());
        LogMessages.LedgerDeleted(_logger, name, tombstone.LastSigned.ToString(), tombstone.DeletedBy);
        var erasure = Task.Run(async () =>
        {
            try
            {
                await ledger.DisposeAsync().ConfigureAwait(false);
                if (_data.Bury(ledgerName) is { } buried)
                {
                    _data.Erase(buried);
                }

                if (_awaitedDeletions.TryGetValue(name, out var awaited))
                {
                    awaited.TrySetResult(tombstone);
                }
            }
            catch (Exception ex)
            {
                // The next start erases what is left in node/deleting/.
                LogMessages.LedgerErasureFailed(_logger, name, ex);
                if (_awaitedDeletions.TryGetValue(name, out var awaited))
                {
                    awaited.TrySetException(ex);
                }
            }
        }, CancellationToken.None);
        _erasures[name] = erasure;
    }

    /// <summary>Takes a ledger out of the lookups and <see cref="All"/>.</summary>
    private void Remove(LedgerService ledger)
    {
        lock (_addLock)
        {
            if (_byName.TryRemove(new KeyValuePair<string, LedgerService>(ledger.Name.Value, ledger)))
            {
                _all = [.. _all.Where(l => !ReferenceEquals(l, ledger))];
                if (ReferenceEquals(_default, ledger))
                {
                    _default = null;
                }
            }
        }
    }

    /// <summary>Whether the ledger <paramref name="name"/> whose certificate has <paramref name="digest"/> was deleted here.</summary>
    internal bool IsDeleted(LedgerName name, Hash32 digest) => File.Exists(_data.TombstoneFile(name, digest.ToString()));

    /// <summary>The tombstone kept here of the ledger <paramref name="name"/> whose certificate has <paramref name="digest"/>; null if none (or unreadable).</summary>
    internal LedgerTombstone? TombstoneOf(LedgerName name, Hash32 digest)
    {
        var file = _data.TombstoneFile(name, digest.ToString());
        try
        {
            return File.Exists(file) ? LedgerTombstone.FromJson(File.ReadAllBytes(file)) : null;
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException)
        {
            LogMessages.TombstoneUnreadable(_logger, file, ex);
            return null;
        }
    }

    /// <summary>Whether a ledger once named <paramref name="name"/> was deleted here and none of the name is served or being made.</summary>
    internal bool IsDeleted(LedgerName name) => !TryGet(name.Value, out _) && !_data.Staged(name).Exists && _data.TombstoneFiles(name).Count > 0;

    /// <summary>What is kept of every ledger deleted here, by name then certificate (unreadable files are skipped and logged).</summary>
    public IReadOnlyList<LedgerTombstone> Tombstones() => ReadTombstones(_data.AllTombstoneFiles());

    /// <summary>
    /// What is kept of the ledgers once named <paramref name="name"/> (any case; none for a name that is not a ledger
    /// name): only their files are read.
    /// </summary>
    public IReadOnlyList<LedgerTombstone> Tombstones(string name) =>
        LedgerName.TryParse(name, out var parsed, out _) ? ReadTombstones(_data.TombstoneFiles(parsed)) : [];

    private List<LedgerTombstone> ReadTombstones(IReadOnlyList<string> files)
    {
        var tombstones = new List<LedgerTombstone>(files.Count);
        foreach (var file in files)
        {
            try
            {
                tombstones.Add(LedgerTombstone.FromJson(File.ReadAllBytes(file)));
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException)
            {
                LogMessages.TombstoneUnreadable(_logger, file, ex);
            }
        }

        return tombstones;
    }

    /// <summary>Waits for the erasures of ledgers deleted on the apply path (on dispose).</summary>
    private async Task WaitForErasuresAsync() =>
        await Task.WhenAll(_erasures.Values).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

    /// <summary>
    /// Before a ledger named <paramref name="name"/> is made here: waits until the folder of the one deleted under that
    /// name last is gone (its erasure runs off the apply path, and the new one takes the same folder).
    /// </summary>
    private async Task WaitForErasureAsync(string name)
    {
        if (_erasures.TryRemove(name, out var erasure))
        {
            await erasure.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>
    /// At start: finishes the deletions a stop cut short — erases what is in <c>node/deleting/</c>, and buries each
    /// ledger folder whose own tombstone is kept (deleted, but stopped before its folder left <c>ledgers/</c>).
    /// </summary>
    private static void FinishDeletions(DataDirectory data)
    {
        data.FinishDeletions();
        var tombstones = data.AllTombstoneFiles();
        if (tombstones.Count == 0)
        {
            return;
        }

        foreach (var name in data.LedgerNames())
        {
            var folder = data.Ledger(name);
            if (tombstones.Any(t => Path.GetFileName(t).StartsWith(name.Value + ".", StringComparison.Ordinal)) &&
                File.Exists(data.TombstoneFile(name, LedgerCreation.DigestOf(File.ReadAllText(folder.ServiceCertificate)).ToString())) &&
                data.Bury(name) is { } buried)
            {
                data.Erase(buried);
            }
        }
    }
}
