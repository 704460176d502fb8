using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Vellum.Core.Identity;

namespace Vellum.Cli.Commands;

/// <summary>The connection to a deployment's control plane: credentials, trust, and requests with a timeout each.</summary>
internal static partial class LedgerCommand
{
    /// <summary>
    /// An HTTPS client of one deployment, as one operator: a client certificate or a bearer token, and the deployment's
    /// TLS certificate validated against the given CA only (or the system's trust store), never unchecked.
    /// </summary>
    private sealed class ControlPlane : IDisposable
    {
        /// <summary>Each request's limit (the whole exchange, body included).</summary>
        public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

        private readonly HttpClient _http;
        private readonly string? _token;
        private readonly X509Certificate2? _clientCertificate;

        private ControlPlane(Uri endpoint, HttpClient http, string? token, X509Certificate2? clientCertificate)
        {
            Endpoint = endpoint;
            _http = http;
            _token = token;
            _clientCertificate = clientCertificate;
        }

        /// <summary>The deployment, <c>https://HOST:PORT</c>.</summary>
        public Uri Endpoint { get; }

        /// <summary><see cref="Endpoint"/> as the user wrote it, for messages.</summary>
        public string Name => Endpoint.GetLeftPart(UriPartial.Authority);

        /// <summary>
        /// The connection <paramref name="settings"/> describe, or false with one line saying what is wrong (no endpoint,
        /// no or two kinds of credentials, a file that cannot be read). Credentials, first that applies: --cert/--key,
        /// --token, the development Administrator of --data, VELLUM_TOKEN.
        /// </summary>
        public static bool TryOpen(Settings settings, [NotNullWhen(true)] out ControlPlane? plane, [NotNullWhen(false)] out string? error)
        {
            plane = null;
            if (settings.Endpoint is null)
            {
                error = "--endpoint is required: the deployment's https://HOST:PORT";
                return false;
            }

            if (!Uri.TryCreate(settings.Endpoint, UriKind.Absolute, out var endpoint) || endpoint.Scheme != Uri.UriSchemeHttps ||
                endpoint.AbsolutePath != "/" || endpoint.Query.Length > 0 || endpoint.UserInfo.Length > 0)
            {
                error = $"--endpoint '{settings.Endpoint}' is not https://HOST[:PORT]";
                return false;
            }

            if ((settings.Cert is null) != (settings.Key is null))
            {
                error = "--cert and --key go together: a client certificate and its private key";
                return false;
            }

            if (settings.Cert is not null && settings.Token is not null)
            {
                error = "give a client certificate (--cert, --key) or a token (--token), not both";
                return false;
            }

            var credentials = settings.Data is null ? null : Path.Combine(settings.Data, "credentials");
            var (certFile, keyFile) = settings.Cert is not null ? (settings.Cert, settings.Key)
                : settings.Token is null && credentials is not null ? (Path.Combine(credentials, "admin_cert.pem"), Path.Combine(credentials, "admin_privk.pem"))
                : (null, null);
            var token = settings.Token;
            if (certFile is null && token is null && Environment.GetEnvironmentVariable(TokenVariable) is { Length: > 0 } fromEnvironment)
            {
                token = fromEnvironment;
            }

            if (certFile is null && string.IsNullOrWhiteSpace(token))
            {
                error = $"no credentials: give --cert and --key (an operator's certificate), --token or {TokenVariable} (a bearer token), " +
                    "or --data (a development deployment)";
                return false;
            }

            if (token is not null && (token.Any(char.IsWhiteSpace) || token.Any(char.IsControl)))
            {
                error = "the token is not one JWT (it holds spaces or control characters)";
                return false;
            }

            var caFile = settings.Ca ?? (credentials is null ? null : Path.Combine(credentials, "deployment_ca_cert.pem"));
            X509Certificate2? clientCertificate = null;
            X509Certificate2Collection? trusted = null;
            try
            {
                if (certFile is not null)
                {
                    using var pem = X509Certificate2.CreateFromPemFile(certFile, keyFile);

                    // Through PKCS#12: a key made from PEM is ephemeral, which TLS cannot use on every platform.
                    clientCertificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
                }

                if (caFile is not null)
                {
                    trusted = [];
                    trusted.ImportFromPemFile(caFile);
                    if (trusted.Count == 0)
                    {
                        throw new CryptographicException($"{caFile} holds no certificate");
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
            {
                clientCertificate?.Dispose();
                error = certFile is not null && clientCertificate is null
                    ? $"cannot read the client certificate {certFile} with its key {keyFile}: {ex.Message}"
                    : $"cannot read the CA certificates {caFile}: {ex.Message}";
                return false;
            }

            var ssl = new SslClientAuthenticationOptions();
            if (clientCertificate is not null)
            {
                ssl.ClientCertificates = [clientCertificate];
            }

            if (trusted is not null)
            {
                // Only the given CA: a chain to anything else, the system's roots included, is refused. The host name is
                // still checked (by SslStream, against the endpoint's host).
                var policy = new X509ChainPolicy
                {
                    TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck, DisableCertificateDownloads = true,
                };
                foreach (var certificate in trusted)
                {
                    // Roots anchor the chain; anything else in the file only helps build it.
                    var isRoot = certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData);
                    (isRoot ? policy.CustomTrustStore : policy.ExtraStore).Add(certificate);
                }

                ssl.CertificateChainPolicy = policy;
            }

            var handler = new SocketsHttpHandler { SslOptions = ssl, ConnectTimeout = CallTimeout, AllowAutoRedirect = false };
            var http = new HttpClient(handler)
            {
                Timeout = CallTimeout,
                DefaultRequestVersion = HttpVersion.Version20,
                DefaultVersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
                MaxResponseContentBufferSize = 16 * 1024 * 1024,
            };
            plane = new ControlPlane(endpoint, http, token, clientCertificate);
            error = null;
            return true;
        }

        /// <summary>The URL of <paramref name="pathAndQuery"/> at the deployment.</summary>
        public Uri Url(string pathAndQuery) => new(Endpoint, pathAndQuery);

        /// <summary>The resource URL of ledger <paramref name="name"/> in the subscription and resource group of <paramref name="settings"/>.</summary>
        public Uri LedgerUrl(Settings settings, LedgerName name) =>
            Url($"{ResourceGroupPath(settings)}/ledgers/{name.Value}?api-version={ApiVersion}");

        /// <summary>
        /// Whether <paramref name="url"/> (an operation's, from the deployment's answer) is at the deployment itself:
        /// the credentials are sent to nothing else.
        /// </summary>
        public bool IsOwn(Uri url) =>
            Uri.Compare(url, Endpoint, UriComponents.SchemeAndServer, UriFormat.UriEscaped, StringComparison.OrdinalIgnoreCase) == 0;

        /// <summary>One request, with the token when there is one; the answer read whole.</summary>
        public async Task<Answer> SendAsync(HttpMethod method, Uri url, string? json, CancellationToken cancellationToken)
        {
            using var request = new HttpRequestMessage(method, url);
            if (_token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
            }

            if (json is not null)
            {
                request.Content = new StringContent(json, Encoding.UTF8, "application/json");
            }

            using var response = await _http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            var retryAfter = response.Headers.RetryAfter is { } header
                ? header.Delta ?? (header.Date is { } date ? date - DateTimeOffset.UtcNow : null)
                : null;
            var asyncOperation = response.Headers.TryGetValues("Azure-AsyncOperation", out var values) &&
                                 Uri.TryCreate(values.FirstOrDefault(), UriKind.Absolute, out var status) ? status : null;
            var location = response.Headers.Location is { } l ? (l.IsAbsoluteUri ? l : new Uri(url, l)) : null;
            return new Answer((int)response.StatusCode, body, retryAfter, asyncOperation, location);
        }

        public void Dispose()
        {
            _http.Dispose();
            _clientCertificate?.Dispose();
        }
    }

    /// <summary>A control-plane answer, read whole.</summary>
    /// <param name="Status">The HTTP status.</param>
    /// <param name="Body">The body (JSON, or empty).</param>
    /// <param name="RetryAfter">The <c>Retry-After</c> the answer asked for.</param>
    /// <param name="AsyncOperation">The <c>Azure-AsyncOperation</c> URL: the operation's status resource.</param>
    /// <param name="Location">The <c>Location</c> URL: the operation's result.</param>
    private sealed record Answer(int Status, string Body, TimeSpan? RetryAfter, Uri? AsyncOperation, Uri? Location)
    {
        /// <exception cref="JsonException">The body is not JSON.</exception>
        public JsonDocument Parse() => JsonDocument.Parse(Body);

        /// <summary>ARM's <c>{"error":{"code","message"}}</c>, or what can be said of an answer of another shape.</summary>
        public (string Code, string Message) Error()
        {
            try
            {
                using var document = Parse();
                if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("error", out var error))
                {
                    return (Text(error, "code"), Text(error, "message"));
                }
            }
            catch (JsonException)
            {
            }

            var text = Body.Length > 200 ? Body[..200] + "…" : Body;
            return (((HttpStatusCode)Status).ToString(), text.Length == 0 ? "(no body)" : text.ReplaceLineEndings(" "));
        }
    }
}
