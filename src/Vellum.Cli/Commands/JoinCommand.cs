using System.CommandLine;
using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Vellum.Node;
using Vellum.Core.Identity;
using Vellum.Storage;

namespace Vellum.Cli.Commands;

/// <summary>
/// <c>vellum join</c>: a new node of an existing cluster. It trades an Administrator's join token for the service
/// material at a member (checking that member against the service certificate it was given), starts with no members
/// of its own, asks the primary to add it, catches up from the Raft log, and reports ready once it has applied what
/// the cluster committed. Later starts are plain <c>vellum start --data … --listen … --node-listen …</c>.
/// </summary>
internal static class JoinCommand
{
    public static Command Create()
    {
        var data = new Option<string?>("--data") { Description = "Data folder of the new node (must not hold another service)." };
        var listen = new Option<string?>("--listen") { Description = "HTTPS endpoint host:port of this node (a fixed port: members forward or redirect writes to it)." };
        var nodeListen = new Option<string?>("--node-listen") { Description = "host:port of this node's Raft channel." };
        var target = new Option<string>("--target") { Description = "https://host:port of any member.", Required = true };
        var token = new Option<string>("--token") { Description = "Join token from POST /node/join-tokens (an Administrator issues it).", Required = true };
        var serviceCert = new Option<string>("--service-cert") { Description = "The service certificate (PEM) the target must present; the join fails otherwise.", Required = true };
        var serving = new ServingOptions();
        var command = new Command("join", "Join a new node to an existing cluster.") { data, listen, nodeListen, target, token, serviceCert };
        foreach (var option in serving.All)
        {
            command.Options.Add(option);
        }

        command.SetAction((result, cancellationToken) =>
        {
            // The settings file and VELLUM_* variables a later `vellum start` of this node reads serve the join too.
            if (!StartSettings.TryLoad(result.GetValue(serving.Config), Environment.GetEnvironmentVariables(), out var settings, out var settingsError))
            {
                Console.Error.WriteLine($"vellum join: {settingsError}");
                return Task.FromResult(2);
            }

            var dataValue = settings.Maybe(result, data, "data");
            var listenValue = settings.Maybe(result, listen, "listen");
            var nodeListenValue = settings.Maybe(result, nodeListen, "nodeListen");
            foreach (var (value, option) in new[] { (dataValue, data), (listenValue, listen), (nodeListenValue, nodeListen) })
            {
                if (value is null)
                {
                    Console.Error.WriteLine($"vellum join: {option.Name} is required (a flag, a --config setting or a VELLUM_* variable)");
                    return Task.FromResult(2);
                }
            }

            return RunAsync(
                dataValue!, listenValue!, nodeListenValue!, result.GetValue(target)!, result.GetValue(token)!, result.GetValue(serviceCert)!,
                serving.Read(result, settings), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(
        string data, string listen, string nodeListen, string target, string token, string serviceCertPath, ServingOptions.Values servingValues,
        CancellationToken cancellationToken)
    {
        if (!servingValues.TryCheck("join", out var serving))
        {
            return 2;
        }

        if (!StartCommand.TryParseEndpoint(listen, out var endpoint) || endpoint.Port == 0)
        {
            Console.Error.WriteLine($"vellum join: --listen '{listen}' is not host:port with a fixed port");
            return 2;
        }

        if (!StartCommand.TryParseEndpoint(nodeListen, out var nodeEndPoint) || nodeEndPoint.Port == 0)
        {
            Console.Error.WriteLine($"vellum join: --node-listen '{nodeListen}' is not host:port with a fixed port");
            return 2;
        }

        if (!Uri.TryCreate(target, UriKind.Absolute, out var targetUrl) || targetUrl.Scheme != Uri.UriSchemeHttps)
        {
            Console.Error.WriteLine($"vellum join: --target '{target}' is not an https:// address");
            return 2;
        }

        X509Certificate2 service;
        try
        {
            service = X509Certificate2.CreateFromPem(File.ReadAllText(serviceCertPath));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            Console.Error.WriteLine($"vellum join: --service-cert {serviceCertPath}: {ex.Message}");
            return 2;
        }

        if (!StartCommand.TryLock("join", data, out var folderLock))
        {
            service.Dispose();
            return 2;
        }

        using (folderLock)
        using (service)
        {
            if (StartCommand.PortInUse("join", ("--listen", endpoint), ("--node-listen", nodeEndPoint), ("--metrics-listen", serving!.MetricsEndPoint)) is { } inUse)
            {
                Console.Error.WriteLine(inUse);
                return 2;
            }

            using var client = Client(targetUrl, service);
            var directory = new DataDirectory(data);
            var peers = new List<ClusterPeer>();
            try
            {
                if (!File.Exists(directory.Default.ServiceCertificate))
                {
                    using var response = await client.PostAsJsonAsync("/node/join", new { token }, cancellationToken);
                    var text = await response.Content.ReadAsStringAsync(cancellationToken);
                    if (!response.IsSuccessStatusCode)
                    {
                        Console.Error.WriteLine($"vellum join: {target} refused: {(int)response.StatusCode} {text}");
                        return 1;
                    }

                    using var material = JsonDocument.Parse(text);
                    var root = material.RootElement;
                    Provision(directory, root, service);
                    foreach (var member in root.GetProperty("members").EnumerateArray())
                    {
                        if (IPEndPoint.TryParse(member.GetProperty("nodeAddress").GetString()!, out var address) && !address.Equals(nodeEndPoint))
                        {
                            peers.Add(new ClusterPeer(address, new Uri(member.GetProperty("url").GetString()!)));
                        }
                    }
                }
                else if (File.ReadAllText(directory.Default.ServiceCertificate).Trim() != service.ExportCertificatePem().Trim())
                {
                    Console.Error.WriteLine($"vellum join: {data} already belongs to another service");
                    return 2;
                }
            }
            catch (HttpRequestException ex)
            {
                Console.Error.WriteLine($"vellum join: cannot reach {target}: {ex.Message}");
                return 1;
            }
            catch (InvalidOperationException ex)
            {
                Console.Error.WriteLine($"vellum join: {ex.Message}");
                return 2;
            }

            var options = new NodeOptions
            {
                DataDirectory = data, Listen = endpoint, NodeListen = nodeEndPoint, Peers = peers, Join = true, Domain = serving.Given.Domain,
                TlsCertificateFile = serving.Given.TlsCert, TlsKeyFile = serving.Given.TlsKey, MetricsListen = serving.Given.MetricsListen,
                BackupWrites = serving.BackupWrites, SnapshotInterval = serving.Given.SnapshotInterval, DataFolderLock = folderLock,
                JwtIssuers = serving.JwtIssuers, AdminObjectIds = serving.Given.AdminOids, Management = serving.Management,
            };
            return await StartCommand.RunNodeAsync(options, identityFrom: null, async token2 =>
            {
                // Ask to be added; any member will do (a backup forwards or redirects to the primary). Retried while the cluster
                // has no primary or is busy with another membership change.
                var deadline = DateTime.UtcNow.AddMinutes(2);
                string last = "no answer";
                while (DateTime.UtcNow < deadline)
                {
                    try
                    {
                        using var response = await client.PostAsJsonAsync("/node/members", new { token, nodeAddress = nodeEndPoint.ToString(), url = $"https://{endpoint}" }, token2);
                        if (response.IsSuccessStatusCode)
                        {
                            Console.WriteLine($"joined: added by the primary; catching up (ready at /node/health/ready once it has)");
                            return null;
                        }

                        last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(token2)}";
                        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.BadRequest)
                        {
                            break;
                        }
                    }
                    catch (HttpRequestException ex)
                    {
                        last = ex.Message;
                    }

                    await Task.Delay(500, token2);
                }

                return $"vellum join: the primary did not add this node: {last}";
            }, cancellationToken);
        }
    }

    /// <summary>
    /// Writes the deployment's identity and every ledger's material into a new data folder, after checking that the
    /// top-level service certificate is the pinned one (the material came over TLS from a node that certificate
    /// endorsed); <c>default</c> last, since its presence marks the folder as provisioned.
    /// </summary>
    private static void Provision(DataDirectory directory, JsonElement root, X509Certificate2 pinned)
    {
        var certificatePem = root.GetProperty("serviceCertificate").GetString()!;
        using (var offered = X509Certificate2.CreateFromPem(certificatePem))
        {
            if (!offered.RawDataMemory.Span.SequenceEqual(pinned.RawDataMemory.Span))
            {
                throw new HttpRequestException("the target offered another service's identity");
            }
        }

        var ledgers = new List<(LedgerName Name, JsonElement Material)>();
        foreach (var ledger in root.GetProperty("ledgers").EnumerateArray())
        {
            if (!LedgerName.TryParse(ledger.GetProperty("name").GetString(), out var name, out var error))
            {
                throw new HttpRequestException($"the target named a ledger this version cannot serve: {error}");
            }

            ledgers.Add((name, ledger));
        }

        if (!ledgers.Any(l => l.Name == LedgerName.Default))
        {
            throw new HttpRequestException("the target's material has no ledger 'default'");
        }

        // The deployment's identity first: the node channel authenticates with it (default, written last, marks the
        // folder as provisioned).
        if (!root.TryGetProperty("deployment", out var deployment) || deployment.ValueKind != JsonValueKind.Object ||
            deployment.GetProperty("serviceCertificate").GetString() is not { Length: > 0 } deploymentCertificate ||
            deployment.GetProperty("servicePrivateKey").GetString() is not { Length: > 0 } deploymentKey ||
            deployment.GetProperty("secret").GetString() is not { Length: 64 } deploymentSecret)
        {
            throw new HttpRequestException("the target's material has no deployment identity (a member of an older version?)");
        }

        directory.ProvisionDeployment(deploymentCertificate, deploymentKey, deploymentSecret);

        foreach (var (name, material) in ledgers.OrderBy(l => l.Name == LedgerName.Default ? 1 : 0))
        {
            var pem = material.GetProperty("serviceCertificate").GetString()!;
            if (name == LedgerName.Default && pem != certificatePem)
            {
                throw new HttpRequestException("the target's material names two identities for the ledger 'default'");
            }

            var ledger = directory.Ledger(name);
            Vellum.Node.Management.LedgerResource? resource = null;
            if (material.TryGetProperty("resource", out var resourceJson) &&
                (!Vellum.Node.Management.LedgerResource.TryDecode(System.Text.Encoding.UTF8.GetBytes(resourceJson.GetString() ?? string.Empty), out resource, out _) || resource.Name != name))
            {
                throw new HttpRequestException($"the target's material of the ledger '{name}' has a damaged control-plane resource");
            }

            ledger.Provision(
                pem, material.GetProperty("servicePrivateKey").GetString()!, material.GetProperty("ledgerSecret").GetString()!,
                material.GetProperty("ledgerType").GetString()!);
            resource?.Write(ledger.ResourceFile); // the control plane's record of it, when it made it
        }
    }

    /// <summary>Pins the service certificate: the target's TLS certificate must chain to it.</summary>
    private static HttpClient Client(Uri target, X509Certificate2 service)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = true,
            SslOptions = new SslClientAuthenticationOptions
            {
                // The node's certificate must be one the pinned service identity endorsed.
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is X509Certificate2 c && Vellum.Core.Identity.CertificateEndorsement.IsEndorsedBy(c, service),
                // The chain SslStream builds before that callback must not go online (AIA URLs, revocation lists).
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                CertificateChainPolicy = Vellum.Core.Identity.OfflineChainPolicy.Create(),
            },
        };
        return new HttpClient(handler) { BaseAddress = target, Timeout = TimeSpan.FromSeconds(60) };
    }
}
