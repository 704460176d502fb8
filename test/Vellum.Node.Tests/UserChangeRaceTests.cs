using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Vellum.Node.Tests;

/// <summary>
/// Probe hole H6: a caller's roles are checked again where its change is serialized (user changes) or sequenced
/// (entries), so nothing a removed or demoted user sent commits after its removal. Deterministic: each request is
/// sent with <c>Expect: 100-continue</c>, so its body leaves only once the node has checked the caller's roles and
/// started reading the body; the removal is made then, and only then are the bodies sent.
/// </summary>
public sealed class UserChangeRaceTests(NodeFixture node) : IClassFixture<NodeFixture>, IDisposable
{
    private const string V = NodeFixture.Version;
    private readonly List<HttpClient> _clients = [];

    [Fact]
    public async Task Changes_from_an_Administrator_removed_while_they_waited_are_refused_and_write_nothing()
    {
        var admin2 = NodeFixture.NewUserCertificate("Administrator being removed");
        await SetRoleAsync(NodeFixture.Fingerprint(admin2), "Administrator");
        var client = HeldClient(admin2);
        var grants = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid().ToString("D")).ToArray();
        var bodies = grants.Select(_ => new HeldContent("""{"assignedRole":"Administrator"}""", "application/merge-patch+json")).ToArray();
        var sent = grants.Select((g, i) => client.PatchAsync($"/app/users/{g}?api-version={V}", bodies[i])).ToArray();
        await Task.WhenAll(bodies.Select(b => b.Asked.Task)).WaitAsync(TimeSpan.FromSeconds(30));

        // Every request is past its role check; now admin2 is removed.
        Assert.Equal(HttpStatusCode.NoContent, (await node.Admin.DeleteAsync($"/app/users/{NodeFixture.Fingerprint(admin2)}?api-version={V}")).StatusCode);
        var afterRemoval = node.Ledger.LastSeqno;
        foreach (var body in bodies)
        {
            body.Release.SetResult();
        }

        foreach (var response in await Task.WhenAll(sent).WaitAsync(TimeSpan.FromSeconds(30)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("InvalidAuthenticationInfo", (await NodeFixture.Body(response)).GetProperty("error").GetProperty("code").GetString());
        }

        // Nothing was sequenced after the removal (a signature may follow it; no user change does).
        await Task.Delay(200);
        for (var seqno = afterRemoval + 1; seqno <= node.Ledger.LastSeqno; seqno++)
        {
            var text = Encoding.UTF8.GetString(node.Ledger.Store.ReadBody(seqno));
            Assert.All(grants, g => Assert.DoesNotContain(g, text, StringComparison.OrdinalIgnoreCase));
        }

        Assert.All(grants, g => Assert.Empty(node.Ledger.Users.RolesOf(g)));
    }

    [Fact]
    public async Task Entries_from_a_Contributor_demoted_while_they_waited_are_refused_and_write_nothing()
    {
        var contributor = NodeFixture.NewUserCertificate("Contributor being demoted");
        await SetRoleAsync(NodeFixture.Fingerprint(contributor), "Contributor");
        var client = HeldClient(contributor);
        var bodies = Enumerable.Range(0, 5).Select(i => new HeldContent($$"""{"contents":"after demotion {{i}}"}""", "application/json")).ToArray();
        var sent = bodies.Select(b => client.PostAsync($"/app/transactions?collectionId=demoted&api-version={V}", b)).ToArray();
        await Task.WhenAll(bodies.Select(b => b.Asked.Task)).WaitAsync(TimeSpan.FromSeconds(30));

        await SetRoleAsync(NodeFixture.Fingerprint(contributor), "Reader");
        var afterDemotion = node.Ledger.LastSeqno;
        foreach (var body in bodies)
        {
            body.Release.SetResult();
        }

        foreach (var response in await Task.WhenAll(sent).WaitAsync(TimeSpan.FromSeconds(30)))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("NotAllowed", (await NodeFixture.Body(response)).GetProperty("error").GetProperty("code").GetString());
        }

        // Nothing was sequenced after the demotion (a signature may follow it; no entry does).
        await Task.Delay(200);
        for (var seqno = afterDemotion + 1; seqno <= node.Ledger.LastSeqno; seqno++)
        {
            Assert.DoesNotContain("after demotion", Encoding.UTF8.GetString(node.Ledger.Store.ReadBody(seqno)));
        }
    }

    private async Task SetRoleAsync(string userId, string role)
    {
        using var response = await node.Admin.PatchAsync(
            $"/app/users/{userId}?api-version={V}", NodeFixture.Json($$"""{"assignedRole":"{{role}}"}""", "application/merge-patch+json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>HTTP/1.1 with Expect: 100-continue, waiting for the node's 100 however long it takes.</summary>
    private HttpClient HeldClient(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate)
    {
        var service = node.Ledger.Service.Certificate;
        var handler = new SocketsHttpHandler
        {
            Expect100ContinueTimeout = TimeSpan.FromSeconds(30),
            SslOptions = new System.Net.Security.SslClientAuthenticationOptions
            {
                ClientCertificates = [certificate],
                RemoteCertificateValidationCallback = (_, cert, _, _) => Core.Identity.ServiceCertificatePin.Accepts(cert, service),
            },
        };
        var client = new HttpClient(handler) { BaseAddress = node.Endpoint, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.ExpectContinue = true;
        _clients.Add(client);
        return client;
    }

    public void Dispose()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }
    }

    /// <summary>A body that is asked for only once the node sends 100 Continue (it started reading), and sent when released.</summary>
    private sealed class HeldContent : HttpContent
    {
        private readonly byte[] _bytes;

        public HeldContent(string json, string mediaType)
        {
            _bytes = Encoding.UTF8.GetBytes(json);
            Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        }

        public TaskCompletionSource Asked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            Asked.TrySetResult();
            await Release.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await stream.WriteAsync(_bytes);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _bytes.Length;
            return true;
        }
    }
}
