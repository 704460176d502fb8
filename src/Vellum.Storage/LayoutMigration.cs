using System.Text;
using Vellum.Storage.IO;

namespace Vellum.Storage;

/// <summary>
/// Moves a data folder of the single-ledger layout (version 1: <c>credentials/</c>, <c>secrets/</c>, <c>ledger/</c>,
/// <c>state/</c> at the top) into the many-ledgers layout (version 2, <see cref="DataDirectory"/>), the old ledger
/// becoming the ledger <c>default</c>. Files are moved, never rewritten, so every chunk, signature and receipt stays
/// as it was and still verifies against the same service certificate.
/// <para>
/// Crash-safe by construction: the migration is a fixed list of renames (<see cref="Moves"/>), each atomic, judged
/// afresh on every run: source there and target not → rename; source gone and target there → done before; neither →
/// nothing to move; both → refused (something other than this migration wrote the folder). Whatever instant a crash
/// stops it at, the next run finishes it. The layout file is written last, atomically, so a folder that has one is
/// fully migrated; before it, nothing reads the new places.
/// </para>
/// </summary>
public static class LayoutMigration
{
    /// <summary>The layout file's name, directly under the data folder.</summary>
    public const string FileName = "layout";

    /// <summary>The layout this version writes and reads.</summary>
    public const int CurrentVersion = 2;

    /// <summary>
    /// The renames that turn a version-1 folder under <paramref name="root"/> into version 2, in the order they run:
    /// the node's own files first (out of folders that move as a whole later), then the ledger's.
    /// </summary>
    public static IReadOnlyList<(string From, string To)> Moves(string root)
    {
        var data = new DataDirectory(root);
        var ledger = data.Default;
        var old = SingleLedgerPaths(data.Root);
        return
        [
            (Path.Combine(old.State, "raft"), data.Raft),
            (Path.Combine(old.State, "peers"), data.PeersFile),
            (Path.Combine(old.Secrets, "node_privk.pem"), data.NodePrivateKey),
            (Path.Combine(old.Credentials, "node_cert.pem"), ledger.NodeCertificate),
            (old.ServiceCertificate, ledger.ServiceCertificate),
            (old.Secrets, ledger.Secrets),
            (old.State, ledger.State),
            (old.Chunks, ledger.Chunks),
        ];
    }

    /// <summary>Where the single-ledger layout kept things (read when migrating, or when provisioning from an old member).</summary>
    public static (string Credentials, string Secrets, string State, string Chunks, string ServiceCertificate, string ServicePrivateKey, string LedgerSecret, string LedgerType)
        SingleLedgerPaths(string root)
    {
        var credentials = Path.Combine(root, "credentials");
        var secrets = Path.Combine(root, "secrets");
        var state = Path.Combine(root, "state");
        return (credentials, secrets, state, Path.Combine(root, "ledger"), Path.Combine(credentials, "service_cert.pem"),
            Path.Combine(secrets, "service_privk.pem"), Path.Combine(secrets, "ledger.secret"), Path.Combine(state, "ledger-type"));
    }

    /// <summary>
    /// Reads the folder's layout and brings it to <see cref="CurrentVersion"/>. True when a version-1 folder was
    /// migrated by this call (or a migration a crash interrupted was finished); false when there was nothing to do.
    /// </summary>
    /// <exception cref="InvalidDataException">The layout file names another version, or a rename's source and target both exist.</exception>
    public static bool Run(DataDirectory data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (File.Exists(data.LayoutFile))
        {
            var text = File.ReadAllText(data.LayoutFile).Trim();
            if (text != CurrentVersion.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                throw new InvalidDataException(
                    $"{data.Root} has data layout '{text}' ({data.LayoutFile}); this version of vellum reads layout {CurrentVersion}");
            }

            return false;
        }

        if (!Directory.Exists(data.Root))
        {
            return false;
        }

        var moves = Moves(data.Root);
        var found = false;
        foreach (var (from, to) in moves)
        {
            found |= Exists(from) || Exists(to);
        }

        if (found)
        {
            foreach (var (from, to) in moves)
            {
                Move(data.Root, from, to);
            }
        }

        Durability.WriteFileAtomic(data.LayoutFile, Encoding.ASCII.GetBytes(CurrentVersion.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n"));
        return found;
    }

    private static void Move(string root, string from, string to)
    {
        var source = Exists(from);
        var target = Exists(to);
        if (source && target)
        {
            throw new InvalidDataException(
                $"cannot migrate the data folder: both {from} and {to} exist; move one of them away and start again");
        }

        if (!source)
        {
            return;
        }

        var targetFolder = Path.GetDirectoryName(to)!;
        OwnerOnly.CreateDirectory(targetFolder);
        if (Directory.Exists(from))
        {
            Directory.Move(from, to);
        }
        else
        {
            File.Move(from, to);
        }

        // The rename is durable once both directory entries are, and those of the folders just made to hold it.
        Durability.SyncDirectory(Path.GetDirectoryName(from)!);
        for (var folder = targetFolder; folder.Length >= root.Length; folder = Path.GetDirectoryName(folder)!)
        {
            Durability.SyncDirectory(folder);
        }
    }

    private static bool Exists(string path) => File.Exists(path) || Directory.Exists(path);
}
