using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Vellum.Node.Tests;

public sealed class OperationsTests(NodeFixture node) : IClassFixture<NodeFixture>
{
    [Fact]
    public async Task The_OpenAPI_document_lists_exactly_the_mapped_routes()
    {
        using var anonymous = node.Client(null);
        using var document = JsonDocument.Parse(await anonymous.GetStringAsync("/openapi.json"));
        var listed = document.RootElement.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(op => $"{op.Name.ToUpperInvariant()} {path.Name}"))
            .Order().ToList();
        var mapped = node.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText is { } raw && !raw.Contains('*', StringComparison.Ordinal))
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? []).Select(m => $"{m} {e.RoutePattern.RawText}"))
            .Order().ToList();
        Assert.Equal(mapped, listed);

        // Each says what it does, as declared where it is mapped.
        var paths = document.RootElement.GetProperty("paths");
        Assert.All(paths.EnumerateObject().SelectMany(p => p.Value.EnumerateObject()), op => Assert.False(string.IsNullOrWhiteSpace(op.Value.GetProperty("summary").GetString()), op.Name));
        var post = paths.GetProperty("/app/transactions").GetProperty("post");
        Assert.Equal(["api-version", "collectionId", "tags", "waitForCommit"], post.GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()));
        Assert.True(paths.GetProperty("/app/users/{userId}").GetProperty("delete").GetProperty("responses").TryGetProperty("204", out _));
    }

    [Fact]
    public void A_route_that_declares_no_description_stops_the_document()
    {
        var described = new RouteEndpoint(_ => Task.CompletedTask, Microsoft.AspNetCore.Routing.Patterns.RoutePatternFactory.Parse("/described"), 0,
            new Microsoft.AspNetCore.Http.EndpointMetadataCollection(new HttpMethodMetadata(["GET"]), new Endpoints.ApiOperation("Described.", 200, [])), "described");
        var silent = new RouteEndpoint(_ => Task.CompletedTask, Microsoft.AspNetCore.Routing.Patterns.RoutePatternFactory.Parse("/silent"), 0,
            new Microsoft.AspNetCore.Http.EndpointMetadataCollection(new HttpMethodMetadata(["GET"])), "silent");

        using var document = JsonDocument.Parse(Endpoints.OpenApiDocument.Write([new DefaultEndpointDataSource(described)]));
        Assert.Equal("Described.", document.RootElement.GetProperty("paths").GetProperty("/described").GetProperty("get").GetProperty("summary").GetString());
        var failure = Assert.Throws<InvalidOperationException>(() => Endpoints.OpenApiDocument.Write([new DefaultEndpointDataSource(described, silent)]));
        Assert.Contains("silent", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Liveness_and_readiness_need_no_certificate()
    {
        using var anonymous = node.Client(null);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/node/health/live")).StatusCode);
        var ready = JsonDocument.Parse(await anonymous.GetStringAsync("/node/health/ready")).RootElement;
        Assert.Equal("Ready", ready.GetProperty("status").GetString());
        Assert.True(ready.GetProperty("committedSeqno").GetInt64() >= 1);
    }

    [Fact]
    public async Task Unknown_paths_answer_404_in_the_ACL_shape()
    {
        var response = await node.Admin.GetAsync("/app/nothing-here?api-version=2022-05-13");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("ResourceNotFound", (await NodeFixture.Body(response)).GetProperty("error").GetProperty("code").GetString());
    }
}

/// <summary>A node with the Prometheus endpoint on its own port.</summary>
public sealed class MetricsTests
{
    [Fact]
    public async Task Prometheus_scrape_shows_appends_commits_signature_lag_and_request_latency()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var root = Path.Combine(Path.GetTempPath(), "vellum-metrics-" + Guid.NewGuid().ToString("N"));
        var options = new NodeOptions
        {
            DataDirectory = root,
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            MetricsListen = $"127.0.0.1:{port}",
            SignatureDelay = TimeSpan.FromMilliseconds(20),
            Ledgers = [new Vellum.Node.Ledgers.LedgerSpec(Vellum.Core.Identity.LedgerName.Default, null), new Vellum.Node.Ledgers.LedgerSpec(Vellum.Core.Identity.LedgerName.Parse("metrics-alpha"), null)],
        };
        var (app, ledgers) = await NodeHost.BuildAsync(options, logging: _ => { });
        var ledger = ledgers.Default!;
        try
        {
            await app.StartAsync();
            for (var i = 0; i < 5; i++)
            {
                await ledger.AppendEntryAsync("subledger:0", "m"u8.ToArray(), [], default);
            }

            await ledger.Sequencer.WaitForCommitAsync(ledger.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            string text = string.Empty;
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (DateTime.UtcNow < deadline && !text.Contains("vellum_storage_signature_lag", StringComparison.Ordinal))
            {
                text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
                await Task.Delay(100);
            }

            Assert.Contains("vellum_storage_transactions_total", text, StringComparison.Ordinal);
            Assert.Contains("vellum_storage_committed_seqno", text, StringComparison.Ordinal);
            Assert.Contains("vellum_storage_signature_lag", text, StringComparison.Ordinal);
            Assert.Contains("vellum_storage_fsync_duration_seconds_bucket", text, StringComparison.Ordinal);

            // Each ledger's figures are its own series, tagged with its name.
            var lines = text.Split('\n');
            Assert.Contains(lines, l => l.StartsWith("vellum_storage_transactions_total{", StringComparison.Ordinal) && l.Contains("ledger=\"default\"", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("vellum_storage_committed_seqno{", StringComparison.Ordinal) && l.Contains("ledger=\"metrics-alpha\"", StringComparison.Ordinal));
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            await ledgers.DisposeAsync();
            Directory.Delete(root, recursive: true);
        }
    }
}

/// <summary>The same-stack ceiling endpoints exist only with the benchmark flag, and write nothing.</summary>
public sealed class BenchmarkEndpointTests(NodeFixture node) : IClassFixture<NodeFixture>
{
    [Fact]
    public async Task Without_the_flag_there_is_no_noop_endpoint()
    {
        var response = await node.Admin.PostAsync("/app/benchmark/noop?api-version=2022-05-13", NodeFixture.Json("""{"contents":"x"}"""));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task With_the_flag_noop_runs_the_pipeline_and_writes_nothing()
    {
        var root = Path.Combine(Path.GetTempPath(), "vellum-noop-" + Guid.NewGuid().ToString("N"));
        var options = new NodeOptions { DataDirectory = root, Listen = new IPEndPoint(IPAddress.Loopback, 0), BenchmarkEndpoints = true };
        var (app, ledgers) = await NodeHost.BuildAsync(options, logging: _ => { });
        var ledger = ledgers.Default!;
        try
        {
            await app.StartAsync();
            var address = new Uri(app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
                .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First());
            await ledger.Sequencer.WaitForCommitAsync(ledger.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            var before = ledger.LastSeqno;
            using var handler = new SocketsHttpHandler();
            var admin = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(
                File.ReadAllText(Path.Combine(ledger.Data.Credentials, "admin_cert.pem")), File.ReadAllText(Path.Combine(ledger.Data.Credentials, "admin_privk.pem")));
            handler.SslOptions = new System.Net.Security.SslClientAuthenticationOptions
            {
                ClientCertificates = [System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(admin.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12), null)],
                RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && cert.Issuer == ledger.Service.Certificate.Subject,
            };
            using var client = new HttpClient(handler) { BaseAddress = address, DefaultRequestVersion = HttpVersion.Version20 };
            var post = await client.PostAsync("/app/benchmark/noop?api-version=2022-05-13", NodeFixture.Json("""{"contents":"x"}"""));
            Assert.Equal(HttpStatusCode.OK, post.StatusCode);
            Assert.Equal("0.0", post.Headers.GetValues("x-ms-ccf-transaction-id").Single());
            var bad = await client.PostAsync("/app/benchmark/noop?api-version=2022-05-13", NodeFixture.Json("""{"nope":1}"""));
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            var get = await NodeFixture.Body(await client.GetAsync("/app/benchmark/noop?api-version=2022-05-13"));
            Assert.Equal(256, get.GetProperty("entry").GetProperty("contents").GetString()!.Length);
            Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/app/benchmark/noop")).StatusCode); // api-version still checked
            Assert.Equal(before, ledger.LastSeqno);
            var openApi = await client.GetStringAsync("/openapi.json");
            Assert.Contains("/app/benchmark/noop", openApi, StringComparison.Ordinal);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            await ledgers.DisposeAsync();
            Directory.Delete(root, recursive: true);
        }
    }
}
