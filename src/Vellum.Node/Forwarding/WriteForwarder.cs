using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.Extensions.Logging;
using Vellum.Core.Identity;
using Vellum.Node.Auth;
using Vellum.Node.Endpoints;

namespace Vellum.Node.Forwarding;

/// <summary>
/// A backup's half of a forwarded write: re-sends the request the store refused to the primary, over HTTPS with this
/// node's certificate as the TLS client certificate (so the primary knows a member vouches for the caller) and the
/// primary's server certificate pinned to the service identity, then relays the primary's answer verbatim.
/// </summary>
/// <remarks>
/// One client for the node's lifetime. Requests carry the primary's absolute address, and the handler pools
/// connections per address, so a change of primary needs no rebuild: new writes open (or reuse) connections to the
/// new primary, and those to the old one close after <see cref="IdleTimeout"/>.
/// </remarks>
internal sealed class WriteForwarder : IDisposable
{
    // The request headers that mean something to the primary. Everything else — notably any forwarded-user header
    // the client sent, hop-by-hop headers and Host — is not copied.
    private static readonly string[] RequestHeaders =
    [
        "Accept", "Accept-Language", "User-Agent", "x-ms-client-request-id", "x-ms-return-client-request-id", "traceparent", "tracestate",
    ];

    // Connection-specific headers (RFC 9110 §7.6.1) that a relay must not pass on; Date is set by Kestrel.
    private static readonly HashSet<string> NotRelayed = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "TE", "Trailer", "Upgrade", "Date", "Server", "Alt-Svc",
    };

    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(60);

    private readonly HttpClient _client;
    private readonly TimeSpan _timeout;
    private readonly ILogger _logger;

    /// <param name="nodeCertificate">This node's certificate with its private key (the TLS client certificate; renewable).</param>
    /// <param name="serviceCertificate">The service identity the primary's server certificate must chain to.</param>
    /// <param name="timeout">Longest wait for the primary's answer.</param>
    /// <param name="logger">Where failures to reach the primary are logged.</param>
    public WriteForwarder(NodeTlsCertificate nodeCertificate, X509Certificate2 serviceCertificate, TimeSpan timeout, ILogger logger)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = timeout < TimeSpan.FromSeconds(5) ? timeout : TimeSpan.FromSeconds(5),
            PooledConnectionIdleTimeout = IdleTimeout,
            // A busy connection is never idle; recycling it hourly bounds how long it presents a renewed-away certificate.
            PooledConnectionLifetime = TimeSpan.FromHours(1),
            // HTTP/2 multiplexes the forwarded writes; more than one connection once the primary's stream limit is hit.
            EnableMultipleHttp2Connections = true,
            SslOptions = new SslClientAuthenticationOptions
            {
                // Selected per handshake: a renewed node certificate is presented on new connections.
                LocalCertificateSelectionCallback = (_, _, _, _, _) => nodeCertificate.Certificate,
                RemoteCertificateValidationCallback = (_, certificate, _, _) => ServiceCertificatePin.Accepts(certificate, serviceCertificate),
                // Our CA publishes no revocation lists; checking would only wait on the network and fail. Nor may the
                // chain built for the server's certificate fetch the AIA URLs in it.
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                CertificateChainPolicy = OfflineChainPolicy.Create(),
            },
        };

        // The deadline is per request (a linked token), so the client's own timeout stays out of the way.
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _timeout = timeout;
        _logger = logger;
    }

    /// <summary>
    /// Makes the request body replayable, before any endpoint reads it: buffered in memory up to the node's body
    /// limit (Kestrel already refuses more). Called for requests that may write, on a backup only, so the primary's
    /// hot path does not copy bodies.
    /// </summary>
    public static void PrepareReplay(HttpContext context, int bodyLimit) => context.Request.EnableBuffering(bodyLimit + 1, bodyLimit + 1);

    /// <summary>
    /// Sends the request to <paramref name="primary"/>, naming <paramref name="host"/> (the ledger's host name there,
    /// which is also the TLS server name, so the primary answers for the same ledger with its certificate), and writes
    /// its answer as this request's answer; 503 in the ACL shape when that cannot be done. The response must not have started.
    /// </summary>
    /// <param name="context">The request to send on.</param>
    /// <param name="primary">The primary's client address.</param>
    /// <param name="host">The host name to name there (and the TLS server name).</param>
    /// <param name="extraHeaders">Headers to add (the control plane's operator, vouched for by this node).</param>
    public async Task ForwardAsync(HttpContext context, Uri primary, string host, IEnumerable<KeyValuePair<string, string>>? extraHeaders = null)
    {
        var request = context.Request;
        if (!request.Body.CanSeek)
        {
            // The node was primary when the request began, so its body was not kept. The store refused the append,
            // so nothing was written.
            await AclResponses.Error(context, AclErrors.ServiceUnavailable,
                $"This node stopped being primary while handling the request, which was not written; retry, or send it to the primary at {primary}.").ConfigureAwait(false);
            return;
        }

        request.Body.Position = 0;
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body, context.RequestAborted).ConfigureAwait(false);

        var target = new Uri(primary, request.GetEncodedPathAndQuery());
        using var message = new HttpRequestMessage(new HttpMethod(request.Method), target)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
            Headers = { Host = host },
        };
        if (body.Length > 0 || request.ContentType is not null)
        {
            message.Content = new ByteArrayContent(body.GetBuffer(), 0, (int)body.Length);
            if (request.ContentType is { } contentType && !message.Content.Headers.TryAddWithoutValidation("Content-Type", contentType))
            {
                await AclResponses.Error(context, AclErrors.UnsupportedContentType, $"Content-Type '{contentType}' cannot be forwarded.").ConfigureAwait(false);
                return;
            }
        }

        foreach (var name in RequestHeaders)
        {
            if (request.Headers.TryGetValue(name, out var values))
            {
                message.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }

        // The caller this node authenticated; paths without one (a join-token call) go unnamed, as they came.
        if (ClientIdentity.Find(context) is { } caller)
        {
            message.Headers.TryAddWithoutValidation(NodeCaller.ForwardedUserHeader, caller.UserId);
        }

        foreach (var (name, value) in extraHeaders ?? [])
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        deadline.CancelAfter(_timeout);
        HttpResponseMessage response;
        try
        {
            response = await _client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (NotSent(ex, deadline.IsCancellationRequested))
        {
            LogMessages.ForwardFailed(_logger, request.Method, request.Path, primary.ToString(), ex);
            var why = ex is HttpRequestException http ? http.HttpRequestError.ToString() : "no connection within the connect timeout";
            await AclResponses.Error(context, AclErrors.ServiceUnavailable,
                $"This node is a backup and could not reach the primary at {primary} ({why}); the write was not sent. Retry shortly.").ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException || (ex is OperationCanceledException && !context.RequestAborted.IsCancellationRequested))
        {
            // Past the TLS handshake the request may have reached the primary, which may have written it.
            LogMessages.ForwardFailed(_logger, request.Method, request.Path, primary.ToString(), ex);
            var what = ex is OperationCanceledException ? $"did not answer within {_timeout.TotalSeconds:0.#} s" : "failed while the write was in flight";
            await AclResponses.Error(context, AclErrors.ServiceUnavailable,
                $"This node forwarded the write to the primary at {primary}, which {what}: the outcome is unknown (it may have been written). Check before retrying.").ConfigureAwait(false);
            return;
        }

        using (response)
        {
            await RelayAsync(context, response, deadline.Token).ConfigureAwait(false);
        }
    }

    /// <summary>Status, end-to-end headers and body of the primary's answer, as they came.</summary>
    private static async Task RelayAsync(HttpContext context, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var target = context.Response;
        target.Clear();
        target.StatusCode = (int)response.StatusCode;
        foreach (var (name, values) in response.Headers)
        {
            if (!NotRelayed.Contains(name))
            {
                target.Headers[name] = values.ToArray();
            }
        }

        foreach (var (name, values) in response.Content.Headers)
        {
            target.Headers[name] = values.ToArray();
        }

        try
        {
            await response.Content.CopyToAsync(target.Body, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            // The status line has gone out: the only honest signal left is a broken response.
            context.Abort();
        }
    }

    /// <summary>
    /// Failures that happen before a byte of the request reaches the primary: connecting or the TLS handshake failed,
    /// or did not finish within the handler's connect timeout (a cancellation that is not our deadline's).
    /// </summary>
    private static bool NotSent(Exception exception, bool deadlinePassed) => exception switch
    {
        HttpRequestException http => http.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError ||
            http.InnerException is AuthenticationException,
        OperationCanceledException => !deadlinePassed && exception.InnerException is TimeoutException,
        _ => false,
    };

    /// <inheritdoc />
    public void Dispose() => _client.Dispose();
}
