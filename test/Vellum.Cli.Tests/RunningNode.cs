using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Vellum.Cli.Tests;

/// <summary>A <c>vellum start</c> process and what it printed before it was ready.</summary>
internal sealed class RunningNode : IDisposable
{
    private readonly Process _process;

    private RunningNode(Process process, string banner, Uri endpoint, string data)
    {
        _process = process;
        Banner = banner;
        Endpoint = endpoint;
        Data = data;
        // The ledger a connection naming none gets: default, else the first by name.
        var ledgers = Path.Combine(data, "ledgers");
        var fallback = Directory.Exists(Path.Combine(ledgers, "default")) ? "default" : Directory.GetDirectories(ledgers).Select(Path.GetFileName).Order(StringComparer.Ordinal).First()!;
        ServiceCertificate = LedgerServiceCertificate(data, fallback);
    }

    public string Banner { get; }

    public Uri Endpoint { get; }

    public string Data { get; }

    public X509Certificate2 ServiceCertificate { get; }

    /// <summary>The process id (what the data folder's lock file names).</summary>
    public int ProcessId => _process.Id;

    public static Task<RunningNode> Start(string data, params string[] extra) => Start(umask: null, data, ["--listen", "127.0.0.1:0", .. extra]);

    /// <summary>Starts under <paramref name="umask"/> (through <c>sh</c>) when given, else the test host's.</summary>
    public static Task<RunningNode> Start(string? umask, string data, string[] extra) => StartWith(["start", "--data", data, .. extra], data, umask);

    /// <summary>
    /// Runs <c>vellum</c> with exactly <paramref name="args"/> (and <paramref name="environment"/> added to the test
    /// host's, in <paramref name="workingDirectory"/> when given) until its banner ends; <paramref name="data"/> is the
    /// folder the node is expected to use.
    /// </summary>
    public static async Task<RunningNode> StartWith(
        string[] args, string data, string? umask = null, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var start = StartInfo(args, umask, environment);
        if (workingDirectory is not null)
        {
            start.WorkingDirectory = workingDirectory;
        }

        var process = Process.Start(start)!;
        var banner = new StringBuilder();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        Uri? endpoint = null;
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            banner.AppendLine(line);
            if (line.StartsWith("endpoint: ", StringComparison.Ordinal))
            {
                endpoint = new Uri(line["endpoint: ".Length..]);
            }

            if (line.StartsWith("ledger files: ", StringComparison.Ordinal))
            {
                break;
            }
        }

        if (endpoint is null)
        {
            process.Kill(entireProcessTree: true);
            await ((Task)errors).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw new InvalidOperationException($"vellum start did not start: {banner}{Environment.NewLine}stderr: {(errors.IsCompletedSuccessfully ? errors.Result : "(not read)")}");
        }

        _ = process.StandardOutput.ReadToEndAsync();
        return new RunningNode(process, banner.ToString(), endpoint, data);
    }

    public static async Task<(int ExitCode, string Output, string Error)> RunToExit(string[] args, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        using var process = Process.Start(StartInfo(args, environment: environment))!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output, await error);
    }

    public HttpClient Client()
    {
        var credentials = Path.Combine(Data, "credentials");
        var admin = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(credentials, "admin_cert.pem")), File.ReadAllText(Path.Combine(credentials, "admin_privk.pem")));
        var service = ServiceCertificate;
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [X509CertificateLoader.LoadPkcs12(admin.Export(X509ContentType.Pkcs12), null)],
                RemoteCertificateValidationCallback = (_, cert, _, _) => Vellum.Core.Identity.ServiceCertificatePin.Accepts(cert, service),
            },
        };
        return new HttpClient(handler) { BaseAddress = Endpoint, DefaultRequestVersion = HttpVersion.Version20, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>The service certificate of ledger <paramref name="ledger"/> in data folder <paramref name="data"/>.</summary>
    public static X509Certificate2 LedgerServiceCertificate(string data, string ledger) =>
        X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(data, "ledgers", ledger, "credentials", "service_cert.pem")));

    /// <summary>
    /// A client for ledger <paramref name="ledger"/> at its own host name, <c>https://{ledger}.localhost:{port}</c>
    /// (sent as the TLS server name and Host; the connection goes to 127.0.0.1, as the name does not resolve here),
    /// pinning <paramref name="pinned"/> (default: that ledger's service certificate), with the development
    /// Administrator's certificate or <paramref name="clientCertificate"/>.
    /// </summary>
    public HttpClient LedgerClient(string ledger, X509Certificate2? pinned = null, X509Certificate2? clientCertificate = null)
    {
        var credentials = Path.Combine(Data, "credentials");
        clientCertificate ??= X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(credentials, "admin_cert.pem")), File.ReadAllText(Path.Combine(credentials, "admin_privk.pem")));
        pinned ??= LedgerServiceCertificate(Data, ledger);
        return Client($"{ledger}.localhost", clientCertificate, (_, cert, _, _) => Vellum.Core.Identity.ServiceCertificatePin.Accepts(cert, pinned));
    }

    /// <summary>
    /// A client of the deployment, <c>https://{host}:{port}</c> (connecting to 127.0.0.1), that trusts only
    /// <paramref name="trustedCa"/> (a CA, not a pinned ledger) for a certificate naming <paramref name="nameOnCertificate"/>
    /// (default: <paramref name="host"/>), with the development Administrator's certificate.
    /// </summary>
    public HttpClient DeploymentClient(X509Certificate2 trustedCa, string host = "localhost", string? nameOnCertificate = null)
    {
        var expectedName = nameOnCertificate ?? host;
        var credentials = Path.Combine(Data, "credentials");
        using var admin = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(credentials, "admin_cert.pem")), File.ReadAllText(Path.Combine(credentials, "admin_privk.pem")));
        return Client(host, admin, (_, cert, _, _) => cert is not null && ChainsTo(cert, trustedCa, expectedName));
    }

    /// <summary>An HTTP/2 client of <c>https://{host}:{port}</c> whose connections go to 127.0.0.1 (the name need not resolve).</summary>
    private HttpClient Client(string host, X509Certificate2 clientCertificate, RemoteCertificateValidationCallback validate)
    {
        var port = Endpoint.Port;
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [X509CertificateLoader.LoadPkcs12(clientCertificate.Export(X509ContentType.Pkcs12), null)],
                RemoteCertificateValidationCallback = validate,
            },
            ConnectCallback = async (_, token) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), token);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(handler) { BaseAddress = new Uri($"https://{host}:{port}"), DefaultRequestVersion = HttpVersion.Version20, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>Whether <paramref name="certificate"/> chains to <paramref name="root"/> alone and names <paramref name="host"/>.</summary>
    public static bool ChainsTo(X509Certificate certificate, X509Certificate2 root, string host, X509Certificate2Collection? intermediates = null)
    {
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        if (intermediates is not null)
        {
            chain.ChainPolicy.ExtraStore.AddRange(intermediates);
        }

        return chain.Build(leaf) && leaf.MatchesHostname(host);
    }

    /// <summary>SIGTERM, then the exit code (a clean shutdown is 0).</summary>
    public async Task<int> Terminate()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return _process.ExitCode;
    }

    public void Kill()
    {
        _process.Kill(entireProcessTree: true); // SIGKILL
        _process.WaitForExit(30_000);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(30_000);
        }

        _process.Dispose();
        ServiceCertificate.Dispose();
    }

    private static ProcessStartInfo StartInfo(string[] args, string? umask = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(umask is null ? "dotnet" : "sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        if (umask is not null)
        {
            // exec keeps the pid: the node is the process the test knows.
            foreach (var arg in new[] { "-c", $"umask {umask} && exec dotnet \"$@\"", "sh" })
            {
                start.ArgumentList.Add(arg);
            }
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "vellum.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }

    /// <summary>Writes an entry; its transaction id.</summary>
    public static async Task<string> Post(HttpClient client, string contents)
    {
        using var response = await client.PostAsync("/app/transactions?api-version=2022-05-13",
            new StringContent(JsonSerializer.Serialize(new { contents }), Encoding.UTF8, new MediaTypeHeaderValue("application/json")));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.GetValues("x-ms-ccf-transaction-id").Single();
    }

    /// <summary>Polls the status until Committed (15 s at most).</summary>
    public static async Task WaitCommitted(HttpClient client, string id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            var status = await Json(await client.GetAsync($"/app/transactions/{id}/status?api-version=2022-05-13"));
            if (status.GetProperty("state").GetString() == "Committed")
            {
                return;
            }

            await Task.Delay(25);
        }

        throw new TimeoutException($"{id} was not committed in 15 s");
    }

    /// <summary>The body of a successful answer.</summary>
    public static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
