using Microsoft.Extensions.Logging;
using Vellum.Consensus;
using Vellum.Consensus.Raft;
using Vellum.Ledger;
using Vellum.Core.Identity;
using Vellum.Node.Service;
using Vellum.Storage;

namespace Vellum.Node.Ledgers;

/// <summary>
/// The ledgers a node serves, by name: every ledger in the data folder's <c>ledgers/</c>, and those the options name
/// (created on first use). It holds the data folder's lock for as long as it lives, and owns the ledgers.
/// </summary>
/// <remarks>
/// Each ledger is a <see cref="LedgerService"/> with its own identity, secret, sequencer, store and users. On a single
/// node every ledger appends through one <see cref="NodeLog"/> (one writer thread and one fsync per round for all of
/// them); on a cluster member through one Raft group (<see cref="ConsensusGroup"/>: one port, one write-ahead log,
/// one set of members in <see cref="ClusterPeers"/>). Every member serves the same ledgers: those of the first member's
/// first start reach the others through <c>--identity-from</c> or a join, and a ledger made while the node runs
/// (<see cref="CreateAsync"/>) reaches every member through the consensus log (see the partial file
/// <c>LedgerRegistry.Create.cs</c>). A cluster member's node channel, and the calls between members
/// about the deployment (a ledger's material, the control plane's forwarding, discovery), authenticate with the
/// deployment's identity (<see cref="Identity"/>), join tokens are keyed by it, and the retired node keys are the
/// deployment's (<see cref="RetiredNodes"/>); a member always serves <c>default</c> still, through which membership is
/// managed and whose progress <c>/node/network</c> reports.
/// </remarks>
public sealed partial class LedgerRegistry : IAsyncDisposable
{
    // Ledgers are added and removed while the node runs: lookups take no lock, changes take _addLock.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, LedgerService> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, LedgerService>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Lock _addLock = new();
    private volatile LedgerService[] _all;
    private volatile LedgerService? _default; // read on every request that names no ledger
    private readonly NodeOptions _options;
    private readonly DataDirectory _data;
    private readonly ILogger _logger;
    private readonly NodeParts _parts;
    private readonly DataFolderLock _folderLock;
    private readonly NodeLog? _nodeLog;
    private readonly ConsensusGroup? _group;
    private readonly Task _discovery = Task.CompletedTask;
    private readonly SignatureClock _clock;

    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _renewal;

    private LedgerRegistry(
        NodeOptions options, DataDirectory data, IReadOnlyList<LedgerService> ledgers, NodeParts parts, DataFolderLock folderLock, DeploymentCertificate deployment,
        DeploymentIdentity? identity)
    {
        Deployment = deployment;
        Identity = identity;
        if (identity is not null)
        {
            // A cluster's retired node keys; those an earlier version wrote into default's governance count too.
            _retired = RetiredNodeList.Open(data.RetiredNodesFile, () => _default?.RetiredNodes);
            if (ledgers.FirstOrDefault(l => l.Name == LedgerName.Default) is { } withGovernance)
            {
                _retired.Merge(withGovernance.RetiredNodes.Ids);
            }
        }

        _options = options;
        _data = data;
        _parts = parts;
        _logger = parts.Logger;
        _nodeLog = parts.NodeLog;
        _group = parts.Group;
        _clock = parts.Clock;
        var peers = parts.Peers;
        foreach (var ledger in ledgers)
        {
            _byName.TryAdd(ledger.Name.Value, ledger);
        }

        _all = [.. ledgers.OrderBy(l => l.Name.Value, StringComparer.Ordinal)];
        _default = _byName.GetValueOrDefault(LedgerName.Default.Value);
        _lookup = _byName.GetAlternateLookup<ReadOnlySpan<char>>();
        _folderLock = folderLock;
        if (_group is not null && peers is not null && identity is not null)
        {
            Membership = new NodeMembership(options, _group, peers, identity);
        }

        if (peers is not null && identity is not null)
        {
            // One discovery loop for the node, asking the members as the deployment. The token is read here: a stop
            // right after the start may dispose its source before the loop begins.
            var stopping = _stopping.Token;
            var group = _group;
            _discovery = Task.Run(() => peers.DiscoverAsync(identity.PeerClient(), RetiredNodes, () => group?.Log, stopping), CancellationToken.None);
        }

        _renewal = Task.Run(() => RenewWhileRunningAsync(options.NodeCertificateCheckInterval), CancellationToken.None);
    }

    /// <summary>Every ledger served, in ordinal order of name (a snapshot: ledgers made later are in the next one).</summary>
    public IReadOnlyList<LedgerService> All => _all;

    /// <summary>The full Merkle tiles every ledger's tree keeps in memory, under one budget (<see cref="NodeOptions.TileCacheTiles"/>).</summary>
    public Vellum.Core.Merkle.TileCache Tiles => _parts.Tiles;

    /// <summary>
    /// Whether this node has applied every entry its consensus log holds (always on a single node): a new primary that
    /// has, has made or deleted every ledger an earlier primary's committed entries name, so what it lacks was never made.
    /// </summary>
    public bool HasAppliedAll => _group?.Log is not { } log || log.AppliedIndex >= log.LastIndex;

    /// <summary>
    /// Returns once this cluster member leads the consensus group and has applied everything committed before its term
    /// (what a ledger's sequencer waits for before it sequences): the deployment's changes are the primary's.
    /// </summary>
    /// <exception cref="Vellum.Storage.Ledger.NotPrimaryException">Another member leads, or this one did not get ready within 10 s.</exception>
    private async Task EnsureReadyLeaderAsync(CancellationToken cancellationToken)
    {
        if (_group?.Log is not { IsLeader: true } log)
        {
            throw new Vellum.Storage.Ledger.NotPrimaryException();
        }

        using var ready = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, log.LeadershipToken);
        ready.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await log.WaitForLeaderReadyAsync(ready.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new Vellum.Storage.Ledger.NotPrimaryException();
        }
    }

    /// <summary>A cluster member's view of the deployment's members and the changes to them; null on a single node.</summary>
    public NodeMembership? Membership { get; }

    /// <summary>The deployment's own TLS certificate (the operator's, or the development CA's).</summary>
    public DeploymentCertificate Deployment { get; }

    /// <summary>
    /// A cluster member's deployment identity: what the node channel authenticates with and join tokens are keyed by;
    /// null on a single node.
    /// </summary>
    public DeploymentIdentity? Identity { get; }

    /// <summary>The ledger <c>default</c>, when the node serves one.</summary>
    public LedgerService? Default => _default;

    /// <summary>
    /// The node keys the deployment retired (<see cref="RetiredNodeList"/>, kept through the consensus log); none on a
    /// single node, which has no members.
    /// </summary>
    public IRetiredNodes RetiredNodes => (IRetiredNodes?)_retired ?? NoneRetired.Instance;

    /// <summary>
    /// Whether <paramref name="certificate"/> is a member's of this deployment: a current certificate the deployment
    /// identity endorsed, of a node key not retired. Never on a single node, which has no members.
    /// </summary>
    internal bool IsMember(System.Security.Cryptography.X509Certificates.X509Certificate2? certificate) =>
        Identity is { } identity && Auth.NodeCaller.IsEndorsedNode(certificate, identity.Service.Certificate, RetiredNodes);

    private readonly RetiredNodeList? _retired;

    private sealed class NoneRetired : IRetiredNodes
    {
        public static readonly NoneRetired Instance = new();

        public bool IsRetired(in Vellum.Core.Primitives.Hash32 nodeId) => false;
    }

    /// <summary>
    /// The ledger the start banner names: <c>default</c>, else the first by name, else none (every ledger was deleted).
    /// (A request that names no ledger gets <c>default</c> only, and a connection that names none the deployment's
    /// certificate when there is no <c>default</c>: see <see cref="LedgerRouting"/>.)
    /// </summary>
    public LedgerService? Fallback => Default ?? (_all.Length > 0 ? _all[0] : null);

    /// <summary>The ledger named <paramref name="name"/> (any case), when served here.</summary>
    public bool TryGet(ReadOnlySpan<char> name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out LedgerService? ledger) =>
        _lookup.TryGetValue(name, out ledger);

    /// <summary>How many ledgers open at once: enough to keep every core and the disk busy.</summary>
    private static int OpenConcurrency => Math.Max(2, Environment.ProcessorCount * 2);

    /// <summary>
    /// Takes the data folder's lock (unless <see cref="NodeOptions.DataFolderLock"/> gives it), checks every named
    /// ledger's type against the folder before anything is created, then opens every ledger, a few at a time.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// A named ledger exists with another type, or a cluster member is asked to serve a ledger other than <c>default</c>.
    /// </exception>
    public static async Task<LedgerRegistry> OpenAsync(NodeOptions options, ILogger logger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var data = new DataDirectory(options.DataDirectory);
        if (options.DataFolderLock is { } given && given.Root != data.Root)
        {
            throw new ArgumentException($"the lock given is {given.Root}'s, not {data.Root}'s", nameof(options));
        }

        var folderLock = options.DataFolderLock ?? data.Lock();
        var opened = new List<LedgerService>();
        DeploymentIdentity? identity = null;
        NodeLog? nodeLog = null;
        ConsensusGroup? group = null;
        ClusterPeers? peers = null;
        var clock = new SignatureClock(options.SignatureDelay, options.SignaturesPerTick);
        LedgerRegistry? registry = null;
        try
        {
            data.EnsureLayout(); // once, before the ledgers open in parallel (a lock given was taken through another object)
            FinishDeletions(data); // deletions the node stopped in the middle of: those ledgers are not served
            var specs = Plan(options, data);

            // The deployment's certificate before any ledger is made, so that a bad --tls-cert changes nothing.
            var deployment = options.TlsCertificateFile is { } certificateFile
                ? DeploymentCertificate.FromFiles(certificateFile, options.TlsKeyFile!)
                : DeploymentCertificate.Development(data, options.Domain, options.Listen.Address);

            // A single node's ledgers share one durable log (a cluster member's share a Raft group): what it holds
            // beyond the ledgers' files is applied as each ledger opens, then dropped once all have.
            if (options.NodeListen is not null)
            {
                // Before any ledger is made, so that a new cluster's first member makes a key of its own (one that holds
                // default already adopts default's: an upgrade).
                identity = DeploymentIdentity.OpenOrCreate(data, logger);
                group = new ConsensusGroup();
                peers = new ClusterPeers(options, data);
            }
            else
            {
                nodeLog = NodeLog.Open(data.NodeLog, options.NodeLog, logger);
                foreach (var name in nodeLog.RecoveredLedgers.Where(n => !specs.Any(s => s.Name.Value == n)))
                {
                    LogMessages.NodeLogLedgerGone(logger, name);
                }

                nodeLog.Start();
            }

            // Ledgers open in parallel, a few at a time: opening is mostly file reads, key parsing and one fsync of
            // the ledger's view, so a restart of a thousand ledgers takes seconds, not the sum of their openings.
            var parts = new NodeParts(nodeLog, group, peers, clock, new Vellum.Core.Merkle.TileCache(options.TileCacheTiles), logger);
            var slots = new LedgerService?[specs.Count];
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = OpenConcurrency, CancellationToken = cancellationToken };
            try
            {
                await Parallel.ForAsync(0, specs.Count, parallel, async (i, token) =>
                    slots[i] = await LedgerService.OpenAsync(options, data, specs[i], parts, token).ConfigureAwait(false)).ConfigureAwait(false);
            }
            finally
            {
                opened.AddRange(slots.OfType<LedgerService>());
            }

            nodeLog?.DropRecovered();
            registry = new LedgerRegistry(options, data, opened, parts, folderLock, deployment, identity);
            if (group is not null)
            {
                // The registry opens the ledgers the log makes (a creation entry, or a snapshot that names one).
                await group.StartAsync(Raft(options, data, identity!, registry.RetiredNodes, logger), registry, cancellationToken).ConfigureAwait(false);
            }

            return registry;
        }
        catch when (registry is not null)
        {
            await registry.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        catch
        {
            if (group is not null)
            {
                await group.DisposeAsync().ConfigureAwait(false);
            }

            foreach (var ledger in opened)
            {
                await ledger.DisposeAsync().ConfigureAwait(false);
            }

            if (nodeLog is not null)
            {
                await nodeLog.DisposeAsync().ConfigureAwait(false);
            }

            await clock.DisposeAsync().ConfigureAwait(false);
            identity?.Dispose();
            folderLock.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The Raft node of a cluster member, which every ledger of the node replicates through. Its node channel presents
    /// this node's certificate of the deployment identity and takes peers the deployment's service key endorsed, whose
    /// node keys were not retired.
    /// </summary>
    private static RaftConsensus Raft(NodeOptions options, DataDirectory data, DeploymentIdentity identity, IRetiredNodes retired, ILogger logger)
    {
        var nodeListen = options.NodeListen!;
        return new RaftConsensus(new RaftConsensusOptions
        {
            LocalEndPoint = nodeListen,
            // A joining node starts with no members: it waits until the primary adds it. Otherwise the static
            // membership seeds the Raft membership on the first start only (later starts use what is stored).
            Members = options.Join ? [] : [nodeListen, .. options.Peers.Select(p => p.NodeEndPoint)],
            WalPath = data.Raft,
            NodeIdentity = identity.Node,
            TlsCertificate = identity.Tls,
            ServiceCertificate = identity.Service.Certificate,
            RetiredNodes = retired,
            // A member that knows only members now down learns the others' client addresses from them over the node
            // channel (ClusterPeers), as the URL a join registers.
            Metadata = new Dictionary<string, string> { [ClusterPeers.UrlKey] = options.ClientUrl.ToString().TrimEnd('/') },
            SnapshotInterval = options.SnapshotInterval,
            // DotNext logs a warning per lagging heartbeat under load; our own consensus events still go to the log.
            LoggerFactory = Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance,
            Logger = logger,
        });
    }

    /// <summary>What to open: the folder's ledgers and the named ones, each with the type asked for, by name.</summary>
    private static List<LedgerSpec> Plan(NodeOptions options, DataDirectory data)
    {
        var existing = data.LedgerNames();
        // A new folder (no ledger, and no node key: never started) gets default when no ledger is named, so that
        // `vellum start` alone serves one; a folder whose ledgers were all deleted stays without.
        var isNew = existing.Count == 0 && !File.Exists(data.NodePrivateKey) && !data.HasDeployment;
        var named = options.Ledgers.Count > 0 || !isNew ? options.Ledgers : [new LedgerSpec(LedgerName.Default, null)];

        foreach (var spec in named)
        {
            var folder = data.Ledger(spec.Name);
            if (spec.IsPrivate is { } wanted && folder.Exists && folder.StoredIsPrivate() is { } stored && stored != wanted)
            {
                throw new InvalidOperationException(
                    $"the ledger '{spec.Name}' is {(stored ? "Private" : "Public")}; its type is fixed at creation");
            }
        }

        var specs = new SortedDictionary<string, LedgerSpec>(StringComparer.Ordinal);
        foreach (var name in existing)
        {
            specs[name.Value] = new LedgerSpec(name, null);
        }

        foreach (var spec in named)
        {
            specs[spec.Name.Value] = spec;
        }

        if (options.NodeListen is not null)
        {
            // A member makes ledgers only on the first start of the first member: another member gets them from it
            // (--identity-from, a join), and one made here alone would stop the others, which cannot apply its entries.
            if (!isNew && specs.Keys.FirstOrDefault(name => !existing.Any(e => e.Value == name)) is { } missing)
            {
                throw new InvalidOperationException(
                    $"a cluster member cannot make the ledger '{missing}' at start: a cluster's ledgers are made on its first member's first start, " +
                    "or while it runs through PUT /node/ledgers/{name}, and reach the other members through --identity-from, a join or the consensus log");
            }
        }

        return [.. specs.Values];
    }

    /// <summary>
    /// One timer for the whole node: every <paramref name="interval"/>, each ledger renews its node certificate if due
    /// (<see cref="LedgerService.RenewNodeCertificateWhileRunning"/>), one after another.
    /// </summary>
    private async Task RenewWhileRunningAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                foreach (var ledger in All)
                {
                    ledger.RenewNodeCertificateWhileRunning();
                }

                Deployment.RenewIfDue(DateTimeOffset.UtcNow);
                Identity?.RenewIfDue(_logger);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _renewal.ConfigureAwait(false);
        _stopping.Dispose();

        await _discovery.ConfigureAwait(false);

        // Consensus first, so that nothing is applied to a ledger being closed and batches in flight learn their outcome.
        if (_group is not null)
        {
            await _group.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var ledger in _all)
        {
            await ledger.DisposeAsync().ConfigureAwait(false);
        }

        // Ledgers deleted on the apply path close off it; what they leave in node/deleting/ is erased at the next start.
        await WaitForErasuresAsync().ConfigureAwait(false);
        _creating.Dispose();
        _staging.Dispose();
        if (_nodeLog is not null)
        {
            await _nodeLog.DisposeAsync().ConfigureAwait(false);
        }

        await _clock.DisposeAsync().ConfigureAwait(false);
        Identity?.Dispose();
        _folderLock.Dispose(); // last: the folder is free once nothing of ours writes to it
    }
}
