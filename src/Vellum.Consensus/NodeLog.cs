using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;
using Vellum.Core.Format;
using Vellum.Storage.IO;

namespace Vellum.Consensus;

/// <summary>
/// The durable log of a single node: one write-ahead log for the batches of every ledger the node hosts, written by one
/// thread, so that one fsync makes a round of batches of any number of ledgers durable (the ledgers' own files are then
/// written without an fsync per batch, and synced only when the log moves to a new segment). Each ledger appends
/// through its own <see cref="IConsensusLog"/> (<see cref="Join"/>): a single node is always leader, and a batch counts
/// as committed once it is in this log and applied.
/// </summary>
/// <remarks>
/// <para>
/// Files: <c>{directory}/{n:D8}.wal</c>, each starting with the 8-byte magic <c>VLMNLOG1</c>, then records
/// <c>u32 length · u32 CRC-32C(payload) · payload</c>, little-endian, the payload being <c>u8 name length · ledger name
/// (ASCII) · batch</c>. A record is written whole before its fsync, and nothing is acknowledged before that fsync, so a
/// crash can only leave a torn or missing tail, which the next open ignores.
/// </para>
/// <para>
/// Opening reads every record (<see cref="Recovered"/>); <see cref="Start"/> begins a new segment after them; the
/// owner applies each ledger's recovered batches to that ledger (the store skips the seqnos it already has) and syncs
/// it before the ledger appends, and once every ledger has, calls <see cref="DropRecovered"/>, which deletes them. When a segment passes <see cref="NodeLogOptions.SegmentBytes"/>, the writer syncs
/// every ledger that took a batch since the last move, then starts a new segment and deletes the old one.
/// </para>
/// </remarks>
public sealed class NodeLog : IAsyncDisposable
{
    private const int HeaderLength = 8;
    private const int MaxNameLength = 64;
    private static readonly byte[] Magic = "VLMNLOG1"u8.ToArray();

    private readonly string? _directory;
    private readonly NodeLogOptions _options;
    private readonly ILogger _logger;
    private readonly Dictionary<string, List<byte[]>> _recovered;
    private readonly List<string> _recoveredSegments;
    private readonly List<string> _rolledSegments = [];
    private readonly Lock _queueLock = new();
    private readonly Queue<Pending> _queue = new();
    private readonly SemaphoreSlim _signal = new(0, int.MaxValue);
    private readonly TaskCompletionSource _writerExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<Member> _touched = [];
    private readonly List<TaskCompletionSource> _rollWaiters = [];
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);
    private readonly List<ReadOnlyMemory<byte>> _parts = [];
    private SafeFileHandle? _segment;
    private long _segmentNumber;
    private long _segmentLength;
    private Exception? _fault;
    private bool _started;
    private bool _stopping;
    private int _disposed;

    private NodeLog(string? directory, NodeLogOptions options, ILogger logger, Dictionary<string, List<byte[]>> recovered, List<string> recoveredSegments, long lastNumber)
    {
        _directory = directory;
        _options = options;
        _logger = logger;
        _recovered = recovered;
        _recoveredSegments = recoveredSegments;
        _segmentNumber = lastNumber;
    }

    private long _batchesWritten;
    private long _syncs;

    /// <summary>Batches fsynced to this log (since open).</summary>
    public long BatchesWritten => Interlocked.Read(ref _batchesWritten);

    /// <summary>Fsyncs of this log (since open): fewer than <see cref="BatchesWritten"/> whenever rounds gather several batches.</summary>
    public long Syncs => Interlocked.Read(ref _syncs);

    /// <summary>
    /// Opens the log in <paramref name="directory"/> (created if missing) and reads what it holds; nothing is written
    /// until <see cref="Start"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">A segment does not start with the magic of this format.</exception>
    public static NodeLog Open(string directory, NodeLogOptions? options = null, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        options ??= new NodeLogOptions();
        OwnerOnly.CreateDirectory(directory);
        var segments = new List<(long Number, string Path)>();
        foreach (var path in Directory.EnumerateFiles(directory, "*.wal"))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            {
                segments.Add((number, path));
            }
        }

        segments.Sort((a, b) => a.Number.CompareTo(b.Number));
        var recovered = new Dictionary<string, List<byte[]>>(StringComparer.Ordinal);
        foreach (var (_, path) in segments)
        {
            ReadSegment(path, recovered);
        }

        return new NodeLog(directory, options, logger ?? NullLogger.Instance, recovered, [.. segments.Select(s => s.Path)], segments.Count > 0 ? segments[^1].Number : 0);
    }

    /// <summary>
    /// A log with no file: the same writer and ordering, for a store that makes each batch durable itself
    /// (<see cref="SingleNodeConsensus"/>). Nothing is recovered and nothing is fsynced here.
    /// </summary>
    public static NodeLog Unlogged(ILogger? logger = null) =>
        new(null, new NodeLogOptions(), logger ?? NullLogger.Instance, new Dictionary<string, List<byte[]>>(StringComparer.Ordinal), [], 0);

    /// <summary>The batches of <paramref name="ledger"/> found when the log was opened, in the order they were written.</summary>
    public IReadOnlyList<byte[]> Recovered(string ledger) => _recovered.TryGetValue(ledger, out var batches) ? batches : [];

    /// <summary>The ledgers that have recovered batches.</summary>
    public IReadOnlyCollection<string> RecoveredLedgers => _recovered.Keys;

    /// <summary>
    /// Begins a new segment after the ones read at open (which stay until <see cref="DropRecovered"/>) and starts the
    /// writer: ledgers may append from now on.
    /// </summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_started)
        {
            throw new InvalidOperationException("The node log is already started.");
        }

        if (_directory is not null)
        {
            NewSegment();
        }

        _started = true;
        new Thread(WriterLoop) { IsBackground = true, Name = "Vellum node log writer" }.Start();
    }

    /// <summary>
    /// Deletes the segments read at open: call it once every ledger has applied its recovered batches and synced its
    /// files (a crash before then replays them again, which changes nothing the ledgers already have).
    /// </summary>
    public void DropRecovered()
    {
        foreach (var path in _recoveredSegments)
        {
            File.Delete(path);
        }

        _recoveredSegments.Clear();
        _recovered.Clear();
        if (_directory is not null)
        {
            Durability.SyncDirectory(_directory);
        }
    }

    /// <summary>
    /// The consensus log through which ledger <paramref name="ledger"/> appends (a single node is always its leader),
    /// in the fixed <paramref name="term"/> (the ledger's view). <paramref name="syncLedger"/> makes the ledger's files
    /// durable; the writer calls it before dropping a segment that holds the ledger's batches.
    /// </summary>
    public IConsensusLog Join(string ledger, long term, Action syncLedger, EndPoint? localEndPoint = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(ledger);
        ArgumentNullException.ThrowIfNull(syncLedger);
        if (ledger.Length > MaxNameLength || !Ascii.IsValid(ledger))
        {
            throw new ArgumentException($"a ledger name in the node log is 1 to {MaxNameLength} ASCII characters", nameof(ledger));
        }

        return new Member(this, ledger, term, syncLedger, localEndPoint);
    }

    /// <summary>
    /// Moves to a new segment now, as when one fills (every ledger that took a batch since the last move is synced
    /// first), and deletes the segments written before: once it completes, no segment holds a batch appended before the
    /// call. A ledger that is deleted asks for it after closing, so that a ledger made later under its name finds none of
    /// its batches in the log.
    /// </summary>
    /// <exception cref="IOException">The move failed, or the log failed to write before.</exception>
    public Task RollAsync()
    {
        if (_directory is null)
        {
            return Task.CompletedTask;
        }

        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_queueLock)
        {
            if (_stopping)
            {
                throw new ConsensusNotLeaderException("The node log is stopped.");
            }

            if (!_started)
            {
                throw new InvalidOperationException("The node log is not started.");
            }

            _rollWaiters.Add(waiter);
        }

        _signal.Release();
        return waiter.Task;
    }

    private void Enqueue(Pending pending)
    {
        lock (_queueLock)
        {
            if (_stopping)
            {
                throw new ConsensusNotLeaderException("The node log is stopped.");
            }

            if (_fault is { } fault)
            {
                throw new IOException("the node log failed to write; restart to recover", fault);
            }

            _queue.Enqueue(pending);
        }

        _signal.Release();
    }

    /// <summary>The one writer: gathers the queued batches of every ledger, writes and fsyncs them once, then applies each.</summary>
    private void WriterLoop()
    {
        var round = new List<Pending>();
        var rolls = new List<TaskCompletionSource>();
        try
        {
            while (true)
            {
                _signal.Wait();
                lock (_queueLock)
                {
                    while (_queue.TryDequeue(out var next))
                    {
                        round.Add(next);
                    }

                    rolls.AddRange(_rollWaiters);
                    _rollWaiters.Clear();
                    if (round.Count == 0 && rolls.Count == 0)
                    {
                        if (_stopping)
                        {
                            return;
                        }

                        continue;
                    }
                }

                // Each queued batch (and roll) released the semaphore once; this round takes them all. A release taken
                // here for a later one only makes a later wait find an empty round.
                for (var i = 1; i < round.Count + rolls.Count; i++)
                {
                    _signal.Wait(0);
                }

                if (round.Count > 0)
                {
                    WriteRound(round);
                    round.Clear();
                }

                if ((rolls.Count > 0 || _segmentLength >= _options.SegmentBytes) && _fault is null)
                {
                    var moved = MoveToNewSegment();
                    foreach (var roll in rolls)
                    {
                        _ = moved is null ? roll.TrySetResult() : roll.TrySetException(new IOException("the node log could not move to a new segment", moved));
                    }
                }
                else
                {
                    foreach (var roll in rolls)
                    {
                        roll.TrySetException(new IOException("the node log failed to write; restart to recover", _fault));
                    }
                }

                rolls.Clear();
            }
        }
        finally
        {
            lock (_queueLock)
            {
                rolls.AddRange(_rollWaiters);
                _rollWaiters.Clear();
            }

            foreach (var roll in rolls)
            {
                roll.TrySetException(new ConsensusNotLeaderException("The node log is stopped."));
            }

            _writerExited.TrySetResult();
        }
    }

    private void WriteRound(List<Pending> round)
    {
        if (_fault is null && _directory is not null)
        {
            try
            {
                // One gathered write: each record's header and name from one small buffer, its batch where it is.
                _buffer.ResetWrittenCount();
                _parts.Clear();
                var length = 0L;
                foreach (var pending in round)
                {
                    var name = pending.Member.NameBytes;
                    var headerLength = WriteRecordHeader(_buffer.GetSpan(9 + name.Length), name, pending.Batch.Span);
                    _buffer.Advance(headerLength);
                    length += headerLength + pending.Batch.Length;
                }

                var offset = 0;
                foreach (var pending in round)
                {
                    var headerLength = 9 + pending.Member.NameBytes.Length;
                    _parts.Add(_buffer.WrittenMemory.Slice(offset, headerLength));
                    _parts.Add(pending.Batch);
                    offset += headerLength;
                }

                if (_options.WriteFault?.Invoke() is { } injected)
                {
                    throw injected;
                }

                RandomAccess.Write(_segment!, _parts, _segmentLength);
                RandomAccess.FlushToDisk(_segment!);
                _segmentLength += length;
                Interlocked.Add(ref _batchesWritten, round.Count);
                Interlocked.Increment(ref _syncs);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Nothing after a failed write can be trusted to follow it: every later append is refused until restart.
                lock (_queueLock)
                {
                    _fault = ex;
                }

                LogMessages.NodeLogFailed(_logger, ex);
            }
        }

        foreach (var pending in round)
        {
            if (_fault is { } fault)
            {
                pending.Member.Fail(pending, new IOException("the node log failed to write; restart to recover", fault));
                continue;
            }

            pending.Member.Apply(pending);
            _touched.Add(pending.Member);
        }
    }

    /// <summary>
    /// Syncs every ledger that took a batch since the last move, then starts a segment and drops the old one. Returns
    /// the failure, or null.
    /// </summary>
    private Exception? MoveToNewSegment()
    {
        try
        {
            if (_options.MoveFault?.Invoke() is { } injected)
            {
                throw injected;
            }

            foreach (var member in _touched)
            {
                try
                {
                    member.SyncLedger();
                }
                catch (ObjectDisposedException)
                {
                    // That ledger closed since; closing synced its files.
                }
            }

            _touched.Clear();
            var old = Path.Combine(_directory!, SegmentName(_segmentNumber));
            if (!_rolledSegments.Contains(old))
            {
                _rolledSegments.Add(old);
            }

            NewSegment();
            return null;
        }
        catch (Exception ex)
        {
            // The current segment stays and keeps growing; the next round past the size tries again.
            LogMessages.NodeLogFailed(_logger, ex);
            return ex;
        }
    }

    private void NewSegment()
    {
        var directory = _directory!;
        var number = _segmentNumber + 1;
        var path = Path.Combine(directory, SegmentName(number));
        // Create, not CreateNew: a file of this number can only be a try that failed before it held anything.
        var handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite);
        try
        {
            OwnerOnly.Restrict(handle);
            RandomAccess.Write(handle, Magic, 0);
            RandomAccess.FlushToDisk(handle);
            Durability.SyncDirectory(directory);
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        _segment?.Dispose();
        _segment = handle;
        _segmentNumber = number;
        _segmentLength = HeaderLength;
        foreach (var old in _rolledSegments)
        {
            File.Delete(old);
        }

        _rolledSegments.Clear();
        Durability.SyncDirectory(directory);
    }

    private static string SegmentName(long number) => number.ToString("D8", CultureInfo.InvariantCulture) + ".wal";

    /// <summary>
    /// Writes what comes before <paramref name="batch"/> in its record — length, CRC-32C of the payload, name length and
    /// name — into <paramref name="destination"/>; returns its length (9 + the name's).
    /// </summary>
    internal static int WriteRecordHeader(Span<byte> destination, ReadOnlySpan<byte> name, ReadOnlySpan<byte> batch)
    {
        var header = destination[..(9 + name.Length)];
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)(1 + name.Length + batch.Length));
        header[8] = (byte)name.Length;
        name.CopyTo(header[9..]);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], Crc32C.Compute(batch, Crc32C.Compute(header[8..])));
        return header.Length;
    }

    /// <summary>Appends one whole record (header and batch) to <paramref name="writer"/>.</summary>
    internal static void AppendRecord(IBufferWriter<byte> writer, ReadOnlySpan<byte> name, ReadOnlySpan<byte> batch)
    {
        var span = writer.GetSpan(9 + name.Length + batch.Length);
        var headerLength = WriteRecordHeader(span, name, batch);
        batch.CopyTo(span[headerLength..]);
        writer.Advance(headerLength + batch.Length);
    }

    /// <summary>Reads a segment's records into <paramref name="recovered"/>, stopping at the first torn or damaged one.</summary>
    private static void ReadSegment(string path, Dictionary<string, List<byte[]>> recovered)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < HeaderLength)
        {
            return; // made, then the crash came before its magic was durable
        }

        if (!bytes.AsSpan(0, HeaderLength).SequenceEqual(Magic))
        {
            throw new InvalidDataException($"{path} is not a node log segment of this format");
        }

        var offset = HeaderLength;
        while (offset + 8 <= bytes.Length)
        {
            var length = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset));
            if (length < 2 || length > bytes.Length - offset - 8)
            {
                return;
            }

            var payload = bytes.AsSpan(offset + 8, (int)length);
            if (Crc32C.Compute(payload) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset + 4)))
            {
                return;
            }

            var nameLength = payload[0];
            if (nameLength == 0 || 1 + nameLength >= payload.Length)
            {
                return;
            }

            var name = Encoding.ASCII.GetString(payload.Slice(1, nameLength));
            if (!recovered.TryGetValue(name, out var batches))
            {
                recovered[name] = batches = [];
            }

            batches.Add(payload[(1 + nameLength)..].ToArray());
            offset += 8 + (int)length;
        }
    }

    /// <summary>
    /// Stops the writer once the batches queued before are written and applied (every ledger should have stopped
    /// appending first), and closes the segment. The ledgers' own files are synced by the ledgers as they close.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        lock (_queueLock)
        {
            _stopping = true;
        }

        _signal.Release();
        if (_started)
        {
            await _writerExited.Task.ConfigureAwait(false);
        }

        _segment?.Dispose();
    }

    private sealed record Pending(Member Member, ReadOnlyMemory<byte> Batch, TaskCompletionSource<LogPosition> Done);

    /// <summary>One ledger's view of the node log: the consensus log its sequencer appends to.</summary>
    private sealed class Member : IConsensusLog
    {
        private static readonly EndPoint DefaultEndPoint = new DnsEndPoint("localhost", 0);

        private readonly NodeLog _log;
        private readonly Action _syncLedger;
        private readonly EndPoint _localEndPoint;
        private readonly CancellationTokenSource _lifetime = new();
        private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private IConsensusApplier? _applier;
        private long _lastIndex;
        private int _inQueue;
        private int _stopped;

        public Member(NodeLog log, string name, long term, Action syncLedger, EndPoint? localEndPoint)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(term);
            _log = log;
            NameBytes = Encoding.ASCII.GetBytes(name);
            Term = term;
            _syncLedger = syncLedger;
            _localEndPoint = localEndPoint ?? DefaultEndPoint;
        }

        public byte[] NameBytes { get; }

        public bool IsLeader => _applier is not null && !_lifetime.IsCancellationRequested;

        public long Term { get; }

        public long CommitIndex => Volatile.Read(ref _lastIndex);

        public EndPoint? LeaderEndPoint => _localEndPoint;

        public CancellationToken LeadershipToken => IsLeader ? _lifetime.Token : new CancellationToken(canceled: true);

        public IReadOnlyList<ConsensusMember> Members => [new ConsensusMember(_localEndPoint, IsLocal: true, IsLeader: true)];

        public ValueTask StartAsync(IConsensusApplier applier, CancellationToken token)
        {
            ArgumentNullException.ThrowIfNull(applier);
            token.ThrowIfCancellationRequested();
            if (Interlocked.CompareExchange(ref _applier, applier, null) is not null)
            {
                throw new InvalidOperationException("The consensus log is already started.");
            }

            Volatile.Write(ref _lastIndex, applier.LastAppliedIndex);
            return ValueTask.CompletedTask;
        }

        public async ValueTask<LogPosition> ReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token)
        {
            var applied = await BeginReplicateAsync(batch, token).ConfigureAwait(false);
            return await applied.WaitAsync(token).ConfigureAwait(false);
        }

        /// <remarks>Queues the batch for the node log's writer; the task completes once it is durable and applied.</remarks>
        public ValueTask<Task<LogPosition>> BeginReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token)
        {
            if (batch.IsEmpty)
            {
                throw new ArgumentException("A replicated batch is never empty.", nameof(batch));
            }

            if (_applier is null)
            {
                throw new InvalidOperationException("The consensus log is not started.");
            }

            token.ThrowIfCancellationRequested();

            // Counted before the stop is checked, so that a stop either sees this batch and waits for it, or this sees
            // the stop and backs out.
            Interlocked.Increment(ref _inQueue);
            if (Volatile.Read(ref _stopped) != 0)
            {
                Left();
                throw new ConsensusNotLeaderException("The consensus log is stopped.");
            }

            // Continuations run on the writer thread, as with SingleNodeConsensus: the sequencer's are short.
            var done = new TaskCompletionSource<LogPosition>(TaskCreationOptions.None);
            try
            {
                _log.Enqueue(new Pending(this, batch, done));
            }
            catch
            {
                Left();
                throw;
            }

            return ValueTask.FromResult(done.Task);
        }

        /// <summary>On the writer, once the batch is durable in the node log: applies it with the next index.</summary>
        public void Apply(Pending pending)
        {
            var position = new LogPosition(Term, _lastIndex + 1);
            try
            {
                var apply = _applier!.ApplyAsync(position, pending.Batch, CancellationToken.None);
                if (!apply.IsCompletedSuccessfully)
                {
                    apply.AsTask().GetAwaiter().GetResult();
                }

                Volatile.Write(ref _lastIndex, position.Index);
                pending.Done.TrySetResult(position);
            }
            catch (Exception ex)
            {
                // The applier decides what became part of the ledger; number the next batch after that.
                Volatile.Write(ref _lastIndex, _applier!.LastAppliedIndex);
                pending.Done.TrySetException(ex);
            }
            finally
            {
                Left();
            }
        }

        /// <summary>On the writer, when the batch could not be made durable: it fails, and counts as gone from the queue.</summary>
        public void Fail(Pending pending, Exception reason)
        {
            pending.Done.TrySetException(reason);
            Left();
        }

        public void SyncLedger() => _syncLedger();

        private void Left()
        {
            if (Interlocked.Decrement(ref _inQueue) == 0 && Volatile.Read(ref _stopped) != 0)
            {
                _drained.TrySetResult();
            }
        }

        public ValueTask WaitForLeaderReadyAsync(CancellationToken token)
        {
            token.ThrowIfCancellationRequested();
            return IsLeader
                ? ValueTask.CompletedTask
                : ValueTask.FromException(new ConsensusNotLeaderException("The consensus log is not started or is stopped."));
        }

        public ValueTask<bool> AddMemberAsync(EndPoint member, CancellationToken token) =>
            throw new NotSupportedException("A single node has a fixed membership.");

        public ValueTask<bool> RemoveMemberAsync(EndPoint member, CancellationToken token) =>
            throw new NotSupportedException("A single node has a fixed membership.");

        /// <summary>Stops taking batches and waits until those queued are written and applied.</summary>
        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _stopped, 1) != 0)
            {
                return;
            }

            _lifetime.Cancel();
            if (Volatile.Read(ref _inQueue) == 0)
            {
                _drained.TrySetResult();
            }

            await _drained.Task.ConfigureAwait(false);
        }
    }
}

/// <summary>Options of the <see cref="NodeLog"/>.</summary>
public sealed class NodeLogOptions
{
    /// <summary>
    /// Bytes a segment grows to before the writer syncs the ledgers and starts the next (default 64 MiB): what a restart
    /// after a crash may have to read back, and how often the ledgers' files are synced.
    /// </summary>
    public long SegmentBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// Tests only: asked before each round's write; an exception it returns is thrown as if the write had failed
    /// (a full or failing disk cannot be made on demand).
    /// </summary>
    internal Func<IOException?>? WriteFault { get; init; }

    /// <summary>Tests only: asked before each move to a new segment; an exception it returns is thrown as if the move had failed.</summary>
    internal Func<IOException?>? MoveFault { get; init; }
}
