using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;
using Vellum.Consensus;
using Vellum.Core.Verification;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;
using Vellum.Ledger;
using Vellum.Node.Ledgers;
using Vellum.Storage;
using Vellum.Storage.Indexing;
using Vellum.Storage.Ledger;

namespace Vellum.Node.Service;

/// <summary>
/// One ledger as the data plane sees it: the store, the user table, and the collection and tag accounting that the
/// limits need. Keyed by ledger id from the start, so hosting several ledgers adds instances, not code paths.
/// </summary>
public sealed partial class LedgerService : IAsyncDisposable, ILedgerCatchUp
{
    private readonly Lock _namesLock = new();
    private readonly HashSet<string> _collections;
    private readonly HashSet<(string CollectionId, string Tag)> _tags; // ACL counts a tag once per collection that uses it
    private readonly SemaphoreSlim _userChanges = new(1, 1);

    // Entry writes between their role check and their sequencing, in two halves (see EnterWriteGate).
    private readonly long[] _writeGate = new long[2];
    private int _writeGateHalf;
    private readonly LedgerSecret _secret;
    private ClusterPeers? _clusterPeers;
    private ILogger _logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    private readonly UserTable _users = new();
    private readonly Lock _usersLock = new();
    private long _usersAppliedTo;
    private Task _roles = Task.CompletedTask;
    private Task _chores = Task.CompletedTask;
    private Task _bootstrap = Task.CompletedTask;
    private NodeIdentity _currentNode;
    private LogSeal _logSeal = null!;
    private readonly CancellationTokenSource _stopping = new();

    private LedgerService(
        NodeOptions options, DataDirectory data, LedgerName name, ServiceIdentity service, NodeIdentity node, NodeTlsCertificate tls, LedgerSecret secret, bool isPrivate,
        LedgerStore store)
    {
        Options = options;
        Data = data;
        Name = name;
        Folder = data.Ledger(name);
        Service = service;
        Node = node;
        _currentNode = node;
        Tls = tls;
        _secret = secret;
        IsPrivate = isPrivate;
        Store = store;
        RetiredNodes = new RetiredNodeTable(store);
        _collections = new HashSet<string>(store.Index.Collections(), StringComparer.Ordinal);
        _tags = [.. store.Index.CollectionTags()];
    }

    /// <summary>The node's options (listening, TLS, the cluster).</summary>
    public NodeOptions Options { get; }

    /// <summary>What this ledger is held to (its limits and signature interval): the node's <see cref="NodeOptions.LedgerDefaults"/> for now.</summary>
    public LedgerOptions Settings => Options.LedgerDefaults;

    /// <summary>The data folder: the node's files and every ledger's.</summary>
    public DataDirectory Data { get; }

    /// <summary>The ledger's name.</summary>
    public LedgerName Name { get; }

    /// <summary>This ledger's folder in <see cref="Data"/>.</summary>
    public LedgerDirectory Folder { get; }

    public ServiceIdentity Service { get; }

    /// <summary>The node identity the node started with: it signs the ledger (a renewal keeps the key).</summary>
    public NodeIdentity Node { get; }

    /// <summary>The node certificate presented in TLS, client port and node channel; renewed while the node runs.</summary>
    public NodeTlsCertificate Tls { get; }

    public bool IsPrivate { get; }

    public LedgerStore Store { get; }

    /// <summary>
    /// The node keys this ledger's governance transactions retired: only <c>default</c>'s may name any, written by a
    /// version before the deployment kept its own list (<see cref="LedgerRegistry.RetiredNodes"/>), which reads them.
    /// </summary>
    public RetiredNodeTable RetiredNodes { get; }

    /// <summary>
    /// Users and their roles as the ledger applied here says: brought up to date from the store whenever a user change
    /// was applied since the last look (on every node alike, whoever sequenced the change).
    /// </summary>
    public UserTable Users
    {
        get
        {
            if (Volatile.Read(ref _usersAppliedTo) < Store.LastUserChangeSeqno)
            {
                ReplayUserChanges();
            }

            return _users;
        }
    }

    /// <summary>The ledger's sequencer: appends go through it, to consensus, and come back applied.</summary>
    public Sequencer Sequencer { get; private set; } = null!;

    /// <summary>The ledger's reads (status, a transaction by id, a receipt) as results, by CCF's rules; no lock taken.</summary>
    public LedgerReads Reads { get; private set; } = null!;

    /// <summary>Consensus: Raft for a cluster member, the single-node log otherwise.</summary>
    public IConsensusLog Consensus { get; private set; } = null!;

    /// <summary>True when this node is a member of a replicated cluster (started with a node channel).</summary>
    public bool IsCluster { get; private set; }

    /// <summary>True while this node sequences: always on a single node, on the current leader in a cluster.</summary>
    public bool IsPrimary => Sequencer.IsPrimary;

    /// <summary>The current view: the one this node sequences in, or the newest applied here.</summary>
    public long View => Reads.Position.View;

    /// <summary>The last seqno assigned: sequenced by this primary, or (on a backup) applied here. No lock is taken.</summary>
    public long LastSeqno => Reads.Position.LastSeqno;

    private LedgerApplier _applier = null!;

    /// <summary>
    /// The ledger's URI, <c>https://{name}.{domain}:{port}</c> (no port for 443): its <c>ledgerUri</c>, and an audience
    /// its bearer tokens may carry.
    /// </summary>
    public string LedgerUri => _ledgerUri ??= Options.Listen.Port == 443
        ? $"https://{Name.Value}.{Options.Domain}"
        : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"https://{Name.Value}.{Options.Domain}:{Options.Listen.Port}");

    private string? _ledgerUri;

    /// <summary>The client address of the current primary, when this node is a backup that knows it.</summary>
    public Uri? PrimaryUrl
    {
        get
        {
            if (!IsCluster || IsPrimary)
            {
                return null;
            }

            return _clusterPeers?.UrlOf(Consensus.LeaderEndPoint);
        }
    }

    /// <summary>The other members this node knows the client address of (node-channel address → URL).</summary>
    public IReadOnlyDictionary<string, Uri> Peers => _clusterPeers?.Peers ?? NoPeers;

    private static readonly IReadOnlyDictionary<string, Uri> NoPeers = new Dictionary<string, Uri>();

    /// <summary>
    /// What a new member needs to serve this ledger: the service identity (certificate and key: every member issues
    /// node certificates), the ledger secret and the ledger type.
    /// </summary>
    public LedgerMaterial Material() => LedgerMaterial.Of(Folder);

    private volatile bool _closing;

    /// <summary>
    /// True once the ledger is being deleted (<see cref="BeginClosing"/>): its data plane answers 503 saying so, and it
    /// takes no new writes.
    /// </summary>
    public bool IsClosing => _closing;

    /// <summary>Marks the ledger as being deleted (see <see cref="IsClosing"/>).</summary>
    public void BeginClosing() => _closing = true;

    /// <summary>A deletion that did not happen here (yet): the ledger serves again.</summary>
    public void EndClosing() => _closing = false;

    /// <summary>
    /// What the deployment keeps of this ledger once deleted: its certificate, the last signature applied here and the
    /// root it signed, and who deleted it when (see <see cref="LedgerTombstone"/>).
    /// </summary>
    public LedgerTombstone Tombstone(string deletedBy, DateTimeOffset deletedAt)
    {
        var lastSigned = default(TxId);
        var root = Hash32.Zero;
        if (Store.CommittedSeqno is > 0 and var seqno)
        {
            var body = Store.ReadBody(seqno);
            if (!EntryHeader.TryRead(body, out var header, out var error) || !SignatureEntry.TryDecode(body, header, out var signature, out error))
            {
                throw new LedgerCorruptException($"the signature at seqno {seqno} of the ledger '{Name}' cannot be read: {error}");
            }

            lastSigned = header.Id;
            root = signature!.Root;
        }

        return new LedgerTombstone(Name.Value, IsPrivate, Service.Certificate.RawData, lastSigned, root, deletedBy, deletedAt)
        {
            TenantId = Management.LedgerResource.Read(Folder.ResourceFile)?.TenantId,
        };
    }

    /// <summary>Path of the development Administrator certificate, when this start created one.</summary>
    public string? DevelopmentAdminCertificate { get; private set; }

    /// <summary>
    /// Opens ledger <paramref name="spec"/> of a data folder the caller has locked (and keeps locked while this
    /// service lives), creating it on first use. <paramref name="madeByLog"/>: a cluster's consensus log is making it
    /// right now (its entries follow in the log), so there is nothing to fetch from the peers first.
    /// </summary>
    internal static async Task<LedgerService> OpenAsync(
        NodeOptions options, DataDirectory data, Ledgers.LedgerSpec spec, NodeParts parts, CancellationToken cancellationToken, bool madeByLog = false)
    {
        var (nodeLog, group, peers, clock, tiles, logger) = parts;
        var nodeOptions = DataDirectory.DefaultNodeOptions();
        if (!options.Listen.Address.Equals(System.Net.IPAddress.Any) && !nodeOptions.IPAddresses.Contains(options.Listen.Address))
        {
            nodeOptions.IPAddresses.Add(options.Listen.Address);
        }

        // The ledger's own host name, so a client that asks for it by name (SNI) can check the certificate it gets.
        nodeOptions.DnsNames.Add($"{spec.Name.Value}.{options.Domain}");
        var folder = data.Ledger(spec.Name);
        var (service, node, secret, isPrivate) = data.OpenOrCreate(spec.Name, spec.IsPrivate, nodeOptions);
        node = RenewNodeCertificateIfDue(folder.NodeCertificate, service, node, logger);
        var tls = new NodeTlsCertificate(node);
        var storeOptions = new LedgerStoreOptions
        {
            LedgerName = spec.Name.Value,
            LedgerDirectory = folder.Chunks,
            StateDirectory = folder.State,
            IsPrivate = isPrivate,
            // Raft's write-ahead log (a cluster member's, shared by its ledgers) or the node log (a single node's) holds
            // each batch durably before it commits and replays it after a crash: the ledger files are then synced when
            // that log drops batches (a snapshot, a new segment), not per batch.
            SyncEachBatch = group is null && nodeLog is null,
            TileCache = tiles,
        };
        // The signatures this node makes for the ledger are recognised when applied, not verified again.
        var ownSignatures = new SignaturesIssued();
        var store = LedgerStore.Open(storeOptions, secret, service.Certificate, logger, ownSignatures);

        // What this ledger puts in a consensus log is sealed under its log key (derived from its secret); see LogSeal.
        var logSeal = new LogSeal(secret);
        if (group is null)
        {
            ArgumentNullException.ThrowIfNull(nodeLog);
            // What the node log holds for this ledger beyond its files (a crash came before they were synced).
            NodeLogRecovery.Apply(nodeLog, spec.Name.Value, store, logSeal);
        }

        // A single node's views are its own (one more on every open, made durable before anything is sequenced); a
        // cluster member's are the terms of the Raft group its ledgers share.
        var consensus = group?.Join(spec.Name.Value) ?? nodeLog!.Join(spec.Name.Value, store.StartView(), store.SyncToDisk, options.NodeListen);
        var sequencer = new Sequencer(store, consensus, secret, new NodeRootSigner(node, ownSignatures), new SequencerOptions
        {
            IsPrivate = isPrivate,
            SignatureInterval = options.LedgerDefaults.SignatureInterval,
            SignatureDelay = options.SignatureDelay,
        }, logger, clock);
        var ledger = new LedgerService(options, data, spec.Name, service, node, tls, secret, isPrivate, store)
        {
            _logger = logger,
            Sequencer = sequencer,
            Reads = new LedgerReads(store, sequencer),
            Consensus = consensus,
            IsCluster = group is not null,
        };
        ledger._logSeal = logSeal;
        ledger._applier = new LedgerApplier(store, logSeal, ledger, logger);
        ledger._clusterPeers = peers;
        ledger.ReplayUserChanges();
        if (group is not null)
        {
            // Before taking part in consensus, fetch what the peers' ledgers hold beyond ours: a new or long-absent
            // member then needs from the leader only the log after its snapshot, not the whole history.
            if (!madeByLog)
            {
                using var catchUp = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                catchUp.CancelAfter(options.CatchUpTimeout);
                try
                {
                    await ledger.CatchUpAsync(long.MaxValue, catchUp.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // What was fetched stays; consensus brings the rest.
                }
            }

            // Registers the applier; the group replays and applies once every ledger has joined (the registry starts it).
            await consensus.StartAsync(ledger._applier, cancellationToken).ConfigureAwait(false);
            ledger._roles = Task.Run(() => sequencer.FollowLeadershipAsync(ledger._stopping.Token), CancellationToken.None);
            ledger._chores = Task.Run(ledger.PrimaryChoresAsync, CancellationToken.None);
            store.ReleaseFiles(); // opening's reads are done: an idle ledger holds no file (the next write or read opens it)
            return ledger;
        }

        await consensus.StartAsync(ledger._applier, cancellationToken).ConfigureAwait(false);
        await sequencer.BecomePrimaryAsync(consensus.Term, signInherited: false, cancellationToken).ConfigureAwait(false);
        await ledger.BootstrapAdministratorsAsync(logger, cancellationToken).ConfigureAwait(false);
        store.ReleaseFiles(); // opening's reads are done: an idle ledger holds no file (the next write or read opens it)
        return ledger;
    }

    /// <summary>
    /// A cluster member's own work on becoming primary (<see cref="OnBecamePrimary"/>), once per leadership: the loop
    /// awaits the sequencer's role, which follows consensus (<see cref="Sequencer.FollowLeadershipAsync"/>).
    /// </summary>
    private async Task PrimaryChoresAsync()
    {
        var stopping = _stopping.Token;
        try
        {
            while (true)
            {
                await Sequencer.WaitForRoleAsync(primary: true, stopping).ConfigureAwait(false);
                OnBecamePrimary();
                await Sequencer.WaitForRoleAsync(primary: false, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Node certificates expire (a year by default) and are refused once they have; every member holds the service key,
    /// so a node renews its own when it starts with less than a third of the lifetime left: a new certificate for the
    /// same key (same node id), written atomically over <paramref name="certificateFile"/> (a ledger's
    /// <c>credentials/node_cert.pem</c>, or the deployment's). A rolling restart of the members within the last third of
    /// the year so renews every certificate without stopping the service.
    /// </summary>
    internal static NodeIdentity RenewNodeCertificateIfDue(string certificateFile, ServiceIdentity service, NodeIdentity node, ILogger logger, bool disposeOld = true)
    {
        if (!node.ShouldRenew(DateTimeOffset.UtcNow) || !service.HasPrivateKey)
        {
            return node;
        }

        var renewed = node.Renew(service);
        Vellum.Storage.IO.Durability.WriteFileAtomic(certificateFile, Encoding.ASCII.GetBytes(renewed.ExportCertificatePem()));
        LogMessages.RenewedNodeCertificate(logger, node.Certificate.NotAfter.ToUniversalTime(), renewed.Certificate.NotAfter.ToUniversalTime(), certificateFile);
        if (disposeOld)
        {
            node.Dispose();
        }

        return renewed;
    }

    /// <summary>
    /// Renews this ledger's node certificate once less than a third of its lifetime is left (see
    /// <see cref="RenewNodeCertificateIfDue"/>) and presents the new one on every new TLS connection, client port and
    /// node channel alike: no restart, no downtime. Connections already open keep the old one, which is still valid for
    /// months by then. The registry calls it for every ledger on one node-wide timer
    /// (<see cref="NodeOptions.NodeCertificateCheckInterval"/>), never concurrently.
    /// </summary>
    internal void RenewNodeCertificateWhileRunning()
    {
        try
        {
            var renewed = RenewNodeCertificateIfDue(Folder.NodeCertificate, Service, _currentNode, _logger, disposeOld: false);
            if (!ReferenceEquals(renewed, _currentNode))
            {
                Tls.Replace(renewed);
                if (!ReferenceEquals(_currentNode, Node))
                {
                    _currentNode.Dispose();
                }

                _currentNode = renewed;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            LogMessages.NodeCertificateRenewalFailed(_logger, ex);
        }
    }

    /// <summary>Applies the user changes the store applied since the last call to the user table.</summary>
    private void ReplayUserChanges()
    {
        lock (_usersLock)
        {
            var target = Store.LastUserChangeSeqno;
            var from = Volatile.Read(ref _usersAppliedTo);
            if (from >= target)
            {
                return;
            }

            foreach (var (seqno, body, header) in Store.ReadPosted(LedgerIndex.UserChangeKind, from, target))
            {
                if (RoleDefinitionEntry.IsRoleDefinition(body, header))
                {
                    if (!RoleDefinitionEntry.TryDecode(body, header, out var definition, out var roleError))
                    {
                        throw new LedgerCorruptException($"role definition {seqno} is malformed: {roleError}");
                    }

                    _users.Apply(definition!);
                    continue;
                }

                if (!UserChangeEntry.TryDecode(body, header, out var change, out var error))
                {
                    throw new LedgerCorruptException($"user change {seqno} is malformed: {error}");
                }

                _users.Apply(change!);
            }

            Volatile.Write(ref _usersAppliedTo, target);
        }
    }

    /// <summary>
    /// A cluster member that becomes primary takes up the collection and tag accounting from the ledger as applied,
    /// and the first primary of a new ledger makes its first Administrators.
    /// </summary>
    private void OnBecamePrimary()
    {
        lock (_namesLock)
        {
            _collections.UnionWith(Store.Index.Collections());
            _tags.UnionWith(Store.Index.CollectionTags());
        }

        if (Users.Count == 0)
        {
            // Bound to the ledger's life: a node stopped before the Administrators' entries commit stops waiting for
            // that commit (which can no longer come) instead of holding its shutdown open forever.
            var stopping = _stopping.Token;
            _bootstrap = Task.Run(async () =>
            {
                try
                {
                    await BootstrapAdministratorsAsync(_logger, stopping).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is NotPrimaryException or ReplicationLostException or ObjectDisposedException)
                {
                    // Lost the role first; the next primary bootstraps.
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    // Stopping: the next start (or the next primary) bootstraps what did not commit.
                }
            });
        }
    }

    /// <summary>
    /// Checks the collection and tag limits for a new entry and reserves any new names, so that concurrent writers
    /// cannot together exceed a capacity. Returns the error and a message, or null.
    /// </summary>
    /// <exception cref="NotPrimaryException">This node is a backup: it reserves nothing (the write goes to the primary).</exception>
    public (AclError Error, string Message)? ReserveNames(string collectionId, IReadOnlyList<string> tags)
    {
        if (!IsPrimary)
        {
            // A backup would otherwise keep names for writes it forwards, and count them if it became primary.
            throw new NotPrimaryException();
        }

        lock (_namesLock)
        {
            var newCollection = !_collections.Contains(collectionId);
            // The default collection is not counted against the capacity, as in ACL.
            var counted = _collections.Count - (_collections.Contains(UserEntry.DefaultCollectionId) ? 1 : 0);
            if (newCollection && collectionId != UserEntry.DefaultCollectionId && counted >= Settings.MaxCollections)
            {
                return (AclErrors.CollectionCapacityExceeded, $"The ledger already has {counted} collections, the limit; '{collectionId}' would be a new one.");
            }

            var newTags = 0;
            foreach (var tag in tags)
            {
                if (!_tags.Contains((collectionId, tag)))
                {
                    newTags++;
                }
            }

            if (newTags > 0 && _tags.Count + newTags > Settings.MaxTags)
            {
                return (AclErrors.TagCapacityExceeded, $"The ledger already has {_tags.Count} tags (a tag counts once per collection that uses it); {newTags} new ones would pass the limit of {Settings.MaxTags}.");
            }

            _collections.Add(collectionId);
            foreach (var tag in tags)
            {
                _tags.Add((collectionId, tag));
            }

            return null;
        }
    }

    /// <summary>Known collection ids, ordered.</summary>
    public IReadOnlyList<string> Collections()
    {
        lock (_namesLock)
        {
            var list = _collections.ToList();
            list.Sort(StringComparer.Ordinal);
            return list;
        }
    }

    /// <summary>
    /// Appends an application entry with a fresh LedgerEntryV1 claim (so its receipt binds the contents), with no
    /// check of who asks: for the node's own writes and tests. Requests go through <see cref="TryAppendEntryAsync"/>.
    /// </summary>
    public ValueTask<TxId> AppendEntryAsync(string collectionId, byte[] contents, IReadOnlyList<string> tags, CancellationToken cancellationToken) =>
        Sequencer.AppendAsync(new UserEntry(collectionId, tags, contents, [EntryClaim.NewLedgerEntry()]), cancellationToken);

    /// <summary>
    /// Appends an entry for <paramref name="callerId"/>, whose roles were read when <see cref="UserTable.Version"/>
    /// was <paramref name="usersVersion"/>: if the user table changed since, the caller must still be able to write
    /// at the moment the entry is sequenced. Null (nothing written) when it no longer can.
    /// </summary>
    /// <remarks>
    /// The check and the sequencing happen inside the write gate (<see cref="EnterWriteGate"/>), which a change that
    /// takes roles away drains before it is itself sequenced: so every entry of a caller either is sequenced before
    /// its demotion or is refused. The cost on the path of a write is two interlocked operations and a version
    /// compare; the roles are looked up again only when the table changed meanwhile.
    /// </remarks>
    public async ValueTask<TxId?> TryAppendEntryAsync(
        string callerId, long usersVersion, string collectionId, byte[] contents, IReadOnlyList<string> tags, CancellationToken cancellationToken)
    {
        ValueTask<TxId> append;
        var slot = EnterWriteGate();
        try
        {
            if (Users.Version != usersVersion && !Users.Allows(Users.RolesOf(callerId), Auth.LedgerActions.EntriesWrite))
            {
                return null;
            }

            // Sequenced before this returns (the store assigns the seqno synchronously); only the wait for durability is left.
            append = AppendEntryAsync(collectionId, contents, tags, cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _writeGate[slot]);
        }

        return await append.ConfigureAwait(false);
    }

    /// <summary>
    /// Sets (or with no roles, removes) a user's roles through a user-management transaction, for
    /// <paramref name="callerId"/> (null: the node itself, when it makes its first Administrators). Serialized, so
    /// that the checks hold when the change is written: the caller must still be an Administrator (a caller removed
    /// or demoted while its request waited is refused: 401 if gone, 403 if demoted), and the last Administrator who
    /// can sign in (<see cref="UserTable.CanSignIn"/>) cannot lose the role (400). Returns null or the refusal.
    /// </summary>
    public async Task<UserChangeRefusal?> ChangeUserAsync(string? callerId, string userId, IReadOnlyList<string> roles, CancellationToken cancellationToken)
    {
        await _userChanges.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Refusal(callerId, Auth.LedgerActions.UsersWrite) is { } refused)
            {
                return refused;
            }

            var current = Users.RolesOf(userId);
            var tokensAccepted = Options.JwtIssuers.Count > 0;
            if (UserTable.CanSignIn(userId, tokensAccepted) && current.Contains(Roles.Administrator) && !roles.Contains(Roles.Administrator) &&
                Users.CountSignInWithRole(Roles.Administrator, tokensAccepted) == 1)
            {
                return new UserChangeRefusal(AclErrors.CannotRemoveLastAdministrator,
                    "The ledger must keep at least one Administrator who can sign in (a certificate user, or a token user when the node trusts an identity provider).");
            }

            var change = new UserChangeEntry(userId, roles);
            Users.BeginChange(userId, roles);
            try
            {
                if (current.Any(role => !roles.Contains(role)))
                {
                    // Roles are taken away: entries already past their check are sequenced before this change.
                    await DrainWriteGateAsync().ConfigureAwait(false);
                }

                await Sequencer.AppendAsync(change, cancellationToken).ConfigureAwait(false);

                // Applied here before the append returned: the table takes it from the store like any change.
                ReplayUserChanges();
            }
            finally
            {
                Users.EndChange();
            }

            return null;
        }
        finally
        {
            _userChanges.Release();
        }
    }

    /// <summary>
    /// Why <paramref name="callerId"/> may no longer do <paramref name="action"/> (its roles changed while its request
    /// waited: 401 if it is gone, 403 if its roles no longer allow it), or null. A null caller is the node itself.
    /// </summary>
    private UserChangeRefusal? Refusal(string? callerId, string action)
    {
        if (callerId is null || Users.RolesOf(callerId) is var roles && Users.Allows(roles, action))
        {
            return null;
        }

        return roles.Count == 0
            ? new UserChangeRefusal(AclErrors.InvalidAuthenticationInfo, $"User {callerId} was removed before this change was made.")
            : new UserChangeRefusal(AclErrors.NotAllowed, $"User {callerId}'s roles no longer allow {action}.");
    }

    /// <summary>
    /// Defines, redefines or (with no actions) deletes the user-defined role <paramref name="definition"/> names, for
    /// <paramref name="callerId"/> (null: the node itself), as a ledger transaction: serialized with user changes; a
    /// caller whose roles no longer allow writing roles is refused. A definition that takes actions away counts from the
    /// moment it is written (entry writes already past their check are sequenced before it), as a demotion does.
    /// </summary>
    public async Task<UserChangeRefusal?> ChangeRoleAsync(string? callerId, RoleDefinitionEntry definition, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(definition);
        await _userChanges.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Refusal(callerId, Auth.LedgerActions.RolesWrite) is { } refused)
            {
                return refused;
            }

            var current = Users.DefinedRole(definition.RoleName)?.Actions ?? [];
            Users.BeginRoleChange(definition);
            try
            {
                if (current.Any(action => !definition.Actions.Contains(action)))
                {
                    await DrainWriteGateAsync().ConfigureAwait(false);
                }

                await Sequencer.AppendAsync(definition, cancellationToken).ConfigureAwait(false);
                ReplayUserChanges();
            }
            finally
            {
                Users.EndRoleChange();
            }

            return null;
        }
        finally
        {
            _userChanges.Release();
        }
    }

    /// <summary>
    /// Counts an entry write in the current half of the gate; the caller decrements the slot it got once the entry
    /// is sequenced (or refused). Two halves, as in sleepable RCU: a drain flips the half new writers use and waits
    /// only for the old half to empty, so a steady stream of writes cannot starve it.
    /// </summary>
    private int EnterWriteGate()
    {
        var slot = Volatile.Read(ref _writeGateHalf);
        Interlocked.Increment(ref _writeGate[slot]);
        return slot;
    }

    /// <summary>
    /// Waits until every entry write that might have checked its roles before the pending change was published is
    /// sequenced. A write that enters the gate after the flip reads the new <see cref="UserTable.Version"/> (both
    /// sides use interlocked operations, which are full fences), so it re-checks its roles.
    /// </summary>
    private async Task DrainWriteGateAsync()
    {
        var old = Interlocked.Exchange(ref _writeGateHalf, Volatile.Read(ref _writeGateHalf) ^ 1);
        var spins = 0;
        while (Volatile.Read(ref _writeGate[old]) != 0)
        {
            // A write holds the gate only while it is checked and sequenced (microseconds).
            if (++spins < 100)
            {
                await Task.Yield();
            }
            else
            {
                await Task.Delay(1).ConfigureAwait(false);
            }
        }
    }

    private static readonly Lock DevelopmentAdministratorLock = new();

    /// <summary>
    /// The PEM certificate of the deployment's development Administrator, made on first use: one for every ledger of
    /// the data folder, whichever ledger asks first.
    /// </summary>
    private static string EnsureDevelopmentAdministrator(DataDirectory data, ILogger logger)
    {
        lock (DevelopmentAdministratorLock)
        {
            if (File.Exists(data.DevelopmentAdminCertificate) && File.Exists(data.DevelopmentAdminPrivateKey))
            {
                return File.ReadAllText(data.DevelopmentAdminCertificate);
            }

            if (File.Exists(data.DevelopmentAdminPrivateKey))
            {
                // Made by a start that stopped before the certificate was written.
                File.Delete(data.DevelopmentAdminPrivateKey);
            }

            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
            var request = new CertificateRequest("CN=Vellum Development Administrator", key, HashAlgorithmName.SHA384);
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(1));
            var pem = certificate.ExportCertificatePem() + "\n";
            DataDirectory.WriteSecretFile(data.DevelopmentAdminPrivateKey, key.ExportPkcs8PrivateKeyPem() + "\n");
            File.WriteAllText(data.DevelopmentAdminCertificate, pem);
            LogMessages.CreatedDevelopmentAdministrator(logger, data.DevelopmentAdminCertificate);
            return pem;
        }
    }

    /// <summary>The bootstrap Administrators' certificates (the consortium members until governance exists).</summary>
    public IReadOnlyList<(string Id, string CertificatePem)> Members()
    {
        var folder = Folder.Members;
        if (!Directory.Exists(folder))
        {
            return [];
        }

        return Directory.GetFiles(folder, "*.pem").Order(StringComparer.Ordinal)
            .Select(path => (Path.GetFileNameWithoutExtension(path), File.ReadAllText(path)))
            .ToList();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        // Consensus first, so nothing is applied to a store being closed and batches in it learn their outcome; then
        // the sequencer (which fails what it still holds), then the store.
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Consensus.DisposeAsync().ConfigureAwait(false);
        await _roles.ConfigureAwait(false);
        await _chores.ConfigureAwait(false);
        await _applier.DisposeAsync().ConfigureAwait(false);
        await Sequencer.DisposeAsync().ConfigureAwait(false);
        await _bootstrap.ConfigureAwait(false);
        await Store.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
        Service.Dispose();
        Node.Dispose();
        if (!ReferenceEquals(_currentNode, Node))
        {
            _currentNode.Dispose();
        }

        _secret.Dispose();
        _logSeal.Dispose();
        _userChanges.Dispose();
        _peerClient?.Dispose();
        _forwarder?.Dispose();
    }

    private async Task BootstrapAdministratorsAsync(ILogger logger, CancellationToken cancellationToken)
    {
        if (Users.Count > 0)
        {
            return;
        }

        if (Management.LedgerResource.Read(Folder.ResourceFile) is { } resource)
        {
            // Made by the control plane: the principals it named (the creator among them when it named no
            // Administrator) are the first users, not the deployment's Administrators.
            await AddPrincipalsAsync(resource, cancellationToken).ConfigureAwait(false);
            await Sequencer.WaitForCommitAsync(Sequencer.LastSeqno, cancellationToken).ConfigureAwait(false);
            return;
        }

        var pems = new List<string>();
        foreach (var path in Options.AdminCertificates)
        {
            pems.Add(File.ReadAllText(path));
        }

        if (pems.Count == 0 && Options.AdminObjectIds.Count == 0)
        {
            // No Administrator named: the deployment's development one, made by the first ledger that needs it (ledgers
            // open in parallel, so one makes it and the others read it), as ACL gives the creator admin rights.
            DevelopmentAdminCertificate = Data.DevelopmentAdminCertificate;
            pems.Add(EnsureDevelopmentAdministrator(Data, logger));
        }

        var members = Folder.Members;
        Vellum.Storage.IO.OwnerOnly.CreateDirectory(members);
        foreach (var pem in pems)
        {
            using var certificate = X509Certificate2.CreateFromPem(pem);
            var fingerprint = CertificateFingerprint.Compute(certificate);
            File.WriteAllText(Path.Combine(members, fingerprint + ".pem"), certificate.ExportCertificatePem() + "\n", Encoding.ASCII);
            await ChangeUserAsync(callerId: null, fingerprint, [Roles.Administrator], cancellationToken).ConfigureAwait(false);
        }

        foreach (var id in Options.AdminObjectIds)
        {
            // Token users (--admin-oid), by id as their tokens name them.
            _ = Auth.BearerTokens.TryUserId(id, out var userId);
            await ChangeUserAsync(callerId: null, userId, [Roles.Administrator], cancellationToken).ConfigureAwait(false);
        }

        await Sequencer.WaitForCommitAsync(Sequencer.LastSeqno, cancellationToken).ConfigureAwait(false);
    }
}

public sealed partial class LedgerService
{
    /// <summary>A task that ends when the ledger's first users are committed (at once if it has users).</summary>
    public Task FirstUsers => _bootstrap;

    /// <summary>
    /// Gives each principal of <paramref name="resource"/> its role (a certificate principal's certificate kept with
    /// the ledger's member certificates), as the node: the control plane's principals become users.
    /// </summary>
    internal async Task AddPrincipalsAsync(Management.LedgerResource resource, CancellationToken cancellationToken)
    {
        if (resource.CertPrincipals.Count > 0)
        {
            Vellum.Storage.IO.OwnerOnly.CreateDirectory(Folder.Members);
        }

        foreach (var principal in resource.CertPrincipals)
        {
            File.WriteAllText(Path.Combine(Folder.Members, principal.UserId + ".pem"), principal.CertificatePem, Encoding.ASCII);
        }

        foreach (var (userId, role) in resource.Users())
        {
            if (await ChangeUserAsync(callerId: null, userId, [role], cancellationToken).ConfigureAwait(false) is { } refusal)
            {
                throw new InvalidOperationException($"The principal {userId} cannot be made {role}: {refusal.Message}");
            }
        }
    }
}

/// <summary>Why a user change was refused: the error (status and ACL code) and a message.</summary>
public sealed record UserChangeRefusal(AclError Error, string Message);

/// <summary>What a member needs to serve one ledger: see <see cref="LedgerService.Material"/>.</summary>
public sealed record LedgerMaterial(string Name, string ServiceCertificatePem, string ServicePrivateKeyPem, string LedgerSecretHex, string LedgerType)
{
    /// <summary>The ledger's control-plane resource (<see cref="Management.LedgerResource"/>, as its file holds it), when it has one.</summary>
    public string? ResourceJson { get; init; }

    /// <summary>The material in a ledger folder (served, or staged), as its files hold it.</summary>
    public static LedgerMaterial Of(LedgerDirectory folder) => new(
        folder.Name.Value, File.ReadAllText(folder.ServiceCertificate), File.ReadAllText(folder.ServicePrivateKey), File.ReadAllText(folder.LedgerSecretFile).Trim(),
        folder.StoredIsPrivate() == true ? "Private" : "Public")
    {
        ResourceJson = File.Exists(folder.ResourceFile) ? File.ReadAllText(folder.ResourceFile) : null,
    };

    /// <summary>The fields a join and a member fetching a ledger receive (in the object being written): the four, and the resource when there is one.</summary>
    public void WriteFields(System.Text.Json.Utf8JsonWriter writer)
    {
        writer.WriteString("serviceCertificate", ServiceCertificatePem);
        writer.WriteString("servicePrivateKey", ServicePrivateKeyPem);
        writer.WriteString("ledgerSecret", LedgerSecretHex);
        writer.WriteString("ledgerType", LedgerType);
        if (ResourceJson is not null)
        {
            writer.WriteString("resource", ResourceJson);
        }
    }
}

/// <summary>A member's own report of its role and the consensus log's commit index there, and when it was heard.</summary>
public sealed record PeerStatus(string Role, long ConsensusCommitIndex, DateTimeOffset HeardAt);
