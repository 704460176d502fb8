using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Vellum.LoadGen.Tests;

/// <summary>
/// A short pg-append run against a real PostgreSQL, only when VELLUM_TEST_PG holds its connection string (the suite
/// does not need PostgreSQL; bench/run.sh starts one). It checks the chain the run wrote, row by row.
/// </summary>
public sealed class PostgresTests
{
    private static readonly string? ConnectionString = Environment.GetEnvironmentVariable("VELLUM_TEST_PG");

    [Fact]
    public async Task Pg_append_writes_a_hash_chain()
    {
        Assert.SkipWhen(string.IsNullOrEmpty(ConnectionString), "VELLUM_TEST_PG (a PostgreSQL connection string) is not set");
        var options = new LoadGenOptions
        {
            Scenario = LoadScenario.PgAppend,
            PostgresConnectionString = ConnectionString,
            Clients = 8,
            Warmup = TimeSpan.FromMilliseconds(200),
            Duration = TimeSpan.FromSeconds(1),
            RequestTimeout = TimeSpan.FromSeconds(10),
            Size = 40,
            Collections = 3,
        };

        // The tables may hold earlier runs: check from where this one starts (they exist after a first run).
        await new LoadGenerator(options with { Clients = 1, Warmup = TimeSpan.Zero, Duration = TimeSpan.FromMilliseconds(50) }).RunAsync()
            .WaitAsync(TimeSpan.FromSeconds(60));
        await using var source = NpgsqlDataSource.Create(ConnectionString!);
        var (start, startHash) = await HeadAsync(source);

        var report = await new LoadGenerator(options).RunAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(report.Requests > 0, report.ToTable());
        Assert.Equal(0, report.Errors);
        Assert.Equal("pg-append", report.Scenario);
        Assert.True(report.P50Ms > 0 && report.P50Ms <= report.P99Ms, report.ToTable());

        var (end, endHash) = await HeadAsync(source);
        Assert.True(end - start >= report.Requests, $"head moved by {end - start}, report says {report.Requests}");

        // Every row: hash = SHA-256(previous hash ‖ UTF-8(collection ‖ contents)), seqnos without gaps, head = last row.
        await using var command = source.CreateCommand("SELECT seq, collection, contents, hash FROM ledger WHERE seq > $1 ORDER BY seq");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = start });
        await using var reader = await command.ExecuteReaderAsync();
        var previous = startHash;
        var expected = start + 1;
        var collections = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
        {
            Assert.Equal(expected++, reader.GetInt64(0));
            var collection = reader.GetString(1);
            var contents = reader.GetString(2);
            collections.Add(collection);
            Assert.Equal(LoadGenerator.Contents(40), contents);
            var row = Encoding.UTF8.GetBytes(collection + contents);
            var hash = SHA256.HashData([.. previous, .. row]);
            Assert.Equal(hash, (byte[])reader.GetValue(3));
            previous = hash;
        }

        Assert.Equal(end + 1, expected);
        Assert.Equal(endHash, previous);
        Assert.Equal(["bench-0", "bench-1", "bench-2"], collections.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task An_unreachable_database_fails_the_run_with_one_line()
    {
        // Port 1 on loopback refuses at once: no PostgreSQL needed.
        var error = new StringWriter();
        string[] args = ["pg-append", "--pg", "Host=127.0.0.1;Port=1;Username=postgres;Timeout=5", "--clients", "2", "--warmup", "0", "--duration", "0.2"];
        var code = await LoadGenerator.RunCommandLineAsync(args, TextWriter.Null, error).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, code);
        Assert.Single(error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("PostgreSQL", error.ToString(), StringComparison.Ordinal);
    }

    private static async Task<(long Seq, byte[] Hash)> HeadAsync(NpgsqlDataSource source)
    {
        await using var command = source.CreateCommand("SELECT seq, hash FROM chain_head WHERE id = 1");
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetInt64(0), (byte[])reader.GetValue(1));
    }
}
