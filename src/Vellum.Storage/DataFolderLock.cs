using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Vellum.Storage.IO;

namespace Vellum.Storage;

/// <summary>
/// One process per data folder: an exclusive advisory lock (<c>flock</c>) on <c>&lt;data&gt;/vellum.lock</c>, holding
/// the holder's process id. Two nodes on one folder would hand out clashing transaction ids and tear each other's
/// chunks, so a node takes this before it reads or writes anything else in the folder. The kernel drops the lock when
/// the holder's descriptor closes, so a crashed or SIGKILLed node never leaves a stale lock behind; the file itself
/// stays (its presence means nothing). The lock is per open file description, so a second open of the same folder in
/// the same process is refused as well. The file keeps this name and place whatever the folder's layout becomes.
/// </summary>
public sealed partial class DataFolderLock : IDisposable
{
    /// <summary>The lock file's name, directly under the data folder.</summary>
    public const string FileName = "vellum.lock";

    private readonly SafeFileHandle _handle;

    private DataFolderLock(string root, SafeFileHandle handle)
    {
        Root = root;
        _handle = handle;
    }

    /// <summary>The data folder held (full path).</summary>
    public string Root { get; }

    /// <summary>
    /// Creates <paramref name="root"/> (mode 0700) if it is missing and takes its lock, without waiting. Only the lock
    /// file is touched: nothing else in the folder is read or written.
    /// </summary>
    /// <exception cref="DataFolderInUseException">Another process, or another open in this one, holds the folder.</exception>
    /// <exception cref="IOException">The folder or the lock file cannot be made or locked.</exception>
    /// <exception cref="UnauthorizedAccessException">No permission for the folder.</exception>
    public static DataFolderLock Acquire(string root)
    {
        root = Path.GetFullPath(root);
        OwnerOnly.CreateDirectory(root);
        var path = Path.Combine(root, FileName);
        var handle = OperatingSystem.IsWindows() ? OpenWindows(root, path) : OpenUnix(root, path);
        try
        {
            // Written only once the lock is ours: truncating before would wipe the holder's pid.
            var pid = Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
            RandomAccess.SetLength(handle, 0);
            RandomAccess.Write(handle, pid, 0);
            return new DataFolderLock(root, handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Releases the lock (closing the descriptor is what releases it). Idempotent.</summary>
    public void Dispose() => _handle.Dispose();

    private static SafeFileHandle OpenUnix(string root, string path)
    {
        var (create, closeOnExec, wouldBlock) = OperatingSystem.IsMacOS() ? (0x200, 0x1000000, 35) : (0x40, 0x80000, 11);

        // Opened with libc rather than File.OpenHandle: .NET takes its own flock for FileShare, silently skips it on
        // file systems that refuse locks, and would take a shared lock when we read the holder's pid below.
        var fd = Open(path, ReadWrite | create | closeOnExec, 0b110_000_000);
        if (fd < 0)
        {
            throw Failure($"cannot open {path}", Marshal.GetLastPInvokeError());
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (FLock(fd, LockExclusive | LockNonBlocking) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            if (errno == wouldBlock)
            {
                throw new DataFolderInUseException(root, ReadHolder(path));
            }

            throw Failure($"cannot lock {path}", errno);
        }

        OwnerOnly.Restrict(handle);
        return handle;
    }

    private static SafeFileHandle OpenWindows(string root, string path)
    {
        try
        {
            // FileShare.Read so that a refused process can still read the holder's pid.
            return File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        }
        catch (IOException ex) when ((ex.HResult & 0xFFFF) == 32) // ERROR_SHARING_VIOLATION
        {
            throw new DataFolderInUseException(root, ReadHolder(path));
        }
    }

    /// <summary>The pid the holder wrote, or null when it cannot be read (the holder may not have written it yet).</summary>
    private static int? ReadHolder(string path)
    {
        try
        {
            Span<byte> buffer = stackalloc byte[32];
            int read;
            if (OperatingSystem.IsWindows())
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                read = stream.Read(buffer);
            }
            else
            {
                var fd = Open(path, 0, 0); // O_RDONLY, no lock
                if (fd < 0)
                {
                    return null;
                }

                using var handle = new SafeFileHandle(fd, ownsHandle: true);
                read = RandomAccess.Read(handle, buffer, 0);
            }

            return int.TryParse(Encoding.ASCII.GetString(buffer[..read]).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static IOException Failure(string what, int errno) => new($"{what}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");

    private const int ReadWrite = 2; // O_RDWR
    private const int LockExclusive = 2; // LOCK_EX
    private const int LockNonBlocking = 4; // LOCK_NB

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int FLock(int fd, int operation);
}
