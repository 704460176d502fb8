using Vellum.Core.Entries;
using Vellum.Core.Primitives;
using Vellum.Core.Receipts;
using Vellum.Storage.Ledger;

namespace Vellum.Ledger;

/// <summary>What a read found.</summary>
public enum ReadOutcome
{
    /// <summary>No such transaction, or not one of the kind asked for (the reason says which).</summary>
    NotFound,

    /// <summary>The transaction id can never be committed: its seqno holds another transaction, or its view ended without it.</summary>
    Invalid,

    /// <summary>Assigned here but not yet durable: ask again.</summary>
    Loading,

    /// <summary>Found; the result carries it.</summary>
    Ready,
}

/// <summary>Where a ledger stands for a read, each value read once (volatile reads; no lock).</summary>
/// <param name="View">The view this node sequences in, or the newest applied here.</param>
/// <param name="LastSeqno">The last seqno assigned: sequenced by this primary, or applied here on a backup.</param>
/// <param name="DurableSeqno">The last seqno applied (durable) here.</param>
/// <param name="CommittedSeqno">The last seqno covered by an applied signature.</param>
/// <param name="IsPrimary">Whether this node sequences.</param>
public readonly record struct LedgerPosition(long View, long LastSeqno, long DurableSeqno, long CommittedSeqno, bool IsPrimary);

/// <summary>A transaction's status: <see cref="ReadOutcome.Ready"/> with <see cref="IsCommitted"/>, Invalid, or NotFound.</summary>
public readonly record struct StatusResult(ReadOutcome Outcome, bool IsCommitted, string? Reason)
{
    /// <summary>The ACL state: Committed, Pending or Invalid (null when not found).</summary>
    public string? State => Outcome switch
    {
        ReadOutcome.Ready => IsCommitted ? "Committed" : "Pending",
        ReadOutcome.Invalid => "Invalid",
        _ => null,
    };
}

/// <summary>A transaction looked up by id: Ready with its body, Loading, or NotFound with the reason.</summary>
public readonly record struct TransactionResult(ReadOutcome Outcome, TxId Id, byte[]? Body, string? Reason);

/// <summary>
/// The reads of one ledger — status, a transaction by id, its receipt — as results the HTTP layer maps, with CCF's
/// rules in one place. Reads see applied state only and never take the sequencer's lock: every figure they need is
/// a volatile read (<see cref="Position"/>) or a read of durable files.
/// </summary>
public sealed class LedgerReads
{
    private readonly LedgerStore _store;
    private readonly Sequencer _sequencer;

    /// <summary>Reads of <paramref name="store"/>, which <paramref name="sequencer"/> appends to.</summary>
    public LedgerReads(LedgerStore store, Sequencer sequencer)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(sequencer);
        _store = store;
        _sequencer = sequencer;
    }

    /// <summary>Where the ledger stands now.</summary>
    public LedgerPosition Position
    {
        get
        {
            var primary = _sequencer.IsPrimary;
            var durable = _store.DurableSeqno;
            return new LedgerPosition(
                Math.Max(_sequencer.View, _store.LastView),
                primary ? Math.Max(_sequencer.LastSeqno, durable) : durable,
                durable,
                _store.CommittedSeqno,
                primary);
        }
    }

    /// <summary>
    /// The status of <paramref name="id"/> by CCF's rules: Committed or Pending while its seqno holds it; Invalid once
    /// the seqno holds another transaction, or once a newer view started without the seqno ever being applied here
    /// (whatever an older view committed was applied before the newer view's first transaction); NotFound for a view
    /// not yet started, or a seqno a primary has not assigned. A backup answers Pending for a seqno of its current
    /// view it has not applied yet: the primary may have assigned it.
    /// </summary>
    public StatusResult Status(TxId id)
    {
        var at = Position;
        if (id.View > at.View)
        {
            return new StatusResult(ReadOutcome.NotFound, false, $"Transaction {id} is not known: view {id.View} has not started.");
        }

        if (id.Seqno <= at.DurableSeqno)
        {
            var held = _store.ReadHeader(id.Seqno).Id;
            return held != id
                ? new StatusResult(ReadOutcome.Invalid, false, $"Seqno {id.Seqno} is {held}.")
                : new StatusResult(ReadOutcome.Ready, id.Seqno <= at.CommittedSeqno, null);
        }

        if (id.View < at.View)
        {
            return new StatusResult(ReadOutcome.Invalid, false, $"View {id.View} ended before seqno {id.Seqno}.");
        }

        if (at.IsPrimary && id.Seqno > at.LastSeqno)
        {
            return new StatusResult(ReadOutcome.NotFound, false, $"Transaction {id} is not known.");
        }

        // Sequenced by this primary but not yet durable, or (on a backup) not yet applied here.
        return new StatusResult(ReadOutcome.Ready, false, null);
    }

    /// <summary>
    /// The transaction <paramref name="id"/>: NotFound when its seqno is not assigned, its view has not started, its
    /// seqno holds another transaction, or (with <paramref name="userEntriesOnly"/>) it is not a ledger entry; Loading
    /// when assigned but not yet durable here, which on a backup includes a seqno of its current view it has not
    /// applied yet (the primary may have assigned it, as <see cref="Status"/> says); else Ready with its body.
    /// </summary>
    public TransactionResult Transaction(TxId id, bool userEntriesOnly)
    {
        var at = Position;
        if (id.View > at.View || (id.Seqno > at.LastSeqno && (at.IsPrimary || id.View < at.View)))
        {
            return new TransactionResult(ReadOutcome.NotFound, id, null, $"Transaction {id} is not known.");
        }

        if (id.Seqno > at.DurableSeqno)
        {
            return new TransactionResult(ReadOutcome.Loading, id, null, null);
        }

        var body = _store.ReadBody(id.Seqno);
        if (!EntryHeader.TryRead(body, out var header, out var problem))
        {
            throw new LedgerCorruptException($"transaction {id.Seqno} is malformed: {problem}");
        }

        if (header.Id != id)
        {
            return new TransactionResult(ReadOutcome.NotFound, id, null, $"Transaction {id} does not exist: seqno {id.Seqno} is {header.Id}.");
        }

        if (userEntriesOnly && header.Kind != EntryKind.UserEntry)
        {
            return new TransactionResult(ReadOutcome.NotFound, id, null, $"Transaction {id} is not a ledger entry (it is a {header.Kind} transaction).");
        }

        return new TransactionResult(ReadOutcome.Ready, id, body, null);
    }

    /// <summary>
    /// The receipt of a transaction <see cref="Transaction"/> found (any kind): state Loading while it is not yet
    /// durable or not yet committed (a receipt reveals the commit evidence, so only a committed transaction has one);
    /// else the receipt.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="found"/> is not Loading or Ready.</exception>
    public TransactionReceipt Receipt(in TransactionResult found) => found.Outcome switch
    {
        ReadOutcome.Loading => TransactionReceipt.Loading(found.Id),
        ReadOutcome.Ready => _store.GetReceipt(found.Id.Seqno, found.Body!),
        _ => throw new ArgumentException($"transaction {found.Id} was not found", nameof(found)),
    };
}
