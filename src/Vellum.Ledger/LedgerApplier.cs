using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Vellum.Consensus;
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
    private readonly ILedgerCatchUp? _catchUp;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _catchUpLock = new();
    private Task? _catchUpTask;
    private long _lastApplied;

    /// <param name="store">The ledger the batches are applied to.</param>
    /// <param name="catchUp">How to fetch transactions from a peer; null where there are none (a single node).</param>
    /// <param name="logger">Where to log; none if null.</param>
    public LedgerApplier(LedgerStore store, ILedgerCatchUp? catchUp, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _catchUp = catchUp;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <inheritdoc />
    public long LastAppliedIndex => Volatile.Read(ref _lastApplied);

    /// <inheritdoc />
    public ValueTask ApplyAsync(LogPosition position, ReadOnlyMemory<byte> batch, CancellationToken token)
    {
        // Consensus may replay committed entries after a restart; the store skips seqnos it already has.
        _store.ApplyCommitted(batch.Span);
        if (position.Index > Volatile.Read(ref _lastApplied))
        {
            Volatile.Write(ref _lastApplied, position.Index);
        }

        return ValueTask.CompletedTask;
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
