namespace Vellum.LoadGen.Tests;

public sealed class OptionsTests
{
    private static readonly string[] Certs = ["--service-cert", "s.pem", "--cert", "c.pem", "--key", "k.pem"];

    [Fact]
    public void Defaults()
    {
        Assert.True(LoadGenOptions.TryParse(["append", .. Certs], out var o, out var error), error);
        Assert.Equal(LoadScenario.Append, o!.Scenario);
        Assert.Equal(new Uri("https://127.0.0.1:8443"), o.Endpoint);
        Assert.Equal(256, o.Clients);
        Assert.Equal(16, o.Connections);
        Assert.Equal(System.Net.HttpVersion.Version20, o.HttpVersion);
        Assert.Equal(TimeSpan.FromSeconds(2), o.Warmup);
        Assert.Equal(TimeSpan.FromSeconds(10), o.Duration);
        Assert.Equal(256, o.Size);
        Assert.Equal(1, o.Collections);
        Assert.Empty(o.Tags);
        Assert.False(o.WaitForCommit);
        Assert.Equal(1000, o.Preload);
        Assert.Equal(0.9, o.ReadRatio);
        Assert.Equal("2022-05-13", o.ApiVersion);
        Assert.Null(o.ServerPid);
        Assert.False(o.Json);
    }

    [Fact]
    public void Every_option()
    {
        string[] args =
        [
            "mixed", "--endpoint", "https://localhost:9000", "--data", "/d", "--clients", "8", "--connections=2", "--http", "1.1",
            "--warmup", "0", "--duration", "1.5", "--size", "10", "--collections", "3", "--tags", "a, b", "--wait-for-commit",
            "--preload", "20", "--read-ratio", "0.5", "--server-pid", "42", "--api-version", "2024-01-01", "--json", "--timeout", "3",
        ];
        Assert.True(LoadGenOptions.TryParse(args, out var o, out var error), error);
        Assert.Equal(LoadScenario.Mixed, o!.Scenario);
        Assert.Equal(new Uri("https://localhost:9000"), o.Endpoint);
        Assert.Equal(Path.Combine("/d", "ledgers", "default", "credentials", "service_cert.pem"), o.ServiceCertificatePath);
        Assert.Equal(Path.Combine("/d", "credentials", "admin_cert.pem"), o.CertificatePath);
        Assert.Equal(Path.Combine("/d", "credentials", "admin_privk.pem"), o.KeyPath);
        Assert.Equal((8, 2), (o.Clients, o.Connections));
        Assert.Equal(System.Net.HttpVersion.Version11, o.HttpVersion);
        Assert.Equal((TimeSpan.Zero, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(3)), (o.Warmup, o.Duration, o.RequestTimeout));
        Assert.Equal((10, 3, 20, 0.5), (o.Size, o.Collections, o.Preload, o.ReadRatio));
        Assert.Equal(["a", "b"], o.Tags);
        Assert.True(o.WaitForCommit && o.Json);
        Assert.Equal(42, o.ServerPid);
        Assert.Equal("2024-01-01", o.ApiVersion);
    }

    [Fact]
    public void Appends_may_be_spread_over_named_ledgers_and_only_appends()
    {
        Assert.True(LoadGenOptions.TryParse(["append", "--data", "/d", "--ledger", "alpha", "--ledger", "Beta"], out var o, out var error), error);
        Assert.Equal(["alpha", "beta"], o!.Ledgers);
        Assert.False(LoadGenOptions.TryParse(["append", "--data", "/d", "--ledger", "not_a_label"], out _, out error));
        Assert.Contains("--ledger 'not_a_label'", error, StringComparison.Ordinal);
        Assert.False(LoadGenOptions.TryParse(["get", "--data", "/d", "--ledger", "alpha"], out _, out error));
        Assert.Contains("append only", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_ledger_per_connection_needs_ledgers_and_a_connection_for_each()
    {
        Assert.True(LoadGenOptions.TryParse(["append", "--data", "/d", "--ledger", "alpha"], out var o, out var error), error);
        Assert.False(o!.LedgerPerConnection);
        string[] two = ["append", "--data", "/d", "--ledger", "alpha", "--ledger", "beta", "--connections", "2", "--ledger-per-connection"];
        Assert.True(LoadGenOptions.TryParse(two, out o, out error), error);
        Assert.True(o!.LedgerPerConnection);

        Assert.False(LoadGenOptions.TryParse(["append", "--data", "/d", "--ledger-per-connection"], out _, out error));
        Assert.Contains("--ledger-per-connection needs --ledger", error, StringComparison.Ordinal);
        string[] three =
        [
            "append", "--data", "/d", "--ledger", "a1a", "--ledger", "b1b", "--ledger", "c1c", "--connections", "2",
            "--ledger-per-connection",
        ];
        Assert.False(LoadGenOptions.TryParse(three, out _, out error));
        Assert.Contains("(2 for 3)", error, StringComparison.Ordinal);
        string[] valued = ["append", "--data", "/d", "--ledger", "alpha", "--ledger-per-connection=yes"];
        Assert.False(LoadGenOptions.TryParse(valued, out _, out error));
        Assert.Contains("takes no value", error, StringComparison.Ordinal);
        var unnamed = new LoadGenOptions { LedgerPerConnection = true, ServiceCertificatePath = "s", CertificatePath = "c", KeyPath = "k" };
        Assert.Throws<ArgumentException>(unnamed.Validate);
    }

    [Fact]
    public void Each_client_takes_every_ledger_in_turn_or_keeps_to_its_connections()
    {
        // Two collections over three ledgers: addresses 0-2 are the ledgers' first collection, 3-5 their second.
        var spread = new LoadGenOptions { Ledgers = ["a1a", "b1b", "c1c"], Collections = 2, Connections = 4 };
        Assert.Equal([0, 1, 2, 3, 4, 5, 0], Enumerable.Range(0, 7).Select(turn => LoadGenerator.AppendTarget(spread, client: 1, turn)));

        // Connection c (clients c, c + 4, …) keeps to ledger c mod 3 and takes the collections in turn.
        var kept = spread with { LedgerPerConnection = true };
        Assert.Equal([1, 4, 1, 4], Enumerable.Range(0, 4).Select(turn => LoadGenerator.AppendTarget(kept, client: 5, turn)));
        Assert.Equal([0, 3, 0], Enumerable.Range(0, 3).Select(turn => LoadGenerator.AppendTarget(kept, client: 3, turn)));
        Assert.Equal([2, 5], Enumerable.Range(0, 2).Select(turn => LoadGenerator.AppendTarget(kept, client: 2, turn)));

        // No ledger named: the endpoint's own, collections in turn.
        var own = new LoadGenOptions { Collections = 3 };
        Assert.Equal([0, 1, 2, 0], Enumerable.Range(0, 4).Select(turn => LoadGenerator.AppendTarget(own, client: 9, turn)));
    }

    [Fact]
    public void Pg_append_takes_a_connection_string_and_no_certificates()
    {
        const string Pg = "Host=127.0.0.1;Port=55432;Username=postgres;Database=postgres;Maximum Pool Size=300";
        Assert.True(LoadGenOptions.TryParse(["pg-append", "--pg", Pg, "--clients", "64", "--collections", "4", "--size", "100"], out var o, out var error), error);
        Assert.Equal(LoadScenario.PgAppend, o!.Scenario);
        Assert.Equal(Pg, o.PostgresConnectionString);
        Assert.Equal((64, 4, 100), (o.Clients, o.Collections, o.Size));
        Assert.Equal("", o.ServiceCertificatePath);
        o.Validate();

        Assert.True(LoadGenOptions.TryParse(["pg-append", "--pg=" + Pg], out o, out error), error);
        Assert.Equal(Pg, o!.PostgresConnectionString);
        Assert.Null(new LoadGenOptions().PostgresConnectionString);
        Assert.Equal("pg-append", LoadGenOptions.ScenarioName(LoadScenario.PgAppend));
    }

    [Fact]
    public void Pg_append_builds_the_http_payload()
    {
        Assert.Equal(["bench-0", "bench-1", "bench-2"], LoadGenerator.PostgresCollections(3));
        Assert.Equal([""], LoadGenerator.PostgresCollections(1));
        var contents = LoadGenerator.Contents(30);
        Assert.Equal("abcdefghijklmnopqrstuvwxyzabcd", contents);
        Assert.Equal("{\"contents\":\"" + contents + "\"}", System.Text.Encoding.UTF8.GetString(LoadGenerator.Body(30)));
    }

    [Theory]
    [InlineData("append --clients many", "--clients")]
    [InlineData("append --clients 0", "--clients")]
    [InlineData("append --duration -1", "--duration")]
    [InlineData("append --duration 0", "--duration")]
    [InlineData("append --warmup x", "--warmup")]
    [InlineData("append --size 1e3", "--size")]
    [InlineData("mixed --read-ratio 1.5", "--read-ratio")]
    [InlineData("append --http 3", "--http")]
    [InlineData("append --endpoint http://127.0.0.1:8443", "--endpoint")]
    [InlineData("append --clients", "--clients needs a value")]
    [InlineData("append --bogus 1", "unknown option")]
    [InlineData("scan", "unknown scenario 'scan'")]
    [InlineData("--clients 4", "no scenario")]
    [InlineData("get --wait-for-commit", "--wait-for-commit")]
    [InlineData("append extra", "unexpected argument")]
    [InlineData("pg-append", "pg-append needs --pg")]
    [InlineData("pg-append --pg", "--pg needs a value")]
    [InlineData("append --pg Host=x", "--pg applies to pg-append only")]
    public async Task Bad_options_exit_2_with_one_line(string commandLine, string mentioned)
    {
        string[] args = [.. commandLine.Split(' '), .. Certs];
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await LoadGenerator.RunCommandLineAsync(args, output, error).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, code);
        Assert.Equal("", output.ToString());
        var lines = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("vellum-loadgen: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(mentioned, lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_certificates_exit_2()
    {
        var error = new StringWriter();
        Assert.Equal(2, await LoadGenerator.RunCommandLineAsync(["append"], TextWriter.Null, error).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("--service-cert", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_prints_usage_and_exits_0()
    {
        var output = new StringWriter();
        Assert.Equal(0, await LoadGenerator.RunCommandLineAsync(["--help"], output, TextWriter.Null).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("usage: vellum-loadgen", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Error_codes_and_proc_stat_are_parsed()
    {
        Assert.Equal("TransactionNotFound", LoadGenerator.ErrorCode("""{"error":{"code":"TransactionNotFound","message":"x"}}"""u8));
        Assert.Equal("A", LoadGenerator.ErrorCode("""{"other":{"code":"B"},"error":{"message":"m","code":"A"}}"""u8));
        Assert.Null(LoadGenerator.ErrorCode("not json"u8));
        Assert.Null(LoadGenerator.ErrorCode(""u8));

        // The command may hold spaces and parentheses; utime 250 + stime 50 ticks of 1/100 s.
        var stat = "1234 (my (odd) app) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0";
        Assert.Equal(TimeSpan.FromSeconds(3), ProcessCpu.Parse(stat));
        Assert.Equal(1, ProcessCpu.ParentOf(stat));
        Assert.Equal(-1, ProcessCpu.ParentOf("garbage"));
        Assert.Equal(ProcessCpu.Read(Environment.ProcessId) is null, ProcessCpu.ReadTree(Environment.ProcessId) is null);
        Assert.Null(ProcessCpu.Parse("garbage"));
    }
}
