using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Vellum.Core.Identity;
using Vellum.Node.Ledgers;

namespace Vellum.Node.Tests;

/// <summary>
/// The deployment is not the ledger <c>default</c>: its operators manage its ledgers and members on requests that name
/// no ledger, <c>default</c> is deleted like any other ledger, and a node serves on without it (a request naming no
/// ledger then gets the deployment's certificate and 404 for a ledger's calls).
/// </summary>
public sealed class DeploymentWithoutDefaultTests
{
    private const string V = "api-version=2022-05-13";

    [Fact]
    public async Task A_single_node_deletes_default_and_its_operators_go_on_managing_ledgers_without_it()
    {
        var node = new NodeFixture();
        await node.InitializeAsync();
        await using var stop = node;
        using (var created = await node.Admin.PutAsync("/node/ledgers/alpha", null))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        // A ledger's Administrator who is not an operator manages no ledger of the deployment, default's neither.
        using var ledgerAdmin = NodeFixture.NewUserCertificate("default's administrator");
        using (var added = await node.Admin.PatchAsync($"/app/users/{NodeFixture.Fingerprint(ledgerAdmin)}?{V}", NodeFixture.Json("""{"assignedRole":"Administrator"}""", "application/merge-patch+json")))
        {
            Assert.True(added.IsSuccessStatusCode, await added.Content.ReadAsStringAsync());
        }

        await AssertError(await node.Client(ledgerAdmin).DeleteAsync("/node/ledgers/default"), HttpStatusCode.Forbidden, "NotAllowed");
        using (var deleted = await node.Admin.DeleteAsync("/node/ledgers/default"))
        {
            Assert.True(deleted.StatusCode == HttpStatusCode.OK, await deleted.Content.ReadAsStringAsync());
            Assert.Equal("default", (await NodeFixture.Body(deleted)).GetProperty("name").GetString());
        }

        Assert.Null(node.Ledgers.Default);
        Assert.False(Directory.Exists(Path.Combine(node.Root, "data", "ledgers", "default")));

        // A connection naming no ledger now gets the deployment's certificate, from the development CA.
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(node.Root, "data", "credentials", "deployment_ca_cert.pem")));
        using var operatorClient = DeploymentClient(node.Endpoint, ca, node.AdminCertificate);
        using (var list = await operatorClient.GetAsync("/node/ledgers"))
        {
            var body = await NodeFixture.Body(list);
            Assert.Equal(["alpha"], body.GetProperty("ledgers").EnumerateArray().Select(l => l.GetProperty("name").GetString()));
            Assert.Contains(body.GetProperty("deleted").EnumerateArray(), t => t.GetProperty("name").GetString() == "default");
        }

        await AssertError(await operatorClient.GetAsync($"/app/transactions?{V}"), HttpStatusCode.NotFound, "LedgerNotFound");
        using (var write = await operatorClient.PostAsync($"/ledgers/alpha/app/transactions?{V}", NodeFixture.Json("""{"contents":"without default"}""")))
        {
            Assert.True(write.StatusCode == HttpStatusCode.OK, await write.Content.ReadAsStringAsync());
        }

        using (var network = await operatorClient.GetAsync("/node/network"))
        {
            var body = await NodeFixture.Body(network);
            Assert.Equal("Primary", body.GetProperty("role").GetString());
            Assert.False(body.TryGetProperty("committedSeqno", out _)); // no ledger's progress to report
        }

        Assert.Equal(HttpStatusCode.OK, (await operatorClient.GetAsync("/node/health/ready")).StatusCode);
        await AssertError(await operatorClient.PostAsync("/node/join-tokens", null), HttpStatusCode.BadRequest, "NotACluster");

        // default can be made again, as any deleted name.
        using (var again = await operatorClient.PutAsync("/node/ledgers/default", null))
        {
            Assert.Equal(HttpStatusCode.Created, again.StatusCode);
        }

        Assert.NotNull(node.Ledgers.Default);
    }

    [Fact]
    public async Task A_folder_whose_ledgers_were_deleted_is_not_given_default_again_at_restart()
    {
        var root = Directory.CreateTempSubdirectory("vellum-nodefault-").FullName;
        try
        {
            var options = NodeFixture.Options(root);
            await using (var registry = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
            {
                await registry.CreateAsync(new LedgerSpec(LedgerName.Parse("alpha"), null), default).WaitAsync(TimeSpan.FromSeconds(30));
                await registry.DeleteAsync(LedgerName.Default, "tester", default).WaitAsync(TimeSpan.FromSeconds(30));
            }

            await using (var registry = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
            {
                Assert.Null(registry.Default);
                Assert.Equal(["alpha"], registry.All.Select(l => l.Name.Value));
                await registry.DeleteAsync(LedgerName.Parse("alpha"), "tester", default).WaitAsync(TimeSpan.FromSeconds(30));
                Assert.Empty(registry.All);
                Assert.Null(registry.Fallback);
            }

            // Every ledger gone: the node serves none (what a new folder would get, default, is not made again).
            await using (var registry = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
            {
                Assert.Empty(registry.All);
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_cluster_member_deletes_default_and_its_operators_still_issue_join_tokens_as_the_deployment()
    {
        var node = new ClusterNodeFixture();
        await node.InitializeAsync();
        await using var stop = node;
        using (var created = await node.Admin.PutAsync("/node/ledgers/alpha", null))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        // A new cluster's identity is a key of its own, so default goes like any ledger (its tombstone is the answer).
        using (var deleted = await node.Admin.DeleteAsync("/node/ledgers/default"))
        {
            Assert.True(deleted.StatusCode == HttpStatusCode.OK, await deleted.Content.ReadAsStringAsync());
        }

        Assert.Null(node.Ledgers.Default);
        var identity = node.Ledgers.Identity!;
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(node.Root, "data", "credentials", "deployment_ca_cert.pem")));
        using var operatorClient = DeploymentClient(node.Endpoint, ca, node.AdminCertificate);
        string token;
        using (var issued = await operatorClient.PostAsync("/node/join-tokens?lifetimeMinutes=5", null))
        {
            Assert.True(issued.StatusCode == HttpStatusCode.OK, await issued.Content.ReadAsStringAsync());
            token = (await NodeFixture.Body(issued)).GetProperty("token").GetString()!;
        }

        // A joining node asks as the deployment and pins the deployment's certificate: it gets the deployment and alpha.
        using (var joiner = AsDeployment(node.Endpoint, identity.Service.Certificate))
        using (var join = await joiner.PostAsync("/node/join", NodeFixture.Json($$"""{"token":"{{token}}"}""")))
        {
            var body = await NodeFixture.Body(join);
            Assert.True(join.StatusCode == HttpStatusCode.OK, body.ToString());
            Assert.Equal(identity.Service.ExportCertificatePem().Trim(), body.GetProperty("deployment").GetProperty("serviceCertificate").GetString()!.Trim());
            Assert.Equal(["alpha"], body.GetProperty("ledgers").EnumerateArray().Select(l => l.GetProperty("name").GetString()));
            Assert.False(body.TryGetProperty("serviceCertificate", out _)); // no ledger stands for the deployment
            Assert.Equal(File.ReadAllText(Path.Combine(node.Root, "data", "credentials", "admin_cert.pem")), body.GetProperty("developmentAdministrator").GetString());
        }

        using (var network = await operatorClient.GetAsync("/node/network"))
        {
            var body = await NodeFixture.Body(network);
            Assert.Equal("Primary", body.GetProperty("role").GetString());
            Assert.Equal(identity.Node.NodeId, body.GetProperty("nodes")[0].GetProperty("nodeId").GetString());
            Assert.True(body.GetProperty("consensusCommitIndex").GetInt64() > 0);
        }

        // Membership named through a ledger is refused, and a ledger's data plane works on.
        await AssertError(await operatorClient.PostAsync("/ledgers/alpha/node/join-tokens", null), HttpStatusCode.Forbidden, "MembershipNotManagedHere");
        using (var write = await operatorClient.PostAsync($"/ledgers/alpha/app/transactions?{V}", NodeFixture.Json("""{"contents":"member without default"}""")))
        {
            Assert.True(write.StatusCode == HttpStatusCode.OK, await write.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Named_operators_replace_the_administrators_and_a_reader_only_lists()
    {
        var node = new OperatorsFixture();
        await node.InitializeAsync();
        await using var stop = node;
        using var owner = node.Client(node.Owner);
        using var reader = node.Client(node.Reader);

        // The development Administrator administers default but is no operator once operators are named.
        await AssertError(await node.Admin.PutAsync("/node/ledgers/alpha", null), HttpStatusCode.Forbidden, "NotAllowed");
        await AssertError(await reader.PutAsync("/node/ledgers/alpha", null), HttpStatusCode.Forbidden, "NotAllowed");
        await AssertError(await reader.DeleteAsync("/node/ledgers/default"), HttpStatusCode.Forbidden, "NotAllowed");
        using (var list = await reader.GetAsync("/node/ledgers"))
        {
            Assert.True(list.StatusCode == HttpStatusCode.OK, await list.Content.ReadAsStringAsync());
        }

        using (var created = await owner.PutAsync("/node/ledgers/alpha", null))
        {
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        }

        Assert.True(node.Ledgers.TryGet("alpha", out _));

        // An operator named by a caller that is no member is refused before anything else.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/node/ledgers");
        request.Headers.Add("x-vellum-operator", "e30");
        await AssertError(await owner.SendAsync(request), HttpStatusCode.Forbidden, "NotAllowed");
    }

    /// <summary>A single node with an Owner and a Reader named as operators (certificates in files).</summary>
    private sealed class OperatorsFixture : NodeFixture
    {
        public X509Certificate2 Owner { get; } = NewUserCertificate("owner");

        public X509Certificate2 Reader { get; } = NewUserCertificate("reader");

        protected override NodeOptions CreateOptions(string data)
        {
            Directory.CreateDirectory(Root);
            var ownerFile = Path.Combine(Root, "owner.pem");
            var readerFile = Path.Combine(Root, "reader.pem");
            File.WriteAllText(ownerFile, Owner.ExportCertificatePem());
            File.WriteAllText(readerFile, Reader.ExportCertificatePem());
            var options = Options(data);
            return new NodeOptions
            {
                DataDirectory = options.DataDirectory, Listen = options.Listen, SignatureDelay = options.SignatureDelay,
                Management = new Vellum.Node.Management.ManagementOptions
                {
                    Operators =
                    [
                        new Vellum.Node.Management.OperatorSpec(ownerFile, true, Vellum.Node.Management.OperatorRole.Owner),
                        new Vellum.Node.Management.OperatorSpec(readerFile, true, Vellum.Node.Management.OperatorRole.Reader),
                    ],
                },
            };
        }
    }

    /// <summary>A client naming no ledger, trusting the deployment certificate's issuer <paramref name="ca"/>, presenting <paramref name="certificate"/>.</summary>
    private static HttpClient DeploymentClient(Uri endpoint, X509Certificate2 ca, X509Certificate2 certificate)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [certificate],
                RemoteCertificateValidationCallback = (_, presented, _, _) => presented is X509Certificate2 c && CertificateEndorsement.IsEndorsedBy(c, ca),
            },
        };
        return new HttpClient(handler) { BaseAddress = endpoint, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>What <c>vellum join</c> uses: TLS server name and Host the deployment's, the certificate endorsed by <paramref name="deployment"/>.</summary>
    private static HttpClient AsDeployment(Uri endpoint, X509Certificate2 deployment)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                TargetHost = DeploymentIdentity.ServerName,
                RemoteCertificateValidationCallback = (_, presented, _, _) => presented is X509Certificate2 c && CertificateEndorsement.IsEndorsedBy(c, deployment),
            },
        };
        var client = new HttpClient(handler) { BaseAddress = endpoint, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Host = $"{DeploymentIdentity.ServerName}:{endpoint.Port}";
        return client;
    }

    private static async Task AssertError(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"{(int)response.StatusCode} {text}");
            Assert.Equal(code, JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("code").GetString());
        }
    }
}
