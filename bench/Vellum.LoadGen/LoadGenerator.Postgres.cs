using System.Diagnostics;
using System.Globalization;
using Npgsql;
using NpgsqlTypes;

namespace Vellum.LoadGen;

// The PostgreSQL baseline (pg-append): what a hash-chained append costs when a general-purpose database keeps the
// chain, driven by the same closed loop, window and histograms as the HTTP scenarios.
public sealed partial class LoadGenerator
{
    /// <summary>
    /// Idempotent schema: the chain's head (one row, genesis = seq 0 and 32 zero bytes) and the ledger rows.
    /// </summary>
    internal const string PostgresSetupSql = """
        CREATE TABLE IF NOT EXISTS chain_head(id int PRIMARY KEY, seq bigint NOT NULL, hash bytea NOT NULL);
        INSERT INTO chain_head(id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex')) ON CONFLICT (id) DO NOTHING;
        CREATE TABLE IF NOT EXISTS ledger(seq bigint PRIMARY KEY, collection text NOT NULL, contents text NOT NULL, hash bytea NOT NULL);
        """;

    /// <summary>
    /// One append: advances the head and inserts the row in one statement, so one round trip and one (autocommit)
    /// transaction. The head's row lock orders concurrent appends, as the sequencer does in the node; each row stores
    /// SHA-256(previous hash ‖ UTF-8 of collection ‖ contents).
    /// </summary>
    internal const string PostgresAppendSql = """
        WITH head AS (UPDATE chain_head SET seq = seq + 1, hash = sha256(hash || convert_to($1 || $2, 'UTF8')) WHERE id = 1 RETURNING seq, hash)
        INSERT INTO ledger SELECT seq, $1, $2, hash FROM head
        """;

    // Connections opened at once while setting up: PostgreSQL forks a backend per connection, and a thousand
    // concurrent forks on two cores only make every one of them slower.
    private const int PostgresOpenParallelism = 32;

    private async Task<LoadReport> RunPostgresAsync(CancellationToken cancellationToken)
    {
        var o = _options;
        NpgsqlDataSource source;
        try
        {
            var builder = new NpgsqlDataSourceBuilder(o.PostgresConnectionString);
            var settings = builder.ConnectionStringBuilder;

            // Every client holds its own connection for the whole run; a smaller pool would park clients in the pool.
            settings.MaxPoolSize = Math.Max(settings.MaxPoolSize, o.Clients);
            settings.CommandTimeout = (int)Math.Ceiling(o.RequestTimeout.TotalSeconds);
            source = builder.Build();
        }
        catch (ArgumentException ex)
        {
            throw new LoadGenException($"--pg is not a valid connection string: {ex.Message}", ex);
        }

        await using (source.ConfigureAwait(false))
        {
            await PostgresSetupAsync(source, cancellationToken).ConfigureAwait(false);
            var clients = new PostgresClient[o.Clients];
            try
            {
                await OpenPostgresClientsAsync(source, clients, cancellationToken).ConfigureAwait(false);
                return await MeasureAsync((state, abort) => PostgresClientLoopAsync(source, clients[state.Index], state, abort), cancellationToken)
                    .ConfigureAwait(false);
            }
            finally
            {
                foreach (var client in clients)
                {
                    if (client is not null)
                    {
                        await client.DisposeAsync().ConfigureAwait(false);
                    }
                }
            }
        }
    }

    private static async Task PostgresSetupAsync(NpgsqlDataSource source, CancellationToken cancellationToken)
    {
        try
        {
            await using var command = source.CreateCommand(PostgresSetupSql);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException ex)
        {
            throw new LoadGenException($"cannot set up the PostgreSQL tables: {ex.Message}", ex);
        }
    }

    /// <summary>Opens every client's connection and prepares its statement before the warm-up, as the HTTP preflight does.</summary>
    private async Task OpenPostgresClientsAsync(NpgsqlDataSource source, PostgresClient[] clients, CancellationToken cancellationToken)
    {
        var collections = PostgresCollections(_options.Collections);
        var contents = Contents(_options.Size);
        var next = -1;
        var workers = new Task[Math.Min(PostgresOpenParallelism, clients.Length)];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < clients.Length)
                {
                    try
                    {
                        clients[i] = await PostgresClient.OpenAsync(source, collections, contents, cancellationToken).ConfigureAwait(false);
                    }
                    catch (NpgsqlException ex)
                    {
                        throw new LoadGenException($"cannot open PostgreSQL connection {i + 1} of {clients.Length}: {ex.Message}", ex);
                    }
                }
            }, cancellationToken);
        }

        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(120), cancellationToken).ConfigureAwait(false);
    }

    private async Task PostgresClientLoopAsync(NpgsqlDataSource source, PostgresClient first, ClientState state, CancellationToken abort)
    {
        PostgresClient? client = first;
        try
        {
            while (Volatile.Read(ref _phase) != Done)
            {
                var sentInWindow = Volatile.Read(ref _phase) == Measuring;
                var start = Stopwatch.GetTimestamp();
                int status;
                string? code = null;
                try
                {
                    // A connection lost on an earlier request is replaced here, on this request's clock.
                    client ??= await PostgresClient.OpenAsync(source, first.Collections, first.ContentsValue, abort).ConfigureAwait(false);
                    await client.AppendAsync(state.Turn++, abort).ConfigureAwait(false);
                    status = 200;
                }
                catch (OperationCanceledException) when (abort.IsCancellationRequested)
                {
                    return;
                }
                catch (PostgresException ex)
                {
                    // PostgreSQL answered with an error (serialization, constraint, out of connections, …): the
                    // counterpart of an HTTP error status, counted by SQL state as HTTP errors are by ACL code.
                    status = 500;
                    code = ex.SqlState;
                }
                catch (NpgsqlException ex)
                {
                    status = 0;
                    code = ex.InnerException is TimeoutException ? "Timeout" : "ConnectionError";
                    client = await DropAsync(client).ConfigureAwait(false);
                }
                catch (IOException)
                {
                    status = 0;
                    code = "ConnectionError";
                    client = await DropAsync(client).ConfigureAwait(false);
                }

                var end = Stopwatch.GetTimestamp();
                if (Volatile.Read(ref _phase) == Measuring)
                {
                    state.Record(end - start, sentInWindow, status, code);
                }

                if (client is null && status == 0)
                {
                    // Do not spin on a database that refuses connections.
                    await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            // The first connection is disposed by RunPostgresAsync; replacements are this loop's.
            if (client is not null && !ReferenceEquals(client, first))
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }
        }

        static async ValueTask<PostgresClient?> DropAsync(PostgresClient? client)
        {
            if (client is not null)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }

            return null;
        }
    }

    /// <summary>The collection of each turn: one collection is the default one (""); more are bench-0, bench-1, … as over HTTP.</summary>
    internal static string[] PostgresCollections(int count)
    {
        if (count == 1)
        {
            return [""];
        }

        var names = new string[count];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = "bench-" + i.ToString(CultureInfo.InvariantCulture);
        }

        return names;
    }

    /// <summary>The contents the HTTP scenarios append (<see cref="Body"/> without its JSON wrapping).</summary>
    internal static string Contents(int size) => string.Create(size, 0, static (chars, _) =>
    {
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = (char)('a' + (i % 26));
        }
    });

    /// <summary>One client's connection with its prepared append; used by that client's loop only.</summary>
    private sealed class PostgresClient : IAsyncDisposable
    {
        private readonly NpgsqlConnection _connection;
        private readonly NpgsqlCommand _command;
        private readonly NpgsqlParameter<string> _collection;

        private PostgresClient(NpgsqlConnection connection, string[] collections, string contents)
        {
            _connection = connection;
            Collections = collections;
            ContentsValue = contents;
            _collection = new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = collections[0] };
            _command = new NpgsqlCommand(PostgresAppendSql, connection)
            {
                Parameters =
                {
                    _collection,
                    new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = contents },
                },
            };
        }

        public string[] Collections { get; }

        public string ContentsValue { get; }

        public static async Task<PostgresClient> OpenAsync(NpgsqlDataSource source, string[] collections, string contents, CancellationToken cancellationToken)
        {
            var connection = await source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            var client = new PostgresClient(connection, collections, contents);
            try
            {
                await client._command.PrepareAsync(cancellationToken).ConfigureAwait(false);
                return client;
            }
            catch
            {
                await client.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        public async Task AppendAsync(int turn, CancellationToken cancellationToken)
        {
            _collection.TypedValue = Collections[(int)((uint)turn % (uint)Collections.Length)];
            await _command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask DisposeAsync()
        {
            await _command.DisposeAsync().ConfigureAwait(false);
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
