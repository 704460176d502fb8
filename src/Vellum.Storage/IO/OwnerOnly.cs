using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Vellum.Storage.IO;

/// <summary>
/// Owner-only permissions for everything in a data folder (0700 folders, 0600 files), whatever the umask: ledger
/// chunks, indexes and the Raft log hold entry contents, and roles mean nothing to a local user who can read the files.
/// Three layers, because any one alone has a gap: the data root is made 0700 when a node opens it (that alone keeps
/// other users out of every path beneath it, old files included); the folders and files Vellum creates get owner-only
/// modes as they are made; and the <c>vellum</c> process sets umask 077 so files that libraries create for it (DotNext's
/// Raft log) are owner-only too. No-ops on Windows, where the folder's ACL inherits from its parent.
/// </summary>
public static partial class OwnerOnly
{
    /// <summary>rwx for the owner, nothing for group and others.</summary>
    public const UnixFileMode DirectoryPermissions = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>rw for the owner, nothing for group and others.</summary>
    public const UnixFileMode FilePermissions = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode GroupAndOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Creates <paramref name="path"/> and its missing parents with mode 0700; existing folders are left as they are.</summary>
    public static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        if (Directory.Exists(path))
        {
            return;
        }

        // Directory.CreateDirectory(path, mode) gives the mode to the last folder only: missing parents would get the
        // umask's. So each missing folder is made here, outermost first.
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } parent)
        {
            CreateDirectory(parent);
        }

        Directory.CreateDirectory(path, DirectoryPermissions);
    }

    /// <summary>
    /// Makes a file just created through <paramref name="handle"/> 0600. <see cref="File.OpenHandle"/> has no creation
    /// mode, so the file exists with the umask's mode for the moment between open and this fchmod; it is already
    /// inside the owner-only data root then.
    /// </summary>
    public static void Restrict(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(handle, FilePermissions);
        }
    }

    /// <summary>
    /// Takes group and other permissions off an existing folder or file (a data folder made by an older version, or
    /// loosened by hand); true when it changed anything. The owner's bits are kept.
    /// </summary>
    public static bool Tighten(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return false;
        }

        var mode = File.GetUnixFileMode(path);
        if ((mode & GroupAndOthers) == 0)
        {
            return false;
        }

        File.SetUnixFileMode(path, mode & ~GroupAndOthers);
        return true;
    }

    /// <summary>
    /// <see cref="Tighten"/> for each of <paramref name="folders"/> that exists, and for the files directly in each of
    /// <paramref name="foldersOfSecrets"/> that exists (where keys and certificates are kept).
    /// </summary>
    public static void TightenFolders(ReadOnlySpan<string> folders, ReadOnlySpan<string> foldersOfSecrets)
    {
        foreach (var folder in folders)
        {
            if (Directory.Exists(folder))
            {
                Tighten(folder);
            }
        }

        foreach (var folder in foldersOfSecrets)
        {
            if (Directory.Exists(folder))
            {
                foreach (var file in Directory.EnumerateFiles(folder))
                {
                    Tighten(file);
                }
            }
        }
    }

    /// <summary>Writes a new or replaced text file readable and writable by its owner only.</summary>
    public static void WriteAllText(string path, string contents)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FilePermissions;
        }

        using (var stream = new FileStream(path, options))
        {
            stream.Write(System.Text.Encoding.UTF8.GetBytes(contents));
        }

        // UnixCreateMode applies only when the file is created; a file that was already there keeps its mode.
        Tighten(path);
    }

    /// <summary>
    /// Sets this process's umask to 077, so that every file and folder it creates, through any library, is owner-only.
    /// For a process whose job is a data folder (<c>vellum start</c>, <c>join</c>, <c>generate</c>): the umask is
    /// process-wide, so a library must not change it for its host.
    /// </summary>
    public static void RestrictProcessUmask()
    {
        if (!OperatingSystem.IsWindows())
        {
            _ = Umask(0b000_111_111);
        }
    }

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint Umask(uint mask);
}
