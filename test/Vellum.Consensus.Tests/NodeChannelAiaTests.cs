using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Vellum.Consensus.Tests;

/// <summary>
/// Probe hole H1 on the node channel: a peer presenting a certificate whose AIA "CA Issuers" URL points somewhere is
/// refused, and the node fetches nothing from that URL while refusing it.
/// </summary>
public sealed class NodeChannelAiaTests
{
    [Fact]
    public async Task A_peer_certificate_with_an_AIA_url_is_refused_and_nothing_is_fetched()
    {
        await using var cluster = new RaftTestCluster(1);
        await cluster.StartAsync(0);
        using var aia = new TcpListener(IPAddress.Loopback, 0);
        aia.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)aia.LocalEndpoint).Port}/int.der";
        var fetched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = AcceptAllAsync(aia, fetched);
        using var leaf = LeafWithAia(url);

        // Offline, so that this process does not fetch the URL itself while sending the certificate.
        var context = SslStreamCertificateContext.Create(leaf, additionalCertificates: null, offline: true);
        for (var i = 0; i < 2; i++)
        {
            Assert.True(await IsRefusedAsync(cluster, context), "the node channel accepted a certificate the service did not endorse");
        }

        var first = await Task.WhenAny(fetched.Task, Task.Delay(TimeSpan.FromSeconds(2)));
        Assert.True(first != fetched.Task, $"the node fetched {url} while refusing the peer");
        Assert.True(cluster.Logs.Contains(3002), "the refusal was not logged as PeerRejected");
    }

    [Fact]
    public async Task An_expired_node_certificate_endorsed_by_the_service_key_is_refused()
    {
        await using var cluster = new RaftTestCluster(1);
        await cluster.StartAsync(0);
        var start = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);
        using var expired = Core.Identity.NodeIdentity.Create(cluster.Service, new Core.Identity.NodeIdentityOptions { NotBefore = start, Validity = TimeSpan.FromDays(31) });
        using var tls = expired.CreateTlsCertificate();
        var context = SslStreamCertificateContext.Create(tls, additionalCertificates: null, offline: true);

        // The node drops a handshake that takes longer than its connect timeout (a quarter of a second here) before it
        // looks at the certificate; on a loaded machine the client can be that slow, so a few attempts are allowed for
        // the certificate to be looked at. Every attempt must be refused.
        for (var attempt = 0; attempt < 3 && !cluster.Logs.Contains(3002); attempt++)
        {
            Assert.True(await IsRefusedAsync(cluster, context), "the node channel accepted an expired node certificate");
        }

        Assert.True(cluster.Logs.Contains(3002), "the refusal was not logged as PeerRejected");
    }

    /// <summary>
    /// One handshake with node 0's channel presenting <paramref name="context"/>: true when the node refuses it. TLS 1.3
    /// finishes the client's side before the server has judged the client's certificate, so a refusal may show only as
    /// the connection closing.
    /// </summary>
    private static async Task<bool> IsRefusedAsync(RaftTestCluster cluster, SslStreamCertificateContext context)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(cluster.EndPoints[0]).WaitAsync(RaftTestCluster.Timeout);
        await using var ssl = new SslStream(tcp.GetStream());
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "vellum-node",
                ClientCertificateContext = context,
                RemoteCertificateValidationCallback = (_, c, _, _) => Core.Identity.CertificateEndorsement.IsEndorsedBy(c as X509Certificate2, cluster.Service.Certificate),
            }).WaitAsync(RaftTestCluster.Timeout);
            return await ssl.ReadAsync(new byte[1]).AsTask().WaitAsync(RaftTestCluster.Timeout) == 0;
        }
        catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException or SocketException)
        {
            return true;
        }
    }

    /// <summary>Counts as a fetch any connection, and drops each at once so that a fetch fails fast rather than stalls.</summary>
    private static async Task AcceptAllAsync(TcpListener listener, TaskCompletionSource fetched)
    {
        try
        {
            while (true)
            {
                using var socket = await listener.AcceptSocketAsync();
                fetched.TrySetResult();
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    private static X509Certificate2 LeafWithAia(string caIssuers)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=AIA Root", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(3));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=AIA peer", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509AuthorityInformationAccessExtension(null, [caIssuers]));
        using var issued = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(1), [0x41, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]);
        using var withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }
}
