using System.Net;
using System.Net.Sockets;
using Vellum.Core.Primitives;
using static Vellum.Cli.Tests.RunningNode;

namespace Vellum.Cli.Tests;

/// <summary>
/// The data folder as real processes see it: one process per folder (<c>vellum.lock</c>), owner-only permissions, and
/// the one-line refusals a newcomer meets first (a folder or a port in use, no command).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // file modes are Unix permissions
public sealed class DataFolderTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vellum-folder-" + Guid.NewGuid().ToString("N"));

    private string Data => Path.Combine(_root, "data");

    [Fact]
    public async Task A_second_start_on_a_folder_in_use_is_refused_and_changes_nothing()
    {
        long view;
        using (var node = await Start(Data))
        {
            using var client = node.Client();
            view = TxId.Parse(await Post(client, "first")).View;
            var viewFile = Path.Combine(Data, "ledgers", "default", "state", "view");
            var before = (File.ReadAllBytes(viewFile), File.GetLastWriteTimeUtc(viewFile));

            // Another port, then the same port: the lock refuses both before the folder or the port is touched.
            foreach (var listen in new[] { "127.0.0.1:0", $"127.0.0.1:{node.Endpoint.Port}" })
            {
                var (exitCode, output, error) = await RunToExit(["start", "--data", Data, "--listen", listen], TimeSpan.FromSeconds(60));
                Assert.Equal(2, exitCode);
                Assert.Equal($"vellum start: data folder {Data} is in use by process {node.ProcessId} (it holds {Path.Combine(Data, "vellum.lock")})", error.TrimEnd('\n'));
                Assert.Equal(string.Empty, output);
            }

            Assert.Equal(before.Item1, File.ReadAllBytes(viewFile));
            Assert.Equal(before.Item2, File.GetLastWriteTimeUtc(viewFile));
            var second = await Post(client, "second");
            Assert.Equal(view, TxId.Parse(second).View);
            await WaitCommitted(client, second);
            Assert.Equal(0, await node.Terminate());
        }

        using (var node = await Start(Data))
        {
            using var client = node.Client();
            var after = await Post(client, "after restart");
            Assert.Equal(view + 1, TxId.Parse(after).View);
            await WaitCommitted(client, after);
            Assert.Equal(0, await node.Terminate());
        }

        var verified = await RunToExit(["verify", Path.Combine(Data, "ledgers", "default", "ledger"), "--service-cert", Path.Combine(Data, "ledgers", "default", "credentials", "service_cert.pem")], TimeSpan.FromSeconds(60));
        Assert.True(verified.ExitCode == 0, verified.Output + verified.Error);
    }

    [Fact]
    public async Task Generate_and_join_are_refused_on_a_folder_in_use_and_verify_reads_it()
    {
        using var node = await Start(Data);
        using (var client = node.Client())
        {
            await WaitCommitted(client, await Post(client, "an entry"));
        }

        var inUse = $"data folder {Data} is in use by process {node.ProcessId}";
        var generate = await RunToExit(["generate", Data, "--count", "10"], TimeSpan.FromSeconds(60));
        Assert.Equal(2, generate.ExitCode);
        Assert.StartsWith($"vellum generate: {inUse}", Assert.Single(Lines(generate.Error)), StringComparison.Ordinal);

        var join = await RunToExit(
            ["join", "--data", Data, "--listen", "127.0.0.1:1", "--node-listen", "127.0.0.1:2", "--target", "https://127.0.0.1:3", "--token", "t",
                "--service-cert", Path.Combine(Data, "ledgers", "default", "credentials", "service_cert.pem")],
            TimeSpan.FromSeconds(60));
        Assert.Equal(2, join.ExitCode);
        Assert.StartsWith($"vellum join: {inUse}", Assert.Single(Lines(join.Error)), StringComparison.Ordinal);

        // Reading is not writing: verify works on a folder a node is using.
        var verified = await RunToExit(["verify", Path.Combine(Data, "ledgers", "default", "ledger"), "--service-cert", Path.Combine(Data, "ledgers", "default", "credentials", "service_cert.pem")], TimeSpan.FromSeconds(60));
        Assert.True(verified.ExitCode == 0, verified.Output + verified.Error);
        Assert.StartsWith("OK: ", verified.Output, StringComparison.Ordinal);
        Assert.Equal(0, await node.Terminate());
    }

    [Fact]
    public async Task A_port_in_use_is_one_line_and_exit_2_with_no_stack_trace()
    {
        using var node = await Start(Data);
        var other = Path.Combine(_root, "other");
        var listen = await RunToExit(["start", "--data", other, "--listen", $"127.0.0.1:{node.Endpoint.Port}"], TimeSpan.FromSeconds(60));
        Assert.Equal(2, listen.ExitCode);
        Assert.Equal($"vellum start: --listen 127.0.0.1:{node.Endpoint.Port} is in use by another process", Assert.Single(Lines(listen.Error)));
        Assert.DoesNotContain(" at ", listen.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(other, "ledgers")), "the ledger was opened before the port was checked");

        // The Raft channel's port, held here by a plain listener.
        using var held = new TcpListener(IPAddress.Loopback, 0);
        held.Start();
        var port = ((IPEndPoint)held.LocalEndpoint).Port;
        var nodeListen = await RunToExit(["start", "--data", other, "--listen", "127.0.0.1:0", "--node-listen", $"127.0.0.1:{port}"], TimeSpan.FromSeconds(60));
        Assert.Equal(2, nodeListen.ExitCode);
        Assert.Equal($"vellum start: --node-listen 127.0.0.1:{port} is in use by another process", Assert.Single(Lines(nodeListen.Error)));
        Assert.DoesNotContain(" at ", nodeListen.Output, StringComparison.Ordinal);
        Assert.Equal(0, await node.Terminate());
    }

    [Fact]
    public async Task No_command_points_to_help()
    {
        var (exitCode, output, error) = await RunToExit([], TimeSpan.FromSeconds(60));
        Assert.Equal(2, exitCode);
        Assert.Equal(string.Empty, output);
        Assert.Contains("'vellum --help'", error, StringComparison.Ordinal);
        Assert.True(Lines(error).Length <= 2, error);
    }

    /// <summary>
    /// H13: under umask 022 a cluster member's folder — ledger, indexes, tiles, the Raft log, keys and certificates —
    /// is owner-only; and a folder loosened by hand (or made by an older version) is tightened on the next start.
    /// </summary>
    [Fact]
    public async Task Everything_in_the_data_folder_is_owner_only_whatever_the_umask()
    {
        string[] cluster = ["--listen", "127.0.0.1:0", "--node-listen", $"127.0.0.1:{FreePort()}"];
        using (var node = await Start("022", Data, cluster))
        {
            using var client = node.Client();
            for (var i = 0; i < 5; i++)
            {
                await WaitCommitted(client, await Post(client, $"entry {i}"));
            }

            Assert.Equal(0, await node.Terminate());
        }

        Assert.True(Directory.Exists(Path.Combine(Data, "node", "raft", "log")), "no Raft log was made");
        AssertOwnerOnly(Data);

        // Loosen what the probe loosened (F03), then start again: the folder is repaired.
        var loose = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        var looseFolder = loose | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        File.SetUnixFileMode(Data, looseFolder);
        File.SetUnixFileMode(Path.Combine(Data, "ledgers", "default", "secrets"), looseFolder);
        foreach (var file in Directory.GetFiles(Path.Combine(Data, "ledgers", "default", "secrets")).Concat(Directory.GetFiles(Path.Combine(Data, "credentials"))))
        {
            File.SetUnixFileMode(file, loose);
        }

        using (var node = await Start("022", Data, cluster))
        {
            Assert.Equal(0, await node.Terminate());
        }

        AssertOwnerOnly(Data);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private static void AssertOwnerOnly(string root)
    {
        var groupOrOther = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
            UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        var open = new List<string>();
        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).Prepend(root))
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & groupOrOther) != 0)
            {
                open.Add($"{Path.GetRelativePath(root, path)} {Convert.ToString((int)mode, 8)}");
            }
        }

        Assert.True(open.Count == 0, "readable by others: " + string.Join(", ", open));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(root));
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
