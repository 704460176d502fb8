using System.Net;

namespace Vellum.Node;

/// <summary>How a node runs. Every default is documented (docs/api-compatibility.md) and tested.</summary>
public sealed class NodeOptions
{
    /// <summary>The data folder (the node's files and every ledger's; see <see cref="Vellum.Storage.DataDirectory"/>).</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Where the HTTPS endpoint listens (default 127.0.0.1:8443; port 0 picks a free port).</summary>
    public IPEndPoint Listen { get; init; } = new(IPAddress.Loopback, 8443);

    /// <summary>
    /// This node's client address as other members and the network reports give it: <c>https://</c> and
    /// <see cref="Listen"/> (an IPv6 address in brackets).
    /// </summary>
    public Uri ClientUrl => new($"https://{Listen}");

    /// <summary>
    /// Where the Prometheus scrape endpoint (<c>/metrics</c>, plain HTTP) listens, as host:port; null (the default)
    /// turns it off. It is a separate port so that it can stay on a private interface.
    /// </summary>
    public string? MetricsListen { get; init; }

    /// <summary>
    /// Maps <c>POST</c> and <c>GET /app/benchmark/noop</c>: the same pipeline as a write or a read (TLS, api-version,
    /// authentication, role, body limit and JSON parse) answering a fixed small body and writing nothing — the
    /// same-stack ceiling the benchmarks compare against. Off unless asked for (<c>vellum start --benchmark-endpoints</c>).
    /// </summary>
    public bool BenchmarkEndpoints { get; init; }

    /// <summary>
    /// Ledgers to serve besides those already in the data folder (<c>--ledger NAME[:Type]</c>): each is created if
    /// missing; naming another type than an existing ledger's is refused. Empty (the default) serves what the folder
    /// has, and on a folder with no ledger creates <c>default</c> (Public).
    /// </summary>
    public IReadOnlyList<Ledgers.LedgerSpec> Ledgers { get; init; } = [];

    /// <summary>
    /// The deployment's DNS domain (default <c>localhost</c>): ledger <c>{name}</c> is served at <c>{name}.{domain}</c>,
    /// by TLS server name (SNI) and Host header.
    /// </summary>
    public string Domain { get; init; } = "localhost";

    /// <summary>
    /// The deployment's TLS certificate, PEM, leaf then chain (<c>--tls-cert</c>), with <see cref="TlsKeyFile"/>: what SNI
    /// <c>{domain}</c> gets (and a connection naming nothing when there is no ledger <c>default</c>). Null: one issued at
    /// start by a development CA at <c>credentials/deployment_ca_cert.pem</c>.
    /// </summary>
    public string? TlsCertificateFile { get; init; }

    /// <summary>The private key of <see cref="TlsCertificateFile"/>'s leaf, PEM (<c>--tls-key</c>).</summary>
    public string? TlsKeyFile { get; init; }

    /// <summary>PEM files of bootstrap Administrators, added on first start.</summary>
    public IReadOnlyList<string> AdminCertificates { get; init; } = [];

    /// <summary>
    /// User ids (token subjects: Entra object ids, or another issuer's user claim) made Administrators of every ledger
    /// the node creates, as <see cref="AdminCertificates"/> are (<c>--admin-oid</c>). They can sign in only with a
    /// token from one of <see cref="JwtIssuers"/>.
    /// </summary>
    public IReadOnlyList<string> AdminObjectIds { get; init; } = [];

    /// <summary>
    /// The identity providers whose bearer tokens the node accepts on every ledger's data plane (<c>--jwt-issuer</c> and
    /// the flags with it). Empty (the default): client certificates only.
    /// </summary>
    public IReadOnlyList<Auth.JwtIssuerOptions> JwtIssuers { get; init; } = [];

    /// <summary>The control plane's operators, tenant, token audiences and quota (<see cref="Management.ManagementApi"/>).</summary>
    public Management.ManagementOptions Management { get; init; } = new();

    /// <summary>What every ledger of the node is held to (limits, signature interval): see <see cref="LedgerOptions"/>.</summary>
    public LedgerOptions LedgerDefaults { get; init; } = new();

    /// <summary>Largest request body, in bytes (ACL's smallest setting: 1 MB).</summary>
    public int MaxRequestBodyBytes { get; init; } = 1024 * 1024;

    /// <summary>
    /// Most HTTP/2 streams (concurrent requests) on one connection (default 100, Kestrel's own). Each can hold a response
    /// Kestrel buffers while the client does not read it (a list page is streamed, so that is at most its flush size).
    /// </summary>
    /// <remarks>
    /// Not lower by default: a client may open streams before the node's SETTINGS reach it, and clients assume 100
    /// until then (RFC 9113 §6.5.2 recommends no less). With 32, a burst of 128 concurrent POSTs on a fresh
    /// connection from .NET's HttpClient got streams refused and then the whole connection closed with
    /// STREAM_CLOSED, when the client's body frames for a refused stream reached Kestrel.
    /// </remarks>
    public int MaxStreamsPerConnection { get; init; } = 100;

    /// <summary>
    /// Most client connections open at once (default 4,096); a connection over it is closed at once. Bounds the sockets
    /// and the memory clients can make the node hold; set it from the clients expected, leaving room for idle ones.
    /// </summary>
    public int MaxConcurrentConnections { get; init; } = 4096;

    /// <summary>
    /// How often the node signs the roots of its ledgers that have unsigned transactions (default 100 ms): how long a
    /// transaction stays Pending when nobody waits for its commit, while few ledgers are busy.
    /// </summary>
    public TimeSpan SignatureDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The most roots the node signs a second on its own cadence, over all its ledgers (default 100, from 1 to
    /// 10,000; <c>--max-signatures-per-second</c>): with more busy ledgers than that allows every
    /// <see cref="SignatureDelay"/>, each signs in turn, less often, rather than the node spending its CPU on signatures
    /// (each is an ECDSA P-384 signature, about 0.8 ms of CPU on the benchmark machine; the node applying its own skips
    /// verifying it). A caller waiting for commit still gets a signature at once.
    /// </summary>
    public int MaxSignaturesPerSecond { get; init; } = DefaultMaxSignaturesPerSecond;

    /// <summary>The default of <see cref="MaxSignaturesPerSecond"/>.</summary>
    public const int DefaultMaxSignaturesPerSecond = 100;

    /// <summary>The largest <see cref="MaxSignaturesPerSecond"/> accepted.</summary>
    public const int MaxSignaturesPerSecondLimit = 10_000;

    /// <summary>
    /// Full Merkle tiles the node keeps in memory for all its ledgers together (default 2,048, about 32 MiB: a tile is
    /// 8 KiB of hashes and 8 KiB of interior nodes), least recently used first out: receipts for recent transactions,
    /// and the nodes of one proof that share a tile, cost no file read. One budget whatever the number of ledgers.
    /// </summary>
    public int TileCacheTiles { get; init; } = 2048;

    /// <summary>Ledgers the signature cadence signs per <see cref="SignatureDelay"/>, on average (a fraction carries over).</summary>
    internal double SignaturesPerTick => MaxSignaturesPerSecond * SignatureDelay.TotalSeconds;

    /// <summary>
    /// Address of this node's Raft channel (TCP with mutual TLS between nodes). Set, the node is a member of a
    /// replicated cluster; null (the default), it is a single node.
    /// </summary>
    public IPEndPoint? NodeListen { get; init; }

    /// <summary>
    /// The data folder's lock when the caller already holds it (<c>vellum start</c> and <c>join</c> take it before they
    /// write service material into the folder); null (the default), and the node takes it when it opens the folder.
    /// Either way the node owns it from then on: it is released when the node is disposed or fails to open.
    /// </summary>
    public Vellum.Storage.DataFolderLock? DataFolderLock { get; init; }

    /// <summary>Tests only: a single node's node-log options (faults to inject); null for the defaults.</summary>
    internal Vellum.Consensus.NodeLogOptions? NodeLog { get; init; }

    /// <summary>The other members of a static cluster: each one's Raft address and client (HTTPS) address.</summary>
    public IReadOnlyList<ClusterPeer> Peers { get; init; } = [];

    /// <summary>
    /// Start as a new member joining an existing cluster: the Raft node waits, with no members of its own, until the
    /// primary adds it (<c>vellum join</c>). False (the default): a node with <see cref="NodeListen"/> and no peers is
    /// the first member of a new cluster.
    /// </summary>
    public bool Join { get; init; }

    /// <summary>
    /// Cluster members: Raft log entries (batches) applied between two snapshots, each of which lets the write-ahead
    /// log drop the entries before it (a member that needs them then fetches transactions from a peer's ledger).
    /// Default 10,000; 0 keeps the whole log.
    /// </summary>
    public int SnapshotInterval { get; init; } = DefaultSnapshotInterval;

    /// <summary>The default <see cref="SnapshotInterval"/>: 10,000 entries.</summary>
    public const int DefaultSnapshotInterval = Consensus.Raft.RaftConsensusOptions.DefaultSnapshotInterval;

    /// <summary>
    /// Cluster members: how long a starting member spends fetching, from its peers, the transactions their ledgers
    /// hold beyond its own before it takes part in consensus. Default 5 minutes.
    /// </summary>
    public TimeSpan CatchUpTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// What a backup does with a write (<c>vellum start|join --backup-writes</c>): forward it to the primary and relay
    /// the answer (the default, as CCF does), answer 307 with the primary's address, or answer 503 naming the primary.
    /// </summary>
    public BackupWrites BackupWrites { get; init; } = BackupWrites.Forward;

    /// <summary>
    /// Longest a backup waits for the primary's answer to a forwarded write (default 30 s); past it the client gets
    /// 503 saying the outcome is unknown.
    /// </summary>
    public TimeSpan ForwardTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Refuse user certificates outside their validity period (NotBefore … NotAfter, five minutes of clock skew
    /// allowed either side) with 401, as CCF does for user and member certificates. Default true; false accepts a
    /// registered certificate whatever its dates (Vellum's behaviour before, and what ACL's fingerprint-only users
    /// may expect). Node certificates are always checked.
    /// </summary>
    public bool CheckUserCertificateValidity { get; init; } = true;

    /// <summary>
    /// How often a running node looks at its node certificate's expiry (default 1 hour): with less than a third of its
    /// lifetime left, it issues itself a new one with the service key and presents it on new connections.
    /// </summary>
    public TimeSpan NodeCertificateCheckInterval { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Checks each issuer and how they go together: no issuer twice, and (so that a user id minted by one issuer never
    /// matches a user registered from another) every one but at most one with a user prefix, no prefix twice.
    /// </summary>
    /// <exception cref="ArgumentException">An issuer, or the set, is wrong; the message says which.</exception>
    public static void ValidateIssuers(IReadOnlyList<Auth.JwtIssuerOptions> issuers)
    {
        ArgumentNullException.ThrowIfNull(issuers);
        foreach (var issuer in issuers)
        {
            issuer.Validate();
        }

        if (issuers.Select(i => i.Issuer).Distinct(StringComparer.Ordinal).Count() != issuers.Count)
        {
            throw new ArgumentException("an identity provider is named twice", nameof(issuers));
        }

        if (issuers.Count(i => i.UserPrefix is null) > 1)
        {
            throw new ArgumentException("with several identity providers, every one but one has a user prefix (userPrefix), so that their users' ids differ", nameof(issuers));
        }

        var prefixes = issuers.Where(i => i.UserPrefix is not null).Select(i => i.UserPrefix).ToList();
        if (prefixes.Distinct(StringComparer.Ordinal).Count() != prefixes.Count)
        {
            throw new ArgumentException("two identity providers have the same user prefix", nameof(issuers));
        }
    }

    /// <summary>Checks the values; throws <see cref="ArgumentException"/> naming the first bad one.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(LedgerDefaults, nameof(LedgerDefaults));
        LedgerDefaults.Validate();
        ArgumentNullException.ThrowIfNull(Management, nameof(Management));
        Management.Validate();
        Positive(MaxRequestBodyBytes, nameof(MaxRequestBodyBytes));
        Positive(MaxStreamsPerConnection, nameof(MaxStreamsPerConnection));
        Positive(MaxConcurrentConnections, nameof(MaxConcurrentConnections));
        if (SnapshotInterval < 0)
        {
            throw new ArgumentException("SnapshotInterval must be 0 (keep the whole log) or positive", nameof(SnapshotInterval));
        }

        if (CatchUpTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("CatchUpTimeout must be positive", nameof(CatchUpTimeout));
        }

        Positive(TileCacheTiles, nameof(TileCacheTiles));
        if (MaxSignaturesPerSecond is < 1 or > MaxSignaturesPerSecondLimit)
        {
            throw new ArgumentException($"MaxSignaturesPerSecond must be from 1 to {MaxSignaturesPerSecondLimit}", nameof(MaxSignaturesPerSecond));
        }

        if (SignatureDelay <= TimeSpan.Zero)
        {
            throw new ArgumentException("SignatureDelay must be positive", nameof(SignatureDelay));
        }
        if (!Enum.IsDefined(BackupWrites))
        {
            throw new ArgumentException($"BackupWrites {BackupWrites} is not Forward, Redirect or Refuse", nameof(BackupWrites));
        }

        if (NodeCertificateCheckInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("NodeCertificateCheckInterval must be positive", nameof(NodeCertificateCheckInterval));
        }

        if (ForwardTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("ForwardTimeout must be positive", nameof(ForwardTimeout));
        }

        if (Management.Listen is { } management && (management.Port == Listen.Port || management.Port == NodeListen?.Port || management.Port == 0))
        {
            throw new ArgumentException($"the control plane's listener (--management-listen {management}) needs a port of its own, not --listen's or --node-listen's", nameof(Management));
        }

        if (Peers.Count > 0 && NodeListen is null)
        {
            throw new ArgumentException("peers need a node channel address of this node (--node-listen)", nameof(Peers));
        }

        if (Uri.CheckHostName(Domain) != UriHostNameType.Dns)
        {
            throw new ArgumentException($"Domain '{Domain}' is not a DNS name", nameof(Domain));
        }

        if (Ledgers.Select(l => l.Name).Distinct().Count() != Ledgers.Count)
        {
            throw new ArgumentException("a ledger is named twice", nameof(Ledgers));
        }

        ValidateIssuers(JwtIssuers);

        foreach (var id in AdminObjectIds)
        {
            if (!Auth.BearerTokens.TryUserId(id, out _))
            {
                throw new ArgumentException($"'{id}' is not a user id (a GUID, or up to 256 of A-Z a-z 0-9 . _ : @ -)", nameof(AdminObjectIds));
            }
        }

        if ((TlsCertificateFile is null) != (TlsKeyFile is null))
        {
            throw new ArgumentException("the deployment's TLS certificate and key go together (--tls-cert and --tls-key)", nameof(TlsCertificateFile));
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="name"/> unless <paramref name="value"/> is positive.</summary>
    internal static void Positive(int value, string name)
    {
        if (value <= 0)
        {
            throw new ArgumentException($"{name} must be positive", name);
        }
    }
}


/// <summary>A member of a static cluster as another node sees it.</summary>
/// <param name="NodeEndPoint">Its Raft (node channel) address.</param>
/// <param name="Url">Its client address, e.g. <c>https://10.0.0.2:8443</c>: where writes are forwarded or redirected when it is primary.</param>
public sealed record ClusterPeer(IPEndPoint NodeEndPoint, Uri Url);

/// <summary>What a backup does with a write (any request the store refuses with <c>NotPrimaryException</c>).</summary>
public enum BackupWrites
{
    /// <summary>
    /// Re-send the request to the primary over mutual TLS with this node's certificate, naming the authenticated
    /// caller, and relay the primary's answer (status, headers, body) as its own.
    /// </summary>
    Forward,

    /// <summary>307 Temporary Redirect to the same path and query on the primary.</summary>
    Redirect,

    /// <summary>503 ServiceUnavailable naming the primary in the message.</summary>
    Refuse,
}
