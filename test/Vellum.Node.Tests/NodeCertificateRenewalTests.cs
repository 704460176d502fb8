using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Vellum.Core.Identity;
using Vellum.Storage;

namespace Vellum.Node.Tests;

/// <summary>
/// Probe hole H7's other half: with validity checked, node certificates must be renewed before they expire. A node
/// whose certificate has less than a third of its lifetime left renews it when it starts (same key, same node id)
/// and serves clients with the new one; a running node renews it too and presents the new one on new connections.
/// </summary>
public sealed class NodeCertificateRenewalTests
{
    [Fact]
    public async Task A_running_node_renews_its_certificate_before_expiry_and_clients_keep_being_served()
    {
        var root = Path.Combine(Path.GetTempPath(), "vellum-renew-" + Guid.NewGuid().ToString("N"));
        try
        {
            var data = Path.Combine(root, "data");
            var folder = new DataDirectory(data);
            var shortLived = DataDirectory.DefaultNodeOptions();
            shortLived.NotBefore = DateTimeOffset.UtcNow.AddSeconds(-6);
            shortLived.Validity = TimeSpan.FromSeconds(12); // half left now; a third left in two seconds; expired in six.
            var (service, node, secret, _) = folder.OpenOrCreate(isPrivate: null, shortLived);
            var first = node.Certificate.RawData;
            var nodeId = node.NodeId;
            service.Dispose();
            node.Dispose();
            secret.Dispose();

            var options = new NodeOptions
            {
                DataDirectory = data,
                Listen = new IPEndPoint(IPAddress.Loopback, 0),
                SignatureDelay = TimeSpan.FromMilliseconds(20),
                NodeCertificateCheckInterval = TimeSpan.FromMilliseconds(200),
            };
            var (app, ledgers) = await NodeHost.BuildAsync(options, logging: _ => { });
            var ledger = ledgers.Default!;
            await using (ledgers)
            await using (app)
            {
                await app.StartAsync();
                var url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
                Assert.Equal(first, await PresentedOnNewConnectionAsync(url, ledger.Service.Certificate));

                // Each probe opens a new connection and must be served; within the old certificate's life a new one appears.
                var deadline = DateTime.UtcNow.AddSeconds(10);
                byte[] presented;
                do
                {
                    Assert.True(DateTime.UtcNow < deadline, "the running node presented no renewed certificate within 10 s");
                    await Task.Delay(200);
                    presented = await PresentedOnNewConnectionAsync(url, ledger.Service.Certificate);
                }
                while (presented.AsSpan().SequenceEqual(first));

                using var renewed = X509CertificateLoader.LoadCertificate(presented);
                Assert.Equal(nodeId, NodeIdentity.ComputeNodeId(renewed));
                Assert.True(CertificateEndorsement.IsEndorsedBy(renewed, ledger.Service.Certificate));
                Assert.True(renewed.NotAfter > DateTime.UtcNow.AddDays(300));
                using (var onDisk = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(folder.Default.NodeCertificate)))
                {
                    Assert.Equal(presented, onDisk.RawData);
                }

                // Past the old certificate's expiry, new connections are still served.
                await Task.Delay(TimeSpan.FromSeconds(1));
                Assert.Equal(presented, await PresentedOnNewConnectionAsync(url, ledger.Service.Certificate));
                await app.StopAsync();
            }
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>The server certificate a new connection sees, after checking it is served (GET /node/health/live → 200).</summary>
    private static async Task<byte[]> PresentedOnNewConnectionAsync(Uri url, X509Certificate2 service)
    {
        byte[]? presented = null;
        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, cert, _, _) =>
                {
                    presented = cert?.GetRawCertData();
                    return ServiceCertificatePin.Accepts(cert, service);
                },
            },
        };
        using var client = new HttpClient(handler) { BaseAddress = url, Timeout = TimeSpan.FromSeconds(10) };
        using var response = await client.GetAsync("/node/health/live");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return presented!;
    }

    [Fact]
    public async Task A_short_lived_node_certificate_is_renewed_at_start_and_clients_are_served()
    {
        var root = Path.Combine(Path.GetTempPath(), "vellum-renew-" + Guid.NewGuid().ToString("N"));
        try
        {
            var data = Path.Combine(root, "data");
            var folder = new DataDirectory(data);
            var shortLived = DataDirectory.DefaultNodeOptions();
            shortLived.Validity = TimeSpan.FromMinutes(6); // NotBefore is now − 5 min: one minute left of six.
            var (service, node, secret, _) = folder.OpenOrCreate(isPrivate: null, shortLived);
            var oldNodeId = node.NodeId;
            var oldNotAfter = node.Certificate.NotAfter;
            service.Dispose();
            node.Dispose();
            secret.Dispose();

            var (app, ledgers) = await NodeHost.BuildAsync(NodeFixture.Options(data), logging: _ => { });
            var ledger = ledgers.Default!;
            await using (ledgers)
            await using (app)
            {
                await app.StartAsync();
                Assert.Equal(oldNodeId, ledger.Node.NodeId);
                Assert.True(ledger.Node.Certificate.NotAfter > oldNotAfter.AddDays(300), "the node certificate was not renewed");
                using (var onDisk = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(folder.Default.NodeCertificate)))
                {
                    Assert.Equal(ledger.Node.Certificate.RawData, onDisk.RawData);
                }

                X509Certificate2? presented = null;
                using var handler = new SocketsHttpHandler
                {
                    SslOptions = new SslClientAuthenticationOptions
                    {
                        RemoteCertificateValidationCallback = (_, cert, _, _) =>
                        {
                            presented = cert is null ? null : X509CertificateLoader.LoadCertificate(cert.GetRawCertData());
                            return ServiceCertificatePin.Accepts(cert, ledger.Service.Certificate);
                        },
                    },
                };
                using var client = new HttpClient(handler)
                {
                    BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()),
                    Timeout = TimeSpan.FromSeconds(30),
                };
                using var response = await client.GetAsync("/node/health/live");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.NotNull(presented);
                Assert.Equal(ledger.Node.Certificate.RawData, presented!.RawData);
                await app.StopAsync();
            }
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
