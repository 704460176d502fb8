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
/// <c>vellum join</c>: a new node of an existing cluster. It trades an operator's join token for the deployment's
/// material at a member (asked as the deployment, at <see cref="Vellum.Node.Ledgers.DeploymentIdentity.ServerName"/>,
/// and checked against the deployment's service certificate it was given), starts with no members of its own, asks the
/// primary to add it, catches up from the Raft log, and reports ready once it has applied what the cluster committed.
/// Later starts are plain <c>vellum start --data … --listen … --node-listen …</c>.
/// </summary>
internal static class JoinCommand
{
    public static Command Create()
    {
        var data = new Option<string?>("--data") { Description = "Data folder of the new node (must not hold another service)." };
        var listen = new Option<string?>("--listen") { Description = "HTTPS endpoint host:port of this node (a fixed port: members forward or redirect writes to it)." };
        var nodeListen = new Option<string?>("--node-listen") { Description = "host:port of this node's Raft channel." };
        var target = new Option<string>("--target") { Description = "https://host:port of any member.", Required = true };
        var token = new Option<string>("--token") { Description = "Join token from POST /node/join-tokens (an operator of the deployment issues it).", Required = true };
        var serviceCert = new Option<string>("--service-cert")
        {
            Description = "The deployment's service certificate (PEM; node/deployment/service_cert.pem of any member) that endorses the target's certificate; the join fails otherwise.",
            Required = true,
        };
        var admins = new Option<string[]>("--admin-cert")
        {
            Description = "PEM certificate of a deployment Administrator (repeatable): an operator of this member, as on the others (give every member the same).",
            AllowMultipleArgumentsPerToken = false,
        };
        var serving = new ServingOptions();
        var command = new Command("join", "Join a new node to an existing cluster.") { data, listen, nodeListen, target, token, serviceCert, admins };
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
                settings.List(result, admins, "adminCerts"), serving.Read(result, settings), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(
        string data, string listen, string nodeListen, string target, string token, string serviceCertPath, string[] admins, ServingOptions.Values servingValues,
        CancellationToken cancellationToken)
    {
        if (!servingValues.TryCheck("join", out var serving))
        {
            return 2;
        }

        foreach (var admin in admins)
        {
            if (!File.Exists(admin))
            {
                Console.Error.WriteLine($"vellum join: --admin-cert {admin} does not exist");
                return 2;
            }
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
                if (directory.HasDeployment && File.ReadAllText(directory.DeploymentServiceCertificate).Trim() != service.ExportCertificatePem().Trim())
                {
                    Console.Error.WriteLine($"vellum join: {data} already belongs to another deployment");
                    return 2;
                }

                // Asked again on a rerun (a join stopped before it finished writing every ledger): what is here already
                // must be the same material, and what is missing is written.
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
                BackupWrites = serving.BackupWrites, SnapshotInterval = serving.Given.SnapshotInterval,
                MaxSignaturesPerSecond = serving.Given.MaxSignaturesPerSecond, DataFolderLock = folderLock,
                JwtIssuers = serving.JwtIssuers, AdminCertificates = admins, AdminObjectIds = serving.Given.AdminOids, Management = serving.Management,
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
    /// deployment's service certificate is the pinned one (the material came over TLS from a node it endorsed). The
    /// deployment first (it marks the folder as a member's); a ledger already here must hold the same service
    /// certificate (a rerun after a stop in the middle), else nothing more is written.
    /// </summary>
    /// <exception cref="HttpRequestException">The target's answer is not material this node can take.</exception>
    /// <exception cref="InvalidOperationException">The folder holds another deployment's identity or ledger.</exception>
    private static void Provision(DataDirectory directory, JsonElement root, X509Certificate2 pinned)
    {
        if (!root.TryGetProperty("deployment", out var deployment) || deployment.ValueKind != JsonValueKind.Object ||
            deployment.GetProperty("serviceCertificate").GetString() is not { Length: > 0 } deploymentCertificate ||
            deployment.GetProperty("servicePrivateKey").GetString() is not { Length: > 0 } deploymentKey ||
            deployment.GetProperty("secret").GetString() is not { Length: 64 } deploymentSecret)
        {
            throw new HttpRequestException("the target's material has no deployment identity (a member of an older version?)");
        }

        using (var offered = X509Certificate2.CreateFromPem(deploymentCertificate))
        {
            if (!offered.RawDataMemory.Span.SequenceEqual(pinned.RawDataMemory.Span))
            {
                throw new HttpRequestException("the target offered another deployment's identity");
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

        foreach (var (name, material) in ledgers)
        {
            var folder = directory.Ledger(name);
            if (folder.Exists && File.ReadAllText(folder.ServiceCertificate).Trim() != material.GetProperty("serviceCertificate").GetString()!.Trim())
            {
                throw new InvalidOperationException($"{directory.Root} already holds another service's ledger '{name}'");
            }
        }

        var foreign = directory.HasDeployment ? [] : directory.LedgerNames().Where(name => !ledgers.Any(l => l.Name == name)).ToList();
        if (foreign.Count > 0)
        {
            throw new InvalidOperationException($"{directory.Root} already holds a ledger '{foreign[0]}' the deployment does not have");
        }

        directory.ProvisionDeployment(deploymentCertificate, deploymentKey, deploymentSecret);
        if (root.TryGetProperty("developmentAdministrator", out var developer) && developer.GetString() is { Length: > 0 } developerPem &&
            !File.Exists(directory.DevelopmentAdminCertificate))
        {
            // Its certificate only (public): where no operator is named, the development Administrator is one here too.
            Directory.CreateDirectory(directory.Credentials);
            Vellum.Storage.IO.Durability.WriteFileAtomic(directory.DevelopmentAdminCertificate, System.Text.Encoding.ASCII.GetBytes(developerPem));
        }
        foreach (var (name, material) in ledgers)
        {
            Vellum.Node.Management.LedgerResource? resource = null;
            if (material.TryGetProperty("resource", out var resourceJson) &&
                (!Vellum.Node.Management.LedgerResource.TryDecode(System.Text.Encoding.UTF8.GetBytes(resourceJson.GetString() ?? string.Empty), out resource, out _) || resource.Name != name))
            {
                throw new HttpRequestException($"the target's material of the ledger '{name}' has a damaged control-plane resource");
            }

            var ledger = directory.Ledger(name);
            if (!ledger.Exists)
            {
                ledger.Provision(
                    material.GetProperty("serviceCertificate").GetString()!, material.GetProperty("servicePrivateKey").GetString()!,
                    material.GetProperty("ledgerSecret").GetString()!, material.GetProperty("ledgerType").GetString()!);
            }

            resource?.Write(ledger.ResourceFile); // the control plane's record of it, when it made it
        }
    }

    /// <summary>
    /// Pins the deployment's service certificate: the client asks as the deployment (TLS server name and Host
    /// <see cref="Vellum.Node.Ledgers.DeploymentIdentity.ServerName"/>), and the target's certificate must be one the
    /// pinned identity endorsed.
    /// </summary>
    private static HttpClient Client(Uri target, X509Certificate2 service)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = true, // a backup with --backup-writes redirect sends POST /node/members to the primary
            SslOptions = new SslClientAuthenticationOptions
            {
                TargetHost = Vellum.Node.Ledgers.DeploymentIdentity.ServerName,
                // The node's certificate must be one the pinned service identity endorsed.
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is X509Certificate2 c && Vellum.Core.Identity.CertificateEndorsement.IsEndorsedBy(c, service),
                // The chain SslStream builds before that callback must not go online (AIA URLs, revocation lists).
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                CertificateChainPolicy = Vellum.Core.Identity.OfflineChainPolicy.Create(),
            },
        };
        var client = new HttpClient(handler) { BaseAddress = target, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Host = $"{Vellum.Node.Ledgers.DeploymentIdentity.ServerName}:{target.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        return client;
    }
}
