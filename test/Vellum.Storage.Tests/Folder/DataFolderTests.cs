using Vellum.Core.Identity;

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

    /// <summary>
    /// Each ledger of a data folder has its own service identity, secret and type, and endorses the one node key: the
    /// node signs every ledger as the same node id, with a certificate only that ledger's service identity vouches for.
    /// </summary>
    [Fact]
    public void Every_ledger_of_a_folder_endorses_the_one_node_key()
    {
        var root = Path.Combine(Path.GetTempPath(), "vellum-ledgers-" + Guid.NewGuid().ToString("N"));
        try
        {
            var data = new DataDirectory(root);
            using var held = data.Lock();
            var (serviceA, nodeA, secretA, privateA) = data.OpenOrCreate(LedgerName.Parse("alpha"), isPrivate: null);
            var (serviceB, nodeB, secretB, privateB) = data.OpenOrCreate(LedgerName.Parse("beta"), isPrivate: true);
            using (serviceA)
            using (nodeA)
            using (secretA)
            using (serviceB)
            using (nodeB)
            using (secretB)
            {
                Assert.False(privateA);
                Assert.True(privateB);
                Assert.Equal(nodeA.NodeId, nodeB.NodeId);
                Assert.NotEqual(serviceA.Certificate.Thumbprint, serviceB.Certificate.Thumbprint);
                Assert.True(CertificateEndorsement.IsEndorsedBy(nodeA.Certificate, serviceA.Certificate));
                Assert.False(CertificateEndorsement.IsEndorsedBy(nodeA.Certificate, serviceB.Certificate));
                Assert.True(CertificateEndorsement.IsEndorsedBy(nodeB.Certificate, serviceB.Certificate));
                Assert.Equal([LedgerName.Parse("alpha"), LedgerName.Parse("beta")], data.LedgerNames());

                // The type is fixed at creation.
                Assert.Throws<InvalidOperationException>(() => data.OpenOrCreate(LedgerName.Parse("beta"), isPrivate: false));
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
