using System.CommandLine;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Vellum.Node;
using Vellum.Node.Ledgers;
using Vellum.Storage;
using Vellum.Storage.IO;

namespace Vellum.Cli.Commands;

/// <summary><c>vellum start</c>: one node serving its ledgers, until SIGTERM or Ctrl-C.</summary>
internal static class StartCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Data folder (credentials, secrets, ledger, state).", DefaultValueFactory = _ => "./vellum-data" };
        var listen = new Option<string>("--listen") { Description = "HTTPS endpoint host:port (port 0 picks a free one).", DefaultValueFactory = _ => "127.0.0.1:8443" };
        var type = new Option<string?>("--ledger-type") { Description = "The type of the ledger 'default' (same as --ledger default:TYPE): Public or Private, fixed when it is created." };
        var ledgers = new Option<string[]>("--ledger")
        {
            Description = "A ledger to serve, NAME or NAME:Public or NAME:Private (repeatable): created if missing (Public when no type is given); " +
                "every ledger already in the data folder is served too. Without any, a new data folder gets the ledger 'default'.",
            AllowMultipleArgumentsPerToken = false,
        };
        var admins = new Option<string[]>("--admin-cert") { Description = "PEM certificate of a bootstrap Administrator (repeatable; first start only).", AllowMultipleArgumentsPerToken = false };
        var benchmark = new Option<bool>("--benchmark-endpoints") { Description = "Also serve /app/benchmark/noop (POST and GET): the same pipeline, writing nothing; for measuring the same-stack ceiling." };
        var ledgerId = new Option<string?>("--ledger-id") { Description = "Gone: name ledgers with --ledger.", Hidden = true };
        var nodeListen = new Option<string?>("--node-listen") { Description = "host:port of this node's Raft channel (TCP, mutual TLS between nodes): makes the node a cluster member." };
        var peers = new Option<string[]>("--peer") { Description = "Another member of a static cluster, as raft-host:port=https://host:port (repeatable; needs --node-listen).", AllowMultipleArgumentsPerToken = false };
        var identityFrom = new Option<string?>("--identity-from") { Description = "Data folder of an existing cluster member: a new node takes its service identity and ledger secret (first start only)." };
        var serving = new ServingOptions();
        var command = new Command("start", "Start a ledger node over HTTPS with mutual TLS: a single node, or with --node-listen and --peer a member of a replicated cluster.")
        {
            data, listen, type, ledgers, admins, ledgerId, benchmark, nodeListen, peers, identityFrom,
        };
        foreach (var option in serving.All)
        {
            command.Options.Add(option);
        }

        command.SetAction((result, cancellationToken) =>
        {
            if (result.GetValue(ledgerId) is not null)
            {
                Console.Error.WriteLine("vellum start: --ledger-id is gone: a node serves ledgers by name; use --ledger NAME[:Public|Private]");
                return Task.FromResult(2);
            }

            if (!StartSettings.TryLoad(result.GetValue(serving.Config), Environment.GetEnvironmentVariables(), out var settings, out var settingsError))
            {
                Console.Error.WriteLine($"vellum start: {settingsError}");
                return Task.FromResult(2);
            }

            return RunAsync(
                settings.Text(result, data, "data"), settings.Text(result, listen, "listen"), settings.Maybe(result, type, "ledgerType"),
                settings.List(result, ledgers, "ledgers"), serving.Read(result, settings), settings.List(result, admins, "adminCerts"),
                settings.Flag(result, benchmark, "benchmarkEndpoints"), settings.Maybe(result, nodeListen, "nodeListen"), settings.List(result, peers, "peers"),
                settings.Maybe(result, identityFrom, "identityFrom"), cancellationToken);
        });
        return command;
    }

    internal static bool TryParseEndpoint(string text, out IPEndPoint endpoint)
    {
        if (text.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase) &&
            int.TryParse(text.AsSpan(10), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) && port is >= 0 and <= 65535)
        {
            endpoint = new IPEndPoint(IPAddress.Loopback, port);
            return true;
        }

        return IPEndPoint.TryParse(text, out endpoint!) && text.Contains(':', StringComparison.Ordinal) && !text.EndsWith(']');
    }

    /// <summary>Parses <c>raft-host:port=https://host:port</c>.</summary>
    internal static bool TryParsePeer(string text, out ClusterPeer? peer)
    {
        peer = null;
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0 || !TryParseEndpoint(text[..equals], out var nodeEndPoint) || nodeEndPoint.Port == 0 ||
            !Uri.TryCreate(text[(equals + 1)..], UriKind.Absolute, out var url) || url.Scheme != Uri.UriSchemeHttps)
        {
            return false;
        }

        peer = new ClusterPeer(nodeEndPoint, url);
        return true;
    }

    private static async Task<int> RunAsync(
        string data, string listen, string? type, string[] ledgerTexts, ServingOptions.Values servingValues, string[] admins,
        bool benchmarkEndpoints, string? nodeListen, string[] peerTexts, string? identityFrom, CancellationToken cancellationToken)
    {
        if (!servingValues.TryCheck("start", out var serving))
        {
            return 2;
        }

        IPEndPoint? nodeEndPoint = null;
        if (nodeListen is not null && (!TryParseEndpoint(nodeListen, out nodeEndPoint) || nodeEndPoint.Port == 0))
        {
            Console.Error.WriteLine($"vellum start: --node-listen '{nodeListen}' is not host:port with a fixed port");
            return 2;
        }

        var peers = new List<ClusterPeer>();
        foreach (var text in peerTexts)
        {
            if (!TryParsePeer(text, out var peer))
            {
                Console.Error.WriteLine($"vellum start: --peer '{text}' is not raft-host:port=https://host:port");
                return 2;
            }

            peers.Add(peer!);
        }

        if (peers.Count > 0 && nodeEndPoint is null)
        {
            Console.Error.WriteLine("vellum start: --peer needs --node-listen");
            return 2;
        }

        if (!TryParseEndpoint(listen, out var endpoint))
        {
            Console.Error.WriteLine($"vellum start: --listen '{listen}' is not host:port");
            return 2;
        }

        if (!LedgerTypeOption.TryParse(type, out var isPrivate))
        {
            Console.Error.WriteLine($"vellum start: --ledger-type is Public or Private, not '{type}'");
            return 2;
        }

        var ledgers = new List<LedgerSpec>();
        foreach (var text in ledgerTexts)
        {
            if (!LedgerSpec.TryParse(text, out var spec, out var error))
            {
                Console.Error.WriteLine($"vellum start: --ledger {error}");
                return 2;
            }

            if (ledgers.Any(l => l.Name == spec.Name))
            {
                Console.Error.WriteLine($"vellum start: --ledger names '{spec.Name}' twice");
                return 2;
            }

            ledgers.Add(spec);
        }

        if (isPrivate is not null)
        {
            // --ledger-type T is --ledger default:T.
            var named = ledgers.FindIndex(l => l.Name == Vellum.Core.Identity.LedgerName.Default);
            if (named >= 0 && ledgers[named].IsPrivate is { } given && given != isPrivate)
            {
                Console.Error.WriteLine($"vellum start: --ledger-type {type} and --ledger {ledgers[named]} disagree");
                return 2;
            }

            ledgers.RemoveAll(l => l.Name == Vellum.Core.Identity.LedgerName.Default);
            ledgers.Add(new LedgerSpec(Vellum.Core.Identity.LedgerName.Default, isPrivate));
        }

        foreach (var admin in admins)
        {
            if (!File.Exists(admin))
            {
                Console.Error.WriteLine($"vellum start: --admin-cert {admin} does not exist");
                return 2;
            }
        }

        // The folder's lock first, so that a second start on a folder in use changes nothing in it (not even its view);
        // then the ports, so that a port in use is one line too, before the ledger is opened.
        if (!TryLock("start", data, out var folderLock))
        {
            return 2;
        }

        using (folderLock)
        {
            if (PortInUse("start", ("--listen", endpoint), ("--node-listen", nodeEndPoint), ("--metrics-listen", serving!.MetricsEndPoint)) is { } inUse)
            {
                Console.Error.WriteLine(inUse);
                return 2;
            }

            var options = new NodeOptions
            {
                DataDirectory = data, Listen = endpoint, Ledgers = ledgers, Domain = serving.Given.Domain, TlsCertificateFile = serving.Given.TlsCert,
                TlsKeyFile = serving.Given.TlsKey, AdminCertificates = admins, MetricsListen = serving.Given.MetricsListen,
                BenchmarkEndpoints = benchmarkEndpoints, NodeListen = nodeEndPoint, Peers = peers, BackupWrites = serving.BackupWrites,
                SnapshotInterval = serving.Given.SnapshotInterval, MaxSignaturesPerSecond = serving.Given.MaxSignaturesPerSecond, JwtIssuers = serving.JwtIssuers, AdminObjectIds = serving.Given.AdminOids, Management = serving.Management,
                DataFolderLock = folderLock,
            };
            return await RunNodeAsync(options, identityFrom, afterStart: null, cancellationToken);
        }
    }

    /// <summary>
    /// Takes the data folder's lock for a command that writes the folder (<see cref="DataFolderLock"/>): one line on
    /// stderr and false when the folder is in use or unusable. Sets the process umask to 077 first, so that whatever this
    /// process creates in the folder, through any library, is owner-only (<see cref="OwnerOnly"/>).
    /// </summary>
    internal static bool TryLock(string command, string data, [NotNullWhen(true)] out DataFolderLock? folderLock)
    {
        OwnerOnly.RestrictProcessUmask();
        try
        {
            var directory = new DataDirectory(data);
            folderLock = directory.Lock();
            if (directory.Migrated)
            {
                Console.WriteLine($"migrated {directory.Root} from the single-ledger layout: its ledger is now 'default'");
            }

            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or InvalidDataException)
        {
            Console.Error.WriteLine($"vellum {command}: {ex.Message}");
            folderLock = null;
            return false;
        }
    }

    /// <summary>
    /// The first of <paramref name="endpoints"/> another socket holds, as a one-line message; null when all are free.
    /// Binding (and closing) a socket beforehand turns the common mistake — a second node on a port in use — into one
    /// line before the ledger is opened, rather than a hosting failure with a stack trace after it; a port taken in the
    /// moment between this check and the node's bind is still refused, only less tidily.
    /// </summary>
    internal static string? PortInUse(string command, params (string Option, IPEndPoint? EndPoint)[] endpoints)
    {
        foreach (var (option, endpoint) in endpoints)
        {
            if (endpoint is null || endpoint.Port == 0)
            {
                continue;
            }

            using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                // SO_REUSEADDR: only a socket listening on the port refuses the bind, not connections of a node that
                // just stopped (TIME_WAIT), which do not stop the node's own bind either.
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                socket.Bind(endpoint);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                return $"vellum {command}: {option} {endpoint} is in use by another process";
            }
            catch (SocketException)
            {
                // Not ours to judge here (an address of another host, no permission): the node's own bind reports it.
            }
        }

        return null;
    }

    /// <summary>
    /// Builds and runs the node until SIGTERM: prints the banner, runs <paramref name="afterStart"/> once it listens
    /// (joining uses it to ask the primary to add this node; a message from it is an error, exit 1), then waits.
    /// </summary>
    internal static async Task<int> RunNodeAsync(NodeOptions options, string? identityFrom, Func<CancellationToken, Task<string?>>? afterStart, CancellationToken cancellationToken)
    {
        var data = options.DataDirectory;
        var listen = options.Listen.ToString();
        var metricsListen = options.MetricsListen;
        var nodeEndPoint = options.NodeListen;
        Microsoft.AspNetCore.Builder.WebApplication app;
        LedgerRegistry ledgers;
        try
        {
            if (identityFrom is not null)
            {
                new Vellum.Storage.DataDirectory(data).ProvisionFrom(new Vellum.Storage.DataDirectory(identityFrom));
            }

            (app, ledgers) = await NodeHost.BuildAsync(options, cancellationToken: cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or InvalidDataException or ArgumentException or CryptographicException or SocketException)
        {
            Console.Error.WriteLine($"vellum start: {ex.Message}");
            return 2;
        }

        await using (ledgers)
        await using (app)
        {
            try
            {
                await app.StartAsync(cancellationToken);
            }
            catch (IOException ex)
            {
                Console.Error.WriteLine($"vellum start: cannot listen on {listen}: {ex.Message}");
                return 2;
            }

            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? $"https://{listen}";
            var port = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)).Port;
            var ledger = ledgers.Fallback;
            Console.WriteLine($"endpoint: {address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)}");
            Console.WriteLine(ledgers.Deployment.IsOperators
                ? $"deployment: https://{options.Domain}:{port} with the --tls-cert certificate; any ledger at /ledgers/NAME/"
                : $"deployment: https://{options.Domain}:{port}, certificate issued by the development CA {new DataDirectory(options.DataDirectory).DeploymentCaCertificate}; any ledger at /ledgers/NAME/");
            if (nodeEndPoint is not null)
            {
                Console.WriteLine($"deployment identity: {new DataDirectory(options.DataDirectory).DeploymentServiceCertificate} (what vellum join --service-cert pins)");
            }

            if (options.Management.Listen is { } managementListen)
            {
                Console.WriteLine($"control plane: https://{options.Domain}:{managementListen.Port} (listening on {managementListen}; the deployment's certificate)");
            }

            foreach (var served in ledgers.All)
            {
                Console.WriteLine(
                    $"ledger: {served.Name} ({(served.IsPrivate ? "Private" : "Public")}) at https://{served.Name}.{options.Domain}:{port}, service certificate {served.Folder.ServiceCertificate}");
            }

            // The ledger a request that names none gets (default, or the first by name when there is no default).
            if (ledger is not null)
            {
                Console.WriteLine($"ledger id: {ledger.Name} ({(ledger.IsPrivate ? "Private" : "Public")})");
                Console.WriteLine($"service certificate: {ledger.Folder.ServiceCertificate}");
            }

            if (metricsListen is not null)
            {
                Console.WriteLine($"metrics: http://{metricsListen}/metrics");
            }

            if (ledger is not null)
            {
                Console.WriteLine($"ledger files: {ledger.Folder.Chunks}");
            }

            if (nodeEndPoint is not null)
            {
                Console.WriteLine($"node channel: {nodeEndPoint} (see /node/network)");
            }

            if (ledgers.All.Select(l => l.DevelopmentAdminCertificate).FirstOrDefault(c => c is not null) is { } cert)
            {
                Console.WriteLine($"development administrator: {cert} (key {new DataDirectory(options.DataDirectory).DevelopmentAdminPrivateKey})");
            }

            if (afterStart is not null && await afterStart(cancellationToken) is { } failure)
            {
                Console.Error.WriteLine(failure);
                await app.StopAsync(CancellationToken.None);
                return 1;
            }

            Console.Out.Flush();
            await app.WaitForShutdownAsync(CancellationToken.None);
        }

        return 0;
    }
}
