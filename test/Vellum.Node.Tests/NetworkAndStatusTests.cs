using System.Net;
using Microsoft.Extensions.DependencyInjection;

namespace Vellum.Node.Tests;

/// <summary>The node's view of the network, and transaction status across views (CCF's Invalid).</summary>
public sealed class NetworkAndStatusTests(NodeFixture node) : IClassFixture<NodeFixture>
{
    [Fact]
    public async Task A_single_node_reports_itself_as_the_primary_of_a_one_node_network()
    {
        var network = await NodeFixture.Body(await node.Client(null).GetAsync("/node/network"));
        Assert.Equal("Primary", network.GetProperty("role").GetString());
        Assert.True(network.GetProperty("ready").GetBoolean());
        Assert.Equal(node.Ledger.View, network.GetProperty("view").GetInt64());
        var nodes = network.GetProperty("nodes").EnumerateArray().ToArray();
        Assert.Single(nodes);
        Assert.True(nodes[0].GetProperty("isPrimary").GetBoolean());
        Assert.Equal(network.GetProperty("primary").GetString(), nodes[0].GetProperty("url").GetString());
    }

    [Fact]
    public async Task Status_is_Invalid_for_a_transaction_of_an_older_view_that_lost_its_seqno_or_never_landed()
    {
        var root = Path.Combine(Path.GetTempPath(), "vellum-invalid-" + Guid.NewGuid().ToString("N"));
        try
        {
            var first = await PostOnFreshStartAsync(root);
            var second = await PostOnFreshStartAsync(root);
            Assert.True(second.Id.View > first.Id.View);

            // The old view's transaction is still there; its view with the new transaction's seqno names something
            // that never landed there, as does its view past the end; a view not reached yet is unknown.
            var states = await StatusesAsync(root, [first.Id, new(first.Id.View, second.Id.Seqno), new(first.Id.View, second.Id.Seqno + 50), new(second.Id.View + 5, 1)]);
            Assert.Equal(["Committed", "Invalid", "Invalid", "404"], states);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<(Vellum.Core.Primitives.TxId Id, int Unused)> PostOnFreshStartAsync(string root)
    {
        (Vellum.Core.Primitives.TxId, int) result = default;
        await WithNodeAsync(root, async client =>
        {
            var post = await client.PostAsync("/app/transactions?api-version=2022-05-13&waitForCommit=true", NodeFixture.Json("""{"contents":"x"}"""));
            Assert.Equal(HttpStatusCode.OK, post.StatusCode);
            result = (Vellum.Core.Primitives.TxId.Parse(post.Headers.GetValues("x-ms-ccf-transaction-id").Single()), 0);
        });
        return result;
    }

    private static async Task<string[]> StatusesAsync(string root, Vellum.Core.Primitives.TxId[] ids)
    {
        var states = new List<string>();
        await WithNodeAsync(root, async client =>
        {
            foreach (var id in ids)
            {
                var response = await client.GetAsync($"/app/transactions/{id}/status?api-version=2022-05-13");
                states.Add(response.StatusCode == HttpStatusCode.NotFound ? "404" : (await NodeFixture.Body(response)).GetProperty("state").GetString()!);
            }
        });
        return [.. states];
    }

    /// <summary>Starts a node on the data folder, hands an Administrator client to <paramref name="use"/>, stops it.</summary>
    private static async Task WithNodeAsync(string root, Func<HttpClient, Task> use)
    {
        var options = new NodeOptions { DataDirectory = root, Listen = new IPEndPoint(IPAddress.Loopback, 0), SignatureDelay = TimeSpan.FromMilliseconds(20) };
        var (app, ledgers) = await NodeHost.BuildAsync(options, logging: _ => { });
        var ledger = ledgers.Default!;
        try
        {
            await app.StartAsync();
            var address = new Uri(app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
                .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First());
            using var admin = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(
                File.ReadAllText(Path.Combine(ledger.Data.Credentials, "admin_cert.pem")), File.ReadAllText(Path.Combine(ledger.Data.Credentials, "admin_privk.pem")));
            using var handler = new SocketsHttpHandler();
            handler.SslOptions = new System.Net.Security.SslClientAuthenticationOptions
            {
                ClientCertificates = [System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(admin.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12), null)],
                RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && cert.Issuer == ledger.Service.Certificate.Subject,
            };
            using var client = new HttpClient(handler) { BaseAddress = address, DefaultRequestVersion = HttpVersion.Version20, Timeout = TimeSpan.FromSeconds(30) };
            await use(client);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            await ledgers.DisposeAsync();
        }
    }
}
