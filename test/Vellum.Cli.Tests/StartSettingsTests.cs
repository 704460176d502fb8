using System.Collections;
using Vellum.Cli.Commands;

namespace Vellum.Cli.Tests;

/// <summary>
/// Settings of <c>vellum start</c> from a JSON file (<c>--config</c>) and <c>VELLUM_…</c> environment variables: the
/// environment wins over the file, a flag over both; an unknown key or a wrong type is refused with one line.
/// </summary>
public sealed class StartSettingsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vellum-settings-").FullName;

    [Theory]
    [InlineData("data", "VELLUM_DATA")]
    [InlineData("tlsCert", "VELLUM_TLS_CERT")]
    [InlineData("snapshotInterval", "VELLUM_SNAPSHOT_INTERVAL")]
    [InlineData("benchmarkEndpoints", "VELLUM_BENCHMARK_ENDPOINTS")]
    public void Each_setting_has_an_environment_variable(string key, string variable) => Assert.Equal(variable, StartSettings.EnvironmentName(key));

    [Fact]
    public void The_environment_wins_over_the_file_and_lists_and_types_are_read()
    {
        var file = Write("""
            {
              // comments and trailing commas are fine
              "data": "/from/file", "domain": "file.test", "ledgers": ["alpha", "beta:Private"],
              "benchmarkEndpoints": true, "snapshotInterval": 500,
            }
            """);
        var environment = new Hashtable { ["VELLUM_DOMAIN"] = "env.test", ["VELLUM_ADMIN_CERTS"] = "a.pem, b.pem", ["VELLUM_SNAPSHOT_INTERVAL"] = "0", ["OTHER"] = "x" };

        Assert.True(StartSettings.TryLoad(file, environment, out var settings, out var error), error);
        Assert.Equal("/from/file", settings.Text("data"));
        Assert.Equal("env.test", settings.Text("domain"));
        Assert.Equal(["alpha", "beta:Private"], settings.List("ledgers")!);
        Assert.Equal(["a.pem", "b.pem"], settings.List("adminCerts")!);
        Assert.True(settings.Flag("benchmarkEndpoints"));
        Assert.Equal(0, settings.Number("snapshotInterval"));
        Assert.Null(settings.Text("listen"));
        Assert.Null(settings.List("peers"));
    }

    [Theory]
    [InlineData("""{"dta": "/x"}""", "unknown setting 'dta'")]
    [InlineData("""{"ledgers": "alpha"}""", "'ledgers' is an array of strings, not String")]
    [InlineData("""{"snapshotInterval": "10"}""", "'snapshotInterval' is a whole number, not String")]
    [InlineData("""{"benchmarkEndpoints": 1}""", "'benchmarkEndpoints' is true or false, not Number")]
    [InlineData("""["data"]""", "holds Array, not an object of settings")]
    [InlineData("""{"data": """, "is not JSON")]
    public void A_bad_file_is_refused_naming_what_is_wrong(string json, string message)
    {
        Assert.False(StartSettings.TryLoad(Write(json), new Hashtable(), out _, out var error));
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_environment_value_or_a_missing_file_is_refused()
    {
        Assert.False(StartSettings.TryLoad(null, new Hashtable { ["VELLUM_SNAPSHOT_INTERVAL"] = "many" }, out _, out var error));
        Assert.Equal("VELLUM_SNAPSHOT_INTERVAL is a whole number, not 'many'", error);
        Assert.False(StartSettings.TryLoad(Path.Combine(_root, "missing.json"), new Hashtable(), out _, out error));
        Assert.StartsWith("--config ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_starts_from_a_file_with_the_environment_and_flags_over_it()
    {
        var data = Path.Combine(_root, "data");
        var file = Write($$"""{"data": "{{data}}", "listen": "127.0.0.1:0", "ledgers": ["alpha", "beta:Private"], "domain": "file.test"}""");

        using (var node = await RunningNode.StartWith(["start", "--config", file], data, environment: new Dictionary<string, string> { ["VELLUM_DOMAIN"] = "env.test" }))
        {
            var port = node.Endpoint.Port;
            Assert.Contains($"ledger: alpha (Public) at https://alpha.env.test:{port}", node.Banner, StringComparison.Ordinal);
            Assert.Contains($"ledger: beta (Private) at https://beta.env.test:{port}", node.Banner, StringComparison.Ordinal);
            Assert.True(Directory.Exists(Path.Combine(data, "ledgers", "beta")));
            Assert.Equal(0, await node.Terminate());
        }

        using (var node = await RunningNode.StartWith(["start", "--config", file, "--domain", "flag.test"], data, environment: new Dictionary<string, string> { ["VELLUM_DOMAIN"] = "env.test" }))
        {
            Assert.Contains($"ledger: alpha (Public) at https://alpha.flag.test:{node.Endpoint.Port}", node.Banner, StringComparison.Ordinal);
        }

        var (exitCode, _, error) = await RunningNode.RunToExit(["start", "--config", Write("""{"listen": "127.0.0.1:0", "ledgres": ["x"]}""")], TimeSpan.FromSeconds(60));
        Assert.Equal(2, exitCode);
        Assert.StartsWith("vellum start: --config ", error, StringComparison.Ordinal);
        Assert.Contains("unknown setting 'ledgres'", error, StringComparison.Ordinal);
    }

    private string Write(string json)
    {
        var path = Path.Combine(_root, $"settings-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
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
}
