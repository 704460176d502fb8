using System.Net;
using Vellum.Storage;

namespace Vellum.Node.Tests;

/// <summary>
/// A node's hold on its data folder in process (as the test fixtures open nodes): a second open of the same folder is
/// refused, and a cluster member's folders, the Raft log's included, are owner-only.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // file modes are Unix permissions
public sealed class DataFolderTests(ClusterNodeFixture node) : IClassFixture<ClusterNodeFixture>
{
    [Fact]
    public async Task A_second_open_of_a_folder_in_use_is_refused_and_the_first_keeps_serving()
    {
        var root = node.Ledger.Data.Root;
        var refused = await Assert.ThrowsAsync<DataFolderInUseException>(() => NodeHost.BuildAsync(NodeFixture.Options(root), logging: _ => { }));
        Assert.Equal(Environment.ProcessId, refused.HolderProcessId);

        using var response = await node.Admin.PostAsync($"/app/transactions?api-version={NodeFixture.Version}", NodeFixture.Json("""{"contents":"still here"}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_cluster_member_makes_its_folders_owner_only()
    {
        using (var response = await node.Admin.PostAsync($"/app/transactions?api-version={NodeFixture.Version}", NodeFixture.Json("""{"contents":"on disk"}""")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var root = node.Ledger.Data.Root;
        var groupOrOther = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
            UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(root));
        Assert.True(Directory.Exists(Path.Combine(root, "node", "raft", "log")), "no Raft log");
        var open = new List<string>();
        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, path);

            // In a host process that keeps umask 022, what DotNext makes inside the Raft log's folder and the
            // certificates the node layer writes take the umask's mode; the 0700 folders above them keep others out
            // (and 'vellum' itself runs with umask 077: the CLI tests check that every file there is 0600).
            var thirdParty = relative.StartsWith(Path.Combine("node", "raft", "log") + Path.DirectorySeparatorChar, StringComparison.Ordinal) ||
                relative == Path.Combine("node", "raft", "members");
            var certificate = path.EndsWith(".pem", StringComparison.Ordinal) && File.ReadAllText(path).StartsWith("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal);
            if ((File.GetUnixFileMode(path) & groupOrOther) != 0 && !(thirdParty || certificate))
            {
                open.Add(relative);
            }
        }

        Assert.True(open.Count == 0, "readable by others: " + string.Join(", ", open));
    }
}
