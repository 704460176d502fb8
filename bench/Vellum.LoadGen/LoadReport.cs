using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Vellum.LoadGen;

/// <summary>The figures of one run, over its measured window (bench/README.md says what each one means).</summary>
public sealed record LoadReport
{
    /// <summary>The scenario as on the command line (<c>append</c>, <c>get</c>, …; <c>append --wait-for-commit</c>).</summary>
    public required string Scenario { get; init; }

    /// <summary><c>1.1</c> or <c>2</c>; <c>pg</c> for pg-append (the PostgreSQL wire protocol).</summary>
    public required string Http { get; init; }

    public required int Clients { get; init; }

    public required int Connections { get; init; }

    /// <summary>Bytes of contents per append.</summary>
    public required int Size { get; init; }

    /// <summary>Length of the measured window, in seconds.</summary>
    public required double WindowSeconds { get; init; }

    /// <summary>Responses (and transport failures) completed inside the window.</summary>
    public required long Requests { get; init; }

    /// <summary>Of <see cref="Requests"/>, those that were not 2xx (including transport failures and timeouts).</summary>
    public required long Errors { get; init; }

    /// <summary><see cref="Requests"/> per second of the window.</summary>
    public double RequestsPerSecond => WindowSeconds > 0 ? Requests / WindowSeconds : 0;

    /// <summary>2xx responses per second of the window.</summary>
    public double SucceededPerSecond => WindowSeconds > 0 ? (Requests - Errors) / WindowSeconds : 0;

    /// <summary>Latency percentiles (send to last body byte) of the requests both sent and completed in the window, in ms.</summary>
    public required double P50Ms { get; init; }

    public required double P90Ms { get; init; }

    public required double P99Ms { get; init; }

    public required double P999Ms { get; init; }

    public required double MaxMs { get; init; }

    /// <summary>Non-2xx responses by status (0: no response); for pg-append, 500 for an error PostgreSQL answered with.</summary>
    public required IReadOnlyDictionary<int, long> ErrorsByStatus { get; init; }

    /// <summary>
    /// Non-2xx responses by ACL error code, or transport failure (<c>Timeout</c>, <c>ConnectionError</c>, …); for
    /// pg-append, by SQL state.
    /// </summary>
    public required IReadOnlyDictionary<string, long> ErrorsByCode { get; init; }

    /// <summary>CPU seconds (user + system) of <c>--server-pid</c> over the window; null without it.</summary>
    public double? ServerCpuSeconds { get; init; }

    /// <summary>CPU seconds of this process over the window (all threads, including an in-process node if any).</summary>
    public required double GeneratorCpuSeconds { get; init; }

    /// <summary>Cores the server kept busy on average: its CPU seconds per window second.</summary>
    public double? ServerCores => ServerCpuSeconds is { } s && WindowSeconds > 0 ? s / WindowSeconds : null;

    /// <summary>Cores the generator kept busy on average.</summary>
    public double GeneratorCores => WindowSeconds > 0 ? GeneratorCpuSeconds / WindowSeconds : 0;

    /// <summary>Clients whose last request had not ended 5 s after it was aborted (normally 0).</summary>
    public int UnfinishedClients { get; init; }

    internal static LoadReport Create(LoadGenOptions o, TimeSpan window, long completed, LatencyHistogram latency, long[] statuses,
        Dictionary<string, long> codes, TimeSpan? serverCpu, TimeSpan selfCpu, int unfinished)
    {
        var byStatus = new SortedDictionary<int, long>();
        long errors = 0;
        for (var s = 0; s < statuses.Length; s++)
        {
            if (statuses[s] > 0 && s is < 200 or >= 300)
            {
                byStatus[s] = statuses[s];
                errors += statuses[s];
            }
        }

        static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        var scenario = LoadGenOptions.ScenarioName(o.Scenario);
        var pg = o.Scenario == LoadScenario.PgAppend;
        return new LoadReport
        {
            Scenario = o.WaitForCommit ? scenario + " --wait-for-commit" : scenario,
            Http = pg ? "pg" : o.HttpVersion == System.Net.HttpVersion.Version20 ? "2" : "1.1",
            Clients = o.Clients,
            Connections = pg || o.HttpVersion != System.Net.HttpVersion.Version20 ? o.Clients : Math.Min(o.Connections, o.Clients),
            Size = o.Size,
            WindowSeconds = window.TotalSeconds,
            Requests = completed,
            Errors = errors,
            P50Ms = Ms(latency.ValueAtPercentile(50)),
            P90Ms = Ms(latency.ValueAtPercentile(90)),
            P99Ms = Ms(latency.ValueAtPercentile(99)),
            P999Ms = Ms(latency.ValueAtPercentile(99.9)),
            MaxMs = Ms(latency.Max),
            ErrorsByStatus = byStatus,
            ErrorsByCode = new SortedDictionary<string, long>(codes, StringComparer.Ordinal),
            ServerCpuSeconds = serverCpu?.TotalSeconds,
            GeneratorCpuSeconds = selfCpu.TotalSeconds,
            UnfinishedClients = unfinished,
        };
    }

    /// <summary>A table for people.</summary>
    public string ToTable()
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        var protocol = Http == "pg" ? "PostgreSQL" : "HTTP/" + Http;
        text.Append(c, $"scenario        {Scenario} ({protocol}, {Clients} clients, {Connections} connections, {Size} B contents)\n");
        text.Append(c, $"window          {WindowSeconds:F2} s\n");
        text.Append(c, $"requests        {Requests} ({Errors} errors)\n");
        text.Append(c, $"throughput      {RequestsPerSecond:F0} requests/s ({SucceededPerSecond:F0} ok/s)\n");
        text.Append(c, $"latency (ms)    p50 {P50Ms:F2}  p90 {P90Ms:F2}  p99 {P99Ms:F2}  p99.9 {P999Ms:F2}  max {MaxMs:F2}\n");
        if (ServerCpuSeconds is { } server)
        {
            text.Append(c, $"server CPU      {server:F2} s ({ServerCores:F2} cores)\n");
        }

        text.Append(c, $"generator CPU   {GeneratorCpuSeconds:F2} s ({GeneratorCores:F2} cores)\n");
        if (Errors > 0)
        {
            text.Append("errors          ");
            var first = true;
            foreach (var (status, count) in ErrorsByStatus)
            {
                text.Append(c, $"{(first ? "" : ", ")}{(status == 0 ? "no response" : status.ToString(c))}: {count}");
                first = false;
            }

            text.Append("\nerror codes     ");
            first = true;
            foreach (var (code, count) in ErrorsByCode)
            {
                text.Append(c, $"{(first ? "" : ", ")}{code}: {count}");
                first = false;
            }

            text.Append('\n');
        }

        if (UnfinishedClients > 0)
        {
            text.Append(c, $"unfinished      {UnfinishedClients} clients still waiting when the run ended\n");
        }

        return text.ToString().TrimEnd('\n');
    }

    /// <summary>One JSON object, snake_case names, for machines.</summary>
    public string ToJson()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("scenario", Scenario);
            w.WriteString("http", Http);
            w.WriteNumber("clients", Clients);
            w.WriteNumber("connections", Connections);
            w.WriteNumber("size", Size);
            w.WriteNumber("window_s", Math.Round(WindowSeconds, 3));
            w.WriteNumber("requests", Requests);
            w.WriteNumber("errors", Errors);
            w.WriteNumber("requests_per_s", Math.Round(RequestsPerSecond, 1));
            w.WriteNumber("ok_per_s", Math.Round(SucceededPerSecond, 1));
            w.WriteStartObject("latency_ms");
            w.WriteNumber("p50", Math.Round(P50Ms, 3));
            w.WriteNumber("p90", Math.Round(P90Ms, 3));
            w.WriteNumber("p99", Math.Round(P99Ms, 3));
            w.WriteNumber("p99_9", Math.Round(P999Ms, 3));
            w.WriteNumber("max", Math.Round(MaxMs, 3));
            w.WriteEndObject();
            w.WriteStartObject("errors_by_status");
            foreach (var (status, count) in ErrorsByStatus)
            {
                w.WriteNumber(status.ToString(CultureInfo.InvariantCulture), count);
            }

            w.WriteEndObject();
            w.WriteStartObject("errors_by_code");
            foreach (var (code, count) in ErrorsByCode)
            {
                w.WriteNumber(code, count);
            }

            w.WriteEndObject();
            if (ServerCpuSeconds is { } server)
            {
                w.WriteNumber("server_cpu_s", Math.Round(server, 2));
                w.WriteNumber("server_cores", Math.Round(ServerCores!.Value, 2));
            }
            else
            {
                w.WriteNull("server_cpu_s");
                w.WriteNull("server_cores");
            }

            w.WriteNumber("generator_cpu_s", Math.Round(GeneratorCpuSeconds, 2));
            w.WriteNumber("generator_cores", Math.Round(GeneratorCores, 2));
            w.WriteNumber("unfinished_clients", UnfinishedClients);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
