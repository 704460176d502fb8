using System.Runtime.InteropServices;

namespace Vellum.Storage.IO;

/// <summary>
/// fsync of files and directories. A new or renamed file is durable only once its directory entry is: .NET has no
/// API to fsync a directory, so on Unix we open it read-only and fsync the descriptor (a no-op on Windows, where
/// NTFS journals the rename).
/// </summary>
public static partial class Durability
{
    private const int ORdOnly = 0;
    private const int ODirectory = 0x10000; // Linux x86-64 and arm64

    /// <summary>fsyncs <paramref name="directory"/> so the entries it holds (new files, renames) are durable.</summary>
    public static void SyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var fd = Open(directory, ORdOnly | (OperatingSystem.IsLinux() ? ODirectory : 0));
        if (fd < 0)
        {
            throw new IOException($"cannot open directory {directory} to fsync it (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (FSync(fd) != 0)
            {
                throw new IOException($"fsync of directory {directory} failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>Writes a small file atomically and durably: temp file, fsync, rename over, fsync the directory.</summary>
    public static void WriteFileAtomic(string path, ReadOnlySpan<byte> contents)
    {
        var temp = path + ".tmp";
        using (var handle = File.OpenHandle(temp, FileMode.Create, FileAccess.Write))
        {
            OwnerOnly.Restrict(handle);
            RandomAccess.Write(handle, contents, 0);
            RandomAccess.FlushToDisk(handle);
        }

        File.Move(temp, path, overwrite: true);
        SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
