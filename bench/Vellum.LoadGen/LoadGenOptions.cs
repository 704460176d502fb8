using System.Globalization;

namespace Vellum.LoadGen;

/// <summary>What the clients do in a run.</summary>
public enum LoadScenario
{
    /// <summary><c>POST /app/transactions</c> (with <c>waitForCommit=true</c> if <see cref="LoadGenOptions.WaitForCommit"/>).</summary>
    Append,

    /// <summary><c>GET /app/transactions/{id}</c> of random preloaded, committed entries.</summary>
    Get,

    /// <summary><c>GET /app/transactions/{id}/receipt</c> of random preloaded, committed entries.</summary>
    Receipt,

    /// <summary>GETs of preloaded entries (<see cref="LoadGenOptions.ReadRatio"/> of requests), appends otherwise.</summary>
    Mixed,

    /// <summary><c>POST /app/benchmark/noop</c> with the append body: the same stack without the ledger.</summary>
    NoopPost,

    /// <summary><c>GET /app/benchmark/noop</c>.</summary>
    NoopGet,

    /// <summary>
    /// The PostgreSQL baseline: each request is one hash-chained insert (one statement, one transaction, one round
    /// trip) into <see cref="LoadGenOptions.PostgresConnectionString"/>'s database, with the append's contents and collection.
    /// </summary>
    PgAppend,
}

/// <summary>How a load run is shaped. Defaults are those of the command line (bench/README.md).</summary>
public sealed record LoadGenOptions
{
    /// <summary>The scenario (first positional argument).</summary>
    public LoadScenario Scenario { get; init; } = LoadScenario.Append;

    /// <summary>The node's base address (default https://127.0.0.1:8443).</summary>
    public Uri Endpoint { get; init; } = new("https://127.0.0.1:8443");

    /// <summary>The service certificate (PEM) the TLS server must chain to; required.</summary>
    public string ServiceCertificatePath { get; init; } = "";

    /// <summary>The client certificate (PEM); required.</summary>
    public string CertificatePath { get; init; } = "";

    /// <summary>The client certificate's private key (PEM); required.</summary>
    public string KeyPath { get; init; } = "";

    /// <summary>Concurrent closed-loop clients (default 256).</summary>
    public int Clients { get; init; } = 256;

    /// <summary>HttpClient instances, each one TLS connection under HTTP/2 (default 16); clients are spread round-robin.</summary>
    public int Connections { get; init; } = 16;

    /// <summary>HTTP version: 2 (default, clients multiplexed) or 1.1 (one connection per client).</summary>
    public Version HttpVersion { get; init; } = System.Net.HttpVersion.Version20;

    /// <summary>Load before the measured window, discarded (default 2 s).</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The measured window (default 10 s).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Write the report as one JSON object instead of a table.</summary>
    public bool Json { get; init; }

    /// <summary>A process (on this machine) whose CPU time over the measured window is reported.</summary>
    public int? ServerPid { get; init; }

    /// <summary>The <c>api-version</c> query parameter (default 2022-05-13).</summary>
    public string ApiVersion { get; init; } = "2022-05-13";

    /// <summary>Bytes of <c>contents</c> per appended entry (default 256).</summary>
    public int Size { get; init; } = 256;

    /// <summary>Collections the appends are spread over round-robin (default 1: the default collection).</summary>
    public int Collections { get; init; } = 1;

    /// <summary>
    /// Ledgers the appends are spread over round-robin (<c>--ledger NAME</c>, repeatable), each addressed by the path
    /// prefix <c>/ledgers/{name}</c> on the same connections; empty (the default) appends to the ledger the endpoint
    /// serves. Append only.
    /// </summary>
    public IReadOnlyList<string> Ledgers { get; init; } = [];

    /// <summary>
    /// Each connection keeps to one of <see cref="Ledgers"/> (connection <c>i</c>, ledger <c>i mod count</c>) instead of
    /// every client taking the ledgers in turn: the shape of tenants that each talk to their own ledger, where the
    /// streams of a connection meet in the same batches. Needs at least as many connections as ledgers.
    /// </summary>
    public bool LedgerPerConnection { get; init; }

    /// <summary>Tags on every appended entry (default none).</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Appends ask for <c>waitForCommit=true</c>.</summary>
    public bool WaitForCommit { get; init; }

    /// <summary>Entries appended (and waited for until Committed) before a get, receipt or mixed run (default 1,000).</summary>
    public int Preload { get; init; } = 1000;

    /// <summary>Share of GETs in a mixed run (default 0.9).</summary>
    public double ReadRatio { get; init; } = 0.9;

    /// <summary>Longest wait for one response before it counts as an error (default 30 s).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The Npgsql connection string of <see cref="LoadScenario.PgAppend"/> (<c>--pg</c>); required by it, refused by the
    /// other scenarios. Its <c>Maximum Pool Size</c> is raised to <see cref="Clients"/> if smaller: every client holds
    /// one connection for the whole run.
    /// </summary>
    public string? PostgresConnectionString { get; init; }

    /// <summary>The scenario as on the command line (<c>append</c>, <c>noop-post</c>, <c>pg-append</c>, …).</summary>
    public static string ScenarioName(LoadScenario scenario) => scenario switch
    {
        LoadScenario.NoopPost => "noop-post",
        LoadScenario.NoopGet => "noop-get",
        LoadScenario.PgAppend => "pg-append",
        _ => scenario.ToString().ToLowerInvariant(),
    };

    /// <summary>The command-line usage text.</summary>
    public const string Usage = """
        usage: vellum-loadgen <append|get|receipt|mixed|noop-post|noop-get|pg-append> [options]
          --endpoint <url>           node address (default https://127.0.0.1:8443)
          --data <dir>               take the PEM files below from <dir>: ledgers/default/credentials/service_cert.pem,
                                     credentials/admin_cert.pem and credentials/admin_privk.pem
          --service-cert <pem>       service certificate the server must chain to
          --cert <pem> --key <pem>   client certificate and key
          --clients N                concurrent closed-loop clients (default 256)
          --connections M            HTTP clients (HTTP/2: one TLS connection each, multiplexed) (default 16)
          --http 1.1|2               HTTP version (default 2; 1.1 opens one connection per client)
          --warmup S                 seconds of discarded warm-up (default 2)
          --duration S               seconds measured (default 10)
          --size B                   bytes of contents per append (default 256)
          --collections K            collections the appends are spread over (default 1)
          --tags a,b                 tags on every append
          --ledger NAME              spread appends over these ledgers (repeatable; path prefix /ledgers/NAME)
          --ledger-per-connection    each connection keeps to one of them (needs --connections >= the ledgers)
          --wait-for-commit          appends wait for commit (waitForCommit=true)
          --preload N                entries appended before get, receipt and mixed (default 1000)
          --read-ratio R             share of GETs in mixed (default 0.9)
          --server-pid PID           report that process's CPU time over the window
          --api-version V            api-version parameter (default 2022-05-13)
          --timeout S                seconds before a request counts as failed (default 30)
          --json                     one JSON object on stdout instead of a table
          --pg <connection string>   pg-append only: the PostgreSQL database (Npgsql syntax; no certificates needed)
        """;

    /// <summary>
    /// Parses command-line arguments. On failure returns false with a one-line <paramref name="error"/>;
    /// <c>--help</c> returns false with a null error.
    /// </summary>
    public static bool TryParse(IReadOnlyList<string> args, out LoadGenOptions? options, out string? error)
    {
        ArgumentNullException.ThrowIfNull(args);
        options = null;
        error = null;
        var o = new LoadGenOptions();
        string? scenario = null;
        string? data = null;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help" or "-?")
            {
                return false;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                if (scenario is not null)
                {
                    error = $"unexpected argument '{arg}' (the scenario is already '{scenario}')";
                    return false;
                }

                scenario = arg;
                continue;
            }

            var name = arg;
            string? inline = null;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                name = arg[..eq];
                inline = arg[(eq + 1)..];
            }

            if (name is "--json" or "--wait-for-commit" or "--ledger-per-connection")
            {
                if (inline is not null)
                {
                    error = $"{name} takes no value";
                    return false;
                }

                o = name switch
                {
                    "--json" => o with { Json = true },
                    "--wait-for-commit" => o with { WaitForCommit = true },
                    _ => o with { LedgerPerConnection = true },
                };
                continue;
            }

            string value;
            if (inline is not null)
            {
                value = inline;
            }
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                value = args[++i];
            }
            else
            {
                error = $"{name} needs a value";
                return false;
            }

            var current = o;
            (o, error) = name switch
            {
                "--endpoint" => Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps
                    ? (o with { Endpoint = uri }, null) : (o, $"--endpoint '{value}' is not an https:// address"),
                "--data" => (o, null),
                "--service-cert" => (o with { ServiceCertificatePath = value }, null),
                "--cert" => (o with { CertificatePath = value }, null),
                "--key" => (o with { KeyPath = value }, null),
                "--clients" => Int(name, value, 1, 100_000, v => current with { Clients = v }),
                "--connections" => Int(name, value, 1, 10_000, v => current with { Connections = v }),
                "--http" => value switch
                {
                    "2" or "2.0" => (o with { HttpVersion = System.Net.HttpVersion.Version20 }, null),
                    "1.1" => (o with { HttpVersion = System.Net.HttpVersion.Version11 }, null),
                    _ => (o, $"--http is 1.1 or 2, not '{value}'"),
                },
                "--warmup" => Seconds(name, value, allowZero: true, v => current with { Warmup = v }),
                "--duration" => Seconds(name, value, allowZero: false, v => current with { Duration = v }),
                "--timeout" => Seconds(name, value, allowZero: false, v => current with { RequestTimeout = v }),
                "--size" => Int(name, value, 0, 64 * 1024 * 1024, v => current with { Size = v }),
                "--collections" => Int(name, value, 1, 1_000_000, v => current with { Collections = v }),
                "--tags" => ParseTags(value, current),
                "--ledger" => value.Length is > 0 and <= 63 && value.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')
                    ? (o with { Ledgers = [.. o.Ledgers, value.ToLowerInvariant()] }, null) : (o, $"--ledger '{value}' is not a ledger name (a DNS label)"),
                "--preload" => Int(name, value, 1, 10_000_000, v => current with { Preload = v }),
                "--read-ratio" => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var ratio) && ratio is >= 0 and <= 1
                    ? (o with { ReadRatio = ratio }, null) : (o, $"--read-ratio '{value}' is not a number between 0 and 1"),
                "--server-pid" => Int(name, value, 1, int.MaxValue, v => current with { ServerPid = v }),
                "--api-version" => string.IsNullOrWhiteSpace(value) ? (o, "--api-version is empty") : (o with { ApiVersion = value }, null),
                "--pg" => string.IsNullOrWhiteSpace(value) ? (o, "--pg is empty") : (o with { PostgresConnectionString = value }, null),
                _ => (o, $"unknown option '{name}'"),
            };
            if (name == "--data")
            {
                data = value;
            }

            if (error is not null)
            {
                return false;
            }
        }

        if (scenario is null)
        {
            error = "no scenario: give one of append, get, receipt, mixed, noop-post, noop-get, pg-append";
            return false;
        }

        LoadScenario kind;
        switch (scenario)
        {
            case "append": kind = LoadScenario.Append; break;
            case "get": kind = LoadScenario.Get; break;
            case "receipt": kind = LoadScenario.Receipt; break;
            case "mixed": kind = LoadScenario.Mixed; break;
            case "noop-post": kind = LoadScenario.NoopPost; break;
            case "noop-get": kind = LoadScenario.NoopGet; break;
            case "pg-append": kind = LoadScenario.PgAppend; break;
            default:
                error = $"unknown scenario '{scenario}': give one of append, get, receipt, mixed, noop-post, noop-get, pg-append";
                return false;
        }

        if (data is not null)
        {
            // Explicit paths win over the data folder's.
            var credentials = Path.Combine(data, "credentials");
            o = o with
            {
                ServiceCertificatePath = o.ServiceCertificatePath.Length > 0 ? o.ServiceCertificatePath : Path.Combine(data, "ledgers", "default", "credentials", "service_cert.pem"),
                CertificatePath = o.CertificatePath.Length > 0 ? o.CertificatePath : Path.Combine(credentials, "admin_cert.pem"),
                KeyPath = o.KeyPath.Length > 0 ? o.KeyPath : Path.Combine(credentials, "admin_privk.pem"),
            };
        }

        if (o.Ledgers.Count > 0 && kind != LoadScenario.Append)
        {
            error = "--ledger applies to append only";
            return false;
        }

        if (o.LedgerPerConnection && (o.Ledgers.Count == 0 || o.Connections < o.Ledgers.Count))
        {
            error = "--ledger-per-connection needs --ledger and at least as many --connections as ledgers " +
                $"({o.Connections} for {o.Ledgers.Count})";
            return false;
        }

        if (kind == LoadScenario.PgAppend)
        {
            // No node, so no certificates: the connection string is all it needs.
            if (o.PostgresConnectionString is null)
            {
                error = "pg-append needs --pg <connection string>";
                return false;
            }

            options = o with { Scenario = kind };
            return true;
        }

        if (o.PostgresConnectionString is not null)
        {
            error = "--pg applies to pg-append only";
            return false;
        }

        if (o.ServiceCertificatePath.Length == 0)
        {
            error = "--service-cert <pem> is required (or --data <dir>)";
            return false;
        }

        if (o.CertificatePath.Length == 0 || o.KeyPath.Length == 0)
        {
            error = "--cert <pem> and --key <pem> are required (or --data <dir>)";
            return false;
        }

        if (o.WaitForCommit && kind is not (LoadScenario.Append or LoadScenario.Mixed))
        {
            error = "--wait-for-commit applies to append and mixed only";
            return false;
        }

        options = o with { Scenario = kind };
        return true;
    }

    /// <summary>Checks the values; throws <see cref="ArgumentException"/> naming the first bad one.</summary>
    public void Validate()
    {
        static void Check(bool ok, string name, string problem)
        {
            if (!ok)
            {
                throw new ArgumentException($"{name} {problem}", name);
            }
        }

        Check(Clients > 0, nameof(Clients), "must be positive");
        Check(Connections > 0, nameof(Connections), "must be positive");
        Check(Warmup >= TimeSpan.Zero, nameof(Warmup), "must not be negative");
        Check(Duration > TimeSpan.Zero, nameof(Duration), "must be positive");
        Check(RequestTimeout > TimeSpan.Zero, nameof(RequestTimeout), "must be positive");
        Check(Size >= 0, nameof(Size), "must not be negative");
        Check(Collections > 0, nameof(Collections), "must be positive");
        Check(Ledgers.Count == 0 || Scenario == LoadScenario.Append, nameof(Ledgers), "apply to append only");
        Check(
            !LedgerPerConnection || (Ledgers.Count > 0 && Connections >= Ledgers.Count),
            nameof(LedgerPerConnection),
            "needs ledgers and at least as many connections");
        Check(Preload > 0, nameof(Preload), "must be positive");
        Check(ReadRatio is >= 0 and <= 1, nameof(ReadRatio), "must be between 0 and 1");
        Check(HttpVersion == System.Net.HttpVersion.Version11 || HttpVersion == System.Net.HttpVersion.Version20, nameof(HttpVersion), "must be 1.1 or 2.0");
        Check(Endpoint.Scheme == Uri.UriSchemeHttps, nameof(Endpoint), "must be an https:// address");
        if (Scenario == LoadScenario.PgAppend)
        {
            Check(!string.IsNullOrWhiteSpace(PostgresConnectionString), nameof(PostgresConnectionString), "is required by pg-append");
            return;
        }

        Check(PostgresConnectionString is null, nameof(PostgresConnectionString), "applies to pg-append only");
        Check(!string.IsNullOrEmpty(ServiceCertificatePath), nameof(ServiceCertificatePath), "is required");
        Check(!string.IsNullOrEmpty(CertificatePath), nameof(CertificatePath), "is required");
        Check(!string.IsNullOrEmpty(KeyPath), nameof(KeyPath), "is required");
    }

    private static (LoadGenOptions, string?) Int(string name, string value, int min, int max, Func<int, LoadGenOptions> with)
    {
        if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
        {
            return (null!, $"{name} '{value}' is not a whole number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}");
        }

        return (with(v), null);
    }

    private static (LoadGenOptions, string?) Seconds(string name, string value, bool allowZero, Func<TimeSpan, LoadGenOptions> with)
    {
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) || double.IsNaN(s) || s < 0 || (s == 0 && !allowZero) || s > 86_400)
        {
            return (null!, $"{name} '{value}' is not a number of seconds{(allowZero ? "" : " above 0")}");
        }

        return (with(TimeSpan.FromSeconds(s)), null);
    }

    private static (LoadGenOptions, string?) ParseTags(string value, LoadGenOptions o)
    {
        var tags = value.Split(',', StringSplitOptions.TrimEntries);
        foreach (var tag in tags)
        {
            if (tag.Length == 0)
            {
                return (o, $"--tags '{value}' has an empty tag");
            }
        }

        return (o with { Tags = tags }, null);
    }
}
