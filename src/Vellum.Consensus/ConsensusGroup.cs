using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Vellum.Consensus;

/// <summary>
/// One consensus log (a Raft group) shared by every ledger of a node: each ledger appends through its own view
/// (<see cref="Join"/>), which tags its batches with the ledger's name, and the group hands each committed entry to the
/// applier of the ledger it names. A new ledger so adds no port, thread or write-ahead log.
/// </summary>
/// <remarks>
/// <para>
/// Entries: <c>"VLG1" · u8 name length · ledger name (ASCII) · batch</c>. An entry without that prefix was written
/// before ledgers shared a log, when a member served only <see cref="UntaggedLedger"/>, and is that ledger's. A
/// ledger's creation or deletion on a running group is an entry of its own, <c>"VLC1" · u8 operation (1: create,
/// 2: delete, 3: describe) · u8 name length · name · description</c> (<see cref="ProposeLedgerAsync"/>,
/// <see cref="ProposeLedgerDeletionAsync"/>): every member opens the ledger when it applies its creation, so the
/// entries that follow find it, and closes it when it applies its deletion; entries of a deleted ledger that follow its
/// deletion (batches it had in flight) are skipped, as are those of a ledger the node finds deleted when it replays its
/// creation. A change of the deployment itself, of no one ledger, is <c>"VLC1" · 4 · 0 · change</c>
/// (<see cref="ProposeDeploymentChangeAsync"/>), which every member hands to its <see cref="IGroupLedgers"/>.
/// </para>
/// <para>
/// Leadership, terms, membership and the commit index are the group's: every view reports the same. The group's
/// snapshot is the list of each ledger's own description (<see cref="IConsensusApplier.DescribeAppliedState"/>) and the
/// node's deployment state (<see cref="IGroupLedgers.DescribeDeployment"/>), and a member that installs one restores
/// each from its part.
/// </para>
/// <para>
/// Order of life: make the group, join every ledger and start each view with its applier (which only registers it),
/// then <see cref="StartAsync"/> with the log: it replays what the log holds into the ledgers and takes part from then
/// on. A ledger made later joins when its creation entry is applied (through <see cref="IGroupLedgers"/>). An entry for
/// a ledger this node neither serves nor was told to make stops its applying (skipping it would let this member's
/// ledgers fall behind unnoticed).
/// </para>
/// </remarks>
public sealed class ConsensusGroup : IAsyncDisposable
{
    /// <summary>The ledger that entries without a tag belong to: the one ledger of a log written before tags.</summary>
    public const string UntaggedLedger = "default";

    private const int MaxNameLength = 64;
    private const int StateVersion = 2; // 1: ledgers only; 2: ledgers, then the deployment's state
    private static ReadOnlySpan<byte> EntryMagic => "VLG1"u8;
    private static ReadOnlySpan<byte> ControlMagic => "VLC1"u8;
    private const byte CreateOperation = 1;
    private const byte DeleteOperation = 2;
    private const byte DescribeOperation = 3;
    private const byte DeploymentOperation = 4;
    private static ReadOnlySpan<byte> StateMagic => "VLGS"u8;

    // Written under _joinLock, read without it by the applier and the snapshot (a ledger may join at any time).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, View> _views = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, View>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private IGroupLedgers? _ledgers;

    // Names whose entries are skipped: after a deletion, and after a creation of a ledger the node finds deleted since,
    // until the next creation of the name. Only the apply path uses it.
    private readonly HashSet<string> _skipped = new(StringComparer.Ordinal);
    private volatile bool _opening;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dispatcher _dispatcher;
    private readonly Lock _joinLock = new();
    private IConsensusLog? _log;
    private int _disposed;

    /// <summary>A group with no log yet: ledgers join, then <see cref="StartAsync"/> gives it one.</summary>
    public ConsensusGroup()
    {
        _lookup = _views.GetAlternateLookup<ReadOnlySpan<char>>();
        _dispatcher = new Dispatcher(this);
    }

    /// <summary>The shared log, once started.</summary>
    public IConsensusLog? Log => Volatile.Read(ref _log);

    /// <summary>
    /// The consensus log through which ledger <paramref name="ledger"/> appends. Before <see cref="StartAsync"/> for the
    /// ledgers a node opens with; afterwards only from <see cref="IGroupLedgers.OpenLedgerAsync"/>, on the apply path,
    /// so that the view exists before any entry for it is applied.
    /// </summary>
    /// <exception cref="ArgumentException">The name is not 1 to 64 ASCII characters, or it joined already.</exception>
    /// <exception cref="InvalidOperationException">The group is started and is not opening a ledger made by its log.</exception>
    public IConsensusLog Join(string ledger)
    {
        ArgumentException.ThrowIfNullOrEmpty(ledger);
        if (ledger.Length > MaxNameLength || !Ascii.IsValid(ledger))
        {
            throw new ArgumentException($"a ledger name in a consensus group is 1 to {MaxNameLength} ASCII characters", nameof(ledger));
        }

        // Ledgers open (and join) in parallel; the views are read without a lock.
        lock (_joinLock)
        {
            if (Log is not null && !_opening)
            {
                throw new InvalidOperationException("Once the group is started, a ledger joins only when the log makes it (ProposeLedgerAsync).");
            }

            var view = new View(this, ledger);
            if (!_views.TryAdd(ledger, view))
            {
                throw new ArgumentException($"the ledger '{ledger}' joined this group already", nameof(ledger));
            }

            return view;
        }
    }

    /// <summary>
    /// Starts <paramref name="log"/> with the group's applier: what the log holds is replayed into the ledgers that
    /// joined (each view must have been started with its applier), then the views follow the log. The group owns
    /// <paramref name="log"/> from now on and disposes it.
    /// </summary>
    /// <param name="log">The shared log.</param>
    /// <param name="ledgers">Opens the ledgers the log makes later; without it, a creation entry stops applying.</param>
    /// <param name="token">Cancels the start.</param>
    /// <exception cref="InvalidOperationException">The group is started, or a view was not started.</exception>
    public async ValueTask StartAsync(IConsensusLog log, IGroupLedgers? ledgers, CancellationToken token)
    {
        ArgumentNullException.ThrowIfNull(log);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        lock (_joinLock)
        {
            foreach (var view in _views.Values)
            {
                if (view.Applier is null)
                {
                    throw new InvalidOperationException($"The ledger '{view.Name}' joined the group but its view was not started.");
                }
            }

            if (Interlocked.CompareExchange(ref _log, log, null) is not null)
            {
                throw new InvalidOperationException("The consensus group is already started.");
            }

            // Before the log starts: its replay may apply a creation.
            _ledgers = ledgers;
        }

        try
        {
            await log.StartAsync(_dispatcher, token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The views' waits end as a lost leadership would: their loops stop with their ledgers.
            _started.TrySetException(new ConsensusNotLeaderException("The consensus group did not start.", ex));
            throw;
        }

        _started.TrySetResult();
    }

    /// <summary>
    /// Leader only: appends the creation of ledger <paramref name="ledger"/> with <paramref name="description"/> (what
    /// the members need to make it; opaque to the group, at most 4 KiB) and returns once it is committed. Every member
    /// then hands it to its <see cref="IGroupLedgers.OpenLedgerAsync"/> when it applies the entry, which opens the
    /// ledger (or finds it open already, or deleted since).
    /// </summary>
    /// <exception cref="ConsensusNotLeaderException">Not the leader, or leadership was lost (the outcome is then unknown).</exception>
    public ValueTask<LogPosition> ProposeLedgerAsync(string ledger, ReadOnlyMemory<byte> description, CancellationToken token) =>
        ProposeAsync(CreateOperation, ledger, description, token);

    /// <summary>
    /// Leader only: appends the deletion of ledger <paramref name="ledger"/> with <paramref name="description"/> (which
    /// ledger of the name, and what the members keep of it; opaque to the group, at most 4 KiB) and returns once it is
    /// committed. Every member hands it to its <see cref="IGroupLedgers.DeleteLedgerAsync"/> when it applies the entry
    /// and, if that deleted the ledger, drops its view; the ledger's entries after it are skipped.
    /// </summary>
    /// <exception cref="ConsensusNotLeaderException">Not the leader, or leadership was lost (the outcome is then unknown).</exception>
    public ValueTask<LogPosition> ProposeLedgerDeletionAsync(string ledger, ReadOnlyMemory<byte> description, CancellationToken token) =>
        ProposeAsync(DeleteOperation, ledger, description, token);

    /// <summary>
    /// Leader only: appends a new description of ledger <paramref name="ledger"/> (what the node keeps about it beside
    /// its transactions, such as its control-plane resource; opaque to the group, at most 256 KiB) and returns once it is
    /// committed. Every member that serves the ledger hands it to its <see cref="IGroupLedgers.DescribeLedgerAsync"/>
    /// when it applies the entry; one whose entries are skipped (deleted) ignores it.
    /// </summary>
    /// <exception cref="ConsensusNotLeaderException">Not the leader, or leadership was lost (the outcome is then unknown).</exception>
    public ValueTask<LogPosition> ProposeLedgerDescriptionAsync(string ledger, ReadOnlyMemory<byte> description, CancellationToken token) =>
        ProposeAsync(DescribeOperation, ledger, description, token);

    /// <summary>
    /// Leader only: appends a change of the deployment itself, of no one ledger (such as a node key's retirement; opaque
    /// to the group, at most 4 KiB), and returns once it is committed. Every member hands it to its
    /// <see cref="IGroupLedgers.ChangeDeploymentAsync"/> when it applies the entry.
    /// </summary>
    /// <exception cref="ConsensusNotLeaderException">Not the leader, or leadership was lost (the outcome is then unknown).</exception>
    public ValueTask<LogPosition> ProposeDeploymentChangeAsync(ReadOnlyMemory<byte> change, CancellationToken token)
    {
        if (change.IsEmpty || change.Length > MaxDeploymentChangeLength)
        {
            throw new ArgumentException($"a deployment change is 1 to {MaxDeploymentChangeLength} bytes", nameof(change));
        }

        if (Log is not { } log)
        {
            return ValueTask.FromException<LogPosition>(new ConsensusNotLeaderException("The consensus group is not started."));
        }

        var entry = new byte[ControlMagic.Length + 2 + change.Length];
        ControlMagic.CopyTo(entry);
        entry[ControlMagic.Length] = DeploymentOperation;
        change.Span.CopyTo(entry.AsSpan(ControlMagic.Length + 2));
        return log.ReplicateAsync(entry, token);
    }

    private const int MaxDeploymentChangeLength = 4 * 1024;

    private ValueTask<LogPosition> ProposeAsync(byte operation, string ledger, ReadOnlyMemory<byte> description, CancellationToken token)
    {
        ArgumentException.ThrowIfNullOrEmpty(ledger);
        if (ledger.Length > MaxNameLength || !Ascii.IsValid(ledger))
        {
            throw new ArgumentException($"a ledger name in a consensus group is 1 to {MaxNameLength} ASCII characters", nameof(ledger));
        }

        if (description.Length > MaxDescriptionLength)
        {
            throw new ArgumentException($"a ledger's description is at most {MaxDescriptionLength} bytes", nameof(description));
        }

        if (Log is not { } log)
        {
            return ValueTask.FromException<LogPosition>(new ConsensusNotLeaderException("The consensus group is not started."));
        }

        var entry = new byte[ControlMagic.Length + 2 + ledger.Length + description.Length];
        ControlMagic.CopyTo(entry);
        entry[ControlMagic.Length] = operation;
        entry[ControlMagic.Length + 1] = (byte)ledger.Length;
        Encoding.ASCII.GetBytes(ledger, entry.AsSpan(ControlMagic.Length + 2));
        description.Span.CopyTo(entry.AsSpan(ControlMagic.Length + 2 + ledger.Length));
        return log.ReplicateAsync(entry, token);
    }

    private const int MaxDescriptionLength = 256 * 1024; // a control-plane resource with its certificate principals

    /// <summary>A control entry's operation, ledger and description; false when <paramref name="entry"/> is not one.</summary>
    /// <exception cref="InvalidDataException">It is a control entry, but damaged or of an unknown operation.</exception>
    private static bool TryReadControl(LogPosition position, ReadOnlyMemory<byte> entry, out byte operation, out string ledger, out ReadOnlyMemory<byte> description)
    {
        var span = entry.Span;
        operation = 0;
        ledger = string.Empty;
        description = default;
        if (!span.StartsWith(ControlMagic))
        {
            return false;
        }

        var header = ControlMagic.Length + 2;
        if (span.Length > header && span[ControlMagic.Length] == DeploymentOperation && span[ControlMagic.Length + 1] == 0)
        {
            operation = DeploymentOperation;
            description = entry[header..];
            return true;
        }

        if (span.Length < header || span[ControlMagic.Length] is not (CreateOperation or DeleteOperation or DescribeOperation) || span[ControlMagic.Length + 1] is var length &&
            (length == 0 || length > MaxNameLength || span.Length < header + length) || !Ascii.IsValid(span.Slice(header, length)))
        {
            throw new InvalidDataException($"Consensus entry {position.Index} is a damaged ledger operation, or one this version does not know.");
        }

        operation = span[ControlMagic.Length];
        ledger = Encoding.ASCII.GetString(span.Slice(header, length));
        description = entry[(header + length)..];
        return true;
    }

    /// <summary>
    /// <paramref name="batch"/> as an entry of the shared log: tagged with <paramref name="ledger"/> (ASCII, 1–64).
    /// </summary>
    public static byte[] Tag(ReadOnlySpan<byte> ledger, ReadOnlySpan<byte> batch)
    {
        var entry = new byte[EntryMagic.Length + 1 + ledger.Length + batch.Length];
        EntryMagic.CopyTo(entry);
        entry[EntryMagic.Length] = (byte)ledger.Length;
        ledger.CopyTo(entry.AsSpan(EntryMagic.Length + 1));
        batch.CopyTo(entry.AsSpan(EntryMagic.Length + 1 + ledger.Length));
        return entry;
    }

    /// <summary>
    /// The ledger an entry of the shared log belongs to and its batch: <see cref="UntaggedLedger"/> for an entry with no
    /// tag. False when the tag is damaged.
    /// </summary>
    public static bool TryUntag(ReadOnlyMemory<byte> entry, out string ledger, out ReadOnlyMemory<byte> batch)
    {
        var span = entry.Span;
        if (!span.StartsWith(EntryMagic))
        {
            ledger = UntaggedLedger;
            batch = entry;
            return true;
        }

        var header = EntryMagic.Length + 1;
        if (span.Length < header || span[EntryMagic.Length] is var length && (length == 0 || length > MaxNameLength || span.Length < header + length) ||
            !Ascii.IsValid(span.Slice(header, length)))
        {
            ledger = string.Empty;
            batch = default;
            return false;
        }

        ledger = Encoding.ASCII.GetString(span.Slice(header, length));
        batch = entry[(header + length)..];
        return true;
    }

    /// <summary>Stops the log (batches in flight learn their outcome); the views stop with it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _started.TrySetException(new ConsensusNotLeaderException("The consensus group is stopped."));
        if (Log is { } log)
        {
            await log.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A creation entry: the node opens the ledger, or finds it open (a replay, or a second creation of the name, which
    /// changes nothing), or finds that this creation's ledger was deleted since: its entries are then skipped until the
    /// name is made again.
    /// </summary>
    private async ValueTask CreateAsync(LogPosition position, string ledger, ReadOnlyMemory<byte> description, CancellationToken token)
    {
        if (await OpenAsync(position, ledger, description, token).ConfigureAwait(false) is null)
        {
            _skipped.Add(ledger);
        }
        else
        {
            _skipped.Remove(ledger);
        }
    }

    /// <summary>Opens the ledger through the node: its view, or null when it was deleted since.</summary>
    private async ValueTask<View?> OpenAsync(LogPosition position, string ledger, ReadOnlyMemory<byte> description, CancellationToken token)
    {
        if (_ledgers is not { } ledgers)
        {
            throw new InvalidDataException($"Consensus entry {position.Index} makes the ledger '{ledger}', and this node opens no ledgers while it runs.");
        }

        bool opened;
        _opening = true;
        try
        {
            opened = await ledgers.OpenLedgerAsync(ledger, description, token).ConfigureAwait(false);
        }
        finally
        {
            _opening = false;
        }

        if (!opened)
        {
            return null;
        }

        return _lookup.TryGetValue(ledger, out var view) && view.Applier is not null
            ? view
            : throw new InvalidOperationException($"The ledger '{ledger}' was opened for consensus entry {position.Index} but did not join the group.");
    }

    private async ValueTask DeleteAsync(LogPosition position, string ledger, ReadOnlyMemory<byte> description, CancellationToken token)
    {
        if (_ledgers is not { } ledgers)
        {
            throw new InvalidDataException($"Consensus entry {position.Index} deletes the ledger '{ledger}', and this node manages no ledgers while it runs.");
        }

        // Deleted here: the name's entries until its next creation are the deleted ledger's (batches it had in flight).
        // Not served here: the same. A ledger of the name served here that is not the one deleted was made after it (a
        // replay, whose earlier creation started the skipping already), and its entries go on to it.
        var served = _lookup.TryGetValue(ledger, out _);
        if (await ledgers.DeleteLedgerAsync(ledger, description, token).ConfigureAwait(false))
        {
            lock (_joinLock)
            {
                _views.TryRemove(ledger, out _);
            }

            _skipped.Add(ledger);
        }
        else if (!served)
        {
            _skipped.Add(ledger);
        }
    }

    /// <summary>
    /// After a snapshot is installed: a ledger served here that it does not name was made after it (a join handed it
    /// over) or deleted before it while this node missed the deletion (down while the entry was compacted away). The
    /// node tells which (<see cref="IGroupLedgers.ForgetIfDeletedAsync"/>); a deleted one loses its view, and its
    /// entries are skipped until the name is made again.
    /// </summary>
    private async ValueTask ForgetUnnamedAsync(List<(string Name, ReadOnlyMemory<byte> State)> parts, CancellationToken token)
    {
        if (_ledgers is not { } ledgers)
        {
            return;
        }

        foreach (var name in _views.Keys)
        {
            if (parts.Exists(p => p.Name == name) || !await ledgers.ForgetIfDeletedAsync(name, token).ConfigureAwait(false))
            {
                continue;
            }

            lock (_joinLock)
            {
                _views.TryRemove(name, out _);
            }

            _skipped.Add(name);
        }
    }

    /// <summary>A new description of a ledger this node serves (one deleted, or not served, ignores it).</summary>
    private ValueTask DescribeAsync(string ledger, ReadOnlyMemory<byte> description, CancellationToken token) =>
        _ledgers is { } ledgers && !_skipped.Contains(ledger) && _lookup.TryGetValue(ledger, out _)
            ? ledgers.DescribeLedgerAsync(ledger, description, token)
            : ValueTask.CompletedTask;

    /// <summary>The view an entry goes to; null when its ledger was deleted (the entry is skipped).</summary>
    private View? ViewFor(LogPosition position, ReadOnlyMemory<byte> entry, out ReadOnlyMemory<byte> batch)
    {
        if (!TryUntag(entry, out var name, out batch))
        {
            throw new InvalidDataException($"Consensus entry {position.Index} has a damaged ledger tag.");
        }

        return _skipped.Count > 0 && _skipped.Contains(name) ? null
            : _lookup.TryGetValue(name, out var view) ? view
            : throw new InvalidDataException(
                $"Consensus entry {position.Index} belongs to the ledger '{name}', which this node does not serve; every member must serve the same ledgers.");
    }

    /// <summary>The one applier the log knows: hands each entry to its ledger's applier.</summary>
    private sealed class Dispatcher(ConsensusGroup group) : IConsensusApplier
    {
        private long _lastApplied;

        // The ledgers skip what they already have (idempotent by index), so a restart replays everything the log holds.
        public long LastAppliedIndex => Volatile.Read(ref _lastApplied);

        public async ValueTask ApplyAsync(LogPosition position, ReadOnlyMemory<byte> entry, CancellationToken token)
        {
            if (TryReadControl(position, entry, out var operation, out var ledger, out var description))
            {
                switch (operation)
                {
                    case CreateOperation:
                        await group.CreateAsync(position, ledger, description, token).ConfigureAwait(false);
                        break;
                    case DeleteOperation:
                        await group.DeleteAsync(position, ledger, description, token).ConfigureAwait(false);
                        break;
                    case DeploymentOperation:
                        await (group._ledgers ?? throw new InvalidDataException($"Consensus entry {position.Index} changes the deployment, and this node keeps no deployment state."))
                            .ChangeDeploymentAsync(description, token).ConfigureAwait(false);
                        break;
                    default:
                        await group.DescribeAsync(ledger, description, token).ConfigureAwait(false);
                        break;
                }

                Volatile.Write(ref _lastApplied, position.Index);
                return;
            }

            if (group.ViewFor(position, entry, out var batch) is { } view)
            {
                await view.Applier!.ApplyAsync(position, batch, token).ConfigureAwait(false);
            }

            Volatile.Write(ref _lastApplied, position.Index);
        }

        /// <remarks>
        /// <c>"VLGS" · u8 version (2) · u32 count</c>, then for each ledger in ordinal order of name <c>u8 name length ·
        /// name · u32 state length · state</c>, then <c>u32 length · the deployment's state</c>, little-endian (version 1
        /// ended after the ledgers). Null when any ledger takes no snapshots.
        /// </remarks>
        public byte[]? DescribeAppliedState()
        {
            var parts = new List<(byte[] Name, byte[] State)>(group._views.Count);
            foreach (var view in group._views.Values.OrderBy(v => v.Name, StringComparer.Ordinal))
            {
                if (view.Applier is null)
                {
                    // Joining right now: no snapshot this time (the next applied entry tries again), rather than one
                    // that leaves the ledger out.
                    return null;
                }

                if (view.Applier!.DescribeAppliedState() is not { } state)
                {
                    return null;
                }

                parts.Add((Encoding.ASCII.GetBytes(view.Name), state));
            }

            var deployment = group._ledgers?.DescribeDeployment() ?? [];
            var length = StateMagic.Length + 1 + 4 + 4 + deployment.Length;
            foreach (var (name, state) in parts)
            {
                length += 1 + name.Length + 4 + state.Length;
            }

            var bytes = new byte[length];
            StateMagic.CopyTo(bytes);
            bytes[StateMagic.Length] = StateVersion;
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(StateMagic.Length + 1), parts.Count);
            var at = StateMagic.Length + 1 + 4;
            foreach (var (name, state) in parts)
            {
                bytes[at++] = (byte)name.Length;
                name.CopyTo(bytes.AsSpan(at));
                at += name.Length;
                BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), state.Length);
                at += 4;
                state.CopyTo(bytes.AsSpan(at));
                at += state.Length;
            }

            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), deployment.Length);
            deployment.CopyTo(bytes.AsSpan(at + 4));
            return bytes;
        }

        /// <remarks>
        /// A state without the group's magic was described by a member that served one ledger before tags: it is
        /// <see cref="UntaggedLedger"/>'s.
        /// </remarks>
        public async ValueTask RestoreAsync(LogPosition position, ReadOnlyMemory<byte> state, CancellationToken token)
        {
            var (parts, deployment) = Parse(position, state);
            if (deployment.Length > 0 && group._ledgers is { } ledgers)
            {
                // First: a retired node is refused before anything else of the snapshot is taken in.
                await ledgers.RestoreDeploymentAsync(deployment, token).ConfigureAwait(false);
            }

            foreach (var (name, part) in parts)
            {
                if (!group._lookup.TryGetValue(name, out var view))
                {
                    // Made after this member last applied: open it (from the other members' copies) first, unless it
                    // is deleted by now (its deletion follows in the log).
                    view = await group.OpenAsync(position, name, ReadOnlyMemory<byte>.Empty, token).ConfigureAwait(false);
                }

                if (view is not null)
                {
                    // The snapshot was taken while the ledger was served: whatever came before it is behind.
                    group._skipped.Remove(name);
                    await view.Applier!.RestoreAsync(position, part, token).ConfigureAwait(false);
                }
            }

            await group.ForgetUnnamedAsync(parts, token).ConfigureAwait(false);

            if (position.Index > Volatile.Read(ref _lastApplied))
            {
                Volatile.Write(ref _lastApplied, position.Index);
            }
        }

        private static (List<(string Name, ReadOnlyMemory<byte> State)> Parts, ReadOnlyMemory<byte> Deployment) Parse(LogPosition position, ReadOnlyMemory<byte> state)
        {
            var span = state.Span;
            if (!span.StartsWith(StateMagic))
            {
                return ([(UntaggedLedger, state)], ReadOnlyMemory<byte>.Empty);
            }

            var damaged = new InvalidDataException($"The leader's snapshot at index {position.Index} is damaged.");
            var at = StateMagic.Length;
            if (span.Length < at + 5 || span[at] is not (1 or StateVersion))
            {
                throw new InvalidDataException($"The leader's snapshot at index {position.Index} is of a version this node does not read.");
            }

            var version = span[at];
            var count = BinaryPrimitives.ReadInt32LittleEndian(span[(at + 1)..]);
            at += 5;
            var parts = new List<(string, ReadOnlyMemory<byte>)>();
            for (var i = 0; i < count; i++)
            {
                if (span.Length < at + 1 || span[at] is var nameLength && span.Length < at + 1 + nameLength + 4)
                {
                    throw damaged;
                }

                var name = Encoding.ASCII.GetString(span.Slice(at + 1, nameLength));
                at += 1 + nameLength;
                var partLength = BinaryPrimitives.ReadInt32LittleEndian(span[at..]);
                at += 4;
                if (partLength < 0 || span.Length - at < partLength)
                {
                    throw damaged;
                }

                parts.Add((name, state.Slice(at, partLength)));
                at += partLength;
            }

            var deployment = ReadOnlyMemory<byte>.Empty;
            if (version >= 2)
            {
                var deploymentLength = span.Length - at < 4 ? -1 : BinaryPrimitives.ReadInt32LittleEndian(span[at..]);
                if (deploymentLength < 0 || span.Length - at - 4 < deploymentLength)
                {
                    throw damaged;
                }

                deployment = state.Slice(at + 4, deploymentLength);
                at += 4 + deploymentLength;
            }

            return at == span.Length ? (parts, deployment) : throw damaged;
        }
    }

    /// <summary>One ledger's view of the group: the group's log, with its batches tagged.</summary>
    private sealed class View(ConsensusGroup group, string name) : IConsensusLog
    {
        private readonly byte[] _nameBytes = Encoding.ASCII.GetBytes(name);

        public string Name { get; } = name;

        public IConsensusApplier? Applier { get; private set; }

        private IConsensusLog? Log => group.Log;

        public bool IsLeader => Log?.IsLeader ?? false;

        public long Term => Log?.Term ?? 0;

        public long CommitIndex => Log?.CommitIndex ?? 0;

        public long AppliedIndex => Log?.AppliedIndex ?? 0;

        public long LastIndex => Log?.LastIndex ?? 0;

        public bool KeepsEntriesDurably => Log?.KeepsEntriesDurably ?? false;

        public long SnapshotIndex => Log?.SnapshotIndex ?? 0;

        public EndPoint? LeaderEndPoint => Log?.LeaderEndPoint;

        public CancellationToken LeadershipToken => Log?.LeadershipToken ?? new CancellationToken(canceled: true);

        public IReadOnlyList<ConsensusMember> Members => Log?.Members ?? [];

        /// <remarks>Registers <paramref name="applier"/>: the group's <see cref="ConsensusGroup.StartAsync"/> replays and applies.</remarks>
        public ValueTask StartAsync(IConsensusApplier applier, CancellationToken token)
        {
            ArgumentNullException.ThrowIfNull(applier);
            token.ThrowIfCancellationRequested();
            if (Applier is not null)
            {
                throw new InvalidOperationException("The consensus log is already started.");
            }

            Applier = applier;
            return ValueTask.CompletedTask;
        }

        public async ValueTask<LogPosition> ReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token)
        {
            var replication = await BeginReplicateAsync(batch, token).ConfigureAwait(false);
            return await replication.ConfigureAwait(false);
        }

        /// <remarks>The tagged copy is the entry the log keeps until it is applied; the caller's batch is free at once.</remarks>
        public ValueTask<Task<LogPosition>> BeginReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token)
        {
            if (batch.IsEmpty)
            {
                throw new ArgumentException("A replicated batch is never empty.", nameof(batch));
            }

            return Log is { } log
                ? log.BeginReplicateAsync(Tag(_nameBytes, batch.Span), token)
                : ValueTask.FromException<Task<LogPosition>>(new ConsensusNotLeaderException("The consensus group is not started."));
        }

        public async ValueTask WaitForLeaderReadyAsync(CancellationToken token)
        {
            await group._started.Task.WaitAsync(token).ConfigureAwait(false);
            await group.Log!.WaitForLeaderReadyAsync(token).ConfigureAwait(false);
        }

        public ValueTask<bool> AddMemberAsync(EndPoint member, CancellationToken token) =>
            Log is { } log ? log.AddMemberAsync(member, token) : ValueTask.FromException<bool>(new ConsensusNotLeaderException("The consensus group is not started."));

        public ValueTask<bool> RemoveMemberAsync(EndPoint member, CancellationToken token) =>
            Log is { } log ? log.RemoveMemberAsync(member, token) : ValueTask.FromException<bool>(new ConsensusNotLeaderException("The consensus group is not started."));

        /// <remarks>The group owns the log and stops it (<see cref="ConsensusGroup.DisposeAsync"/>); a view has nothing of its own.</remarks>
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
