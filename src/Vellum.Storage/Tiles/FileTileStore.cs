using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Vellum.Core.Merkle;

using Vellum.Storage.IO;

namespace Vellum.Storage.Tiles;

/// <summary>
/// An <see cref="ITileStore"/> keeping one file per full tile under a root directory, at the C2SP tlog-tiles path
/// <c>tile/&lt;L&gt;/&lt;N&gt;</c> (see <see cref="TilePath"/>), so the directory can be served as-is to tlog-tiles
/// clients.
/// </summary>
/// <remarks>
/// <para>
/// A tile is written to <c>&lt;N&gt;.tmp</c> and renamed over its final name, so a reader sees either no tile or a
/// whole one. Neither is fsynced on write: <see cref="Flush"/> fsyncs every tile written since the last flush and then
/// the directories whose entries changed, so a flushed tile survives a crash. An unflushed tile may be lost or come
/// back empty after a crash; <see cref="TryReadTile"/> treats a file of the wrong length as missing and the tree
/// rebuilds it from the leaves.
/// </para>
/// <para>Thread safety: calls may come from several threads; the set of unflushed files is guarded by a lock.</para>
/// </remarks>
public sealed class FileTileStore : ITileStore
{
    private const string TileDirectoryName = "tile";

    private readonly string _root;
    private readonly Lock _lock = new();

    // Files renamed into place and directories whose entries changed since the last successful Flush.
    private readonly HashSet<string> _unflushedFiles = new(StringComparer.Ordinal);
    private readonly HashSet<string> _unflushedDirectories = new(StringComparer.Ordinal);

    /// <summary>Uses (and creates if needed) <paramref name="rootDirectory"/>; tiles go under its <c>tile/</c> subdirectory.</summary>
    public FileTileStore(string rootDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(rootDirectory);
        _root = Path.GetFullPath(rootDirectory);
        OwnerOnly.CreateDirectory(_root);
    }

    /// <summary>The root directory (absolute).</summary>
    public string RootDirectory => _root;

    /// <summary>
    /// The tlog-tiles path of a tile relative to the root, with '/' separators: <c>tile/&lt;L&gt;/&lt;N&gt;</c>, N in
    /// 3-digit groups, all but the last prefixed with <c>x</c> (index 1234067 → <c>tile/0/x001/x234/067</c>).
    /// </summary>
    public static string TilePath(int level, long index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(level);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        var digits = index.ToString(CultureInfo.InvariantCulture);
        digits = digits.PadLeft((digits.Length + 2) / 3 * 3, '0');
        var path = new StringBuilder(TileDirectoryName).Append('/').Append(level.ToString(CultureInfo.InvariantCulture));
        for (var i = 0; i < digits.Length; i += 3)
        {
            path.Append('/');
            if (i + 3 < digits.Length)
            {
                path.Append('x');
            }

            path.Append(digits, i, 3);
        }

        return path.ToString();
    }

    /// <inheritdoc />
    public bool TryReadTile(int level, long index, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, TileGeometry.TileBytes, nameof(destination));
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(FullPath(level, index), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }

        using (handle)
        {
            if (RandomAccess.GetLength(handle) != TileGeometry.TileBytes)
            {
                return false;
            }

            var tile = destination[..TileGeometry.TileBytes];
            var read = 0;
            while (read < tile.Length)
            {
                var n = RandomAccess.Read(handle, tile[read..], read);
                if (n == 0)
                {
                    return false;
                }

                read += n;
            }

            return true;
        }
    }

    /// <inheritdoc />
    public void WriteTile(int level, long index, ReadOnlySpan<byte> hashes)
    {
        if (hashes.Length != TileGeometry.TileBytes)
        {
            throw new ArgumentException($"A full tile is {TileGeometry.TileBytes} bytes, not {hashes.Length}.", nameof(hashes));
        }

        var path = FullPath(level, index);
        var directory = Path.GetDirectoryName(path)!;
        var created = !Directory.Exists(directory);
        if (created)
        {
            OwnerOnly.CreateDirectory(directory);
        }

        var temp = path + ".tmp";
        using (var handle = File.OpenHandle(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            OwnerOnly.Restrict(handle);
            RandomAccess.Write(handle, hashes, 0);
        }

        File.Move(temp, path, overwrite: true);

        lock (_lock)
        {
            _unflushedFiles.Add(path);

            // The rename changed this directory; a directory created just now also changed its parents' entries.
            _unflushedDirectories.Add(directory);
            if (created)
            {
                for (var parent = Path.GetDirectoryName(directory); parent is not null && parent.Length >= _root.Length; parent = Path.GetDirectoryName(parent))
                {
                    _unflushedDirectories.Add(parent);
                }
            }
        }
    }

    /// <inheritdoc />
    public void Flush()
    {
        string[] files;
        string[] directories;
        lock (_lock)
        {
            files = [.. _unflushedFiles];
            directories = [.. _unflushedDirectories];
        }

        // Tile contents first, then the directory entries that name them, deepest directory first.
        foreach (var file in files)
        {
            try
            {
                using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
                RandomAccess.FlushToDisk(handle);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                // Dropped by Clear since it was written: nothing to make durable.
            }
        }

        Array.Sort(directories, static (a, b) => b.Length.CompareTo(a.Length));
        foreach (var directory in directories)
        {
            if (Directory.Exists(directory))
            {
                Durability.SyncDirectory(directory);
            }
        }

        lock (_lock)
        {
            _unflushedFiles.ExceptWith(files);
            _unflushedDirectories.ExceptWith(directories);
        }
    }

    /// <inheritdoc />
    public void Clear()
    {
        var tiles = Path.Combine(_root, TileDirectoryName);
        if (Directory.Exists(tiles))
        {
            Directory.Delete(tiles, recursive: true);
        }

        lock (_lock)
        {
            _unflushedFiles.Clear();
            _unflushedDirectories.Clear();
        }

        // Make the removal durable too, so a crash cannot resurrect stale tiles next to rebuilt ones.
        Durability.SyncDirectory(_root);
    }

    private string FullPath(int level, long index) =>
        Path.Combine(_root, TilePath(level, index).Replace('/', Path.DirectorySeparatorChar));
}
