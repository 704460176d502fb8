using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Vellum.LoadGen;

/// <summary>
/// A closed-loop HTTP load generator for a Vellum (or ACL) node: <see cref="LoadGenOptions.Clients"/> clients each
/// send a request, wait for its response, record it, and send the next, for a warm-up and then a measured window.
/// The same loop drives the PostgreSQL baseline (<see cref="LoadScenario.PgAppend"/>, LoadGenerator.Postgres.cs).
/// </summary>
/// <remarks>
/// The per-request path allocates only what HttpClient requires (the request message and a content wrapper over a
/// cached body); URIs and bodies are built once, latencies go to a per-client <see cref="LatencyHistogram"/>, and
/// status counts to a per-client array, merged when the run ends. Nothing is logged per request.
/// </remarks>
public sealed partial class LoadGenerator
{
    private const string TransactionIdHeader = "x-ms-ccf-transaction-id";
    private const int Measuring = 1;
    private const int Done = 2;

    private readonly LoadGenOptions _options;
    private int _phase; // 0 warm-up, Measuring, Done: read by every client when a response completes

    /// <summary>Checks <paramref name="options"/> (throws <see cref="ArgumentException"/> if invalid).</summary>
    public LoadGenerator(LoadGenOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    /// <summary>The options of this run.</summary>
    public LoadGenOptions Options => _options;

    /// <summary>
    /// Runs the command line: parses <paramref name="args"/>, runs, writes the report (a table, or JSON with
    /// <c>--json</c>) to <paramref name="output"/>. Returns 0 when the run completed (request errors are in the
    /// report), 1 when it could not be carried out, 2 for bad options; problems are one line on <paramref name="error"/>.
    /// </summary>
    public static async Task<int> RunCommandLineAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (!LoadGenOptions.TryParse(args, out var options, out var problem))
        {
            if (problem is null)
            {
                await output.WriteAsync(LoadGenOptions.Usage).ConfigureAwait(false);
                return 0;
            }

            await error.WriteLineAsync($"vellum-loadgen: {problem}").ConfigureAwait(false);
            return 2;
        }

        LoadReport report;
        try
        {
            report = await new LoadGenerator(options!).RunAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (LoadGenException ex)
        {
            await error.WriteLineAsync($"vellum-loadgen: {ex.Message}").ConfigureAwait(false);
            return 1;
        }

        await output.WriteLineAsync(options!.Json ? report.ToJson() : report.ToTable()).ConfigureAwait(false);
        return 0;
    }

    /// <summary>
    /// Connects, preloads entries if the scenario reads them, runs the warm-up and the measured window, and reports.
    /// Throws <see cref="LoadGenException"/> if the node cannot be reached, refuses the certificate, or a preload fails.
    /// Cancelling ends the measured window early (the report covers what was measured).
    /// </summary>
    public async Task<LoadReport> RunAsync(CancellationToken cancellationToken = default)
    {
        var o = _options;
        if (o.ServerPid is { } pid && ProcessCpu.Read(pid) is null)
        {
            throw new LoadGenException($"cannot read the CPU time of process {pid} from /proc/{pid}/stat");
        }

        if (o.Scenario == LoadScenario.PgAppend)
        {
            return await RunPostgresAsync(cancellationToken).ConfigureAwait(false);
        }

        using var clientCertificate = LoadClientCertificate(o);
        using var serviceCertificate = LoadServiceCertificate(o);
        var https = new HttpClient[o.Connections];
        try
        {
            for (var i = 0; i < https.Length; i++)
            {
                https[i] = NewHttpClient(o, clientCertificate, serviceCertificate);
            }

            await PreflightAsync(https, cancellationToken).ConfigureAwait(false);
            var targets = await TargetsAsync(https, cancellationToken).ConfigureAwait(false);
            return await MeasureAsync(
                (state, abort) => ClientLoopAsync(https[state.Index % https.Length], state, targets, abort), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var http in https)
            {
                http?.Dispose();
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="clientLoop"/> once per client (each loops until the phase is <see cref="Done"/>, recording
    /// what completes while <see cref="Measuring"/>), over the warm-up and the window, and merges what they recorded.
    /// </summary>
    private async Task<LoadReport> MeasureAsync(Func<ClientState, CancellationToken, Task> clientLoop, CancellationToken cancellationToken)
    {
        var o = _options;
        _phase = 0;
        var states = new ClientState[o.Clients];
        for (var i = 0; i < states.Length; i++)
        {
            states[i] = new ClientState(i);
        }

        // Aborts requests still in flight once the window is over and their grace has passed.
        using var abort = new CancellationTokenSource();
        var loops = new Task[o.Clients];
        for (var i = 0; i < loops.Length; i++)
        {
            var state = states[i];
            loops[i] = Task.Run(() => clientLoop(state, abort.Token), CancellationToken.None);
        }

        long windowStart = 0, windowEnd = 0;
        TimeSpan? serverCpuStart = null, serverCpuEnd = null;
        long serverCpuStartAt = 0, serverCpuEndAt = 0;
        TimeSpan selfCpuStart = default, selfCpuEnd = default;
        try
        {
            await Task.Delay(o.Warmup, cancellationToken).ConfigureAwait(false);
            // Reading a server with a thousand children (PostgreSQL's backends) can take a while on a loaded machine:
            // the CPU interval is from the middle of one reading to the middle of the other, scaled to the window below.
            var before = Stopwatch.GetTimestamp();
            serverCpuStart = o.ServerPid is { } pid ? ProcessCpu.ReadTree(pid) : null;
            serverCpuStartAt = (before + Stopwatch.GetTimestamp()) / 2;
            selfCpuStart = ProcessCpu.Self();
            windowStart = Stopwatch.GetTimestamp();
            Volatile.Write(ref _phase, Measuring);
            await Task.Delay(o.Duration, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C or the caller: report what was measured so far.
        }

        if (Volatile.Read(ref _phase) == Measuring)
        {
            Volatile.Write(ref _phase, Done);
            windowEnd = Stopwatch.GetTimestamp();
            serverCpuEnd = o.ServerPid is { } pid ? ProcessCpu.ReadTree(pid) : null;
            serverCpuEndAt = (windowEnd + Stopwatch.GetTimestamp()) / 2;
            selfCpuEnd = ProcessCpu.Self();
        }
        else
        {
            Volatile.Write(ref _phase, Done);
        }

        // Every request has its own timeout, so the clients finish within it; then abort whatever is left.
        var all = Task.WhenAll(loops);
        var unfinished = 0;
        try
        {
            await all.WaitAsync(o.RequestTimeout + TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await abort.CancelAsync().ConfigureAwait(false);
            try
            {
                await all.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                foreach (var loop in loops)
                {
                    unfinished += loop.IsCompleted ? 0 : 1;
                }
            }
        }

        var latency = new LatencyHistogram();
        var statuses = new long[ClientState.StatusSlots];
        var codes = new Dictionary<string, long>(StringComparer.Ordinal);
        long completed = 0;
        foreach (var state in states)
        {
            latency.Add(state.Latency);
            completed += state.Completed;
            for (var s = 0; s < statuses.Length; s++)
            {
                statuses[s] += state.Statuses[s];
            }

            if (state.Codes is { } clientCodes)
            {
                foreach (var (code, count) in clientCodes)
                {
                    codes[code] = codes.GetValueOrDefault(code) + count;
                }
            }
        }

        var window = windowEnd > windowStart ? Stopwatch.GetElapsedTime(windowStart, windowEnd) : TimeSpan.Zero;
        TimeSpan? serverCpu = serverCpuStart is { } a && serverCpuEnd is { } b ? b - a : null;
        if (serverCpu is { } cpu && serverCpuEndAt > serverCpuStartAt && window > TimeSpan.Zero)
        {
            serverCpu = cpu * (window / Stopwatch.GetElapsedTime(serverCpuStartAt, serverCpuEndAt));
        }

        return LoadReport.Create(o, window, completed, latency, statuses, codes, serverCpu, windowEnd > windowStart ? selfCpuEnd - selfCpuStart : TimeSpan.Zero, unfinished);
    }

    private async Task ClientLoopAsync(HttpClient http, ClientState state, Targets targets, CancellationToken abort)
    {
        var o = _options;
        var version = o.HttpVersion;
        var buffer = state.Buffer;
        while (Volatile.Read(ref _phase) != Done)
        {
            var sentInWindow = Volatile.Read(ref _phase) == Measuring;
            var start = Stopwatch.GetTimestamp();
            int status;
            string? code = null;
            using (var request = targets.Next(state, version))
            {
                try
                {
                    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, abort).ConfigureAwait(false);
                    status = (int)response.StatusCode;
                    var stream = await response.Content.ReadAsStreamAsync(abort).ConfigureAwait(false);
                    await using (stream.ConfigureAwait(false))
                    {
                        // Drain the body into the client's buffer; an error body's start is kept for its code.
                        var kept = 0;
                        int read;
                        while ((read = await stream.ReadAsync(buffer.AsMemory(kept), abort).ConfigureAwait(false)) > 0)
                        {
                            kept = status >= 300 ? Math.Min(kept + read, buffer.Length - 1) : 0;
                        }

                        if (status >= 300)
                        {
                            code = ErrorCode(buffer.AsSpan(0, kept));
                        }
                    }
                }
                catch (OperationCanceledException) when (abort.IsCancellationRequested)
                {
                    return;
                }
                catch (TaskCanceledException)
                {
                    // HttpClient.Timeout.
                    status = 0;
                    code = "Timeout";
                }
                catch (HttpRequestException ex)
                {
                    status = 0;
                    code = ex.HttpRequestError.ToString();
                }
                catch (IOException)
                {
                    status = 0;
                    code = "ResponseAborted";
                }
            }

            var end = Stopwatch.GetTimestamp();
            if (Volatile.Read(ref _phase) == Measuring)
            {
                // Throughput and errors count every response completed in the window (closed loop: unbiased);
                // latency only those also sent in it, so that warm-up connects and handshakes stay out of it.
                state.Record(end - start, sentInWindow, status, code);
            }
        }
    }

    /// <summary>The ACL error code of an error body <c>{"error":{"code":"…"}}</c>, or null.</summary>
    internal static string? ErrorCode(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body, isFinalBlock: false, default);
            var depth = 0;
            var inError = false;
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        depth++;
                        break;
                    case JsonTokenType.EndObject:
                        depth--;
                        inError &= depth >= 2;
                        break;
                    case JsonTokenType.PropertyName when depth == 1 && reader.ValueTextEquals("error"u8):
                        inError = true;
                        break;
                    case JsonTokenType.PropertyName when depth == 2 && inError && reader.ValueTextEquals("code"u8):
                        return reader.Read() && reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    case JsonTokenType.PropertyName when depth == 1:
                        inError = false;
                        break;
                    default:
                        break;
                }
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }

    /// <summary>The collection query of collection <paramref name="index"/>: none for a single collection, else bench-0, bench-1, ….</summary>
    private string Collection(int index) =>
        _options.Collections == 1 ? "" : "&collectionId=bench-" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>One request on every connection: opens them before the warm-up, and fails fast on a refused certificate.</summary>
    private async Task PreflightAsync(HttpClient[] https, CancellationToken cancellationToken)
    {
        var o = _options;
        var uri = new Uri(o.Endpoint, $"/app/transactions/current?api-version={Uri.EscapeDataString(o.ApiVersion)}");
        var probes = new Task<(int Status, string? Code)>[https.Length];
        for (var i = 0; i < https.Length; i++)
        {
            probes[i] = SendForStatusAsync(https[i], new HttpRequestMessage(HttpMethod.Get, uri), cancellationToken);
        }

        foreach (var probe in probes)
        {
            var (status, code) = await probe.ConfigureAwait(false);
            if (status is 401 or 403)
            {
                throw new LoadGenException($"the node refused the client certificate: {status} {code}");
            }
        }
    }

    /// <summary>Builds the request URIs and bodies; for the reading scenarios, appends the preload and waits until it is committed.</summary>
    private async Task<Targets> TargetsAsync(HttpClient[] https, CancellationToken cancellationToken)
    {
        var o = _options;
        var api = "api-version=" + Uri.EscapeDataString(o.ApiVersion);
        var tags = o.Tags.Count > 0 ? "&tags=" + Uri.EscapeDataString(string.Join(',', o.Tags)) : "";
        var wait = o.WaitForCommit ? "&waitForCommit=true" : "";
        var preloadUris = new Uri[o.Collections];
        for (var i = 0; i < preloadUris.Length; i++)
        {
            preloadUris[i] = new Uri(o.Endpoint, $"/app/transactions?{api}{Collection(i)}{tags}");
        }

        // Every ledger (or the endpoint's own) × every collection, in turn.
        string[] prefixes = o.Ledgers.Count == 0 ? [""] : [.. o.Ledgers.Select(l => "/ledgers/" + l)];
        var appendUris = new Uri[prefixes.Length * o.Collections];
        for (var i = 0; i < appendUris.Length; i++)
        {
            appendUris[i] = new Uri(o.Endpoint, $"{prefixes[i % prefixes.Length]}/app/transactions?{api}{Collection(i / prefixes.Length)}{tags}{wait}");
        }

        var body = Body(o.Size);
        var targets = new Targets(o, body, appendUris, new Uri(o.Endpoint, $"/app/benchmark/noop?{api}"));
        if (o.Scenario is LoadScenario.Get or LoadScenario.Receipt or LoadScenario.Mixed)
        {
            var ids = await PreloadAsync(https, preloadUris, body, cancellationToken).ConfigureAwait(false);
            targets.SetReads(ids, o.Scenario == LoadScenario.Receipt ? "/receipt" : "", api);
        }

        return targets;
    }

    private async Task<string[]> PreloadAsync(HttpClient[] https, Uri[] uris, byte[] body, CancellationToken cancellationToken)
    {
        var o = _options;
        var ids = new string[o.Preload];
        var next = -1;
        var workers = new Task[Math.Min(Math.Min(o.Clients, 64), o.Preload)];
        for (var w = 0; w < workers.Length; w++)
        {
            var http = https[w % https.Length];
            workers[w] = Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < ids.Length)
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, uris[i % uris.Length]) { Content = JsonContent(body) };
                    request.Version = o.HttpVersion;
                    request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
                    using var response = await Send(http, request, cancellationToken).ConfigureAwait(false);
                    var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                    if (!response.IsSuccessStatusCode || !response.Headers.TryGetValues(TransactionIdHeader, out var values))
                    {
                        throw new LoadGenException($"preload append failed: {(int)response.StatusCode} {ErrorCode(Encoding.UTF8.GetBytes(text))}");
                    }

                    ids[i] = values.First();
                }
            }, cancellationToken);
        }

        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(120) + (o.RequestTimeout * 2), cancellationToken).ConfigureAwait(false);

        // The commit watermark is monotonic: once the highest seqno is Committed, all of them are.
        var last = ids[0];
        foreach (var id in ids)
        {
            if (Seqno(id) > Seqno(last))
            {
                last = id;
            }
        }

        var status = new Uri(o.Endpoint, $"/app/transactions/{last}/status?api-version={Uri.EscapeDataString(o.ApiVersion)}");
        var deadline = Stopwatch.GetTimestamp() + (long)(60 * Stopwatch.Frequency);
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, status) { Version = o.HttpVersion, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
            using var response = await Send(https[0], request, cancellationToken).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (response.IsSuccessStatusCode && text.Contains("\"Committed\"", StringComparison.Ordinal))
            {
                return ids;
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new LoadGenException($"the preloaded entries were not Committed within 60 s (last status of {last}: {(int)response.StatusCode} {text})");
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    private static long Seqno(string id)
    {
        var dot = id.IndexOf('.', StringComparison.Ordinal);
        return long.TryParse(id.AsSpan(dot + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seqno) ? seqno : 0;
    }

    private static async Task<HttpResponseMessage> Send(HttpClient http, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        try
        {
            return await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new LoadGenException($"cannot reach {http.BaseAddress}: {ex.Message}", ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new LoadGenException($"no answer from {http.BaseAddress} within {http.Timeout.TotalSeconds} s", ex);
        }
    }

    private async Task<(int Status, string? Code)> SendForStatusAsync(HttpClient http, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using (request)
        {
            request.Version = _options.HttpVersion;
            request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
            using var response = await Send(http, request, cancellationToken).ConfigureAwait(false);
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            return ((int)response.StatusCode, ErrorCode(bytes));
        }
    }

    /// <summary>
    /// Which append address client <paramref name="client"/> uses at its <paramref name="turn"/>: an index into the
    /// addresses of every ledger for the first collection, then every ledger for the second, and so on (one ledger, the
    /// endpoint's own, when none is named). Each client takes them all in turn; with
    /// <see cref="LoadGenOptions.LedgerPerConnection"/> it keeps to its connection's ledger and takes the collections in turn.
    /// </summary>
    internal static int AppendTarget(LoadGenOptions options, int client, int turn)
    {
        var ledgers = Math.Max(1, options.Ledgers.Count);
        var addresses = ledgers * options.Collections;
        if (!options.LedgerPerConnection)
        {
            return (int)((uint)turn % (uint)addresses);
        }

        // Clients share the connections round-robin (client i on connection i mod connections), as RunAsync hands them out.
        var ledger = client % options.Connections % ledgers;
        return ledger + (ledgers * (int)((uint)turn % (uint)options.Collections));
    }

    /// <summary><c>{"contents":"…"}</c> with <paramref name="size"/> bytes of letters (no escaping needed).</summary>
    internal static byte[] Body(int size)
    {
        var prefix = "{\"contents\":\""u8;
        var suffix = "\"}"u8;
        var body = new byte[prefix.Length + size + suffix.Length];
        prefix.CopyTo(body);
        for (var i = 0; i < size; i++)
        {
            body[prefix.Length + i] = (byte)('a' + (i % 26));
        }

        suffix.CopyTo(body.AsSpan(prefix.Length + size));
        return body;
    }

    internal static ByteArrayContent JsonContent(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        return content;
    }

    private static X509Certificate2 LoadClientCertificate(LoadGenOptions o)
    {
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(o.CertificatePath, o.KeyPath);
            // SslStream wants a key it can hand to the TLS stack on every platform: round-trip through PKCS#12.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new LoadGenException($"cannot load the client certificate {o.CertificatePath} with key {o.KeyPath}: {ex.Message}", ex);
        }
    }

    private static X509Certificate2 LoadServiceCertificate(LoadGenOptions o)
    {
        try
        {
            return X509Certificate2.CreateFromPem(File.ReadAllText(o.ServiceCertificatePath));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new LoadGenException($"cannot load the service certificate {o.ServiceCertificatePath}: {ex.Message}", ex);
        }
    }

    private static HttpClient NewHttpClient(LoadGenOptions o, X509Certificate2 clientCertificate, X509Certificate2 serviceCertificate)
    {
        var http2 = o.HttpVersion == HttpVersion.Version20;
        var handler = new SocketsHttpHandler
        {
            // HTTP/2: exactly one TLS connection per handler, its clients multiplexed as streams on it.
            // HTTP/1.1: a connection per concurrent request, so one per client.
            EnableMultipleHttp2Connections = false,
            MaxConnectionsPerServer = http2 ? 1 : int.MaxValue,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = new X509CertificateCollection { clientCertificate },
                RemoteCertificateValidationCallback = (_, cert, _, _) =>
                {
                    // Trust exactly the service certificate, as ACL clients pin it (the host name is not checked).
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(serviceCertificate);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return cert is X509Certificate2 c && chain.Build(c);
                },
            },
        };
        return new HttpClient(handler, disposeHandler: true)
        {
            BaseAddress = o.Endpoint,
            DefaultRequestVersion = o.HttpVersion,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = o.RequestTimeout,
        };
    }

    /// <summary>What one client records; touched only by its own loop until the run ends.</summary>
    private sealed class ClientState(int index)
    {
        /// <summary>Status codes 0 (no response) to 599.</summary>
        public const int StatusSlots = 600;

        /// <summary>The client's number, from 0: picks its connection.</summary>
        public int Index { get; } = index;

        public LatencyHistogram Latency { get; } = new();

        public long[] Statuses { get; } = new long[StatusSlots];

        /// <summary>Error codes (ACL codes of error bodies, or transport failures); made on the first error.</summary>
        public Dictionary<string, long>? Codes { get; private set; }

        /// <summary>Where response bodies are drained.</summary>
        public byte[] Buffer { get; } = new byte[16 * 1024];

        /// <summary>Round-robin position over the collections, started apart per client.</summary>
        public int Turn { get; set; } = index;

        public long Completed { get; private set; }

        public void Record(long ticks, bool sentInWindow, int status, string? code)
        {
            Completed++;
            if (sentInWindow)
            {
                Latency.Record(ticks);
            }

            Statuses[status is >= 0 and < StatusSlots ? status : 0]++;
            if (status is < 200 or >= 300)
            {
                Codes ??= new Dictionary<string, long>(StringComparer.Ordinal);
                var key = code ?? "(none)";
                Codes[key] = Codes.GetValueOrDefault(key) + 1;
            }
        }
    }

    /// <summary>The requests of a scenario, prebuilt.</summary>
    private sealed class Targets(LoadGenOptions options, byte[] body, Uri[] appendUris, Uri noopUri)
    {
        private Uri[] _readUris = [];

        public void SetReads(string[] ids, string suffix, string api)
        {
            _readUris = new Uri[ids.Length];
            for (var i = 0; i < ids.Length; i++)
            {
                _readUris[i] = new Uri(options.Endpoint, $"/app/transactions/{ids[i]}{suffix}?{api}");
            }
        }

        public HttpRequestMessage Next(ClientState state, Version version)
        {
            HttpRequestMessage request;
            switch (options.Scenario)
            {
                case LoadScenario.Get:
                case LoadScenario.Receipt:
                    request = new HttpRequestMessage(HttpMethod.Get, _readUris[Random.Shared.Next(_readUris.Length)]);
                    break;
                case LoadScenario.Mixed when Random.Shared.NextDouble() < options.ReadRatio:
                    request = new HttpRequestMessage(HttpMethod.Get, _readUris[Random.Shared.Next(_readUris.Length)]);
                    break;
                case LoadScenario.NoopPost:
                    request = new HttpRequestMessage(HttpMethod.Post, noopUri) { Content = JsonContent(body) };
                    break;
                case LoadScenario.NoopGet:
                    request = new HttpRequestMessage(HttpMethod.Get, noopUri);
                    break;
                default:
                    request = new HttpRequestMessage(HttpMethod.Post, appendUris[AppendTarget(options, state.Index, state.Turn++)])
                    {
                        Content = JsonContent(body),
                    };
                    break;
            }

            request.Version = version;
            request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
            return request;
        }
    }
}
