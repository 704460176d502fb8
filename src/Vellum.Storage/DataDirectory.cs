using Vellum.Core.Crypto;
using Vellum.Core.Identity;
using Vellum.Storage.IO;

namespace Vellum.Storage;

/// <summary>
/// The layout of a data folder: one node, any number of ledgers.
/// <code>
/// &lt;data&gt;/vellum.lock                 the holder's pid; see <see cref="DataFolderLock"/> (this name and place in every layout)
/// &lt;data&gt;/layout                      the layout's version ("2"); see <see cref="LayoutMigration"/>
/// &lt;data&gt;/node/node_privk.pem         the node key (0600): one key, endorsed by each ledger the node hosts
/// &lt;data&gt;/node/log/                    a single node's write-ahead log: every ledger's batches, one fsync per round
/// &lt;data&gt;/node/raft/                   the consensus log and membership of a cluster member
/// &lt;data&gt;/node/peers                   the other members' client addresses
/// &lt;data&gt;/node/retired                 the node keys a cluster retired
/// &lt;data&gt;/node/deployment/              a cluster's deployment identity: see <see cref="OpenOrCreateDeployment"/>
/// &lt;data&gt;/node/staged/{name}/          a ledger being made on a running node, until its creation is decided (then moved)
/// &lt;data&gt;/node/tombstones/             what is kept of each deleted ledger: {name}.{certificate SHA-256}.json
/// &lt;data&gt;/node/deleting/               a deleted ledger's folder while it is erased (finished at the next start)
/// &lt;data&gt;/credentials/                 the deployment's: the development Administrator (admin_cert.pem, admin_privk.pem)
/// &lt;data&gt;/ledgers/{name}/              one ledger: see <see cref="LedgerDirectory"/>
/// </code>
/// Everything in it is owner-only (0700 folders, 0600 files; see <see cref="OwnerOnly"/>). A folder made by a version
/// with the single-ledger layout is migrated in place, when it is locked, into the ledger <c>default</c>.
/// </summary>
public sealed class DataDirectory
{
    private readonly Lock _nodeKeyLock = new();
    private volatile bool _layoutEnsured;

    /// <summary>Lays out paths under <paramref name="root"/>; touches nothing.</summary>
    public DataDirectory(string root)
    {
        Root = Path.GetFullPath(root);
    }

    public string Root { get; }

    /// <summary>The node's own folder (<c>node/</c>).</summary>
    public string Node => Path.Combine(Root, "node");

    public string NodePrivateKey => Path.Combine(Node, "node_privk.pem");

    /// <summary>A cluster member's consensus log and membership.</summary>
    public string Raft => Path.Combine(Node, "raft");

    /// <summary>A single node's durable log: the batches of every ledger, one fsync per round (see the node log).</summary>
    public string NodeLog => Path.Combine(Node, "log");

    /// <summary>The node keys a cluster retired, one <c>nodeId address</c> per line (see the node's retired node list).</summary>
    public string RetiredNodesFile => Path.Combine(Node, "retired");

    /// <summary>The other members' client addresses, one <c>nodeAddress url</c> per line.</summary>
    public string PeersFile => Path.Combine(Node, "peers");

    /// <summary>
    /// A cluster's deployment identity (<c>node/deployment/</c>): <c>service_cert.pem</c> and <c>service_privk.pem</c>
    /// (the key that endorses every member's node certificate on the node channel), <c>deployment.secret</c> (what join
    /// tokens are derived from) and <c>node_cert.pem</c> (this node's certificate for the node channel).
    /// </summary>
    public string Deployment => Path.Combine(Node, "deployment");

    public string DeploymentServiceCertificate => Path.Combine(Deployment, "service_cert.pem");

    public string DeploymentServicePrivateKey => Path.Combine(Deployment, "service_privk.pem");

    public string DeploymentSecretFile => Path.Combine(Deployment, "deployment.secret");

    public string DeploymentNodeCertificate => Path.Combine(Deployment, "node_cert.pem");

    /// <summary>Whether this folder holds a deployment identity (its service certificate, written last, is there).</summary>
    public bool HasDeployment => File.Exists(DeploymentServiceCertificate);

    /// <summary>The deployment's credentials (<c>credentials/</c>).</summary>
    public string Credentials => Path.Combine(Root, "credentials");

    public string DevelopmentAdminCertificate => Path.Combine(Credentials, "admin_cert.pem");

    public string DevelopmentAdminPrivateKey => Path.Combine(Credentials, "admin_privk.pem");

    /// <summary>The development CA that issues the deployment's TLS certificate when the operator gives none: what clients trust.</summary>
    public string DeploymentCaCertificate => Path.Combine(Credentials, "deployment_ca_cert.pem");

    /// <summary>The development CA's private key.</summary>
    public string DeploymentCaPrivateKey => Path.Combine(Credentials, "deployment_ca_privk.pem");

    /// <summary>The folder of ledgers (<c>ledgers/</c>), one folder per ledger named as the ledger.</summary>
    public string Ledgers => Path.Combine(Root, "ledgers");

    /// <summary>The file naming the layout's version.</summary>
    public string LayoutFile => Path.Combine(Root, LayoutMigration.FileName);

    /// <summary>The ledger <c>default</c>: what a folder of the single-ledger layout became, and what a new node makes.</summary>
    public LedgerDirectory Default => Ledger(LedgerName.Default);

    /// <summary>True when the last <see cref="Lock"/> or <see cref="EnsureLayout"/> migrated this folder from the single-ledger layout.</summary>
    public bool Migrated { get; private set; }

    /// <summary>The folder of ledger <paramref name="name"/>; touches nothing.</summary>
    public LedgerDirectory Ledger(LedgerName name) => new(name, Path.Combine(Ledgers, name.Value));

    /// <summary>The names of the ledgers in <c>ledgers/</c> that exist (have a service certificate), in ordinal order.</summary>
    public IReadOnlyList<LedgerName> LedgerNames()
    {
        if (!Directory.Exists(Ledgers))
        {
            return [];
        }

        var names = new List<LedgerName>();
        foreach (var folder in Directory.EnumerateDirectories(Ledgers))
        {
            if (LedgerName.TryParse(Path.GetFileName(folder), out var name, out _) && name.Value == Path.GetFileName(folder) && Ledger(name).Exists)
            {
                names.Add(name);
            }
        }

        names.Sort((a, b) => string.CompareOrdinal(a.Value, b.Value));
        return names;
    }

    /// <summary>
    /// Takes the folder's lock (<see cref="DataFolderLock"/>), creating the folder if it is missing; migrates a folder of
    /// the single-ledger layout (<see cref="LayoutMigration"/>); then makes it owner-only: the root and its folders
    /// 0700, and the files in the <c>secrets/</c> and <c>credentials/</c> folders 0600, so a folder made by an older
    /// version or loosened by hand is repaired. Call it before anything else touches the folder; dispose the lock when
    /// done with it.
    /// </summary>
    /// <exception cref="DataFolderInUseException">Another process (or another open in this one) holds the folder.</exception>
    /// <exception cref="InvalidDataException">The folder's layout is unknown, or half-migrated in a way that cannot be finished.</exception>
    public DataFolderLock Lock()
    {
        var held = DataFolderLock.Acquire(Root);
        try
        {
            EnsureLayout();
            OwnerOnly.Tighten(Root);
            OwnerOnly.TightenFolders([Node, Credentials, Ledgers, Deployment], [Node, Credentials, Deployment]);

            foreach (var name in LedgerNames())
            {
                Ledger(name).Tighten();
            }

            return held;
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Brings the folder to the current layout: nothing when it is there already, the migration of the single-ledger
    /// layout when it is that (see <see cref="LayoutMigration"/>), and the layout file when the folder is new. Done by
    /// <see cref="Lock"/>; call it directly only on a folder no other process can be using.
    /// </summary>
    /// <exception cref="InvalidDataException">The folder's layout is unknown, or half-migrated in a way that cannot be finished.</exception>
    public void EnsureLayout()
    {
        Migrated = LayoutMigration.Run(this);
        _layoutEnsured = true;
    }

    /// <summary>
    /// Opens the identities and secret of the ledger <c>default</c>, or creates them on first use (see
    /// <see cref="OpenOrCreate(LedgerName, bool?, NodeIdentityOptions?)"/>).
    /// </summary>
    public (ServiceIdentity Service, NodeIdentity Node, LedgerSecret Secret, bool IsPrivate) OpenOrCreate(bool? isPrivate, NodeIdentityOptions? nodeOptions = null) =>
        OpenOrCreate(LedgerName.Default, isPrivate, nodeOptions);

    /// <summary>
    /// The node key (PEM), made on first use. Ledgers of one folder may open in parallel through this object: one of
    /// them makes the key, the others endorse the same one.
    /// </summary>
    private string EnsureNodeKey()
    {
        lock (_nodeKeyLock)
        {
            if (!File.Exists(NodePrivateKey))
            {
                using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP384);
                WriteSecretFile(NodePrivateKey, key.ExportPkcs8PrivateKeyPem() + "\n");
            }

            return File.ReadAllText(NodePrivateKey);
        }
    }

    /// <summary>
    /// Opens the identities and secret of ledger <paramref name="name"/>, or creates them on first use: the service
    /// identity, the ledger secret and type, and this node's certificate for the ledger (the node key, made once per
    /// node, endorsed by the ledger's service identity). The ledger type is fixed at creation: asking for another type
    /// later fails with <see cref="InvalidOperationException"/>.
    /// </summary>
    public (ServiceIdentity Service, NodeIdentity Node, LedgerSecret Secret, bool IsPrivate) OpenOrCreate(
        LedgerName name, bool? isPrivate, NodeIdentityOptions? nodeOptions = null)
    {
        if (!_layoutEnsured)
        {
            EnsureLayout();
        }

        var ledger = Ledger(name);
        CreateFolders();
        ledger.CreateFolders();

        var stored = ledger.StoredIsPrivate();
        if (stored is { } storedPrivate && isPrivate is { } wanted && wanted != storedPrivate)
        {
            throw new InvalidOperationException(
                $"the ledger '{name}' in {Root} is {(storedPrivate ? "Private" : "Public")}; its type is fixed at creation");
        }

        var ledgerPrivate = stored ?? isPrivate ?? false;
        if (!File.Exists(ledger.ServiceCertificate))
        {
            using var created = ServiceIdentity.Create();
            if (File.Exists(ledger.ServicePrivateKey))
            {
                // A creation that stopped before its certificate was written: the ledger does not exist yet.
                File.Delete(ledger.ServicePrivateKey);
            }

            WriteSecretFile(ledger.ServicePrivateKey, created.ExportPrivateKeyPem());
            Durability.WriteFileAtomic(ledger.ServiceCertificate, System.Text.Encoding.ASCII.GetBytes(created.ExportCertificatePem()));
        }

        var service = ServiceIdentity.LoadPemFiles(ledger.ServiceCertificate, ledger.ServicePrivateKey);
        try
        {
            if (!File.Exists(ledger.NodeCertificate))
            {
                // Whole or absent (a stop mid-write left an empty certificate, and the next start could not open the ledger).
                using var node = NodeIdentity.CreateForKey(service, EnsureNodeKey(), nodeOptions ?? DefaultNodeOptions());
                Durability.WriteFileAtomic(ledger.NodeCertificate, System.Text.Encoding.ASCII.GetBytes(node.ExportCertificatePem()));
            }
            else if (!File.Exists(NodePrivateKey))
            {
                throw new InvalidDataException($"{ledger.NodeCertificate} exists but the node key {NodePrivateKey} does not");
            }

            if (!File.Exists(ledger.LedgerSecretFile))
            {
                using var generated = LedgerSecret.Generate();
                generated.Save(ledger.LedgerSecretFile);
            }

            if (stored is null)
            {
                Durability.WriteFileAtomic(ledger.LedgerTypeFile, System.Text.Encoding.ASCII.GetBytes(ledgerPrivate ? "Private\n" : "Public\n"));
            }

            return (service, NodeIdentity.LoadPemFiles(ledger.NodeCertificate, NodePrivateKey), LedgerSecret.Load(ledger.LedgerSecretFile), ledgerPrivate);
        }
        catch
        {
            service.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Gives this (new) data folder the deployment identity of another member's (when it has one) and every ledger of
    /// it, each with the source's service identity, ledger secret and ledger type, so a node of a static cluster starts in the same service with node certificates of its
    /// own. The source may be in this layout or the single-ledger one (a member not yet upgraded: its one ledger becomes
    /// <c>default</c>); it is only read. A ledger this folder already holds with the same service certificate is left as
    /// it is, so a provisioning cut short is finished by the next; <c>default</c> comes last, since the join path takes its
    /// presence to mean the folder is provisioned.
    /// </summary>
    /// <exception cref="InvalidOperationException">This folder belongs to another service, or the source is incomplete.</exception>
    public void ProvisionFrom(DataDirectory source)
    {
        ArgumentNullException.ThrowIfNull(source);
        EnsureLayout();
        var sources = new List<(LedgerDirectory Target, string ServiceCertificate, string ServicePrivateKey, string LedgerSecret, string LedgerType)>();
        if (File.Exists(source.Default.ServiceCertificate) || File.Exists(source.LayoutFile))
        {
            foreach (var name in source.LedgerNames().OrderBy(n => n == LedgerName.Default ? 1 : 0))
            {
                var from = source.Ledger(name);
                sources.Add((Ledger(name), from.ServiceCertificate, from.ServicePrivateKey, from.LedgerSecretFile, from.LedgerTypeFile));
            }
        }
        else
        {
            var old = LayoutMigration.SingleLedgerPaths(source.Root);
            sources.Add((Default, old.ServiceCertificate, old.ServicePrivateKey, old.LedgerSecret, old.LedgerType));
        }

        if (sources.Count == 0)
        {
            throw new InvalidOperationException($"{source.Root} holds no ledger: start the first member once before provisioning others from it");
        }

        // The deployment identity first (default's presence marks the folder provisioned). A source without one adopts
        // default's at its next start as a member, and so does this folder (see OpenOrCreateDeployment).
        if (source.HasDeployment)
        {
            ProvisionDeployment(
                File.ReadAllText(source.DeploymentServiceCertificate), File.ReadAllText(source.DeploymentServicePrivateKey),
                File.ReadAllText(source.DeploymentSecretFile));
        }

        foreach (var (target, serviceCertificate, servicePrivateKey, ledgerSecret, ledgerType) in sources)
        {
            if (target.Exists)
            {
                if (!File.Exists(serviceCertificate) || File.ReadAllText(target.ServiceCertificate) != File.ReadAllText(serviceCertificate))
                {
                    throw new InvalidOperationException($"{Root} already belongs to another service; it cannot take {source.Root}'s identity");
                }

                continue;
            }

            foreach (var path in new[] { serviceCertificate, servicePrivateKey, ledgerSecret, ledgerType })
            {
                if (!File.Exists(path))
                {
                    throw new InvalidOperationException($"{path} is missing: start the first member once before provisioning others from it");
                }
            }

            CreateFolders();
            target.Provision(
                File.ReadAllText(serviceCertificate), File.ReadAllText(servicePrivateKey), File.ReadAllText(ledgerSecret), File.ReadAllText(ledgerType));
        }
    }

    /// <summary>
    /// Opens the deployment identity of a cluster member (<see cref="Deployment"/>), or makes it on the member's first
    /// start as one. A folder that holds the ledger <c>default</c> then — a member upgraded from a version without a
    /// deployment identity, or a single node's folder becoming a cluster's first member — adopts <c>default</c>'s service
    /// key, which endorsed every member's node certificate until then, so members upgraded one by one agree without
    /// talking. A new folder gets a new key before any ledger is made in it (the first member of a new cluster); later
    /// members receive it through <see cref="ProvisionFrom"/> or a join (<see cref="ProvisionDeployment"/>).
    /// The deployment secret is never a ledger's: a new one, or, on adoption, one derived from <c>default</c>'s (HKDF,
    /// one way), so that destroying a ledger's secret is never undone by a copy kept here. This node's certificate for the
    /// node channel (its node key endorsed by the deployment's) is made when missing.
    /// </summary>
    public (ServiceIdentity Service, NodeIdentity Node, byte[] Secret, bool Adopted) OpenOrCreateDeployment(NodeIdentityOptions? nodeOptions = null)
    {
        if (!_layoutEnsured)
        {
            EnsureLayout();
        }

        CreateFolders();
        var adopted = false;
        if (!HasDeployment)
        {
            if (Default.Exists)
            {
                using var secret = LedgerSecret.Load(Default.LedgerSecretFile);
                var derived = secret.DeriveKey(AdoptedSecretPurpose);
                ProvisionDeployment(File.ReadAllText(Default.ServiceCertificate), File.ReadAllText(Default.ServicePrivateKey), Convert.ToHexStringLower(derived));
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(derived);
                adopted = true;
            }
            else
            {
                using var created = ServiceIdentity.Create();
                ProvisionDeployment(
                    created.ExportCertificatePem(), created.ExportPrivateKeyPem(),
                    Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(LedgerSecret.Size)));
            }
        }

        var service = ServiceIdentity.LoadPemFiles(DeploymentServiceCertificate, DeploymentServicePrivateKey);
        try
        {
            if (!File.Exists(DeploymentNodeCertificate))
            {
                using var node = NodeIdentity.CreateForKey(service, EnsureNodeKey(), nodeOptions ?? DefaultNodeOptions());
                Durability.WriteFileAtomic(DeploymentNodeCertificate, System.Text.Encoding.ASCII.GetBytes(node.ExportCertificatePem()));
            }

            var text = File.ReadAllText(DeploymentSecretFile).Trim();
            if (text.Length != 2 * LedgerSecret.Size || !System.Text.RegularExpressions.Regex.IsMatch(text, "^[0-9a-fA-F]+$"))
            {
                throw new InvalidDataException($"{DeploymentSecretFile}: a deployment secret file holds 64 hex digits");
            }

            return (service, NodeIdentity.LoadPemFiles(DeploymentNodeCertificate, NodePrivateKey), Convert.FromHexString(text), adopted);
        }
        catch
        {
            service.Dispose();
            throw;
        }
    }

    /// <summary>The purpose under which an adopted deployment secret is derived from <c>default</c>'s ledger secret.</summary>
    public const string AdoptedSecretPurpose = "deployment secret";

    /// <summary>
    /// Writes a deployment identity into this folder (<see cref="Deployment"/>), whole or not at all: into a folder of
    /// its own beside it, made durable, then renamed into place. Nothing when this folder holds the same one already.
    /// </summary>
    /// <exception cref="InvalidOperationException">This folder holds another deployment's identity.</exception>
    public void ProvisionDeployment(string serviceCertificatePem, string servicePrivateKeyPem, string secretHex)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceCertificatePem);
        if (HasDeployment)
        {
            if (File.ReadAllText(DeploymentServiceCertificate).Trim() != serviceCertificatePem.Trim())
            {
                throw new InvalidOperationException($"{Root} already belongs to another deployment; it cannot take another's identity");
            }

            return;
        }

        CreateFolders();
        var making = Deployment + ".new";
        if (Directory.Exists(making))
        {
            Directory.Delete(making, recursive: true); // what a stop in the middle of an earlier provisioning left
        }

        if (Directory.Exists(Deployment))
        {
            Directory.Delete(Deployment, recursive: true); // no service certificate: never finished, never used
        }

        OwnerOnly.CreateDirectory(making);
        WriteSecretFile(Path.Combine(making, Path.GetFileName(DeploymentServicePrivateKey)), servicePrivateKeyPem);
        WriteSecretFile(Path.Combine(making, Path.GetFileName(DeploymentSecretFile)), secretHex.Trim() + "\n");
        Durability.WriteFileAtomic(Path.Combine(making, Path.GetFileName(DeploymentServiceCertificate)), System.Text.Encoding.ASCII.GetBytes(serviceCertificatePem));
        Durability.SyncDirectory(making);
        Directory.Move(making, Deployment);
        Durability.SyncDirectory(Node);
    }

    /// <summary>
    /// Where a ledger made on a running node waits (<c>node/staged/{name}/</c>, laid out as a ledger folder) until its
    /// creation is decided: on a single node at once, on a cluster once the consensus log has committed it. Not a ledger
    /// of this folder (<see cref="LedgerNames"/> does not list it); <see cref="Adopt"/> makes it one.
    /// </summary>
    public LedgerDirectory Staged(LedgerName name) => new(name, Path.Combine(Node, "staged", name.Value));

    /// <summary>
    /// Stages a new ledger's material (<see cref="Staged"/>): a new service identity and ledger secret and the type,
    /// over whatever an earlier, unfinished staging of the same name left. Nothing is served from it yet.
    /// </summary>
    public LedgerDirectory StageNew(LedgerName name, bool isPrivate)
    {
        using var service = ServiceIdentity.Create();
        var secret = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(LedgerSecret.Size));
        return Stage(name, service.ExportCertificatePem(), service.ExportPrivateKeyPem(), secret, isPrivate ? "Private" : "Public");
    }

    /// <summary>Stages a ledger's material received from another member (see <see cref="StageNew"/>).</summary>
    public LedgerDirectory Stage(LedgerName name, string serviceCertificatePem, string servicePrivateKeyPem, string ledgerSecretHex, string ledgerType)
    {
        EnsureLayout();
        var staged = Staged(name);
        if (Directory.Exists(staged.Root))
        {
            Directory.Delete(staged.Root, recursive: true);
        }

        OwnerOnly.CreateDirectory(Path.GetDirectoryName(staged.Root)!);
        staged.Provision(serviceCertificatePem, servicePrivateKeyPem, ledgerSecretHex, ledgerType);
        Durability.SyncDirectory(staged.Credentials);
        Durability.SyncDirectory(staged.Secrets);
        Durability.SyncDirectory(Path.GetDirectoryName(staged.Root)!);
        return staged;
    }

    /// <summary>
    /// Makes the staged ledger <paramref name="name"/> a ledger of this folder: one rename into <c>ledgers/</c>, made
    /// durable, so a crash leaves it staged or adopted, never half of each.
    /// </summary>
    /// <exception cref="InvalidOperationException">Nothing complete is staged under that name, or the ledger exists.</exception>
    public LedgerDirectory Adopt(LedgerName name)
    {
        var staged = Staged(name);
        var target = Ledger(name);
        if (!staged.Exists)
        {
            throw new InvalidOperationException($"no ledger '{name}' is staged in {Root}");
        }

        if (Directory.Exists(target.Root))
        {
            if (target.Exists)
            {
                throw new InvalidOperationException($"the ledger '{name}' already exists in {Root}");
            }

            // The remains of a creation at start (OpenOrCreate) that stopped before the ledger existed.
            Directory.Delete(target.Root, recursive: true);
        }

        Directory.Move(staged.Root, target.Root);
        Durability.SyncDirectory(Ledgers);
        Durability.SyncDirectory(Path.GetDirectoryName(staged.Root)!);
        return target;
    }

    /// <summary>What is kept of deleted ledgers: one small file each (<see cref="Bury"/>).</summary>
    public string Tombstones => Path.Combine(Node, "tombstones");

    /// <summary>Deleted ledgers' folders while they are erased; anything in it is erased at start (<see cref="FinishDeletions"/>).</summary>
    public string Deleting => Path.Combine(Node, "deleting");

    /// <summary>The tombstone file of the ledger <paramref name="name"/> whose service certificate has <paramref name="digestHex"/>.</summary>
    public string TombstoneFile(LedgerName name, string digestHex) => Path.Combine(Tombstones, $"{name.Value}.{digestHex}.json");

    /// <summary>The tombstone files of the ledgers once named <paramref name="name"/> (any number: a name is free again after a deletion).</summary>
    public IReadOnlyList<string> TombstoneFiles(LedgerName name) =>
        Directory.Exists(Tombstones) ? [.. Directory.EnumerateFiles(Tombstones, name.Value + ".*.json").Order(StringComparer.Ordinal)] : [];

    /// <summary>Every tombstone file, in ordinal order.</summary>
    public IReadOnlyList<string> AllTombstoneFiles() =>
        Directory.Exists(Tombstones) ? [.. Directory.EnumerateFiles(Tombstones, "*.json").Order(StringComparer.Ordinal)] : [];

    /// <summary>Writes a deleted ledger's tombstone, durably (before anything of the ledger is removed).</summary>
    public void KeepTombstone(string tombstoneFile, ReadOnlySpan<byte> tombstone)
    {
        OwnerOnly.CreateDirectory(Tombstones);
        Durability.WriteFileAtomic(tombstoneFile, tombstone);
    }

    /// <summary>
    /// Takes the (closed) ledger <paramref name="name"/> out of this folder for good, once its tombstone is kept
    /// (<see cref="KeepTombstone"/>): its folder leaves <c>ledgers/</c> with one durable rename into
    /// <c>node/deleting/</c>, so a crash leaves it served or deleted, never half of each. Returns where it went, for
    /// <see cref="Erase"/> (null when the folder is gone already). Whatever is in <c>node/deleting/</c> at start is erased
    /// (<see cref="FinishDeletions"/>).
    /// </summary>
    public string? Bury(LedgerName name)
    {
        var folder = Ledger(name);
        if (!Directory.Exists(folder.Root))
        {
            return null;
        }

        OwnerOnly.CreateDirectory(Deleting);
        var target = Path.Combine(Deleting, $"{name.Value}.{Guid.NewGuid():N}");
        Directory.Move(folder.Root, target);
        Durability.SyncDirectory(Ledgers);
        Durability.SyncDirectory(Deleting);
        return target;
    }

    /// <summary>Erases what a deletion left in <c>node/deleting/</c> when the node stopped before it was done.</summary>
    public void FinishDeletions()
    {
        if (Directory.Exists(Deleting))
        {
            foreach (var folder in Directory.EnumerateDirectories(Deleting))
            {
                Erase(folder);
            }
        }
    }

    /// <summary>
    /// Erases a buried ledger's folder (<see cref="Bury"/>): its secrets first, made durable — the service key and the
    /// ledger secret, from which the key of every copy of its batches in a consensus log derives — then the rest.
    /// </summary>
    public void Erase(string folder)
    {
        var secrets = Path.Combine(folder, "secrets");
        if (Directory.Exists(secrets))
        {
            foreach (var file in Directory.EnumerateFiles(secrets))
            {
                File.Delete(file);
            }

            Durability.SyncDirectory(secrets);
        }

        Directory.Delete(folder, recursive: true);
        Durability.SyncDirectory(Deleting);
    }

    /// <summary>The root and its top folders, owner-only (0700) whatever the umask.</summary>
    private void CreateFolders()
    {
        OwnerOnly.CreateDirectory(Root);
        OwnerOnly.Tighten(Root);
        OwnerOnly.CreateDirectory(Node);
        OwnerOnly.Tighten(Node);
        OwnerOnly.CreateDirectory(Credentials);
        OwnerOnly.CreateDirectory(Ledgers);
    }

    /// <summary>A node certificate for loopback use: SANs localhost, 127.0.0.1 and ::1.</summary>
    public static NodeIdentityOptions DefaultNodeOptions()
    {
        var options = new NodeIdentityOptions();
        options.DnsNames.Add("localhost");
        options.IPAddresses.Add(System.Net.IPAddress.Loopback);
        options.IPAddresses.Add(System.Net.IPAddress.IPv6Loopback);
        return options;
    }

    /// <summary>Writes a file readable only by its owner; fails if it exists.</summary>
    public static void WriteSecretFile(string path, string contents)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var stream = new FileStream(path, options);
        stream.Write(System.Text.Encoding.ASCII.GetBytes(contents));
        stream.Flush(flushToDisk: true);
    }
}
