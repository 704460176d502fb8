using System.Diagnostics;
using System.Text.Json;

namespace Vellum.Cli.Tests;

/// <summary>The real <c>vellum</c> executable, run as a process: exit codes and output are what a user sees.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vellum-cli-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Generate_then_verify_succeeds_with_a_one_line_summary()
    {
        var data = Path.Combine(_root, "data");
        var generated = await Vellum("generate", data, "--count", "3000", "--contents-size", "256");
        Assert.True(generated.ExitCode == 0, generated.Error);

        var verified = await Vellum("verify", Path.Combine(data, "ledgers", "default", "ledger"), "--service-cert", Path.Combine(data, "ledgers", "default", "credentials", "service_cert.pem"));
        Assert.True(verified.ExitCode == 0, verified.Output + verified.Error);
        var line = Assert.Single(verified.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("OK: ", line, StringComparison.Ordinal);
        Assert.Contains("last signed root", line, StringComparison.Ordinal);
        Assert.Equal(string.Empty, verified.Error); // no progress bar when stderr is not a terminal

        var withSecret = await Vellum("verify", Path.Combine(data, "ledgers", "default", "ledger"), "--service-cert", Path.Combine(data, "ledgers", "default", "credentials", "service_cert.pem"),
            "--secret", Path.Combine(data, "ledgers", "default", "secrets", "ledger.secret"), "--json");
        Assert.Equal(0, withSecret.ExitCode);
        using var json = JsonDocument.Parse(withSecret.Output);
        Assert.True(json.RootElement.GetProperty("ok").GetBoolean());
        Assert.True(json.RootElement.GetProperty("decrypted").GetBoolean());
        Assert.True(json.RootElement.GetProperty("transactions").GetInt64() > 3000);
        Assert.Equal(json.RootElement.GetProperty("transactions").GetInt64(), json.RootElement.GetProperty("lastSignedSeqno").GetInt64());
    }

    [Fact]
    public async Task A_damaged_ledger_exits_1_naming_the_file_and_offset()
    {
        var data = Path.Combine(_root, "data");
        Assert.Equal(0, (await Vellum("generate", data, "--count", "2000")).ExitCode);
        var ledger = Path.Combine(data, "ledgers", "default", "ledger");
        var victim = Directory.GetFiles(ledger).Order().First();
        var bytes = File.ReadAllBytes(victim);
        bytes[500] ^= 0x10;
        File.WriteAllBytes(victim, bytes);

        var result = await Vellum("verify", ledger, "--service-cert", Path.Combine(data, "ledgers", "default", "credentials", "service_cert.pem"));
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("FAILED: " + Path.GetFileName(victim) + " at byte ", result.Output, StringComparison.Ordinal);
        Assert.Contains("transaction ", result.Output, StringComparison.Ordinal);

        var json = await Vellum("verify", ledger, "--service-cert", Path.Combine(data, "ledgers", "default", "credentials", "service_cert.pem"), "--json");
        Assert.Equal(1, json.ExitCode);
        using var doc = JsonDocument.Parse(json.Output);
        Assert.False(doc.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal(Path.GetFileName(victim), doc.RootElement.GetProperty("error").GetProperty("file").GetString());
        Assert.True(doc.RootElement.GetProperty("error").GetProperty("offset").GetInt64() <= 500);
    }

    [Fact]
    public async Task A_service_certificate_of_another_ledger_fails_verification()
    {
        var a = Path.Combine(_root, "a");
        var b = Path.Combine(_root, "b");
        Assert.Equal(0, (await Vellum("generate", a, "--count", "100")).ExitCode);
        Assert.Equal(0, (await Vellum("generate", b, "--count", "1")).ExitCode);
        var result = await Vellum("verify", Path.Combine(a, "ledgers", "default", "ledger"), "--service-cert", Path.Combine(b, "ledgers", "default", "credentials", "service_cert.pem"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("not endorsed by the service certificate", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("verify")]
    [InlineData("verify", "somewhere")]
    [InlineData("verify", "somewhere", "--service-cert", "/nonexistent/cert.pem")]
    [InlineData("verify", "somewhere", "--service-cert")]
    [InlineData("frobnicate")]
    [InlineData("generate", "x", "--ledger-type", "Secret")]
    public async Task Usage_errors_exit_2(params string[] args)
    {
        var result = await Vellum(args);
        Assert.Equal(2, result.ExitCode);
        Assert.NotEqual(string.Empty, result.Error);
    }

    [Theory]
    [InlineData("start")]
    [InlineData("join")]
    public async Task Backup_writes_is_forward_redirect_or_refuse(string command)
    {
        string[] args = command == "start"
            ? ["start", "--data", Path.Combine(_root, "start"), "--listen", "127.0.0.1:0", "--backup-writes", "bounce"]
            : ["join", "--data", Path.Combine(_root, "join"), "--listen", "127.0.0.1:1", "--node-listen", "127.0.0.1:2", "--target", "https://127.0.0.1:3",
                "--token", "t", "--service-cert", "/nonexistent/cert.pem", "--backup-writes", "bounce"];
        var result = await Vellum(args);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"vellum {command}: --backup-writes is forward, redirect or refuse, not 'bounce'", result.Error.Trim());
    }

    /// <summary>
    /// A joined member serves like any other: <c>vellum join</c> takes the serving flags of <c>vellum start</c>
    /// (checked the same way, before anything is fetched) and reads the same <c>--config</c> file and environment.
    /// </summary>
    [Theory]
    [InlineData("--domain", "not a domain!", "vellum join: --domain 'not a domain!' is not a DNS name")]
    [InlineData("--tls-cert", "/nonexistent/cert.pem", "vellum join: --tls-cert and --tls-key go together")]
    [InlineData("--metrics-listen", "nowhere", "vellum join: --metrics-listen 'nowhere' is not host:port")]
    public async Task Join_checks_the_serving_flags_as_start_does(string flag, string value, string message)
    {
        var result = await Vellum(
            "join", "--data", Path.Combine(_root, "join"), "--listen", "127.0.0.1:1", "--node-listen", "127.0.0.1:2", "--target", "https://127.0.0.1:3",
            "--token", "t", "--service-cert", "/nonexistent/cert.pem", flag, value);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(message, result.Error.Trim());
        Assert.False(Directory.Exists(Path.Combine(_root, "join")));
    }

    [Fact]
    public async Task Join_takes_its_folder_and_addresses_from_the_settings_file_and_needs_them_somewhere()
    {
        string[] join = ["join", "--target", "https://127.0.0.1:3", "--token", "t", "--service-cert", "/nonexistent/cert.pem"];
        var missing = await Vellum(join);
        Assert.Equal(2, missing.ExitCode);
        Assert.Equal("vellum join: --data is required (a flag, a --config setting or a VELLUM_* variable)", missing.Error.Trim());

        // From the file: the join gets as far as the pinned certificate (which does not exist), so it read them.
        Directory.CreateDirectory(_root);
        var file = Path.Combine(_root, "join.json");
        File.WriteAllText(file, $$"""{"data": "{{Path.Combine(_root, "joined")}}", "listen": "127.0.0.1:1", "nodeListen": "127.0.0.1:2", "domain": "vellum.test", "ledgers": ["alpha"]}""");
        var fromFile = await Vellum([.. join, "--config", file]);
        Assert.Equal(2, fromFile.ExitCode);
        Assert.StartsWith("vellum join: --service-cert /nonexistent/cert.pem:", fromFile.Error.Trim(), StringComparison.Ordinal);

        File.WriteAllText(file, """{"dataa": "x"}""");
        var typo = await Vellum([.. join, "--config", file]);
        Assert.Equal(2, typo.ExitCode);
        Assert.Contains("unknown setting 'dataa'", typo.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Join_refuses_a_folder_of_another_deployment_before_it_asks_the_target()
    {
        // A member's folder of one deployment, and the certificate of another to pin.
        var data = new global::Vellum.Storage.DataDirectory(Path.Combine(_root, "member"));
        var (service, node, _, _) = data.OpenOrCreateDeployment();
        service.Dispose();
        node.Dispose();
        using var other = global::Vellum.Core.Identity.ServiceIdentity.Create();
        var pinned = Path.Combine(_root, "other_deployment.pem");
        File.WriteAllText(pinned, other.ExportCertificatePem());
        var before = File.ReadAllText(data.DeploymentServiceCertificate);

        // Nothing listens at the target: had the join asked it, it would exit 1 (cannot reach), not 2.
        var result = await Vellum(
            "join", "--data", data.Root, "--listen", $"127.0.0.1:{FreePort()}", "--node-listen", $"127.0.0.1:{FreePort()}",
            "--target", $"https://127.0.0.1:{FreePort()}", "--token", "t", "--service-cert", pinned);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"vellum join: {data.Root} already belongs to another deployment", result.Error.Trim());
        Assert.Equal(before, File.ReadAllText(data.DeploymentServiceCertificate));
        Assert.Empty(data.LedgerNames());
    }

    private static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
    }

    [Fact]
    public async Task The_ledger_type_cannot_change_after_creation()
    {
        var data = Path.Combine(_root, "typed");
        Assert.Equal(0, (await Vellum("generate", data, "--count", "10", "--ledger-type", "Private")).ExitCode);
        var again = await Vellum("generate", data, "--count", "10", "--ledger-type", "Public");
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("fixed at creation", again.Error, StringComparison.Ordinal);

        // Without the secret a Private ledger's leaves and signatures still verify; with it, contents too.
        var cert = Path.Combine(data, "ledgers", "default", "credentials", "service_cert.pem");
        Assert.Equal(0, (await Vellum("verify", Path.Combine(data, "ledgers", "default", "ledger"), "--service-cert", cert)).ExitCode);
        Assert.Equal(0, (await Vellum("verify", Path.Combine(data, "ledgers", "default", "ledger"), "--service-cert", cert, "--secret", Path.Combine(data, "ledgers", "default", "secrets", "ledger.secret"))).ExitCode);
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

    private static async Task<(int ExitCode, string Output, string Error)> Vellum(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "vellum.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output, await error);
    }
}
