namespace Vellum.Storage;

/// <summary>A data folder is held by another process (or another open in this one): see <see cref="DataFolderLock"/>.</summary>
public sealed class DataFolderInUseException : IOException
{
    /// <summary>Names the folder and, when known, the holder's process id, in one line.</summary>
    public DataFolderInUseException(string root, int? holderProcessId)
        : base(holderProcessId is { } pid
            ? $"data folder {root} is in use by process {pid} (it holds {Path.Combine(root, DataFolderLock.FileName)})"
            : $"data folder {root} is in use by another process (it holds {Path.Combine(root, DataFolderLock.FileName)})")
    {
        Root = root;
        HolderProcessId = holderProcessId;
    }

    /// <summary>The folder (full path).</summary>
    public string Root { get; }

    /// <summary>The holder's process id, when it could be read.</summary>
    public int? HolderProcessId { get; }
}
