namespace Vellum.Consensus;

/// <summary>
/// What a <see cref="ConsensusGroup"/> asks of the node above it when the log names a ledger the group has no view of:
/// a committed ledger-creation entry (<see cref="ConsensusGroup.ProposeLedgerAsync"/>), or a leader's snapshot that holds
/// a ledger made since this member last looked. Given to the group when it starts, as the applier is given to a log.
/// </summary>
public interface IGroupLedgers
{
    /// <summary>
    /// Opens ledger <paramref name="name"/> on this node, making it from <paramref name="description"/> (what its
    /// creator proposed; empty when the ledger is known only from a snapshot) or from the other members' copies, and
    /// returns once it has joined the group (<see cref="ConsensusGroup.Join"/>) and started its view: entries after the
    /// creation go to it. Called on the apply path, one call at a time; a throw stops applying as any applier's does,
    /// so an implementation waits (bounded by <paramref name="token"/>) rather than fails for what may come later, such
    /// as a member that is briefly unreachable.
    /// </summary>
    ValueTask OpenLedgerAsync(string name, ReadOnlyMemory<byte> description, CancellationToken token);

    /// <summary>
    /// A committed creation of <paramref name="name"/> came after the ledger of that name already had a view here: the
    /// first creation holds, this one changes nothing (for instance two primaries made the same name in turn, or a
    /// restart replays the log). <paramref name="description"/> says which creation lost.
    /// </summary>
    void CreationIgnored(string name, ReadOnlyMemory<byte> description) { }
}
