using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using Vellum.Core.Identity;
using Vellum.Node.Auth;
using Vellum.Node.Endpoints;
using Vellum.Node.Forwarding;
using Vellum.Node.Ledgers;
using Vellum.Node.Management;
using Vellum.Node.Service;
using Vellum.Storage.Ledger;

namespace Vellum.Node;

/// <summary>Builds the node's web host: Kestrel over HTTPS only (TLS 1.2/1.3, HTTP/1.1 and HTTP/2), mutual TLS.</summary>
public static class NodeHost
{
    /// <summary>
    /// Opens the node's ledgers (<see cref="LedgerRegistry"/>) and builds (does not start) the host. The caller owns
    /// both: dispose the app, then the ledgers.
    /// </summary>
    public static async Task<(WebApplication App, LedgerRegistry Ledgers)> BuildAsync(NodeOptions options, Action<ILoggingBuilder>? logging = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        // The node is configured by its options alone. The host's defaults would otherwise read appsettings.json from the
        // working directory (a stray one could add Kestrel endpoints) and watch that directory, subfolders included, to
        // reload it: with the data folder under the working directory (the default ./vellum-data) every write to every
        // ledger file woke the watcher (with many ledgers, about a fifth of the append throughput; docs/benchmarks.md).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
        });
        builder.Logging.ClearProviders();
        if (logging is null)
        {
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true);

            // ASP.NET Core logs several Information lines per request; at ledger request rates that would be most of
            // the node's CPU. Its warnings and errors still show.
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        }
        else
        {
            logging(builder.Logging);
        }

        using var bootLoggerFactory = LoggerFactory.Create(b => (logging ?? (l => l.AddSimpleConsole(o => o.SingleLine = true)))(b));
        var ledgers = await LedgerRegistry.OpenAsync(options, bootLoggerFactory.CreateLogger("Vellum.Node"), cancellationToken).ConfigureAwait(false);
        var routing = new LedgerRouting(ledgers, options.Domain);

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;

            // RequestBody enforces MaxRequestBodyBytes on the body's bytes. Kestrel counts chunked framing (sizes,
            // extensions, CRLFs) against its own limit, so the same body would be refused at a smaller size chunked than
            // with Content-Length; twice the limit leaves framing the room, so RequestBody decides for any sane chunking,
            // and Kestrel still stops a body no endpoint reads (it drains one to keep the connection) or framing gone wild.
            kestrel.Limits.MaxRequestBodySize = (2L * options.MaxRequestBodyBytes) + (64 * 1024);

            // Each HTTP/2 stream can hold a response Kestrel buffers while the client's flow-control window is shut;
            // fewer streams per connection and a ceiling on connections bound what clients can make the node hold.
            kestrel.Limits.Http2.MaxStreamsPerConnection = options.MaxStreamsPerConnection;
            kestrel.Limits.MaxConcurrentConnections = options.MaxConcurrentConnections;
            kestrel.Listen(options.Listen, listen => UseTls(listen, routing, serverName: null));
            if (options.Management.Listen is { } management)
            {
                kestrel.Listen(management, listen => UseTls(listen, routing, serverName: options.Domain));
            }
        });
        builder.Services.AddSingleton(ledgers);

        // Bearer tokens from the identity providers the node trusts (made once the host is built, below).
        if (options.JwtIssuers.Count > 0)
        {
            builder.Services.AddSingleton(services => new BearerTokens(options.JwtIssuers, services.GetRequiredService<ILoggerFactory>().CreateLogger("Vellum.Node")));
        }

        if (options.MetricsListen is { } metricsListen)
        {
            // Appends, batch sizes, fsync time, commit watermarks and signature lag (Vellum.Storage), and request
            // latency per route (ASP.NET Core's own http.server.request.duration).
            builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
                .AddMeter(LedgerStoreMetricsName, BearerTokens.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
                .AddPrometheusHttpListener(listener =>
                {
                    var colon = metricsListen.LastIndexOf(':');
                    listener.Host = metricsListen[..colon].Trim('[', ']');
                    listener.Port = int.Parse(metricsListen[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture);
                }));
        }

        // The deployment's operators: the control plane's callers, and who manages the deployment's members and ledgers.
        builder.Services.AddSingleton(services => new DeploymentOperators(ledgers, options, services.GetService<BearerTokens>()));
        builder.Services.AddSingleton(options);
        builder.Services.AddRouting();
        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Vellum.Node");
        _ = app.Services.GetService<BearerTokens>(); // now: a key file that cannot be read fails the start, not a request

        // A cluster member that forwards backup writes keeps a client to the primary per ledger, made at its first
        // forwarded write and kept for the ledger's lifetime (it presents that ledger's node certificate).
        var forwarding = options.NodeListen is not null && options.BackupWrites == BackupWrites.Forward;
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context).ConfigureAwait(false);
                if (!context.Response.HasStarted && context.Response.StatusCode >= 400)
                {
                    // A refusal with no body of its own (a status set and nothing written): every refusal the node
                    // answers carries the ACL shape. Kestrel's refusals before the app runs (414, 431, a malformed
                    // request line or header) cannot; docs/api-compatibility.md lists them.
                    var status = context.Response.StatusCode;
                    await AclResponses.Error(context, AclErrors.ForStatus(status), $"{context.Request.Method} {context.Request.Path} was refused ({status}).").ConfigureAwait(false);
                }
            }
            catch (NotPrimaryException) when (!context.Response.HasStarted && context.Features.Get<LedgerService>() is { } ledger)
            {
                await NotPrimary(context, ledger, options, forwarding ? ledger.Forwarder(logger) : null).ConfigureAwait(false);
            }
            catch (NotPrimaryException) when (!context.Response.HasStarted && ledgers.Membership is { } membership && ledgers.Identity is { } identity)
            {
                // One of the deployment's own writes (its members, its ledgers), which names no ledger.
                await DeploymentNotPrimary(context, ledgers, membership, options, forwarding ? identity.Forwarder(options.ForwardTimeout, logger) : null).ConfigureAwait(false);
            }
            catch (ObjectDisposedException) when (!context.Response.HasStarted && context.Features.Get<LedgerService>() is { IsClosing: true } closing)
            {
                // The ledger closed under a request that reached it before its deletion began.
                await AclResponses.Error(context, AclErrors.ServiceUnavailable, $"The ledger '{closing.Name}' is being deleted.").ConfigureAwait(false);
            }
            catch (ReplicationLostException ex) when (!context.Response.HasStarted)
            {
                await AclResponses.Error(context, AclErrors.ServiceUnavailable, $"The primary changed before the write committed; ask for its status. {ex.Message}").ConfigureAwait(false);
            }
            catch (Microsoft.AspNetCore.Http.BadHttpRequestException ex) when (!context.Response.HasStarted)
            {
                // Kestrel refused the request while the endpoint read its body (malformed chunking, a body past
                // Kestrel's own limit, a body too slow): the client's error, answered with Kestrel's status.
                LogMessages.RequestRejected(logger, context.Request.Method, context.Request.Path, ex.StatusCode, ex.Message);
                var message = ex.StatusCode == StatusCodes.Status413PayloadTooLarge
                    ? $"The request body is larger than {options.MaxRequestBodyBytes} bytes."
                    : $"The request could not be read: {ex.Message}";
                await AclResponses.Error(context, AclErrors.ForStatus(ex.StatusCode), message).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException && !context.Response.HasStarted)
            {
                LogMessages.RequestFailed(logger, context.Request.Method, context.Request.Path, ex);
                await AclResponses.Error(context, AclErrors.InternalError, "The node could not complete the request; see its log.").ConfigureAwait(false);
            }
        });
        // The control plane (ARM's paths) before any ledger is looked up: it names ledgers in its paths, as resources.
        var server = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>();
        var management = new ManagementApi(ledgers, options, app.Services.GetRequiredService<DeploymentOperators>(), host => !routing.NameIn(host).IsEmpty, () => ListenPort(server, options), logger);
        if (options.Management.Listen is { Port: var managementPort })
        {
            // The control plane's own listener answers it alone; the main one only for members sending a request on.
            app.Use((context, next) => context.Connection.LocalPort == managementPort
                ? ManagementApi.IsManagementPath(context.Request.Path) ? management.HandleAsync(context) : ManagementApi.NotOnThisListenerAsync(context)
                : !ManagementApi.IsManagementPath(context.Request.Path) ? next(context)
                : DeploymentOperators.IsFromMember(context) ? management.HandleAsync(context) : ManagementApi.NotOnThisListenerAsync(context));
        }
        else
        {
            app.Use((context, next) => ManagementApi.IsManagementPath(context.Request.Path) ? management.HandleAsync(context) : next(context));
        }
        app.Lifetime.ApplicationStopping.Register(() => management.StopAsync().GetAwaiter().GetResult());
        app.Lifetime.ApplicationStopped.Register(management.Dispose);

        // Routing first: the api-version and identity checks read what the matched endpoint asks for
        // (EndpointAccess), so that a path's spelling cannot take a request past them.
        app.Use(routing.Middleware);
        if (forwarding)
        {
            // A write that reaches a backup is kept so it can be sent on to the primary (the primary's path copies nothing).
            app.Use((context, next) =>
            {
                if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method) &&
                    (context.Features.Get<LedgerService>() is { } ledger ? !ledger.IsPrimary : ledgers.Membership is { IsPrimary: false }))
                {
                    WriteForwarder.PrepareReplay(context, options.MaxRequestBodyBytes);
                }

                return next(context);
            });
        }

        app.UseRouting();
        app.Use(ApiVersions.Middleware);
        app.Use(LedgerAuthorization.Middleware);
        TransactionEndpoints.Map(app, options.BenchmarkEndpoints);
        UserEndpoints.Map(app);
        RoleEndpoints.Map(app);
        ServiceEndpoints.Map(app, ledgers);
        ClusterEndpoints.Map(app);
        LedgerEndpoints.Map(app);
        LedgerFramesEndpoint.Map(app);
        OpenApiDocument.Map(app);
        FallbackEndpoint.Map(app);
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            foreach (var served in ledgers.All)
            {
                LogMessages.NodeStopping(logger, served.Name.Value, served.LastSeqno);
            }
        });
        return (app, ledgers);
    }

    private const string LedgerStoreMetricsName = "Vellum.Storage";

    /// <summary>The main listener's port, as bound (<c>--listen</c> may name port 0); 0 before the server listens.</summary>
    private static int ListenPort(Microsoft.AspNetCore.Hosting.Server.IServer server, NodeOptions options)
    {
        if (options.Listen.Port != 0)
        {
            return options.Listen.Port;
        }

        foreach (var address in server.Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses ?? [])
        {
            if (Uri.TryCreate(address.Replace("[::]", "localhost", StringComparison.Ordinal), UriKind.Absolute, out var url) && url.Port != options.Management.Listen?.Port)
            {
                return url.Port;
            }
        }

        return 0;
    }

    /// <summary>
    /// TLS 1.2+ on a listener. Per connection, from the client's hello: the certificate of the ledger its server name
    /// (SNI) names (this node's certificate for that ledger, endorsed by the ledger's service identity, which is what its
    /// clients pin), the deployment's for the domain itself, and default's (else the deployment's) for no name or another
    /// name (LedgerRouting.CertificateFor); on the control plane's own listener always the deployment's. The certificate
    /// of the moment: one renewed while the node runs serves new connections. No self-signed root is sent (SslStream
    /// never sends one); an operator's chain is. Kestrel adds ALPN (h2, http/1.1).
    /// </summary>
    private static void UseTls(ListenOptions listen, LedgerRouting routing, string? serverName)
    {
        listen.Protocols = HttpProtocols.Http1AndHttp2;
        listen.UseHttps(new TlsHandshakeCallbackOptions
        {
            OnConnection = context => ValueTask.FromResult(new SslServerAuthenticationOptions
            {
                ServerCertificateContext = routing.CertificateFor(serverName ?? context.ClientHelloInfo.ServerName),
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                // Ask for a client certificate; any one (or none) is accepted at the TLS layer because authorization is
                // by fingerprint against the ledger's user table, as in ACL (self-signed client certificates work).
                ClientCertificateRequired = true,
#pragma warning disable CA5359 // the callback judges the client's certificate, not a server's; users are checked by fingerprint after TLS
                RemoteCertificateValidationCallback = static (_, _, _, _) => true,
#pragma warning restore CA5359
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                // The chain SslStream builds for a client certificate must not go online (see OfflineChainPolicy).
                CertificateChainPolicy = OfflineChainPolicy.Create(),
            }),
        });
    }

    /// <summary>
    /// A write reached a backup: forwarded to the primary, 307 to it (same path and query), or 503 — as
    /// <see cref="NodeOptions.BackupWrites"/> says; 503 when no primary is known, and 503 for a write another member
    /// forwarded here (it thought this node primary): a forwarded write is never forwarded again, so none can loop.
    /// </summary>
    private static async Task NotPrimary(HttpContext context, LedgerService ledger, NodeOptions options, WriteForwarder? forwarder) =>
        await SendToPrimary(context, await NodeCaller.IsFromNodeAsync(context, ledger).ConfigureAwait(false), ledger.PrimaryUrl, ledger.HostOn, options, forwarder, null).ConfigureAwait(false);

    /// <summary>
    /// One of the deployment's own writes (its members, its ledgers) reached a backup: as <see cref="NotPrimary"/>, but
    /// sent on as the deployment (<see cref="DeploymentIdentity.ServerName"/>, with this node's certificate of the
    /// deployment identity), naming the operator this node authenticated.
    /// </summary>
    private static async Task DeploymentNotPrimary(
        HttpContext context, LedgerRegistry ledgers, NodeMembership membership, NodeOptions options, WriteForwarder? forwarder)
    {
        var caller = context.Features.Get<OperatorCaller>();
        var fromMember = caller is { FromMember: true } || ledgers.IsMember(await ClientIdentity.CertificateAsync(context).ConfigureAwait(false));
        await SendToPrimary(context, fromMember, membership.PrimaryUrl, static _ => DeploymentIdentity.ServerName, options, forwarder,
            caller is null ? null : [new(DeploymentOperators.OperatorHeader, DeploymentOperators.Encode(caller))]).ConfigureAwait(false);
    }

    private static async Task SendToPrimary(
        HttpContext context, bool fromMember, Uri? primary, Func<Uri, string> hostOn, NodeOptions options, WriteForwarder? forwarder,
        IEnumerable<KeyValuePair<string, string>>? headers)
    {
        if (fromMember)
        {
            await AclResponses.Error(context, AclErrors.ServiceUnavailable,
                "Another member forwarded this write here as to the primary, but this node is not primary (the primary changed); it was not written. Retry shortly.").ConfigureAwait(false);
            return;
        }

        if (primary is null)
        {
            await AclResponses.Error(context, AclErrors.ServiceUnavailable, "This node is a backup and knows no primary yet; retry shortly.").ConfigureAwait(false);
            return;
        }

        switch (options.BackupWrites)
        {
            case BackupWrites.Forward when forwarder is not null:
                await forwarder.ForwardAsync(context, primary, hostOn(primary), headers).ConfigureAwait(false);
                break;
            case BackupWrites.Redirect:
                context.Response.StatusCode = 307;
                // A ledger's path prefix (PathBase, if the request came with one) stays: it names the ledger there too.
                context.Response.Headers.Location = new Uri(primary, context.Request.PathBase + context.Request.Path + context.Request.QueryString).ToString();
                break;
            default:
                await AclResponses.Error(context, AclErrors.ServiceUnavailable, $"This node is a backup; send writes to the primary at {primary}.").ConfigureAwait(false);
                break;
        }
    }
}
