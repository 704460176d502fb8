using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Vellum.Node.Tests;

/// <summary>
/// Probe hole H1: a client certificate whose AIA "CA Issuers" URL points somewhere must not make the node fetch it
/// during the handshake (blind SSRF, pre-authentication DoS). The URL points at a listener on 127.0.0.1 that counts
/// connections and closes each at once (so a fetch, if made, fails fast instead of stalling the handshake).
/// </summary>
public sealed class AiaFetchTests(NodeFixture node) : IClassFixture<NodeFixture>
{
    [Fact]
    public async Task A_client_certificate_with_an_AIA_url_gets_401_and_the_node_fetches_nothing()
    {
        using var listener = new AiaListener();
        using var leaf = AiaListener.LeafWithAia(listener.Url);
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                // Offline, so that this test process does not fetch the URL itself while sending its certificate.
                ClientCertificateContext = SslStreamCertificateContext.Create(leaf, additionalCertificates: null, offline: true),
                RemoteCertificateValidationCallback = (_, cert, _, _) => Core.Identity.ServiceCertificatePin.Accepts(cert, node.Ledger.Service.Certificate),
            },
        };
        using var client = new HttpClient(handler) { BaseAddress = node.Endpoint, Timeout = TimeSpan.FromSeconds(30) };
        for (var i = 0; i < 3; i++)
        {
            using var response = await client.GetAsync($"/app/transactions/current?api-version={NodeFixture.Version}");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        Assert.False(await listener.WaitForConnectionAsync(TimeSpan.FromSeconds(2)), $"the node fetched {listener.Url}");
    }
}

/// <summary>A TCP listener on 127.0.0.1 standing in for an attacker's AIA server: it counts connections and drops them.</summary>
internal sealed class AiaListener : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();

    public AiaListener()
    {
        _listener.Start();
        Url = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/probe-from-vellum.der");
        _ = AcceptAsync();
    }

    public Uri Url { get; }

    /// <summary>True if anything connected (before now, or within <paramref name="timeout"/>).</summary>
    public async Task<bool> WaitForConnectionAsync(TimeSpan timeout)
    {
        try
        {
            await _connected.Task.WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>
    /// A leaf certificate (with its key) whose issuer, a CA nobody sends or trusts, is only to be found at
    /// <paramref name="caIssuers"/>: the chain is incomplete, so a default chain build goes to fetch it.
    /// </summary>
    public static X509Certificate2 LeafWithAia(Uri caIssuers, string subject = "CN=AIA leaf")
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=AIA Root", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(3));

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509AuthorityInformationAccessExtension(null, [caIssuers.ToString()]));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        var serial = new byte[16];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7F;
        using var issued = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(1), serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                using var socket = await _listener.AcceptSocketAsync(_stop.Token);
                _connected.TrySetResult();
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }
}
