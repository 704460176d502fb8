using System.Net;
using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Identity;

namespace Vellum.Node.Tests;

/// <summary>
/// The primary's half of a forwarded write: <c>x-vellum-forwarded-user</c> names the caller only when the TLS client
/// certificate is a node certificate the service identity endorsed; from anyone else it is refused and writes nothing.
/// </summary>
public sealed class ForwardedUserTests(NodeFixture node) : IClassFixture<NodeFixture>
{
    private const string V = NodeFixture.Version;
    private const string Header = "x-vellum-forwarded-user";

    [Fact]
    public async Task A_user_certificate_naming_another_user_is_refused_and_writes_nothing()
    {
        var user = NodeFixture.NewUserCertificate("Would-be impersonator");
        Assert.Equal(HttpStatusCode.OK, (await node.Admin.PatchAsync(
            $"/app/users/{NodeFixture.Fingerprint(user)}?api-version={V}", NodeFixture.Json("""{"assignedRole":"Reader"}""", "application/merge-patch+json"))).StatusCode);
        var client = node.Client(user);
        var before = await SettledSeqnoAsync();

        // Naming the Administrator, even its own fingerprint, and on a path that needs no identity: 403 every time.
        foreach (var named in new[] { NodeFixture.Fingerprint(node.AdminCertificate), NodeFixture.Fingerprint(user) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/app/transactions?collectionId=forged&api-version={V}") { Content = NodeFixture.Json("""{"contents":"forged"}""") };
            request.Headers.Add(Header, named);
            await AssertError(await client.SendAsync(request), HttpStatusCode.Forbidden, "ForwardedUserNotAllowed");
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, "/node/network"))
        {
            request.Headers.Add(Header, NodeFixture.Fingerprint(node.AdminCertificate));
            await AssertError(await client.SendAsync(request), HttpStatusCode.Forbidden, "ForwardedUserNotAllowed");
        }

        // Without a client certificate, and with an Administrator's own certificate, the same.
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"/app/transactions?api-version={V}") { Content = NodeFixture.Json("""{"contents":"forged"}""") })
        {
            request.Headers.Add(Header, NodeFixture.Fingerprint(node.AdminCertificate));
            await AssertError(await node.Client(null).SendAsync(request), HttpStatusCode.Forbidden, "ForwardedUserNotAllowed");
        }

        using (var request = new HttpRequestMessage(HttpMethod.Post, $"/app/transactions?api-version={V}") { Content = NodeFixture.Json("""{"contents":"forged"}""") })
        {
            request.Headers.Add(Header, NodeFixture.Fingerprint(user));
            await AssertError(await node.Admin.SendAsync(request), HttpStatusCode.Forbidden, "ForwardedUserNotAllowed");
        }

        Assert.Equal(before, node.Ledger.LastSeqno);
        Assert.DoesNotContain("forged", node.Ledger.Collections());
    }

    [Fact]
    public async Task A_node_certificate_of_another_service_is_not_a_member_and_is_refused()
    {
        using var otherService = ServiceIdentity.Create();
        using var otherNode = NodeIdentity.Create(otherService);
        var client = node.Client(WithKey(otherNode));
        var before = await SettledSeqnoAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/app/transactions?api-version={V}") { Content = NodeFixture.Json("""{"contents":"forged"}""") };
        request.Headers.Add(Header, NodeFixture.Fingerprint(node.AdminCertificate));
        await AssertError(await client.SendAsync(request), HttpStatusCode.Forbidden, "ForwardedUserNotAllowed");
        Assert.Equal(before, node.Ledger.LastSeqno);
    }

    [Fact]
    public async Task An_endorsed_node_certificate_acts_as_the_named_user_with_that_users_roles()
    {
        var member = node.Client(WithKey(node.Ledger.Node));
        var reader = NodeFixture.NewUserCertificate("Forwarded reader");
        Assert.Equal(HttpStatusCode.OK, (await node.Admin.PatchAsync(
            $"/app/users/{NodeFixture.Fingerprint(reader)}?api-version={V}", NodeFixture.Json("""{"assignedRole":"Reader"}""", "application/merge-patch+json"))).StatusCode);

        // As the Administrator: written, with the transaction id header as any write.
        using (var request = Forwarded(HttpMethod.Post, $"/app/transactions?collectionId=forwarded&api-version={V}", NodeFixture.Fingerprint(node.AdminCertificate), """{"contents":"via a member"}"""))
        {
            var response = await member.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var id = Assert.Single(response.Headers.GetValues("x-ms-ccf-transaction-id"));
            var entry = await NodeFixture.Body(await node.Admin.GetAsync($"/app/transactions/{id}?api-version={V}"));
            Assert.Equal("via a member", entry.GetProperty("entry").GetProperty("contents").GetString());
        }

        // As a Reader: the named user's roles apply, not the node's.
        var before = await SettledSeqnoAsync();
        using (var request = Forwarded(HttpMethod.Post, $"/app/transactions?api-version={V}", NodeFixture.Fingerprint(reader), """{"contents":"reader may not"}"""))
        {
            await AssertError(await member.SendAsync(request), HttpStatusCode.Forbidden, "NotAllowed");
        }

        // An unknown user, or a value that is no fingerprint: 401.
        using (var request = Forwarded(HttpMethod.Post, $"/app/transactions?api-version={V}", new string('A', 64), """{"contents":"nobody"}"""))
        {
            await AssertError(await member.SendAsync(request), HttpStatusCode.Unauthorized, "InvalidAuthenticationInfo");
        }

        using (var request = Forwarded(HttpMethod.Post, $"/app/transactions?api-version={V}", "someone", """{"contents":"nobody"}"""))
        {
            await AssertError(await member.SendAsync(request), HttpStatusCode.Unauthorized, "InvalidAuthenticationInfo");
        }

        // The node certificate without the header is nobody: node certificates are not users.
        await AssertError(await member.PostAsync($"/app/transactions?api-version={V}", NodeFixture.Json("""{"contents":"as the node"}""")),
            HttpStatusCode.Unauthorized, "InvalidAuthenticationInfo");
        Assert.Equal(before, node.Ledger.LastSeqno);
    }

    [Fact]
    public void Options_default_to_forwarding_with_a_30_second_timeout_and_check_their_values()
    {
        var options = new NodeOptions { DataDirectory = "unused" };
        Assert.Equal(BackupWrites.Forward, options.BackupWrites);
        Assert.Equal(TimeSpan.FromSeconds(30), options.ForwardTimeout);
        Assert.Throws<ArgumentException>(() => new NodeOptions { DataDirectory = "unused", BackupWrites = (BackupWrites)7 }.Validate());
        Assert.Throws<ArgumentException>(() => new NodeOptions { DataDirectory = "unused", ForwardTimeout = TimeSpan.Zero }.Validate());
    }

    [Fact]
    public void Snapshot_and_catch_up_options_default_to_the_documented_values_and_check_them()
    {
        var options = new NodeOptions { DataDirectory = "unused" };
        Assert.Equal(10_000, options.SnapshotInterval);
        Assert.Equal(TimeSpan.FromMinutes(5), options.CatchUpTimeout);
        new NodeOptions { DataDirectory = "unused", SnapshotInterval = 0 }.Validate();
        Assert.Equal("SnapshotInterval", Assert.Throws<ArgumentException>(() => new NodeOptions { DataDirectory = "unused", SnapshotInterval = -1 }.Validate()).ParamName);
        Assert.Equal("CatchUpTimeout", Assert.Throws<ArgumentException>(() => new NodeOptions { DataDirectory = "unused", CatchUpTimeout = TimeSpan.Zero }.Validate()).ParamName);
    }

    /// <summary>The last seqno once nothing is pending (the single node signs 20 ms after a write).</summary>
    private async Task<long> SettledSeqnoAsync()
    {
        var ledger = node.Ledger;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var last = ledger.LastSeqno;
            await ledger.Sequencer.WaitForCommitAsync(last).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            await Task.Delay(100);
            if (ledger.LastSeqno == last)
            {
                return last;
            }

            Assert.True(DateTime.UtcNow < deadline, "the ledger did not settle within 10 s");
        }
    }

    private static HttpRequestMessage Forwarded(HttpMethod method, string path, string user, string json)
    {
        var request = new HttpRequestMessage(method, path) { Content = NodeFixture.Json(json) };
        request.Headers.Add(Header, user);
        return request;
    }

    private static X509Certificate2 WithKey(NodeIdentity identity)
    {
        using var pem = X509Certificate2.CreateFromPem(identity.ExportCertificatePem(), identity.ExportPrivateKeyPem());
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    private static async Task AssertError(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await NodeFixture.Body(response);
        Assert.True(status == response.StatusCode, $"{(int)response.StatusCode}: {body}");
        Assert.Equal(code, body.GetProperty("error").GetProperty("code").GetString());
    }
}
