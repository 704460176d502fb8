using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Vellum.Core.Identity;

namespace Vellum.Consensus.Raft;

/// <summary>Settings of one <see cref="RaftConsensus"/> node. Validated by the <see cref="RaftConsensus"/> constructor.</summary>
public sealed class RaftConsensusOptions
{
    /// <summary>The default lower election timeout: 500 ms (150 ms gave spurious elections on 2 shared cores with follower fsync).</summary>
    public const int DefaultLowerElectionTimeout = 500;

    /// <summary>The default upper election timeout: 1000 ms.</summary>
    public const int DefaultUpperElectionTimeout = 1000;

    /// <summary>The default WAL chunk size: 4 MiB (DotNext's own default is one OS page per file).</summary>
    public const int DefaultWalChunkSize = 4 * 1024 * 1024;

    /// <summary>The default snapshot interval: a snapshot (and WAL compaction) every 10,000 applied entries.</summary>
    public const int DefaultSnapshotInterval = 10_000;

    /// <summary>The address this node listens on for the node channel, and its identity among the members.</summary>
    public required IPEndPoint LocalEndPoint { get; init; }

    /// <summary>
    /// Static membership: every member's node-channel address, this node's included. Used only when
    /// <see cref="ColdStart"/> is false and only to seed the membership file on the node's first start; after that the
    /// membership lives in <see cref="WalPath"/> and changes through AddMember/RemoveMember. Empty (the default) with
    /// <see cref="ColdStart"/> false means "join": the node waits until a leader adds it.
    /// </summary>
    public IReadOnlyList<IPEndPoint> Members { get; init; } = [];

    /// <summary>
    /// True for the first node of a new cluster: it starts as a one-member cluster and leads at once; the others join
    /// through <see cref="IConsensusLog.AddMemberAsync"/>. Default false.
    /// </summary>
    public bool ColdStart { get; init; }

    /// <summary>The folder of this node's Raft state: the write-ahead log, the term and vote, and the membership file.</summary>
    public required string WalPath { get; init; }

    /// <summary>The lower bound of the randomized election timeout, in milliseconds. Default 500.</summary>
    public int LowerElectionTimeout { get; init; } = DefaultLowerElectionTimeout;

    /// <summary>The upper bound of the randomized election timeout, in milliseconds. Default 1000.</summary>
    public int UpperElectionTimeout { get; init; } = DefaultUpperElectionTimeout;

    /// <summary>
    /// The timeout of one Raft RPC. Default (null): <see cref="LowerElectionTimeout"/> (DotNext's own default); at most
    /// that.
    /// </summary>
    /// <remarks>
    /// A leader steps down after one replication round in which a majority did not answer in time. Right after a
    /// failover, or while a killed member restarts, the leader of three has one live follower, so a single answer
    /// later than this timeout costs an election: half the election timeout (250 ms) was measured too tight on two
    /// shared cores, where a follower's fsync or a starved thread pool delays an answer that long
    /// (docs/benchmarks.md, "Failover"). Connections still give up after half the lower election timeout
    /// (<see cref="EffectiveConnectTimeout"/>), so an unreachable member does not slow a vote.
    /// </remarks>
    public TimeSpan? RequestTimeout { get; init; }

    /// <summary>The WAL chunk (file) size in bytes. Default 4 MiB.</summary>
    public int WalChunkSize { get; init; } = DefaultWalChunkSize;

    /// <summary>
    /// Applied log entries between two snapshots; each lets the WAL delete the entries before it. Default 10,000;
    /// 0 takes no snapshots (the WAL keeps everything). Snapshots need an applier that describes its state
    /// (<see cref="IConsensusApplier.DescribeAppliedState"/>).
    /// </summary>
    public int SnapshotInterval { get; init; } = DefaultSnapshotInterval;

    /// <summary>This node's identity: its certificate (with key) is presented to peers in both TLS directions.</summary>
    public required NodeIdentity NodeIdentity { get; init; }

    /// <summary>
    /// The certificate presented to peers, when it may be renewed while the node runs (each new handshake presents
    /// the current one); null presents <see cref="NodeIdentity"/>'s for the node's lifetime.
    /// </summary>
    public NodeTlsCertificate? TlsCertificate { get; init; }

    /// <summary>The service identity certificate: a peer is accepted only if this certificate endorsed the peer's.</summary>
    public required X509Certificate2 ServiceCertificate { get; init; }

    /// <summary>
    /// Node keys no longer admitted, however their certificates are endorsed (checked at every handshake). Default:
    /// none retired.
    /// </summary>
    public IRetiredNodes? RetiredNodes { get; init; }

    /// <summary>
    /// What this member tells the others about itself over the node channel (<see cref="IConsensusLog.DescribeMemberAsync"/>);
    /// nothing by default. Only members the channel authenticated can ask.
    /// </summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>Loggers for this layer and for DotNext. Default: no logging.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>
    /// The logger of this layer's own events (leadership, snapshots, apply failures), when they should go elsewhere
    /// than <see cref="LoggerFactory"/>: a node silences DotNext's chatty per-heartbeat warnings but keeps these.
    /// </summary>
    public ILogger? Logger { get; init; }

    /// <summary>The RPC timeout in force: <see cref="RequestTimeout"/> or the lower election timeout.</summary>
    public TimeSpan EffectiveRequestTimeout => RequestTimeout ?? TimeSpan.FromMilliseconds(LowerElectionTimeout);

    /// <summary>How long a node-channel connection may take to open: half the lower election timeout, at most the RPC timeout.</summary>
    public TimeSpan EffectiveConnectTimeout => TimeSpan.FromMilliseconds(Math.Min(LowerElectionTimeout / 2.0, EffectiveRequestTimeout.TotalMilliseconds));

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(LocalEndPoint);
        ArgumentException.ThrowIfNullOrWhiteSpace(WalPath);
        ArgumentNullException.ThrowIfNull(NodeIdentity);
        ArgumentNullException.ThrowIfNull(ServiceCertificate);
        ArgumentNullException.ThrowIfNull(LoggerFactory);
        ArgumentNullException.ThrowIfNull(Members);
        if (LocalEndPoint.Port == 0)
        {
            throw new ArgumentException("LocalEndPoint needs a fixed port: peers address this node by it.", nameof(LocalEndPoint));
        }

        if (LowerElectionTimeout <= 0 || UpperElectionTimeout <= LowerElectionTimeout)
        {
            throw new ArgumentException(
                $"Election timeouts must satisfy 0 < lower < upper (got {LowerElectionTimeout}/{UpperElectionTimeout} ms).", nameof(LowerElectionTimeout));
        }

        var requestTimeout = EffectiveRequestTimeout;
        if (requestTimeout <= TimeSpan.Zero || requestTimeout > TimeSpan.FromMilliseconds(LowerElectionTimeout))
        {
            throw new ArgumentException(
                $"RequestTimeout must be positive and at most the lower election timeout (got {requestTimeout}).", nameof(RequestTimeout));
        }

        if (WalChunkSize < 4096)
        {
            throw new ArgumentException("WalChunkSize must be at least 4 KiB.", nameof(WalChunkSize));
        }

        if (SnapshotInterval < 0)
        {
            throw new ArgumentException("SnapshotInterval must be 0 (no snapshots) or positive.", nameof(SnapshotInterval));
        }

        if (ColdStart && Members.Count > 0)
        {
            throw new ArgumentException("A cold-start node starts alone: give either ColdStart or Members, not both.", nameof(Members));
        }

        if (Members.Count > 0 && !Members.Contains(LocalEndPoint))
        {
            throw new ArgumentException("Members must include LocalEndPoint.", nameof(Members));
        }
    }
}
