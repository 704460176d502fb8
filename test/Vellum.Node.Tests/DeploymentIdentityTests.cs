using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Crypto;
using Vellum.Core.Identity;
using Vellum.Node.Ledgers;
using Vellum.Node.Service;

namespace Vellum.Node.Tests;

/// <summary>
/// A cluster member's deployment identity (<c>node/deployment/</c>): what the node channel presents and trusts, what
/// join tokens are keyed by and a join hands over; adopted from <c>default</c> by a member upgraded without one.
/// </summary>
public sealed class DeploymentIdentityTests(ClusterNodeFixture node) : IClassFixture<ClusterNodeFixture>
{
    [Fact]
    public async Task The_node_channel_presents_a_certificate_of_the_deployment_identity_not_of_a_ledger()
    {
        var data = node.Ledger.Data;
        using var deployment = X509Certificate2.CreateFromPem(File.ReadAllText(data.DeploymentServiceCertificate));
        var presented = await NodeChannelCertificateAsync(node.Ledger.Options.NodeListen!);
        Assert.True(CertificateEndorsement.IsEndorsedBy(presented, deployment), "the node channel's certificate is not endorsed by the deployment identity");
        Assert.False(CertificateEndorsement.IsEndorsedBy(presented, node.Ledger.Service.Certificate), "the node channel's certificate is default's");
        Assert.NotEqual(deployment.Thumbprint, node.Ledger.Service.Certificate.Thumbprint);
        Assert.Equal(node.Ledger.Node.NodeId, NodeIdentity.ComputeNodeId(presented)); // one node key for everything
        Assert.False(node.Ledgers.Identity!.Adopted);
    }

    [Fact]
    public async Task A_join_hands_over_the_deployment_identity_and_takes_only_tokens_keyed_by_its_secret()
    {
        var data = node.Ledger.Data;
        var anonymous = node.Client(null);
        var token = (await NodeFixture.Body(await node.Admin.PostAsync("/node/join-tokens?lifetimeMinutes=5", null))).GetProperty("token").GetString()!;
        var material = await NodeFixture.Body(await anonymous.PostAsync("/node/join", NodeFixture.Json($$"""{"token":"{{token}}"}""")));
        var handed = material.GetProperty("deployment");
        Assert.Equal(File.ReadAllText(data.DeploymentServiceCertificate), handed.GetProperty("serviceCertificate").GetString());
        Assert.Equal(File.ReadAllText(data.DeploymentServicePrivateKey), handed.GetProperty("servicePrivateKey").GetString());
        Assert.Equal(File.ReadAllText(data.DeploymentSecretFile).Trim(), handed.GetProperty("secret").GetString());

        // A token keyed as before the deployment had an identity (by default's ledger secret) is refused.
        using var ledgerSecret = LedgerSecret.Load(data.Default.LedgerSecretFile);
        var old = JoinToken.Issue(ledgerSecret.DeriveKey(JoinToken.KeyPurpose), DateTimeOffset.UtcNow.AddMinutes(5));
        var refused = await anonymous.PostAsync("/node/join", NodeFixture.Json($$"""{"token":"{{old}}"}"""));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.DoesNotContain("PRIVATE KEY", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // One made with the deployment's join key is taken: any member can check it.
        var made = JoinToken.Issue(node.Ledgers.Identity!.JoinKey, DateTimeOffset.UtcNow.AddMinutes(5));
        Assert.Equal(HttpStatusCode.OK, (await anonymous.PostAsync("/node/join", NodeFixture.Json($$"""{"token":"{{made}}"}"""))).StatusCode);
    }

    [Fact]
    public async Task A_ledgers_material_is_given_at_the_deployments_server_name_to_a_certificate_of_the_deployment_only()
    {
        string certificate;
        using (var created = await node.Admin.PutAsync("/node/ledgers/alpha", null))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            certificate = (await NodeFixture.Body(created)).GetProperty("serviceCertificate").GetString()!;
        }

        using (var deleted = await node.Admin.DeleteAsync("/node/ledgers/alpha"))
        {
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        }

        var digest = Vellum.Node.Ledgers.LedgerCreation.DigestOf(certificate);
        var identity = node.Ledgers.Identity!;
        using var member = DeploymentClient(identity.Tls.Certificate, identity.Service.Certificate);
        async Task<(HttpStatusCode Status, System.Text.Json.JsonElement Body)> AskAsync(HttpClient client, string path)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(node.Endpoint, path));
            request.Headers.Host = Vellum.Node.Ledgers.DeploymentIdentity.HostOn(node.Endpoint);
            using var response = await client.SendAsync(request);
            return (response.StatusCode, await NodeFixture.Body(response));
        }

        // Gone, asked by the deleted ledger's digest: with its tombstone, for a member that missed the deletion.
        var (status, body) = await AskAsync(member, $"/node/ledgers/alpha/material?digest={digest}");
        Assert.Equal(HttpStatusCode.Gone, status);
        Assert.Equal("LedgerDeleted", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(digest.ToString(), body.GetProperty("tombstone").GetProperty("serviceCertificateDigest").GetString());
        (status, body) = await AskAsync(member, "/node/ledgers/alpha/material");
        Assert.Equal(HttpStatusCode.Gone, status);
        Assert.False(body.TryGetProperty("tombstone", out _));

        // Made again: the name gives the new ledger's material; the old one stays gone by its digest.
        using (var created = await node.Admin.PutAsync("/node/ledgers/alpha", null))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        (status, body) = await AskAsync(member, "/node/ledgers/alpha/material");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("PRIVATE KEY", body.GetProperty("servicePrivateKey").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Gone, (await AskAsync(member, $"/node/ledgers/alpha/material?digest={digest}")).Status);

        // A node certificate for a ledger, even default's, is not a member's; and nothing but those calls is served there.
        using var asDefault = DeploymentClient(node.Ledger.Tls.Certificate, identity.Service.Certificate);
        (status, body) = await AskAsync(asDefault, "/node/ledgers/alpha/material");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.DoesNotContain("PRIVATE KEY", body.ToString(), StringComparison.Ordinal);
        // Discovery asks /node/network there too: the members as this node knows them.
        (status, body) = await AskAsync(member, "/node/network");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(identity.Node.NodeId, body.GetProperty("nodes")[0].GetProperty("nodeId").GetString());

        (status, body) = await AskAsync(member, $"/app/transactions?api-version={NodeFixture.Version}");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("LedgerNotFound", body.GetProperty("error").GetProperty("code").GetString());

        // The TLS server name and the Host must both be the deployment's (an HTTP client sends its Host as the server
        // name; a raw one need not).
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(node.Endpoint.Host, node.Endpoint.Port);
        await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, server, _, _) =>
            server is X509Certificate2 presented && CertificateEndorsement.IsEndorsedBy(presented, identity.Service.Certificate));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = Vellum.Node.Ledgers.DeploymentIdentity.ServerName, ClientCertificates = [identity.Tls.Certificate],
        });
        await tls.WriteAsync("GET /node/ledgers/alpha/material HTTP/1.1\r\nHost: default.localhost\r\nConnection: close\r\n\r\n"u8.ToArray());
        using var reader = new StreamReader(tls);
        var answer = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.StartsWith("HTTP/1.1 404", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", answer, StringComparison.Ordinal);
    }

    /// <summary>A client that presents <paramref name="certificate"/> and takes a server the deployment identity endorsed.</summary>
    private static HttpClient DeploymentClient(X509Certificate2 certificate, X509Certificate2 deployment) => new(new SocketsHttpHandler
    {
        SslOptions = new SslClientAuthenticationOptions
        {
            ClientCertificates = [certificate],
            RemoteCertificateValidationCallback = (_, server, _, _) =>
                server is X509Certificate2 presented && CertificateEndorsement.IsEndorsedBy(presented, deployment),
        },
    });

    [Fact]
    public async Task A_member_upgraded_without_a_deployment_identity_adopts_defaults_service_key_and_leads_again()
    {
        var root = Path.Combine(Path.GetTempPath(), "vellum-upgrade-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = ClusterNodeFixture.MemberOptions(Path.Combine(root, "data"));
            var data = new Vellum.Storage.DataDirectory(options.DataDirectory);
            await RunAsync(options, async (_, ledgers) =>
            {
                Assert.False(ledgers.Identity!.Adopted);
                await Task.CompletedTask;
            });

            // A folder of the version before deployment identities: the same, without node/deployment/.
            Directory.Delete(data.Deployment, recursive: true);
            await RunAsync(options, async (app, ledgers) =>
            {
                Assert.True(ledgers.Identity!.Adopted);
                Assert.Equal(File.ReadAllText(data.Default.ServiceCertificate), File.ReadAllText(data.DeploymentServiceCertificate));
                var presented = await NodeChannelCertificateAsync(options.NodeListen!);
                Assert.True(CertificateEndorsement.IsEndorsedBy(presented, ledgers.Default!.Service.Certificate));

                // Raft took it: the member leads again and commits a write.
                var deadline = DateTime.UtcNow.AddSeconds(30);
                while (!ledgers.Default!.IsPrimary)
                {
                    Assert.True(DateTime.UtcNow < deadline, "the upgraded member did not lead again within 30 s");
                    await Task.Delay(20);
                }

                var id = await ledgers.Default.AppendEntryAsync("c", "after the upgrade"u8.ToArray(), [], default).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
                Assert.True(id.Seqno > 0);

                // default's key is the deployment's now: deleting default would not destroy it, so it is refused.
                var refused = await Assert.ThrowsAsync<LedgerNotDeletableException>(() => ledgers.DeleteAsync(LedgerName.Default, "tester", default));
                Assert.Contains("adopted", refused.Message, StringComparison.Ordinal);
                Assert.NotNull(ledgers.Default);
            });

            // And it keeps what it adopted.
            await RunAsync(options, async (_, ledgers) =>
            {
                Assert.False(ledgers.Identity!.Adopted);
                Assert.Equal(File.ReadAllText(data.Default.ServiceCertificate), File.ReadAllText(data.DeploymentServiceCertificate));
                await Task.CompletedTask;
            });
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void A_channel_certificate_with_a_third_of_its_lifetime_left_is_renewed_for_the_same_key()
    {
        var root = Path.Combine(Path.GetTempPath(), "vellum-renew-" + Guid.NewGuid().ToString("N"));
        try
        {
            var data = new Vellum.Storage.DataDirectory(root);
            using (data.Lock())
            {
                // Issued 300 days ago for 310: less than a third of its lifetime is left.
                var options = Vellum.Storage.DataDirectory.DefaultNodeOptions();
                options.NotBefore = DateTimeOffset.UtcNow.AddDays(-300);
                options.Validity = TimeSpan.FromDays(310);
                var (service, node, _, _) = data.OpenOrCreateDeployment();
                using (service)
                using (node)
                using (var shortLived = NodeIdentity.CreateForKey(service, File.ReadAllText(data.NodePrivateKey), options))
                {
                    File.WriteAllText(data.DeploymentNodeCertificate, shortLived.ExportCertificatePem());
                }

                using var identity = Vellum.Node.Ledgers.DeploymentIdentity.OpenOrCreate(data, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
                Assert.True(identity.Node.Certificate.NotAfter.ToUniversalTime() > DateTime.UtcNow.AddDays(300), "the channel certificate was not renewed");
                Assert.True(CertificateEndorsement.IsEndorsedBy(identity.Node.Certificate, identity.Service.Certificate));
                Assert.Equal(identity.Node.Certificate.Thumbprint, identity.Tls.Certificate.Thumbprint);
                using var kept = X509Certificate2.CreateFromPem(File.ReadAllText(data.DeploymentNodeCertificate));
                Assert.Equal(identity.Node.Certificate.Thumbprint, kept.Thumbprint);
                Assert.Equal(NodeIdentity.ComputeNodeId(kept), identity.Node.NodeId);
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task RunAsync(NodeOptions options, Func<Microsoft.AspNetCore.Builder.WebApplication, Vellum.Node.Ledgers.LedgerRegistry, Task> test)
    {
        var (app, ledgers) = await NodeHost.BuildAsync(options, logging: _ => { });
        try
        {
            await app.StartAsync();
            await test(app, ledgers);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            await ledgers.DisposeAsync();
        }
    }

    /// <summary>The certificate the node channel at <paramref name="endPoint"/> presents (the handshake may then fail: no client certificate is given).</summary>
    private static async Task<X509Certificate2> NodeChannelCertificateAsync(IPEndPoint endPoint)
    {
        X509Certificate2? presented = null;
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(endPoint);
        await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, server, _, _) =>
        {
            presented = server is null ? null : X509CertificateLoader.LoadCertificate(server.GetRawCertData());
            return presented is not null; // kept for the test to judge
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "vellum-node" }, timeout.Token);
        }
        catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException)
        {
        }

        return presented ?? throw new InvalidOperationException("the node channel presented no certificate");
    }
}
