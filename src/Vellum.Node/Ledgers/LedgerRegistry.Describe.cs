using Vellum.Consensus;
using Vellum.Node.Management;
using Vellum.Storage.Ledger;

namespace Vellum.Node.Ledgers;

/// <summary>
/// A ledger's control-plane resource (<see cref="LedgerResource"/>) changed after its creation: on a single node kept at
/// once; on a cluster through the consensus log (<see cref="ConsensusGroup.ProposeLedgerDescriptionAsync"/>), which
/// every member applies by keeping it in its copy of the ledger's folder. (At creation the resource travels with the
/// ledger's material.)
/// </summary>
public sealed partial class LedgerRegistry
{
    /// <summary>Keeps <paramref name="resource"/> as its ledger's resource, on every member; returns once this node has it.</summary>
    /// <exception cref="LedgerNotFoundException">The ledger is not served here.</exception>
    /// <exception cref="NotPrimaryException">A cluster member that is not the primary.</exception>
    public async Task DescribeAsync(LedgerResource resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resource);
        if (!TryGet(resource.Name.Value, out var ledger))
        {
            throw new LedgerNotFoundException($"No ledger '{resource.Name}' here.");
        }

        if (_group is null)
        {
            resource.Write(ledger.Folder.ResourceFile);
            return;
        }

        await EnsureReadyLeaderAsync(cancellationToken).ConfigureAwait(false);

        try
        {
            await _group.ProposeLedgerDescriptionAsync(resource.Name.Value, resource.Encode(), cancellationToken).ConfigureAwait(false);
        }
        catch (ConsensusNotLeaderException ex)
        {
            throw new NotPrimaryException(ex.Message, ex);
        }

        // Committed; applied here a moment later (the apply path writes the file).
        var deadline = DateTime.UtcNow + CreationTimeout;
        while (LedgerResource.Read(ledger.Folder.ResourceFile) is not { } kept || kept.LastModifiedAt != resource.LastModifiedAt)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The new description of the ledger '{resource.Name}' committed but was not applied here within {CreationTimeout.TotalSeconds} s.");
            }

            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    ValueTask IGroupLedgers.DescribeLedgerAsync(string name, ReadOnlyMemory<byte> description, CancellationToken token)
    {
        if (!LedgerResource.TryDecode(description.Span, out var resource, out var error) || resource.Name.Value != name)
        {
            throw new InvalidDataException($"The consensus log's description of the ledger '{name}' is damaged: {error ?? "it names another ledger"}.");
        }

        if (TryGet(name, out var ledger) && !ledger.IsClosing)
        {
            resource.Write(ledger.Folder.ResourceFile);
        }

        return ValueTask.CompletedTask;
    }
}
