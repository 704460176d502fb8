using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Identity;

namespace Vellum.Node.Tests;

/// <summary>
/// Probe hole H7: certificates outside their validity period stop working — a registered user's (by default) and a
/// node certificate the service key endorsed (always: ledger frames and <c>x-vellum-forwarded-user</c>).
/// </summary>
public sealed class CertificateValidityTests(NodeFixture node) : IClassFixture<NodeFixture>
{
    private const string V = NodeFixture.Version;
    private static readonly DateTimeOffset Start2020 = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task An_expired_registered_user_certificate_gets_401()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var made = new CertificateRequest("CN=Expired user", key, HashAlgorithmName.SHA256).CreateSelfSigned(Start2020, Start2020.AddMonths(1));
        using var expired = X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pkcs12), null);
        using (var response = await node.Admin.PatchAsync(
            $"/app/users/{NodeFixture.Fingerprint(expired)}?api-version={V}", NodeFixture.Json("""{"assignedRole":"Reader"}""", "application/merge-patch+json")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using var read = await node.Client(expired).GetAsync($"/app/transactions/current?api-version={V}");
        Assert.Equal(HttpStatusCode.Unauthorized, read.StatusCode);
        Assert.Equal("InvalidAuthenticationInfo", (await NodeFixture.Body(read)).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task An_expired_node_certificate_endorsed_by_the_service_key_has_no_node_powers()
    {
        using var expiredNode = NodeIdentity.Create(node.Ledger.Service, new NodeIdentityOptions { NotBefore = Start2020, Validity = TimeSpan.FromDays(31) });
        using var tls = expiredNode.CreateTlsCertificate();
        var client = node.Client(tls);

        using (var frames = await client.GetAsync("/node/ledger/frames?from=1"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, frames.StatusCode);
        }

        var before = node.Ledger.LastSeqno;
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/app/transactions?collectionId=expired-node&api-version={V}")
        {
            Content = NodeFixture.Json("""{"contents":"from an expired node certificate"}"""),
        };
        request.Headers.Add("x-vellum-forwarded-user", NodeFixture.Fingerprint(node.AdminCertificate));
        using var forwarded = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, forwarded.StatusCode);
        Assert.Equal("ForwardedUserNotAllowed", (await NodeFixture.Body(forwarded)).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(before, node.Ledger.LastSeqno);

        // The node's own, current certificate still has them.
        using var current = node.Ledger.Node.CreateTlsCertificate();
        using var ok = await node.Client(current).GetAsync("/node/ledger/frames?from=1");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }
}

/// <summary>
/// <see cref="NodeOptions.CheckUserCertificateValidity"/> off (CCF's behaviour: user certificates are trusted by
/// fingerprint whatever their dates): an expired registered user certificate is served.
/// </summary>
public sealed class UncheckedUserValidityTests(UncheckedUserValidityTests.Fixture node) : IClassFixture<UncheckedUserValidityTests.Fixture>
{
    [Fact]
    public async Task An_expired_registered_user_certificate_is_served_when_validity_is_not_checked()
    {
        var start = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var made = new CertificateRequest("CN=Expired user", key, HashAlgorithmName.SHA256).CreateSelfSigned(start, start.AddMonths(1));
        using var expired = X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pkcs12), null);
        using (var response = await node.Admin.PatchAsync(
            $"/app/users/{NodeFixture.Fingerprint(expired)}?api-version={NodeFixture.Version}", NodeFixture.Json("""{"assignedRole":"Reader"}""", "application/merge-patch+json")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using var read = await node.Client(expired).GetAsync($"/app/collections?api-version={NodeFixture.Version}");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    public sealed class Fixture : NodeFixture
    {
        protected override NodeOptions CreateOptions(string data) => new()
        {
            DataDirectory = data,
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            SignatureDelay = TimeSpan.FromMilliseconds(20),
            CheckUserCertificateValidity = false,
        };
    }
}
