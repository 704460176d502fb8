using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Vellum.Core.Identity;
using Vellum.Node.Service;

namespace Vellum.Node.Tests;

/// <summary>A real node: Kestrel on 127.0.0.1 with real TLS, a temp data folder, and clients with certificates.</summary>
public class NodeFixture : IAsyncLifetime
{
    public const string Version = "2022-05-13";

    private readonly List<HttpClient> _clients = [];

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "vellum-node-" + Guid.NewGuid().ToString("N"));

    public WebApplication App { get; private set; } = null!;

    public LedgerService Ledger => Ledgers.Default!;

    /// <summary>Every ledger the node serves (one, <c>default</c>, unless the options name more).</summary>
    public Vellum.Node.Ledgers.LedgerRegistry Ledgers { get; private set; } = null!;

    public Uri Endpoint { get; private set; } = null!;

    public X509Certificate2 AdminCertificate { get; private set; } = null!;

    public HttpClient Admin { get; private set; } = null!;

    public static NodeOptions Options(string data) => new()
    {
        DataDirectory = data,
        Listen = new IPEndPoint(IPAddress.Loopback, 0),
        SignatureDelay = TimeSpan.FromMilliseconds(20),
        LedgerDefaults = new LedgerOptions { MaxCollections = 20, MaxTags = 30 },
    };

    /// <summary>The options this fixture's node starts with.</summary>
    protected virtual NodeOptions CreateOptions(string data) => Options(data);

    public async ValueTask InitializeAsync()
    {
        (App, Ledgers) = await NodeHost.BuildAsync(CreateOptions(Path.Combine(Root, "data")), logging: _ => { });
        await App.StartAsync();

        // A cluster member makes its first Administrator once it is primary, a moment after it starts.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Ledger.Users.Count == 0 || !File.Exists(Path.Combine(Ledger.Data.Credentials, "admin_privk.pem")))
        {
            Assert.True(DateTime.UtcNow < deadline, "the node made no Administrator within 30 s");
            await Task.Delay(20);
        }

        var address = App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Endpoint = new Uri(address);
        var credentials = Ledger.Data.Credentials;
        AdminCertificate = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(credentials, "admin_cert.pem")), File.ReadAllText(Path.Combine(credentials, "admin_privk.pem")));
        Admin = Client(AdminCertificate);
    }

    /// <summary>A new self-signed client certificate (any name), as ACL users make them.</summary>
    public static X509Certificate2 NewUserCertificate(string name = "ACL Client Cert")
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA384);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(30));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>An HTTP/2 client pinned to the service certificate, presenting <paramref name="certificate"/> (or none).</summary>
    public HttpClient Client(X509Certificate2? certificate, Version? httpVersion = null)
    {
        var serviceCertificate = Ledger.Service.Certificate;
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = certificate is null ? null : new X509CertificateCollection { certificate },
                RemoteCertificateValidationCallback = (_, cert, _, _) => Vellum.Core.Identity.ServiceCertificatePin.Accepts(cert, serviceCertificate),
            },
        };
        var client = new HttpClient(handler)
        {
            BaseAddress = Endpoint,
            DefaultRequestVersion = httpVersion ?? HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(30),
        };
        _clients.Add(client);
        return client;
    }

    public static StringContent Json(string json, string mediaType = "application/json") => new(json, Encoding.UTF8, new MediaTypeHeaderValue(mediaType));

    public static async Task<JsonElement> Body(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    public static string Fingerprint(X509Certificate2 certificate) => CertificateFingerprint.Compute(certificate);

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        await App.StopAsync();
        await App.DisposeAsync();
        await Ledgers.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
