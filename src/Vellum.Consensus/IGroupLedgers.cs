namespace Vellum.Consensus;

/// <summary>
/// What a <see cref="ConsensusGroup"/> asks of the node above it when the log makes or deletes a ledger: a committed
/// ledger-creation entry (<see cref="ConsensusGroup.ProposeLedgerAsync"/>), a leader's snapshot that holds a ledger made
/// since this member last looked, or a committed deletion (<see cref="ConsensusGroup.ProposeLedgerDeletionAsync"/>); and
/// when it changes the deployment itself (<see cref="ConsensusGroup.ProposeDeploymentChangeAsync"/>).
/// Given to the group when it starts, as the applier is given to a log. Every call is on the apply path, one at a time;
/// a throw stops applying as any applier's does, so an implementation waits (bounded by the token) rather than fails
/// for what may come later, such as a member that is briefly unreachable.
/// </summary>
public interface IGroupLedgers
{
    /// <summary>
    /// A committed creation of ledger <paramref name="name"/> (<paramref name="description"/> is what its creator
    /// proposed; empty when the ledger is known only from a snapshot): opens it on this node, making it from the
    /// description or from the other members' copies, and returns true once it has joined the group
    /// (<see cref="ConsensusGroup.Join"/>) and started its view, so that entries after the creation go to it. When a
    /// ledger of that name is open already, true as well: it is this creation's (a replay), or this is a second creation
    /// of the name, which changes nothing. False when this creation's ledger was deleted since (a deletion later in the
    /// log, which this node or the members it asked have applied already): the group then skips the name's entries
    /// until its next creation.
    /// </summary>
    ValueTask<bool> OpenLedgerAsync(string name, ReadOnlyMemory<byte> description, CancellationToken token);

    /// <summary>
    /// Deletes ledger <paramref name="name"/> as <paramref name="description"/> (what the deleting primary proposed)
    /// says, if this node serves that very ledger, and returns true once it no longer serves it: the group then drops its
    /// view and skips its entries. False when the ledger served under that name is another one (a deletion of an earlier
    /// ledger of the name, replayed): nothing changes. Called too when the group has no view of the name (the ledger was
    /// deleted here already, or never opened), so that the node can keep a record of the deletion.
    /// </summary>
    ValueTask<bool> DeleteLedgerAsync(string name, ReadOnlyMemory<byte> description, CancellationToken token);

    /// <summary>
    /// A snapshot this node installs does not name ledger <paramref name="name"/>, which it serves: the ledger was made
    /// after the snapshot was taken (a join handed it over), or deleted before it while this node missed the deletion
    /// (it was down, and the deletion's entry is compacted away). Returns true once the node has found it deleted (it,
    /// or a member it asks, keeps that ledger's tombstone) and no longer serves it: the group then drops its view and
    /// skips its entries until the name is made again. False when it is still a ledger of the deployment.
    /// </summary>
    ValueTask<bool> ForgetIfDeletedAsync(string name, CancellationToken token);

    /// <summary>
    /// A committed new description of ledger <paramref name="name"/>, which this node serves
    /// (<see cref="ConsensusGroup.ProposeLedgerDescriptionAsync"/>): the node keeps it (the control plane's resource).
    /// </summary>
    ValueTask DescribeLedgerAsync(string name, ReadOnlyMemory<byte> description, CancellationToken token);

    /// <summary>
    /// A committed change of the deployment itself rather than of one ledger (<see cref="ConsensusGroup.ProposeDeploymentChangeAsync"/>,
    /// such as a node key's retirement): the node applies <paramref name="change"/> to its deployment state.
    /// </summary>
    ValueTask ChangeDeploymentAsync(ReadOnlyMemory<byte> change, CancellationToken token);

    /// <summary>
    /// The node's deployment state as of the last entry applied (what <see cref="ChangeDeploymentAsync"/> built), for
    /// the group's snapshot; called on the apply path.
    /// </summary>
    byte[] DescribeDeployment();

    /// <summary>A leader's snapshot this node installs holds <paramref name="state"/> (a <see cref="DescribeDeployment"/>): the node takes it in.</summary>
    ValueTask RestoreDeploymentAsync(ReadOnlyMemory<byte> state, CancellationToken token);
}
