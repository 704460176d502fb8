using Vellum.Consensus;
using Vellum.Core.Primitives;
using Vellum.Storage.Ledger;

namespace Vellum.Node.Ledgers;

/// <summary>
/// The deployment's own state in the consensus log: the node keys it retired (<see cref="RetiredNodeList"/>), changed by
/// deployment entries (<see cref="ConsensusGroup.ProposeDeploymentChangeAsync"/>) that every member applies, and carried
/// by the group's snapshot for a member that installs one.
/// </summary>
public sealed partial class LedgerRegistry
{
    /// <summary>
    /// Retires the node key <paramref name="nodeId"/> (of the member at <paramref name="nodeAddress"/>) on every member
    /// (primary only): returns once the retirement is committed and this node refuses the key; the others refuse it as
    /// they apply the entry. Nothing is written when the key is retired already.
    /// </summary>
    /// <exception cref="NotPrimaryException">A single node, or a cluster member that is not the primary.</exception>
    public async Task RetireNodeAsync(Hash32 nodeId, string nodeAddress, CancellationToken cancellationToken)
    {
        if (_group is null || _retired is null)
        {
            throw new NotPrimaryException("A single node has no members to retire.");
        }

        if (_retired.IsRetired(nodeId))
        {
            return;
        }

        var change = RetiredNodeList.EncodeRetirement(nodeId, nodeAddress);
        try
        {
            await _group.ProposeDeploymentChangeAsync(change, cancellationToken).ConfigureAwait(false);
        }
        catch (ConsensusNotLeaderException ex)
        {
            throw new NotPrimaryException(ex.Message, ex);
        }

        // Committed: refused here from now on (applying the entry, a moment later, finds it retired already).
        _retired.Apply(change);
    }

    /// <inheritdoc />
    ValueTask IGroupLedgers.ChangeDeploymentAsync(ReadOnlyMemory<byte> change, CancellationToken token)
    {
        (_retired ?? throw new InvalidDataException("A deployment change reached a node that keeps no deployment state.")).Apply(change.Span);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    byte[] IGroupLedgers.DescribeDeployment() => _retired?.Describe() ?? [];

    /// <inheritdoc />
    ValueTask IGroupLedgers.RestoreDeploymentAsync(ReadOnlyMemory<byte> state, CancellationToken token)
    {
        _retired?.Restore(state.Span);
        return ValueTask.CompletedTask;
    }
}
