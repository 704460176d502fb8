using Vellum.Core.Identity;
using Vellum.Storage.IO;
using Vellum.Storage.Ledger;

namespace Vellum.Storage;

/// <summary>
/// One ledger's folder inside a data folder, <c>&lt;data&gt;/ledgers/{name}/</c> (see <see cref="DataDirectory"/>):
/// <code>
/// credentials/service_cert.pem   the ledger's service certificate (public; what clients and 'vellum verify' pin)
/// credentials/node_cert.pem      this node's certificate as endorsed by the ledger's service identity
/// secrets/service_privk.pem      the service identity key (0600)
/// secrets/ledger.secret          the ledger secret, 64 hex digits (0600)
/// ledger/                        chunk files: what 'vellum verify' reads
/// state/                         view, Merkle tiles, indexes, ledger type, member certificates (derived or node-local)
/// </code>
/// Everything a ledger is lives here, so removing this folder removes the ledger from the node.
/// </summary>
public sealed class LedgerDirectory
{
    internal LedgerDirectory(LedgerName name, string root)
    {
        Name = name;
        Root = root;
    }

    /// <summary>The ledger's name (lower case, as in the folder's name).</summary>
    public LedgerName Name { get; }

    public string Root { get; }

    public string Credentials => Path.Combine(Root, "credentials");

    public string Secrets => Path.Combine(Root, "secrets");

    /// <summary>The chunk files (<c>ledger/</c>): the folder <c>vellum verify</c> takes.</summary>
    public string Chunks => Path.Combine(Root, "ledger");

    public string State => Path.Combine(Root, "state");

    public string ServiceCertificate => Path.Combine(Credentials, "service_cert.pem");

    /// <summary>This node's certificate for this ledger: the node key, endorsed by the ledger's service identity.</summary>
    public string NodeCertificate => Path.Combine(Credentials, "node_cert.pem");

    public string ServicePrivateKey => Path.Combine(Secrets, "service_privk.pem");

    public string LedgerSecretFile => Path.Combine(Secrets, "ledger.secret");

    public string LedgerTypeFile => Path.Combine(State, "ledger-type");

    /// <summary>The control plane's record of the ledger (its ARM resource), when the control plane made it.</summary>
    public string ResourceFile => Path.Combine(State, "resource.json");

    /// <summary>Certificates of the users the node made Administrators when it created the ledger.</summary>
    public string Members => Path.Combine(State, "members");

    /// <summary>Whether the ledger exists here: its service certificate is written last when a ledger is made.</summary>
    public bool Exists => File.Exists(ServiceCertificate);

    /// <summary>
    /// The ledger's type as stored (true for Private), or null when the ledger has none yet.
    /// </summary>
    /// <exception cref="InvalidDataException">The type file holds something else than Public or Private.</exception>
    public bool? StoredIsPrivate()
    {
        if (!File.Exists(LedgerTypeFile))
        {
            return null;
        }

        var stored = File.ReadAllText(LedgerTypeFile).Trim();
        return stored switch
        {
            "Private" => true,
            "Public" => false,
            _ => throw new InvalidDataException($"{LedgerTypeFile} holds '{stored}', not Public or Private"),
        };
    }

    /// <summary>Store options for this ledger.</summary>
    public LedgerStoreOptions StoreOptions(bool isPrivate) => new()
    {
        LedgerDirectory = Chunks,
        StateDirectory = State,
        IsPrivate = isPrivate,
    };

    /// <summary>
    /// Writes a service's material into this new ledger folder: the service certificate and key, the ledger secret (hex)
    /// and the ledger type (Public or Private). Secrets go in <c>secrets/</c> (0700, files 0600); the certificate is
    /// written last, because its presence is what marks the ledger as made (<see cref="Exists"/>). The node endorses its
    /// own key for the ledger when it first opens it.
    /// </summary>
    public void Provision(string serviceCertificatePem, string servicePrivateKeyPem, string ledgerSecretHex, string ledgerType)
    {
        CreateFolders();
        DataDirectory.WriteSecretFile(ServicePrivateKey, servicePrivateKeyPem);
        DataDirectory.WriteSecretFile(LedgerSecretFile, ledgerSecretHex.Trim() + "\n");
        Durability.WriteFileAtomic(LedgerTypeFile, System.Text.Encoding.ASCII.GetBytes(ledgerType.Trim() + "\n"));
        Durability.WriteFileAtomic(ServiceCertificate, System.Text.Encoding.ASCII.GetBytes(serviceCertificatePem));
    }

    /// <summary>The folder and its parts, owner-only (0700) whatever the umask; <c>secrets/</c> is made 0700 even if it existed.</summary>
    internal void CreateFolders()
    {
        OwnerOnly.CreateDirectory(Root);
        OwnerOnly.Tighten(Root);
        OwnerOnly.CreateDirectory(Credentials);
        OwnerOnly.CreateDirectory(Secrets);
        OwnerOnly.Tighten(Secrets);
        OwnerOnly.CreateDirectory(State);
    }

    /// <summary>Makes the folders owner-only again and the files in <c>secrets/</c> and <c>credentials/</c> 0600.</summary>
    internal void Tighten()
    {
        OwnerOnly.Tighten(Root);
        OwnerOnly.TightenFolders([Credentials, Secrets, Chunks, State], [Credentials, Secrets]);
    }
}
