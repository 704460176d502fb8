using System.Net;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Membership;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Extensions.Logging;
using Vellum.Core.Identity;
using Vellum.Storage.IO;

namespace Vellum.Consensus.Raft;

/// <summary>
/// Raft on DotNext.Net.Cluster 6.12: a <see cref="RaftCluster"/> over TCP with mutual TLS between nodes, a persistent
/// write-ahead log that fsyncs on followers before they acknowledge, and a state machine that hands committed batches
/// to the <see cref="IConsensusApplier"/>.
/// </summary>
/// <remarks>
/// The WAL is compacted at snapshots (every <see cref="RaftConsensusOptions.SnapshotInterval"/> applied entries); a
/// snapshot is the applier's description of its durable state, see <see cref="ApplierStateMachine"/>.
/// Partial files: leadership tracking is in <c>RaftConsensus.Leadership.cs</c>.
/// </remarks>
public sealed partial class RaftConsensus : IConsensusLog
{
    private const int New = 0, Started = 1, Disposed = 2;

    private readonly RaftConsensusOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _lifetime = new();
    private int _state;

    private DurableWriteAheadLog? _wal;
    private ApplierStateMachine? _stateMachine;
    private MembershipFile? _membership;
    private Cluster? _cluster;
    private long _lastStepDown; // Environment.TickCount64 of the last step-down for a refused snapshot; 0: none yet

    /// <summary>Validates <paramref name="options"/>; nothing is opened or bound until <see cref="StartAsync"/>.</summary>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public RaftConsensus(RaftConsensusOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = options.Logger ?? options.LoggerFactory.CreateLogger<RaftConsensus>();
    }

    /// <summary>This node's node-channel address.</summary>
    public EndPoint LocalEndPoint => _options.LocalEndPoint;

    /// <inheritdoc />
    public long Term => _wal is { } wal ? ((IPersistentState)wal).Term : 0;

    /// <inheritdoc />
    public long CommitIndex => _wal?.LastCommittedEntryIndex ?? 0;

    /// <summary>The index of the last entry applied on this node (no-ops and configuration entries included).</summary>
    public long AppliedIndex => _wal?.LastAppliedIndex ?? 0;

    /// <inheritdoc />
    public long LastIndex => _wal is { } wal ? ((IAuditTrail)wal).LastEntryIndex : 0;

    /// <inheritdoc />
    public IReadOnlyList<ConsensusMember> Members
    {
        get
        {
            if (_cluster is not { } cluster)
            {
                return [];
            }

            List<ConsensusMember> members = [];
            foreach (var member in cluster.Members)
            {
                members.Add(new ConsensusMember(member.EndPoint, IsLocal: !member.IsRemote, member.IsLeader));
            }

            return members;
        }
    }

    /// <inheritdoc />
    public long SnapshotIndex => _stateMachine?.Snapshot?.Index ?? 0;

    /// <inheritdoc />
    /// <remarks>Asked over the node channel (mutual TLS with the deployment's members), never from a cache.</remarks>
    public async ValueTask<IReadOnlyDictionary<string, string>?> DescribeMemberAsync(EndPoint member, CancellationToken token)
    {
        ArgumentNullException.ThrowIfNull(member);
        if (_cluster is not { } cluster)
        {
            return null;
        }

        var address = member.ToString();
        foreach (var candidate in cluster.Members)
        {
            if (candidate.IsRemote && candidate.EndPoint.ToString() == address)
            {
                try
                {
                    return await candidate.GetMetadataAsync(refresh: true, token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is DotNext.Net.Cluster.MemberUnavailableException or IOException or System.Net.Sockets.SocketException
                    or System.Security.Authentication.AuthenticationException or TimeoutException or ObjectDisposedException)
                {
                    // Down, unreachable, refused by the channel (a retired key) or stopping: nothing learnt this time.
                    return null;
                }
            }
        }

        return null;
    }

    /// <inheritdoc />
    /// <remarks>The WAL: the leader flushes before it commits, followers before they acknowledge.</remarks>
    public bool KeepsEntriesDurably => true;

    /// <summary>How many snapshots this node received from a leader and caught up to.</summary>
    public long SnapshotsInstalled => _stateMachine?.SnapshotsInstalled ?? 0;

    /// <summary>
    /// How many follower appends carrying entries this node fsynced before acknowledging them: the proof that the
    /// durable AppendEntries path (<see cref="DurableWriteAheadLog"/>) is the one DotNext calls.
    /// </summary>
    public long FollowerAppendFlushes => _wal?.FollowerAppendFlushes ?? 0;

    /// <summary>
    /// Opens the WAL in <see cref="RaftConsensusOptions.WalPath"/> (replaying committed entries after the applier's
    /// last applied index), binds the node channel and starts taking part in elections. If it throws, this object
    /// is disposed.
    /// </summary>
    public async ValueTask StartAsync(IConsensusApplier applier, CancellationToken token)
    {
        ArgumentNullException.ThrowIfNull(applier);
        if (Interlocked.CompareExchange(ref _state, Started, New) != New)
        {
            ObjectDisposedException.ThrowIf(_state == Disposed, this);
            throw new InvalidOperationException("The consensus log is already started.");
        }

        try
        {
            await OpenAsync(applier, token).ConfigureAwait(false);
        }
        catch
        {
            // Nothing half-open is left behind (a bound port, a mapped WAL); the object is disposed.
            await DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async ValueTask OpenAsync(IConsensusApplier applier, CancellationToken token)
    {
        // Owner-only, and the log's own folder made here rather than by DotNext, which would make it with the umask's
        // mode: the log holds entry contents (OwnerOnly explains the layers).
        OwnerOnly.CreateDirectory(Path.Combine(_options.WalPath, "log"));

        // The WAL starts applying committed entries in its constructor, so the state machine must hold the applier
        // (and have read its snapshot) by now. It replays from the snapshot, or from index 1 without one; the state
        // machine skips what the applier already has.
        _stateMachine = new ApplierStateMachine(applier, _options.WalPath, _options.SnapshotInterval, _logger);
        _wal = new DurableWriteAheadLog(
            new WriteAheadLog.Options
            {
                Location = Path.Combine(_options.WalPath, "log"),
                HashAlgorithm = WriteAheadLog.IntegrityHashAlgorithm.XxHash3,
                ChunkSize = _options.WalChunkSize,
                // Memory-mapped pages over the files, not DotNext's private buffers: a private page comes from
                // malloc uncleared, and the padding of each entry's slot in the entry table went to disk as whatever
                // the process had freed there, request plaintext included (RaftConsensusFaultTests shows it with
                // glibc's M_PERTURB). A mapped page starts as the file's zeros.
                MemoryManagement = WriteAheadLog.MemoryManagementStrategy.SharedMemory,
            },
            _stateMachine);

        _membership = new MembershipFile(Path.Combine(_options.WalPath, "members"));
        await SeedStaticMembershipAsync(_membership, token).ConfigureAwait(false);

        var configuration = new RaftCluster.TcpConfiguration(_options.LocalEndPoint)
        {
            LowerElectionTimeout = _options.LowerElectionTimeout,
            UpperElectionTimeout = _options.UpperElectionTimeout,
            RequestTimeout = _options.EffectiveRequestTimeout,
            ConnectTimeout = _options.EffectiveConnectTimeout,
            // A leader refuses every pre-vote while it leads: a member that restarts, or one that missed a heartbeat
            // or two on a starved machine, cannot depose a primary that is still reachable. Followers already refuse
            // pre-votes and votes while they hear from the leader (DotNext's leader stickiness).
            AggressiveLeaderStickiness = true,
            ColdStart = _options.ColdStart,
            ConfigurationStorage = _membership,
            LoggerFactory = new SnapshotRefusalWatch(_options.LoggerFactory, OnSnapshotAlreadyHeld),
            SslOptions = PeerAuthentication.CreateOptions(_options.TlsCertificate ?? new NodeTlsCertificate(_options.NodeIdentity), _options.ServiceCertificate, _options.RetiredNodes, _logger),
        };

        foreach (var (key, value) in _options.Metadata)
        {
            configuration.Metadata[key] = value;
        }

        _cluster = new Cluster(configuration) { AuditTrail = _wal };

        // Verifies the WAL's integrity hashes, waits until the committed entries it holds are applied, then listens.
        await _cluster.StartAsync(token).ConfigureAwait(false);
        _tracker = TrackLeadershipAsync(_cluster, _lifetime.Token);
        LogMessages.RaftStarted(
            _logger, _options.LocalEndPoint, _options.WalPath, _cluster.Members.Count, _options.ColdStart,
            applier.LastAppliedIndex, _wal.LastCommittedEntryIndex);
    }

    /// <inheritdoc />
    /// <remarks><see cref="BeginReplicateAsync"/>, then its wait.</remarks>
    public async ValueTask<LogPosition> ReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token)
    {
        var replication = await BeginReplicateAsync(batch, token).ConfigureAwait(false);
        return await replication.ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>
    /// The three steps of DotNext's <c>ReplicateAsync</c>, with the wait split off: append under the leadership this
    /// node holds (the WAL's append lock orders the entries, and the WAL starts flushing them at once), ask the
    /// leader for a replication round (the round in progress is not waited for: the next one starts as soon as it
    /// ends and carries every entry appended since), then wait until the entry is applied here. Several batches can
    /// so be in the log at once.
    /// <para>
    /// The entry carries the term this node leads, not the persisted current term: while a deposed leader steps
    /// down there is a moment when the latter is already higher, and an entry stamped with a term this node does not
    /// lead would break Raft's log matching. Leadership lost before the entry is applied surfaces as
    /// <see cref="ConsensusNotLeaderException"/>; the entry's index comes back through its context
    /// (<see cref="ReplicationContext"/>), which the state machine sets when it applies our entry, and stays unset if
    /// a new leader's entry took that index.
    /// </para>
    /// </remarks>
    public async ValueTask<Task<LogPosition>> BeginReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token)
    {
        if (batch.IsEmpty)
        {
            throw new ArgumentException("A replicated batch is never empty.", nameof(batch));
        }

        var cluster = RequireStarted();
        if (_leadership is not { } leadership || leadership.Token.IsCancellationRequested || _wal is not { } wal)
        {
            throw NotLeader(innerException: null);
        }

        var context = new ReplicationContext(leadership.Term);
        var entry = new BinaryLogEntry { Content = batch, Term = leadership.Term, Context = context };
        long index;
        try
        {
            index = await wal.AppendAsync(entry, leadership.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (leadership.Token.IsCancellationRequested)
        {
            throw NotLeader(e);
        }

        // Completes at the end of the next round; nothing needs to wait for that, only to have asked for it.
        var round = cluster.ForceReplicationAsync(CancellationToken.None).AsTask();
        if (round.IsFaulted)
        {
            // Leadership went between the append and the request: the entry's outcome is unknown, as for a loss later.
            return Task.FromException<LogPosition>(NotLeader(round.Exception.InnerException));
        }

        if (!round.IsCompleted)
        {
            _ = round.ContinueWith(
                static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.NotOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        return WaitForAppliedAsync(wal, index, context, leadership.Token, token);
    }

    private async Task<LogPosition> WaitForAppliedAsync(
        DurableWriteAheadLog wal, long index, ReplicationContext context, CancellationToken leadershipToken, CancellationToken token)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(leadershipToken, token, _lifetime.Token);
        try
        {
            await wal.WaitForApplyAsync(index, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!token.IsCancellationRequested)
        {
            throw NotLeader(e);
        }

        return context.Position ?? throw new ConsensusNotLeaderException(
            "Leadership was lost and another leader's entry replaced this batch; it did not commit.", LeaderEndPoint);
    }

    /// <inheritdoc />
    public async ValueTask<bool> AddMemberAsync(EndPoint member, CancellationToken token)
    {
        ArgumentNullException.ThrowIfNull(member);
        var cluster = RequireStarted();
        try
        {
            return await cluster.AddMemberAsync(member, token).ConfigureAwait(false);
        }
        catch (LeaderOperationException e)
        {
            throw NotLeader(e);
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> RemoveMemberAsync(EndPoint member, CancellationToken token)
    {
        ArgumentNullException.ThrowIfNull(member);
        var cluster = RequireStarted();
        try
        {
            return await cluster.RemoveMemberAsync(member, token).ConfigureAwait(false);
        }
        catch (LeaderOperationException e)
        {
            throw NotLeader(e);
        }
    }

    /// <summary>Leaves the cluster's network (a leader stops heartbeating, so the others elect anew) and closes the WAL.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _state, Disposed) == Disposed)
        {
            return;
        }

        await _lifetime.CancelAsync().ConfigureAwait(false);
        if (_cluster is { } cluster)
        {
            await cluster.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await _tracker.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await cluster.DisposeAsync().ConfigureAwait(false);
            LogMessages.RaftStopped(_logger, _options.LocalEndPoint);
        }

        if (_wal is { } wal)
        {
            await wal.DisposeAsync().ConfigureAwait(false);
        }

        _membership?.Dispose();
        ClearLeadership();
        _lifetime.Dispose();
    }

    private Cluster RequireStarted()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _state) == Disposed, this);
        return _cluster ?? throw new InvalidOperationException("The consensus log is not started.");
    }

    private ConsensusNotLeaderException NotLeader(Exception? innerException) =>
        new("This node is not the consensus leader.", LeaderEndPoint, innerException);

    /// <summary>Static membership: on the first start, write the configured members as configuration version 0.</summary>
    private async ValueTask SeedStaticMembershipAsync(MembershipFile membership, CancellationToken token)
    {
        if (_options.ColdStart || _options.Members.Count == 0)
        {
            return;
        }

        IClusterConfigurationStorage<EndPoint> storage = membership;
        var configuration = await storage.LoadConfigurationAsync(token).ConfigureAwait(false);
        if (configuration.Members.Count > 0)
        {
            return;
        }

        foreach (var member in _options.Members)
        {
            configuration = configuration.Add(member);
        }

        await ((IClusterConfigurationStorage)storage).SaveConfigurationAsync(configuration, 0, token).ConfigureAwait(false);
    }
}
