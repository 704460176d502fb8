using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Vellum.TestSupport.Cluster;

/// <summary>
/// A static cluster of <c>vellum start</c> processes on 127.0.0.1: fixed ports chosen up front (peers must know each
/// other's addresses), node 0 creates the service, the others take its identity with <c>--identity-from</c>, and one
/// Administrator certificate made by the test is given to every node. A test project that uses it references
/// Vellum.Cli, whose <c>vellum.dll</c> it runs from its own output folder.
/// </summary>
public sealed class ClusterProcess : IAsyncDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vellum-cluster-" + Guid.NewGuid().ToString("N"));
    private readonly Process?[] _processes;
    private readonly StringBuilder[] _logs;
    private readonly X509Certificate2 _admin;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <param name="size">Members.</param>
    /// <param name="hosts">Each member's IP address (default 127.0.0.1 for all).</param>
    /// <param name="namespaces">Each member's network namespace (run with <c>ip netns exec</c>), or none.</param>
    public ClusterProcess(int size, string[]? hosts = null, string[]? namespaces = null)
    {
        Size = size;
        Hosts = hosts ?? [.. Enumerable.Repeat("127.0.0.1", size)];
        Namespaces = namespaces;
        Directory.CreateDirectory(_root);
        HttpPorts = [.. Enumerable.Range(0, size).Select(_ => FreePort())];
        NodePorts = [.. Enumerable.Range(0, size).Select(_ => FreePort())];
        _processes = new Process?[size];
        _logs = [.. Enumerable.Range(0, size).Select(_ => new StringBuilder())];
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var request = new CertificateRequest("CN=Cluster Test Administrator", key, HashAlgorithmName.SHA384);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        AdminCertificatePath = Path.Combine(_root, "admin_cert.pem");
        File.WriteAllText(AdminCertificatePath, certificate.ExportCertificatePem());
        _admin = X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
        AdminKeyPath = Path.Combine(_root, "admin_privk.pem");
        File.WriteAllText(AdminKeyPath, key.ExportPkcs8PrivateKeyPem());
    }

    public string[] Hosts { get; }

    /// <summary>Passed to every start and join as <c>--snapshot-interval</c> when set.</summary>
    public int? SnapshotInterval { get; init; }

    /// <summary>The <c>--domain</c> every start and join is given, when set (members of a deployment serve under one).</summary>
    public string? Domain { get; init; }

    /// <summary>How many transactions node <paramref name="i"/> says (in its log) it fetched from peers' ledgers.</summary>
    public long TransactionsFetchedFromPeers(int i) =>
        System.Text.RegularExpressions.Regex.Matches(Log(i), @"Caught up (\d+) transactions from")
            .Sum(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));

    public string[]? Namespaces { get; }

    public string AdminKeyPath { get; }

    public string ServiceCertificatePath => Path.Combine(Data(0), "ledgers", "default", "credentials", "service_cert.pem");

    /// <summary>The deployment's service certificate (node 0's), which <c>vellum join --service-cert</c> pins.</summary>
    public string DeploymentCertificatePath => Path.Combine(Data(0), "node", "deployment", "service_cert.pem");

    public static TimeSpan Timeout { get; } = TimeSpan.FromSeconds(30);

    public int Size { get; }

    public int[] HttpPorts { get; }

    public int[] NodePorts { get; }

    public string AdminCertificatePath { get; }

    public string Data(int i) => Path.Combine(_root, $"node{i}");

    public Uri Url(int i) => new($"https://{Hosts[i]}:{HttpPorts[i]}");

    public bool IsRunning(int i)
    {
        try
        {
            return Volatile.Read(ref _processes[i]) is { HasExited: false };
        }
        catch (InvalidOperationException)
        {
            return false; // disposed by a Kill or Terminate on another thread (a load writer asks while the test kills)
        }
    }

    public string Log(int i)
    {
        lock (_logs[i])
        {
            return _logs[i].ToString();
        }
    }

    /// <summary>
    /// Starts node <paramref name="i"/> and waits until it prints its banner (not until it is ready): as a member of
    /// the static cluster of all nodes, or <paramref name="alone"/> as the first member of a new one;
    /// <paramref name="options"/> are added to the command line (e.g. <c>--backup-writes redirect</c>).
    /// </summary>
    public async Task StartAsync(int i, bool alone = false, params string[] options)
    {
        List<string> args = ["start", "--data", Data(i), "--listen", $"{Hosts[i]}:{HttpPorts[i]}", "--node-listen", $"{Hosts[i]}:{NodePorts[i]}", "--admin-cert", AdminCertificatePath];
        for (var j = 0; j < Size && !alone; j++)
        {
            if (j != i)
            {
                args.AddRange(["--peer", $"{Hosts[j]}:{NodePorts[j]}={Url(j)}"]);
            }
        }

        if (i != 0 && !Directory.Exists(Path.Combine(Data(i), "node")))
        {
            // A member's first start: it copies node 0's identities (a restart, or a member that joined, has its own).
            args.AddRange(["--identity-from", Data(0)]);
        }

        args.AddRange(options);
        await LaunchAsync(i, args);
    }

    /// <summary>
    /// Runs <c>vellum join</c> for node <paramref name="i"/> against member <paramref name="target"/>, with
    /// <paramref name="options"/> added to the command line.
    /// </summary>
    public Task JoinAsync(int i, int target, string token, params string[] options) => LaunchAsync(i,
    [
        "join", "--data", Data(i), "--listen", $"{Hosts[i]}:{HttpPorts[i]}", "--node-listen", $"{Hosts[i]}:{NodePorts[i]}",
        "--target", Url(target).ToString(), "--token", token, "--service-cert", DeploymentCertificatePath, "--admin-cert", AdminCertificatePath, .. options,
    ]);

    private async Task LaunchAsync(int i, List<string> args)
    {
        if (IsRunning(i))
        {
            throw new InvalidOperationException($"node {i} is running");
        }

        if (SnapshotInterval is { } interval)
        {
            args.AddRange(["--snapshot-interval", interval.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }

        if (Domain is { } domain)
        {
            args.AddRange(["--domain", domain]);
        }

        Append(i, $"--- started by the test: vellum {args[0]}");
        var process = Process.Start(InNamespace(i, "dotnet", [Path.Combine(AppContext.BaseDirectory, "vellum.dll"), .. args]))!;
        _processes[i] = process;
        var banner = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                banner.TrySetException(new InvalidOperationException($"node {i} exited before it was up: {Log(i)}"));
                return;
            }

            Append(i, e.Data);
            if (e.Data.StartsWith("node channel: ", StringComparison.Ordinal))
            {
                banner.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Append(i, e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await banner.Task.WaitAsync(Timeout);
    }

    public async Task StartAllAsync(params string[] options)
    {
        // Node 0 first: it creates the service identity the others copy.
        await StartAsync(0, options: options);
        await Task.WhenAll(Enumerable.Range(1, Size - 1).Select(i => StartAsync(i, options: options)));
    }

    /// <summary>A process start for <paramref name="file"/> in member <paramref name="i"/>'s network namespace, if any.</summary>
    public ProcessStartInfo InNamespace(int i, string file, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(Namespaces is null ? file : "ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Namespaces is not null)
        {
            foreach (var arg in new[] { "netns", "exec", Namespaces[i], file })
            {
                start.ArgumentList.Add(arg);
            }
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }

    /// <summary>SIGKILL: no shutdown, nothing flushed beyond what was fsynced.</summary>
    public void Kill(int i)
    {
        var process = _processes[i] ?? throw new InvalidOperationException($"node {i} was never started");
        Append(i, "--- SIGKILL sent by the test");
        process.Kill(entireProcessTree: true);
        process.WaitForExit(30_000);
        Volatile.Write(ref _processes[i], null); // before the dispose, so IsRunning sees no half-disposed process
        process.Dispose();
    }

    /// <summary>SIGTERM and wait for a clean exit.</summary>
    public async Task<int> TerminateAsync(int i)
    {
        var process = _processes[i] ?? throw new InvalidOperationException($"node {i} is not running");
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        await process.WaitForExitAsync().WaitAsync(Timeout);
        var code = process.ExitCode;
        Volatile.Write(ref _processes[i], null);
        process.Dispose();
        return code;
    }

    /// <summary>An Administrator client for node <paramref name="i"/> that pins the service certificate and follows 307s.</summary>
    public HttpClient Client(int i, TimeSpan? timeout = null, bool followRedirects = true) => Client(i, _admin, timeout, followRedirects);

    /// <summary>A client for node <paramref name="i"/> presenting <paramref name="certificate"/>, pinning the service certificate.</summary>
    public HttpClient Client(int i, X509Certificate2 certificate, TimeSpan? timeout = null, bool followRedirects = true)
    {
        var service = X509Certificate2.CreateFromPem(File.ReadAllText(ServiceCertificatePath));
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = followRedirects,
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [certificate],
                RemoteCertificateValidationCallback = (_, cert, _, _) => Vellum.Core.Identity.ServiceCertificatePin.Accepts(cert, service),
            },
        };
        return new HttpClient(handler) { BaseAddress = Url(i), DefaultRequestVersion = HttpVersion.Version20, Timeout = timeout ?? TimeSpan.FromSeconds(10) };
    }

    /// <summary>
    /// An Administrator client for node <paramref name="i"/> asking as the deployment (TLS server name and Host
    /// <c>vellum-deployment.invalid</c>, as members ask each other), pinning the deployment's service certificate: the
    /// deployment's own calls and <c>/node/network</c>, on a deployment with or without the ledger <c>default</c>.
    /// </summary>
    public HttpClient DeploymentClient(int i, TimeSpan? timeout = null)
    {
        var deployment = X509Certificate2.CreateFromPem(File.ReadAllText(DeploymentCertificatePath));
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [_admin],
                RemoteCertificateValidationCallback = (_, cert, _, _) => Vellum.Core.Identity.ServiceCertificatePin.Accepts(cert, deployment),
            },
        };
        var client = new HttpClient(handler) { BaseAddress = Url(i), DefaultRequestVersion = HttpVersion.Version20, Timeout = timeout ?? TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.Host = DeploymentServerName;
        return client;
    }

    /// <summary>The server name members use between them for the deployment's calls.</summary>
    public const string DeploymentServerName = "vellum-deployment.invalid";

    /// <summary>The Administrator certificate every node was given.</summary>
    public X509Certificate2 AdminCertificate => _admin;

    /// <summary>Node <paramref name="i"/>'s own certificate and key for the ledger <c>default</c> (endorsed by its service identity), from its data folder.</summary>
    public X509Certificate2 NodeCertificate(int i)
    {
        using var pem = X509Certificate2.CreateFromPemFile(
            Path.Combine(Data(i), "ledgers", "default", "credentials", "node_cert.pem"), Path.Combine(Data(i), "node", "node_privk.pem"));
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>
    /// Node <paramref name="i"/>'s certificate and key for the node channel (endorsed by the deployment identity, in
    /// <c>node/deployment/</c>), from its data folder.
    /// </summary>
    public X509Certificate2 ChannelCertificate(int i)
    {
        using var pem = X509Certificate2.CreateFromPemFile(
            Path.Combine(Data(i), "node", "deployment", "node_cert.pem"), Path.Combine(Data(i), "node", "node_privk.pem"));
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>/node/network of node <paramref name="i"/>, or null when it does not answer.</summary>
    public async Task<JsonElement?> NetworkAsync(int i)
    {
        if (!IsRunning(i))
        {
            return null;
        }

        try
        {
            // Naming no ledger: default's answer where the deployment has it, else the node's own.
            using var client = File.Exists(ServiceCertificatePath) ? Client(i, TimeSpan.FromSeconds(2)) : DeploymentClient(i, TimeSpan.FromSeconds(2));
            var text = await client.GetStringAsync("/node/network");
            return JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Waits until every running node answers ready (it has applied what is committed and knows its users).</summary>
    public async Task WaitForAllReadyAsync(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Size; i++)
        {
            while (IsRunning(i) && !(await NetworkAsync(i) is { } network && network.GetProperty("ready").GetBoolean()))
            {
                if (clock.Elapsed > timeout)
                {
                    throw new TimeoutException($"node {i} was not ready within {timeout.TotalSeconds} s");
                }

                await Task.Delay(50);
            }
        }
    }

    /// <summary>Waits until exactly one running node says it is primary and ready; returns it.</summary>
    public async Task<int> WaitForPrimaryAsync(TimeSpan timeout, int? not = null)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            var primaries = new List<int>();
            for (var i = 0; i < Size; i++)
            {
                if (i != not && await NetworkAsync(i) is { } network && network.GetProperty("role").GetString() == "Primary" && network.GetProperty("ready").GetBoolean())
                {
                    primaries.Add(i);
                }
            }

            if (primaries.Count == 1)
            {
                return primaries[0];
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"no single primary within {timeout.TotalSeconds} s");
    }

    /// <summary>Runs <c>vellum verify --json</c> on node <paramref name="i"/>'s ledger <paramref name="ledger"/> (with node 0's service certificate of it).</summary>
    public async Task<JsonElement> VerifyAsync(int i, string ledger = "default")
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "vellum.dll"), "verify", Path.Combine(Data(i), "ledgers", ledger, "ledger"), "--service-cert", Path.Combine(Data(0), "ledgers", ledger, "credentials", "service_cert.pem"), "--json" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(Timeout);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"vellum verify of {ledger} on node {i} exited {process.ExitCode}: {await output} {await error}");
        }

        return JsonDocument.Parse(await output).RootElement.Clone();
    }

    private void Append(int i, string line)
    {
        lock (_logs[i])
        {
            // Seconds since the cluster was made, so that the members' logs can be read side by side.
            _logs[i].Append(CultureInfo.InvariantCulture, $"{_clock.Elapsed.TotalSeconds,8:0.000} ").AppendLine(line);
        }
    }

    /// <summary>The ports <see cref="FreePort"/> has given out in this process: never the same one twice.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, byte> GivenPorts = new();

    /// <summary>
    /// A port free now, below the kernel's ephemeral range: ports are picked when the cluster is made and some are
    /// listened on only minutes later (a joining member), and a port from the ephemeral range can meanwhile become the
    /// local end of one of the test's own outgoing connections (it happened: "--node-listen … is in use").
    /// </summary>
    public static int FreePort()
    {
        var firstEphemeral = 32768;
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            firstEphemeral = int.Parse(range[0], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
        }

        var low = Math.Min(10_000, firstEphemeral / 2);
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            var port = Random.Shared.Next(low, firstEphemeral);
            if (!GivenPorts.TryAdd(port, 0))
            {
                continue; // given out already in this process (a node's HTTP and Raft ports once drew the same number)
            }

            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (System.Net.Sockets.SocketException)
            {
                // Taken: try another.
            }
        }

        throw new InvalidOperationException($"no free port in {low}..{firstEphemeral - 1}");
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = 0; i < Size; i++)
        {
            if (_processes[i] is { } process)
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync().WaitAsync(Timeout);
                }

                process.Dispose();
            }
        }

        _admin.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
