using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Identity;
using Vellum.Core.Receipts;
using Vellum.Storage;

namespace Vellum.Cli.Tests;

/// <summary>
/// The golden folders of the single-ledger layout (Golden/README.md) become the ledger <c>default</c> of the
/// many-ledgers layout: every file moved and none rewritten, whatever instant a crash stopped an earlier run at; what
/// cannot be migrated safely is refused and left as it was; and the migrated ledger verifies, serves and still
/// verifies its old receipts (the last part through a real node in <see cref="GoldenFolderTests"/>).
/// </summary>
public sealed class LayoutMigrationTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vellum-migrate-").FullName;

    [Theory]
    [InlineData("public")]
    [InlineData("private")]
    [InlineData("cluster-member")]
    public void Every_file_moves_into_the_new_layout_unchanged(string folder)
    {
        var data = GoldenFolderTests.CopyGolden(folder, Path.Combine(_root, folder));
        var before = Contents(data);

        var directory = new DataDirectory(data);
        using (directory.Lock())
        {
            Assert.True(directory.Migrated);
        }

        var after = Contents(data);
        Assert.Equal("2\n", File.ReadAllText(directory.LayoutFile));
        after.Remove(LayoutMigration.FileName);
        after.Remove(DataFolderLock.FileName);

        // The same bytes, each file once, at the place the move list says.
        Assert.Equal(before.Values.Order(), after.Values.Order());
        var ledger = directory.Default;
        Assert.Equal(before[Path.Combine("credentials", "service_cert.pem")], after[Path.GetRelativePath(data, ledger.ServiceCertificate)]);
        Assert.Equal(before[Path.Combine("credentials", "node_cert.pem")], after[Path.GetRelativePath(data, ledger.NodeCertificate)]);
        Assert.Equal(before[Path.Combine("secrets", "node_privk.pem")], after[Path.GetRelativePath(data, directory.NodePrivateKey)]);
        Assert.Equal(before[Path.Combine("secrets", "ledger.secret")], after[Path.GetRelativePath(data, ledger.LedgerSecretFile)]);
        Assert.Equal(before[Path.Combine("ledger", "ledger_1")], after[Path.Combine("ledgers", "default", "ledger", "ledger_1")]);
        Assert.Equal(before[Path.Combine("credentials", "admin_cert.pem")], after[Path.GetRelativePath(data, directory.DevelopmentAdminCertificate)]);
        if (folder == "cluster-member")
        {
            Assert.True(Directory.Exists(Path.Combine(directory.Raft, "log")), "the consensus log moved to node/raft");
        }

        Assert.Equal([LedgerName.Default], directory.LedgerNames());
        foreach (var old in new[] { "secrets", "state", "ledger" })
        {
            Assert.False(Directory.Exists(Path.Combine(data, old)), $"{old}/ is still there");
        }

        // A second lock finds nothing to do.
        var again = new DataDirectory(data);
        using (again.Lock())
        {
            Assert.False(again.Migrated);
        }

        Assert.Equal(after.Count + 2, Contents(data).Count);
    }

    /// <summary>
    /// A crash after any number of the moves — the folders of the next one made or not — is finished by the next run
    /// into exactly the folder an uninterrupted run makes.
    /// </summary>
    [Fact]
    public void A_migration_stopped_after_any_move_finishes_into_the_same_folder()
    {
        var whole = GoldenFolderTests.CopyGolden("cluster-member", Path.Combine(_root, "whole"));
        new DataDirectory(whole).EnsureLayout();
        var expected = Contents(whole);

        var moves = LayoutMigration.Moves(Path.Combine(_root, "x"));
        for (var done = 0; done <= moves.Count; done++)
        {
            var data = GoldenFolderTests.CopyGolden("cluster-member", Path.Combine(_root, $"crash-{done}"));
            var plan = LayoutMigration.Moves(data);
            for (var i = 0; i < done; i++)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(plan[i].To)!);
                if (Directory.Exists(plan[i].From))
                {
                    Directory.Move(plan[i].From, plan[i].To);
                }
                else if (File.Exists(plan[i].From))
                {
                    File.Move(plan[i].From, plan[i].To);
                }
            }

            if (done < moves.Count)
            {
                // The crash came after the next move's target folder was made.
                Directory.CreateDirectory(Path.GetDirectoryName(plan[done].To)!);
            }

            var directory = new DataDirectory(data);
            directory.EnsureLayout();
            Assert.True(directory.Migrated);
            Assert.Equal(expected, Contents(data));
        }
    }

    [Fact]
    public void A_file_at_both_places_is_refused_and_nothing_moves()
    {
        var data = GoldenFolderTests.CopyGolden("public", Path.Combine(_root, "both"));
        var plan = LayoutMigration.Moves(data);
        var chunks = plan[^1];
        Directory.CreateDirectory(chunks.To);
        File.WriteAllText(Path.Combine(chunks.To, "stray"), "someone else's");

        // The moves before the clash are made (each is safe alone); the clash stops it before the layout file.
        var error = Assert.Throws<InvalidDataException>(() => new DataDirectory(data).Lock().Dispose());
        Assert.Contains("both", error.Message, StringComparison.Ordinal);
        Assert.Contains(chunks.From, error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(data, LayoutMigration.FileName)));
        Assert.True(File.Exists(Path.Combine(chunks.From, "ledger_1")), "the chunks stayed where they were");

        // Once the stray folder is moved away, the next start finishes the migration.
        Directory.Delete(chunks.To, recursive: true);
        var directory = new DataDirectory(data);
        using (directory.Lock())
        {
            Assert.True(directory.Migrated);
        }

        Assert.True(File.Exists(Path.Combine(directory.Default.Chunks, "ledger_1")));
    }

    [Fact]
    public void A_folder_of_an_unknown_layout_is_refused()
    {
        var data = Path.Combine(_root, "future");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, LayoutMigration.FileName), "3\n");
        var error = Assert.Throws<InvalidDataException>(() => new DataDirectory(data).Lock().Dispose());
        Assert.Contains("layout '3'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("public")]
    [InlineData("private")]
    [InlineData("cluster-member")]
    public async Task The_migrated_ledger_verifies_and_its_old_receipts_verify_against_its_certificate(string folder)
    {
        var data = GoldenFolderTests.CopyGolden(folder, Path.Combine(_root, folder));
        var directory = new DataDirectory(data);
        directory.Lock().Dispose();
        var ledger = directory.Default;

        var (exitCode, output, error) = await RunningNode.RunToExit(
            ["verify", ledger.Chunks, "--service-cert", ledger.ServiceCertificate, "--secret", ledger.LedgerSecretFile], TimeSpan.FromSeconds(60));
        Assert.True(exitCode == 0, $"exit {exitCode}: {output}{error}");

        using var service = X509Certificate2.CreateFromPem(File.ReadAllText(ledger.ServiceCertificate));
        foreach (var path in Directory.GetFiles(Path.Combine(GoldenFolderTests.Golden(folder) + ".extra", "receipts"), "*.json"))
        {
            Assert.True(ReceiptJson.TryParse(File.ReadAllText(path), out var receipt, out var parseError), parseError);
            Assert.True(ReceiptVerifier.Verify(receipt, service).IsValid, path);
        }
    }

    [Fact]
    public async Task Start_on_a_folder_of_the_old_layout_says_it_migrated_it_once()
    {
        var data = GoldenFolderTests.CopyGolden("public", Path.Combine(_root, "start"));
        using (var node = await RunningNode.Start(data))
        {
            Assert.Contains($"migrated {data} from the single-ledger layout: its ledger is now 'default'", node.Banner, StringComparison.Ordinal);
            Assert.Equal(0, await node.Terminate());
        }

        using (var node = await RunningNode.Start(data))
        {
            Assert.DoesNotContain("migrated", node.Banner, StringComparison.Ordinal);
            Assert.Equal(0, await node.Terminate());
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// Every file under <paramref name="root"/> but the folder's lock file: relative path → SHA-256 of its bytes (hex).
    /// The lock file is not read: a process another test starts at that moment can still hold its lock for an instant
    /// (a fork inherits the descriptor until it execs), and reading it then fails.
    /// </summary>
    private static SortedDictionary<string, string> Contents(string root)
    {
        var contents = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            if (Path.GetFileName(file) == DataFolderLock.FileName)
            {
                contents[Path.GetRelativePath(root, file)] = "(lock)";
                continue;
            }

            contents[Path.GetRelativePath(root, file)] = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file)));
        }

        return contents;
    }
}
