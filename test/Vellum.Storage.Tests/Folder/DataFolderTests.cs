namespace Vellum.Storage.Tests.Folder;

/// <summary>The data folder's lock and owner-only permissions, at the storage layer (umask of the test host).</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // file modes are Unix permissions
public sealed class DataFolderTests
{
    [Fact]
    public void The_lock_refuses_a_second_holder_names_the_first_and_is_free_again_once_released()
    {
        var root = Path.Combine(Path.GetTempPath(), "vellum-lock-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var held = new DataDirectory(root).Lock())
            {
                var refused = Assert.Throws<DataFolderInUseException>(() => new DataDirectory(root).Lock());
                Assert.Equal(Environment.ProcessId, refused.HolderProcessId);
                Assert.Equal(root, refused.Root);
                Assert.DoesNotContain('\n', refused.Message);
            }

            using var again = DataFolderLock.Acquire(root);
            Assert.Equal(root, again.Root);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_store_makes_every_folder_and_file_owner_only()
    {
        using var ledger = new TestLedger();
        using (ledger.Data.Lock())
        {
            // Enough for closed chunks, index postings and full tiles, then a clean close that writes what it keeps.
            await using var store = ledger.Open(ledger.Options(chunkSize: 4096));
            await TestLedger.AppendMany(store, 600);
        }

        var groupOrOther = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
            UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        var entries = Directory.EnumerateFileSystemEntries(ledger.Root, "*", SearchOption.AllDirectories).Prepend(ledger.Root).ToList();
        Assert.Contains(entries, e => e.Contains($"{Path.DirectorySeparatorChar}tiles{Path.DirectorySeparatorChar}", StringComparison.Ordinal) && File.Exists(e));
        Assert.Contains(entries, e => e.EndsWith(".committed", StringComparison.Ordinal));
        var open = entries.Where(e => (File.GetUnixFileMode(e) & groupOrOther) != 0).Select(e => Path.GetRelativePath(ledger.Root, e)).ToList();
        Assert.True(open.Count == 0, "readable by others: " + string.Join(", ", open));
    }
}
