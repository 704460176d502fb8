using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Vellum.Core.Receipts;

namespace Vellum.Cli.Tests;

/// <summary>
/// The golden data folders (Golden/README.md) are what they claim to be: every ledger verifies offline with its
/// service certificate, every saved receipt verifies, and a node started on a copy serves the saved transactions with
/// receipts that verify. The tests of a later layout's migration start from the same folders.
/// </summary>
public sealed class GoldenFolderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vellum-golden-").FullName;

    public static TheoryData<string> Folders => new() { "public", "private", "cluster-member" };

    [Theory]
    [MemberData(nameof(Folders))]
    public async Task The_ledger_verifies_offline_with_its_service_certificate(string folder)
    {
        var data = CopyGolden(folder);
        string[] args = ["verify", Path.Combine(data, "ledger"), "--service-cert", Path.Combine(data, "credentials", "service_cert.pem"),
            "--secret", Path.Combine(data, "secrets", "ledger.secret")];
        var (exitCode, output, error) = await RunningNode.RunToExit(args, TimeSpan.FromSeconds(60));
        Assert.True(exitCode == 0, $"exit {exitCode}: {output}{error}");
        Assert.Contains("OK", output, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Folders))]
    public void Every_saved_receipt_verifies_against_the_service_certificate(string folder)
    {
        using var service = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(Golden(folder), "credentials", "service_cert.pem")));
        var receipts = Directory.GetFiles(Path.Combine(Golden(folder) + ".extra", "receipts"), "*.json");
        Assert.Equal(5, receipts.Length);
        foreach (var path in receipts)
        {
            Assert.True(ReceiptJson.TryParse(File.ReadAllText(path), out var receipt, out var error), $"{path}: {error}");
            var result = ReceiptVerifier.Verify(receipt, service);
            Assert.True(result.IsValid, $"{Path.GetFileName(path)}: {result.Message}");
        }
    }

    [Theory]
    [InlineData("public")]
    [InlineData("private")]
    public async Task A_node_on_a_copy_serves_the_saved_transactions_and_their_receipts(string folder)
    {
        var data = CopyGolden(folder);
        var txids = File.ReadAllLines(Path.Combine(Golden(folder) + ".extra", "txids"));
        Assert.Equal(40, txids.Length);
        using var node = await RunningNode.Start(data);
        using var client = node.Client();
        foreach (var path in Directory.GetFiles(Path.Combine(Golden(folder) + ".extra", "receipts"), "*.json"))
        {
            var txid = Path.GetFileNameWithoutExtension(path);
            Assert.Contains(txid, txids);
            using var saved = JsonDocument.Parse(File.ReadAllText(path));
            var claim = saved.RootElement.GetProperty("applicationClaims")[0].GetProperty("ledgerEntry");
            var collection = claim.GetProperty("collectionId").GetString()!;

            var entry = await RunningNode.Json(await client.GetAsync($"/app/transactions/{txid}?api-version=2022-05-13&collectionId={collection}"));
            Assert.Equal("Ready", entry.GetProperty("state").GetString());
            Assert.Equal(claim.GetProperty("contents").GetString(), entry.GetProperty("entry").GetProperty("contents").GetString());

            using var response = await client.GetAsync($"/app/transactions/{txid}/receipt?api-version=2022-05-13");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(ReceiptJson.TryParse(await response.Content.ReadAsStringAsync(), out var served, out var error), error);
            Assert.True(ReceiptVerifier.Verify(served, node.ServiceCertificate).IsValid);
        }

        // The Reader saved beside the folder is a user of the ledger.
        var users = await RunningNode.Json(await client.GetAsync("/app/ledgerUsers?api-version=2024-08-22-preview"));
        Assert.Contains(users.GetProperty("ledgerUsers").EnumerateArray(), user => user.GetProperty("assignedRoles")[0].GetString() == "Reader");
        Assert.Equal(0, await node.Terminate());
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

    internal static string Golden(string folder) => Path.Combine(AppContext.BaseDirectory, "Golden", "v1", folder);

    /// <summary>A private copy in this test's folder: a test never changes the golden folder itself.</summary>
    private string CopyGolden(string folder) => CopyGolden(folder, Path.Combine(_root, folder));

    /// <summary>A private copy of golden <paramref name="folder"/> at <paramref name="target"/>.</summary>
    internal static string CopyGolden(string folder, string target)
    {
        var source = Golden(folder);
        foreach (var directory in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(source, directory)));
        }

        Directory.CreateDirectory(target);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(target, Path.GetRelativePath(source, file)));
        }

        return target;
    }
}
