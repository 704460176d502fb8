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
/// and serves clients with the new one.
/// </summary>
public sealed class NodeCertificateRenewalTests
{
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

            var (app, ledger) = await NodeHost.BuildAsync(NodeFixture.Options(data), logging: _ => { });
            await using (ledger)
            await using (app)
            {
                await app.StartAsync();
                Assert.Equal(oldNodeId, ledger.Node.NodeId);
                Assert.True(ledger.Node.Certificate.NotAfter > oldNotAfter.AddDays(300), "the node certificate was not renewed");
                using (var onDisk = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(folder.NodeCertificate)))
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
