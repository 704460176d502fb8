using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Vellum.Consensus;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Format;
using Vellum.Storage.Ledger;

namespace Vellum.Ledger;

/// <summary>
/// What consensus hands committed entries to: each is one batch of ledger frames, applied to the store (which checks
/// it against the ledger before writing any of it). Also the ledger's side of consensus snapshots: the applied state
/// is the durable seqno, and a member that lags the leader's snapshot reaches it by fetching transactions from a peer
/// (<see cref="ILedgerCatchUp"/>).
/// </summary>
public sealed class LedgerApplier : IConsensusApplier, IAsyncDisposable
{
    private const byte StateVersion = 1;
    private const int StateLength = 1 + sizeof(long);

    private readonly LedgerStore _store;
    private readonly LogSeal _seal;
    private readonly ILedgerCatchUp? _catchUp;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _catchUpLock = new();
    private Task? _catchUpTask;
    private long _lastApplied;

    /// <param name="store">The ledger the batches are applied to.</param>
    /// <param name="seal">The ledger's log seal: consensus entries are batches sealed under it (see <see cref="LogSeal"/>).</param>
    /// <param name="catchUp">How to fetch transactions from a peer; null where there are none (a single node).</param>
    /// <param name="logger">Where to log; none if null.</param>
    public LedgerApplier(LedgerStore store, LogSeal seal, ILedgerCatchUp? catchUp, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(seal);
        _store = store;
        _seal = seal;
        _catchUp = catchUp;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <inheritdoc />
    public long LastAppliedIndex => Volatile.Read(ref _lastApplied);

    /// <inheritdoc />
    /// <exception cref="LedgerCorruptException">
    /// The entry does not open with the ledger's log key, or is a batch in clear that is not a replay of transactions
    /// already applied (a member of an older format sent it): nothing is applied.
    /// </exception>
    public ValueTask ApplyAsync(LogPosition position, ReadOnlyMemory<byte> batch, CancellationToken token)
    {
        // Consensus may replay committed entries after a restart; the store skips seqnos it already has.
        _store.ApplyCommitted(Open(position, batch.Span, _seal, _store));
        if (position.Index > Volatile.Read(ref _lastApplied))
        {
            Volatile.Write(ref _lastApplied, position.Index);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The batch in clear of a consensus entry (see <see cref="LogSeal"/>). An entry in clear is taken only when every
    /// transaction in it is already applied: a log written before batches were sealed, replayed after the upgrade (the
    /// store still checks the replay is the same transactions). Anything else in clear comes from a member of an older
    /// format, which the ledger refuses rather than apply.
    /// </summary>
    /// <exception cref="LedgerCorruptException">The entry cannot be applied (see above).</exception>
    public static ReadOnlySpan<byte> Open(LogPosition position, ReadOnlySpan<byte> entry, LogSeal seal, LedgerStore store)
    {
        ArgumentNullException.ThrowIfNull(seal);
        ArgumentNullException.ThrowIfNull(store);
        if (!LogSeal.IsSealed(entry))
        {
            if (LastSeqnoOf(entry) is { } last && last <= store.DurableSeqno)
            {
                return entry;
            }

            throw new LedgerCorruptException(
                $"consensus entry {position.Index} is a batch in clear with transactions not applied here: it was written by a member of an older " +
                "format (batches are sealed under the ledger's log key since this version); upgrade every member (stop all, upgrade, start)");
        }

        if (!seal.TryOpen(entry, out var batch, out var error))
        {
            throw new LedgerCorruptException($"consensus entry {position.Index} cannot be applied: {error}");
        }

        return batch;
    }

    /// <summary>The seqno of the last frame of a batch in clear; null if it does not parse as frames.</summary>
    private static long? LastSeqnoOf(ReadOnlySpan<byte> frames)
    {
        long? last = null;
        while (!frames.IsEmpty)
        {
            if (Frame.TryRead(frames, out var bodyLength) != FrameStatus.Ok
                || !EntryHeader.TryRead(frames.Slice(Frame.HeaderSize, bodyLength), out var header, out _))
            {
                return null;
            }

            last = header.Id.Seqno;
            frames = frames[(Frame.HeaderSize + bodyLength)..];
        }

        return last;
    }

    /// <inheritdoc />
    /// <remarks>
    /// The ledger's state is its durable seqno: a version byte (1) and the seqno, little-endian. The ledger files are
    /// fsynced first: once the snapshot is taken, consensus no longer holds the batches before it.
    /// </remarks>
    public byte[]? DescribeAppliedState()
    {
        _store.SyncToDisk();
        var state = new byte[StateLength];
        state[0] = StateVersion;
        BinaryPrimitives.WriteInt64LittleEndian(state.AsSpan(1), _store.DurableSeqno);
        return state;
    }

    /// <inheritdoc />
    public async ValueTask RestoreAsync(LogPosition position, ReadOnlyMemory<byte> state, CancellationToken token)
    {
        if (state.Length != StateLength || state.Span[0] != StateVersion)
        {
            throw new InvalidDataException($"The leader's snapshot at index {position.Index} is not a ledger state this node reads.");
        }

        var needed = BinaryPrimitives.ReadInt64LittleEndian(state.Span[1..]);
        if (_store.DurableSeqno < needed)
        {
            var catchUp = _catchUp ?? throw new InvalidOperationException(
                $"The ledger ends at seqno {_store.DurableSeqno}, the leader's snapshot needs {needed}, and this node has no way to fetch transactions.");

            // The fetch runs on its own, bound to this node's life rather than to the leader's request: a fetch slower
            // than the leader's RPC timeout would otherwise be cancelled on every retry and never finish. The leader's
            // next attempt finds it running (or done) and waits for it again.
            Task fetch;
            lock (_catchUpLock)
            {
                if (_catchUpTask is not { IsCompleted: false })
                {
                    _catchUpTask = Task.Run(() => catchUp.CatchUpAsync(needed, _stopping.Token), CancellationToken.None);
                }

                fetch = _catchUpTask;
            }

            await fetch.WaitAsync(token).ConfigureAwait(false);
            if (_store.DurableSeqno < needed)
            {
                throw new InvalidOperationException($"Catching up reached seqno {_store.DurableSeqno}, not the {needed} the leader's snapshot needs.");
            }
        }

        // This node's log will not hold the batches before the snapshot: the ledger files must.
        _store.SyncToDisk();
        if (position.Index > Volatile.Read(ref _lastApplied))
        {
            Volatile.Write(ref _lastApplied, position.Index);
        }

        LogMessages.SnapshotRestored(_logger, _store.DurableSeqno, needed, position.Index);
    }

    /// <summary>Stops a catch-up still running (call after consensus has stopped).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        Task? fetch;
        lock (_catchUpLock)
        {
            fetch = _catchUpTask;
        }

        if (fetch is not null)
        {
            await fetch.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _stopping.Dispose();
    }
}
