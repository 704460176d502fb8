using System.Buffers;
using System.Buffers.Binary;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Extensions.Logging;
using Vellum.Core.Format;
using Vellum.Storage.IO;

namespace Vellum.Consensus.Raft;

/// <summary>
/// The WAL's state machine: forwards committed batches to the <see cref="IConsensusApplier"/>, tells the leader's
/// writer where its batch landed, and keeps the snapshot that lets the WAL drop old entries.
/// </summary>
/// <remarks>
/// <para>
/// A snapshot here is not a copy of the state: it is the applier's short description of its durable state at a log
/// index (<see cref="IConsensusApplier.DescribeAppliedState"/>: for the ledger, "everything up to seqno S"), taken
/// every <c>interval</c> applied entries and kept in one file, <c>snapshot</c>, beside the WAL. The WAL deletes
/// the pages before it. A follower that needs entries the leader no longer holds receives the description and reaches
/// that state itself (<see cref="IConsensusApplier.RestoreAsync"/>: the ledger fetches the transactions from a peer
/// and checks them), then takes the log from there.
/// </para>
/// <para>
/// The WAL reads <see cref="Snapshot"/> when it is opened and replays committed entries after it; older entries are
/// gone. <see cref="ApplyAsync"/> passes on only those after the applier's <see cref="IConsensusApplier.LastAppliedIndex"/>.
/// An applier that describes no state (null) gets no snapshots and the WAL is never compacted.
/// </para>
/// </remarks>
internal sealed class ApplierStateMachine : IStateMachine
{
    private const string FileName = "snapshot";
    private const int HeaderSize = 8 + 8 + 8 + 8 + 4;
    private const int MaxSnapshotBytes = 4 * 1024 * 1024;
    private static ReadOnlySpan<byte> Magic => "VLMSNAP1"u8;

    private readonly IConsensusApplier _applier;
    private readonly ILogger _logger;
    private readonly string _path;
    private readonly long _interval;
    private volatile LedgerStateSnapshot? _snapshot;

    /// <param name="applier">Receives the batches.</param>
    /// <param name="directory">Where the snapshot file lives (created if missing).</param>
    /// <param name="interval">Applied entries between snapshots; 0 takes none.</param>
    /// <param name="logger">For apply failures and snapshots.</param>
    public ApplierStateMachine(IConsensusApplier applier, string directory, long interval, ILogger logger)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(interval);
        _applier = applier;
        _logger = logger;
        _interval = interval;
        OwnerOnly.CreateDirectory(directory);
        _path = Path.Combine(directory, FileName);
        _snapshot = Load(_path);
    }

    public ISnapshot? Snapshot => _snapshot;

    /// <summary>How many snapshots this node installed from a leader (restored through the applier).</summary>
    public long SnapshotsInstalled => Interlocked.Read(ref _installed);

    private long _installed;

    public ValueTask ReclaimGarbageAsync(long watermark, CancellationToken token) => ValueTask.CompletedTask;

    public async ValueTask<long> ApplyAsync(LogEntry entry, CancellationToken token)
    {
        if (entry.IsSnapshot)
        {
            return await InstallAsync(entry, token).ConfigureAwait(false);
        }

        var context = entry.Context as ReplicationContext;

        // Configuration entries reach us either flagged or (once the cluster's membership storage has consumed them)
        // as empty entries; leaders' no-ops have no payload and the WAL skips them before calling us. ReplicateAsync
        // refuses empty batches, so "empty" never hides a user batch.
        if (entry.IsConfiguration || !entry.TryGetPayload(out var payload) || payload.IsEmpty)
        {
            return entry.Index;
        }

        var position = new LogPosition(entry.Term, entry.Index);
        if (entry.Index > _applier.LastAppliedIndex)
        {
            // The payload usually lies in one WAL page; a batch that crosses a chunk boundary is copied once.
            var batch = payload.IsSingleSegment ? payload.First : payload.ToArray();
            try
            {
                await _applier.ApplyAsync(position, batch, token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
            {
                // The WAL stops its apply loop on any exception and fails later calls; say why, once.
                LogMessages.ApplyFailed(_logger, entry.Index, entry.Term, e);
                throw;
            }

            TakeSnapshotIfDue(position);
        }

        context?.Applied(position);
        return entry.Index;
    }

    private void TakeSnapshotIfDue(LogPosition position)
    {
        if (_interval == 0 || position.Index - (_snapshot?.Index ?? 0) < _interval || _applier.DescribeAppliedState() is not { } state)
        {
            return;
        }

        Keep(position, state);
        LogMessages.SnapshotTaken(_logger, position.Index, position.Term, state.Length);
    }

    private async ValueTask<long> InstallAsync(LogEntry entry, CancellationToken token)
    {
        // A leader's snapshot is a few dozen bytes per ledger (see ConsensusGroup); refuse anything far larger.
        if (LengthOf(entry) is not (>= 0 and <= MaxSnapshotBytes) and var length)
        {
            throw new InvalidDataException($"A snapshot of {length?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"} bytes is not one this node takes.");
        }

        var state = await entry.ToByteArrayAsync(allocator: null, token).ConfigureAwait(false);
        var position = new LogPosition(entry.Term, entry.Index);
        LogMessages.SnapshotReceived(_logger, entry.Index, entry.Term, _applier.LastAppliedIndex);
        await _applier.RestoreAsync(position, state, token).ConfigureAwait(false);
        Keep(position, state);
        Interlocked.Increment(ref _installed);
        return entry.Index;
    }

    /// <summary>
    /// Makes <paramref name="state"/> at <paramref name="position"/> this node's snapshot: written durably first, since
    /// the WAL deletes the entries up to that index once it sees it.
    /// </summary>
    private void Keep(LogPosition position, byte[] state)
    {
        var snapshot = new LedgerStateSnapshot(position.Index, position.Term, DateTimeOffset.UtcNow, state);
        Save(_path, snapshot);
        _snapshot = snapshot;
    }

    private static long? LengthOf<T>(T entry)
        where T : IDataTransferObject => entry.Length;

    private static void Save(string path, LedgerStateSnapshot snapshot)
    {
        var bytes = new byte[HeaderSize + snapshot.State.Length + 4];
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8), snapshot.Index);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(16), snapshot.Term);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(24), snapshot.Timestamp.ToUnixTimeMilliseconds());
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(32), snapshot.State.Length);
        snapshot.State.CopyTo(bytes.AsSpan(HeaderSize));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4), Crc32C.Compute(bytes.AsSpan(0, bytes.Length - 4)));
        Durability.WriteFileAtomic(path, bytes);
    }

    /// <summary>The snapshot on disk, or null when there is none.</summary>
    /// <exception cref="InvalidDataException">The file is damaged: starting without it would replay from an index the WAL no longer holds.</exception>
    private static LedgerStateSnapshot? Load(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < HeaderSize + 4 || !bytes.AsSpan(0, 8).SequenceEqual(Magic) ||
            BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(32)) is var length && length != bytes.Length - HeaderSize - 4 ||
            Crc32C.Compute(bytes.AsSpan(0, bytes.Length - 4)) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4)))
        {
            throw new InvalidDataException($"The Raft snapshot file {path} is damaged.");
        }

        return new LedgerStateSnapshot(
            BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8)),
            BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(16)),
            DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(24))),
            bytes.AsSpan(HeaderSize, length).ToArray());
    }
}

/// <summary>The snapshot DotNext sends to a lagging follower: the applier's state description at a log index.</summary>
internal sealed class LedgerStateSnapshot(long index, long term, DateTimeOffset timestamp, byte[] state) : ISnapshot
{
    public long Index { get; } = index;

    public long Term { get; } = term;

    public DateTimeOffset Timestamp { get; } = timestamp;

    public byte[] State { get; } = state;

    long? IDataTransferObject.Length => State.Length;

    bool IDataTransferObject.IsReusable => true;

    bool IDataTransferObject.TryGetMemory(out ReadOnlyMemory<byte> memory)
    {
        memory = State;
        return true;
    }

    ValueTask IDataTransferObject.WriteToAsync<TWriter>(TWriter writer, CancellationToken token) => writer.Invoke(State, token);
}

/// <summary>
/// Rides with a batch through the WAL (<c>IInputLogEntry.Context</c>) from the leader's ReplicateAsync to the apply.
/// </summary>
/// <remarks>
/// The WAL keeps contexts by index, so if this leader's entry is overwritten by a new leader's entry at the same index,
/// that other entry arrives with our context. Only one leader exists per term, so an entry at our index with our term
/// is ours (Raft's log matching); anything else leaves <see cref="Position"/> null.
/// </remarks>
internal sealed class ReplicationContext(long term)
{
    private LogPosition? _position;

    public LogPosition? Position => _position;

    public void Applied(LogPosition position)
    {
        if (position.Term == term)
        {
            _position = position;
        }
    }
}
