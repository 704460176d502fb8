using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Vellum.Node;
using Vellum.Node.Service;

namespace Vellum.LoadGen.Tests;

/// <summary>Short real runs against an in-process node (real Kestrel, real TLS on 127.0.0.1), as Vellum.Node.Tests start one.</summary>
public sealed class RunTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vellum-loadgen-" + Guid.NewGuid().ToString("N"));
    private WebApplication _app = null!;
    private Vellum.Node.Ledgers.LedgerRegistry _ledgers = null!;

    private LedgerService _ledger => _ledgers.Default!;
    private Uri _endpoint = null!;

    public async ValueTask InitializeAsync()
    {
        var options = new NodeOptions
        {
            DataDirectory = Path.Combine(_root, "data"),
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            SignatureDelay = TimeSpan.FromMilliseconds(20),
            Ledgers = [.. new[] { "default", "alpha", "beta" }.Select(n => new Vellum.Node.Ledgers.LedgerSpec(Vellum.Core.Identity.LedgerName.Parse(n), null))],
        };
        (_app, _ledgers) = await NodeHost.BuildAsync(options, logging: _ => { });
        await _app.StartAsync();
        _endpoint = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    private LoadGenOptions Options(LoadScenario scenario) => new()
    {
        Scenario = scenario,
        Endpoint = _endpoint,
        ServiceCertificatePath = _ledger.Data.Default.ServiceCertificate,
        CertificatePath = Path.Combine(_ledger.Data.Credentials, "admin_cert.pem"),
        KeyPath = Path.Combine(_ledger.Data.Credentials, "admin_privk.pem"),
        Clients = 8,
        Connections = 2,
        Warmup = TimeSpan.FromMilliseconds(200),
        Duration = TimeSpan.FromSeconds(1),
        RequestTimeout = TimeSpan.FromSeconds(10),
        Size = 64,
        Collections = 2,
        ServerPid = Environment.ProcessId,
    };

    [Fact]
    public async Task Append_writes_what_it_reports()
    {
        var before = _ledger.LastSeqno;
        var report = await new LoadGenerator(Options(LoadScenario.Append)).RunAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(report.Requests > 0, report.ToTable());
        Assert.Equal(0, report.Errors);
        Assert.Empty(report.ErrorsByStatus);
        Assert.InRange(report.WindowSeconds, 0.9, 5);
        Assert.True(report.P50Ms > 0 && report.P50Ms <= report.P99Ms && report.P99Ms <= report.MaxMs, report.ToTable());
        Assert.NotNull(report.ServerCpuSeconds);
        Assert.True(report.GeneratorCpuSeconds > 0);

        // Warm-up appends and those completed after the window are written but not counted: at least the count grew.
        Assert.True(_ledger.LastSeqno - before >= report.Requests, $"ledger grew by {_ledger.LastSeqno - before}, report says {report.Requests}");
        Assert.Contains("bench-1", _ledger.Collections(), StringComparer.Ordinal);
    }

    [Fact]
    public async Task Append_spreads_over_the_ledgers_named_and_writes_nothing_elsewhere()
    {
        Assert.True(_ledgers.TryGet("alpha", out var alpha));
        Assert.True(_ledgers.TryGet("beta", out var beta));
        var before = (Default: _ledger.LastSeqno, Alpha: alpha.LastSeqno, Beta: beta.LastSeqno);
        var report = await new LoadGenerator(Options(LoadScenario.Append) with { Ledgers = ["alpha", "beta"] }).RunAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(report.Requests > 0, report.ToTable());
        Assert.Equal(0, report.Errors);
        Assert.Equal(before.Default, _ledger.LastSeqno);
        Assert.True(alpha.LastSeqno - before.Alpha + beta.LastSeqno - before.Beta >= report.Requests);
        Assert.True(alpha.LastSeqno - before.Alpha > report.Requests / 4, $"alpha grew by {alpha.LastSeqno - before.Alpha} of {report.Requests}");
        Assert.True(beta.LastSeqno - before.Beta > report.Requests / 4, $"beta grew by {beta.LastSeqno - before.Beta} of {report.Requests}");
    }

    [Fact]
    public async Task Append_with_a_ledger_per_connection_writes_to_each_connections_ledger()
    {
        Assert.True(_ledgers.TryGet("alpha", out var alpha));
        Assert.True(_ledgers.TryGet("beta", out var beta));
        var before = (Default: _ledger.LastSeqno, Alpha: alpha.LastSeqno, Beta: beta.LastSeqno);
        var options = Options(LoadScenario.Append) with { Ledgers = ["alpha", "beta"], LedgerPerConnection = true };
        var report = await new LoadGenerator(options).RunAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(report.Requests > 0, report.ToTable());
        Assert.Equal(0, report.Errors);
        Assert.Equal(before.Default, _ledger.LastSeqno);
        Assert.True(alpha.LastSeqno - before.Alpha + beta.LastSeqno - before.Beta >= report.Requests);
        Assert.True(alpha.LastSeqno > before.Alpha && beta.LastSeqno > before.Beta, "each of the two connections keeps to one ledger");
    }

    [Fact]
    public async Task Get_reads_preloaded_entries()
    {
        var options = Options(LoadScenario.Get) with { Preload = 40, HttpVersion = HttpVersion.Version11 };
        var report = await new LoadGenerator(options).RunAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(report.Requests > 0, report.ToTable());
        Assert.Equal(0, report.Errors);
        Assert.True(_ledger.Store.CommittedSeqno >= 40);
        using var json = System.Text.Json.JsonDocument.Parse(report.ToJson());
        Assert.Equal("get", json.RootElement.GetProperty("scenario").GetString());
        Assert.Equal(report.Requests, json.RootElement.GetProperty("requests").GetInt64());
    }

    [Fact]
    public async Task Missing_endpoints_are_errors_not_failures()
    {
        var options = Options(LoadScenario.NoopGet) with { Warmup = TimeSpan.Zero, Duration = TimeSpan.FromMilliseconds(300) };
        var report = await new LoadGenerator(options).RunAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(report.Requests > 0);
        Assert.Equal(report.Requests, report.Errors);
        Assert.Equal(report.Requests, report.ErrorsByCode["ResourceNotFound"]);
    }

    [Fact]
    public async Task A_refused_certificate_fails_the_run_with_one_line()
    {
        using var key = System.Security.Cryptography.ECDsa.Create();
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=stranger", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        Directory.CreateDirectory(_root);
        var certPath = Path.Combine(_root, "stranger_cert.pem");
        var keyPath = Path.Combine(_root, "stranger_privk.pem");
        await File.WriteAllTextAsync(certPath, cert.ExportCertificatePem());
        await File.WriteAllTextAsync(keyPath, key.ExportPkcs8PrivateKeyPem());

        var error = new StringWriter();
        string[] args =
        [
            "append", "--endpoint", _endpoint.ToString(), "--service-cert", _ledger.Data.Default.ServiceCertificate,
            "--cert", certPath, "--key", keyPath, "--clients", "2", "--warmup", "0", "--duration", "0.2",
        ];
        var code = await LoadGenerator.RunCommandLineAsync(args, TextWriter.Null, error).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, code);
        Assert.Single(error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("refused the client certificate", error.ToString(), StringComparison.Ordinal);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _ledgers.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
