using Vellum.Core.Crypto;
using Vellum.Core.Identity;
using Vellum.Storage.IO;
using Vellum.Storage.Ledger;

namespace Vellum.Storage;

/// <summary>
/// The layout of a node's data folder, keyed by ledger id from the start (one ledger, <c>default</c>, for now):
/// <code>
/// &lt;data&gt;/credentials/service_cert.pem   service certificate (public; what clients and 'vellum verify' pin)
/// &lt;data&gt;/credentials/node_cert.pem      this node's certificate, endorsed by the service identity
/// &lt;data&gt;/secrets/service_privk.pem      service identity key (mode 0600)
/// &lt;data&gt;/secrets/node_privk.pem         node key (mode 0600)
/// &lt;data&gt;/secrets/ledger.secret          ledger secret, 64 hex digits (mode 0600)
/// &lt;data&gt;/ledger/                          chunk files
/// &lt;data&gt;/state/                           view, Merkle tiles, indexes, ledger type (derived or node-local)
/// &lt;data&gt;/vellum.lock                      the holder's pid; see <see cref="DataFolderLock"/> (keeps this place in any layout)
/// </code>
/// Everything in it is owner-only (0700 folders, 0600 files; see <see cref="OwnerOnly"/>).
/// </summary>
public sealed class DataDirectory
{
    /// <summary>Lays out paths under <paramref name="root"/>; touches nothing.</summary>
    public DataDirectory(string root)
    {
        Root = Path.GetFullPath(root);
    }

    public string Root { get; }

    public string Credentials => Path.Combine(Root, "credentials");

    public string Secrets => Path.Combine(Root, "secrets");

    public string Ledger => Path.Combine(Root, "ledger");

    public string State => Path.Combine(Root, "state");

    public string ServiceCertificate => Path.Combine(Credentials, "service_cert.pem");

    public string NodeCertificate => Path.Combine(Credentials, "node_cert.pem");

    public string ServicePrivateKey => Path.Combine(Secrets, "service_privk.pem");

    public string NodePrivateKey => Path.Combine(Secrets, "node_privk.pem");

    public string LedgerSecretFile => Path.Combine(Secrets, "ledger.secret");

    public string LedgerTypeFile => Path.Combine(State, "ledger-type");

    /// <summary>
    /// Takes the folder's lock (<see cref="DataFolderLock"/>), creating the folder if it is missing, then makes it
    /// owner-only: the root and its folders 0700, and the files in <c>secrets/</c> and <c>credentials/</c> 0600, so a
    /// folder made by an older version or loosened by hand is repaired (the root alone already keeps other users out of
    /// everything beneath it). Call it before anything else touches the folder; dispose the lock when done with it.
    /// </summary>
    /// <exception cref="DataFolderInUseException">Another process (or another open in this one) holds the folder.</exception>
    public DataFolderLock Lock()
    {
        var held = DataFolderLock.Acquire(Root);
        try
        {
            OwnerOnly.Tighten(Root);
            foreach (var directory in new[] { Credentials, Secrets, Ledger, State })
            {
                if (Directory.Exists(directory))
                {
                    OwnerOnly.Tighten(directory);
                }
            }

            foreach (var directory in new[] { Credentials, Secrets })
            {
                if (Directory.Exists(directory))
                {
                    foreach (var file in Directory.EnumerateFiles(directory))
                    {
                        OwnerOnly.Tighten(file);
                    }
                }
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
    /// Opens the identities and secret of an existing data folder, or creates them on first use. The ledger type is
    /// fixed at creation: asking for another type later fails with <see cref="InvalidOperationException"/>.
    /// </summary>
    public (ServiceIdentity Service, NodeIdentity Node, LedgerSecret Secret, bool IsPrivate) OpenOrCreate(bool? isPrivate, NodeIdentityOptions? nodeOptions = null)
    {
        CreateFolders();

        bool ledgerPrivate;
        if (File.Exists(LedgerTypeFile))
        {
            var stored = File.ReadAllText(LedgerTypeFile).Trim();
            ledgerPrivate = stored switch
            {
                "Private" => true,
                "Public" => false,
                _ => throw new InvalidDataException($"{LedgerTypeFile} holds '{stored}', not Public or Private"),
            };
            if (isPrivate is { } wanted && wanted != ledgerPrivate)
            {
                throw new InvalidOperationException($"the ledger in {Root} is {stored}; its type is fixed at creation");
            }
        }
        else
        {
            ledgerPrivate = isPrivate ?? false;
        }

        if (!File.Exists(ServiceCertificate))
        {
            using var created = ServiceIdentity.Create();
            WriteSecretFile(ServicePrivateKey, created.ExportPrivateKeyPem());
            OwnerOnly.WriteAllText(ServiceCertificate, created.ExportCertificatePem());
        }

        var service = ServiceIdentity.LoadPemFiles(ServiceCertificate, ServicePrivateKey);
        if (!File.Exists(NodeCertificate))
        {
            using var node = NodeIdentity.Create(service, nodeOptions ?? DefaultNodeOptions());
            WriteSecretFile(NodePrivateKey, node.ExportPrivateKeyPem());
            OwnerOnly.WriteAllText(NodeCertificate, node.ExportCertificatePem());
        }

        if (!File.Exists(LedgerSecretFile))
        {
            using var generated = LedgerSecret.Generate();
            generated.Save(LedgerSecretFile);
        }

        if (!File.Exists(LedgerTypeFile))
        {
            Durability.WriteFileAtomic(LedgerTypeFile, System.Text.Encoding.ASCII.GetBytes(ledgerPrivate ? "Private\n" : "Public\n"));
        }

        return (service, NodeIdentity.LoadPemFiles(NodeCertificate, NodePrivateKey), LedgerSecret.Load(LedgerSecretFile), ledgerPrivate);
    }

    /// <summary>
    /// Gives this (new) data folder the service identity, ledger secret and ledger type of another member's, so a node
    /// of a static cluster starts in the same service with a node certificate of its own. Does nothing when this
    /// folder already holds the same service certificate; refuses when it holds another one.
    /// </summary>
    /// <exception cref="InvalidOperationException">This folder belongs to another service, or the source is incomplete.</exception>
    public void ProvisionFrom(DataDirectory source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (File.Exists(ServiceCertificate))
        {
            if (File.ReadAllText(ServiceCertificate) != File.ReadAllText(source.ServiceCertificate))
            {
                throw new InvalidOperationException($"{Root} already belongs to another service; it cannot take {source.Root}'s identity");
            }

            return;
        }

        foreach (var path in new[] { source.ServiceCertificate, source.ServicePrivateKey, source.LedgerSecretFile, source.LedgerTypeFile })
        {
            if (!File.Exists(path))
            {
                throw new InvalidOperationException($"{path} is missing: start the first member once before provisioning others from it");
            }
        }

        Provision(
            File.ReadAllText(source.ServiceCertificate), File.ReadAllText(source.ServicePrivateKey), File.ReadAllText(source.LedgerSecretFile),
            File.ReadAllText(source.LedgerTypeFile));
    }

    /// <summary>
    /// Writes a service's material into this new data folder: the service certificate and key, the ledger secret (hex)
    /// and the ledger type (Public or Private). Secrets go in <c>secrets/</c> (mode 0700, files 0600); the certificate
    /// is written last, because its presence is what marks the folder as provisioned. The node makes its own node
    /// identity when it first opens the folder.
    /// </summary>
    public void Provision(string serviceCertificatePem, string servicePrivateKeyPem, string ledgerSecretHex, string ledgerType)
    {
        CreateFolders();

        WriteSecretFile(ServicePrivateKey, servicePrivateKeyPem);
        WriteSecretFile(LedgerSecretFile, ledgerSecretHex.Trim() + "\n");
        Durability.WriteFileAtomic(LedgerTypeFile, System.Text.Encoding.ASCII.GetBytes(ledgerType.Trim() + "\n"));
        OwnerOnly.WriteAllText(ServiceCertificate, serviceCertificatePem);
    }

    /// <summary>The root and its folders, owner-only (0700) whatever the umask; <c>secrets/</c> is made 0700 even if it existed.</summary>
    private void CreateFolders()
    {
        OwnerOnly.CreateDirectory(Root);
        OwnerOnly.Tighten(Root);
        OwnerOnly.CreateDirectory(Credentials);
        OwnerOnly.CreateDirectory(Secrets);
        OwnerOnly.Tighten(Secrets);
        OwnerOnly.CreateDirectory(State);
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

    /// <summary>Store options for this folder.</summary>
    public LedgerStoreOptions StoreOptions(bool isPrivate) => new()
    {
        LedgerDirectory = Ledger,
        StateDirectory = State,
        IsPrivate = isPrivate,
    };

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
