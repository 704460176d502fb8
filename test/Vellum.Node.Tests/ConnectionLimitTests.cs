using System.Net;
using System.Net.Security;
using System.Security.Authentication;

namespace Vellum.Node.Tests;

/// <summary>
/// Issue #12, H4: the node bounds what clients can make it hold with a ceiling on connections
/// (<see cref="NodeOptions.MaxConcurrentConnections"/>) as well as on HTTP/2 streams per connection.
/// </summary>
public sealed class ConnectionLimitTests(ConnectionLimitTests.Node node) : IClassFixture<ConnectionLimitTests.Node>
{
    /// <summary>A node that takes 3 connections at once.</summary>
    public sealed class Node : NodeFixture
    {
        protected override NodeOptions CreateOptions(string data) => new()
        {
            DataDirectory = data,
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            SignatureDelay = TimeSpan.FromMilliseconds(20),
            MaxConcurrentConnections = 3,
        };
    }

    [Fact]
    public void The_defaults_are_100_streams_a_connection_and_4096_connections()
    {
        var options = new NodeOptions { DataDirectory = "unused" };
        Assert.Equal((100, 4096), (options.MaxStreamsPerConnection, options.MaxConcurrentConnections));
    }

    [Fact]
    public async Task A_connection_over_the_limit_is_closed_and_a_freed_place_is_taken_again()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        // The fixture's own Administrator client may keep a connection open: fill whatever places are left.
        var held = new List<SslStream>();
        try
        {
            while (held.Count < 3 && await TryConnectAsync(timeout.Token) is { } connection)
            {
                held.Add(connection);
            }

            Assert.Null(await TryConnectAsync(timeout.Token));

            await held[0].DisposeAsync();
            held.RemoveAt(0);
            SslStream? again = null;
            while (again is null)
            {
                await Task.Delay(50, timeout.Token);
                again = await TryConnectAsync(timeout.Token);
            }

            held.Add(again);
        }
        finally
        {
            foreach (var connection in held)
            {
                await connection.DisposeAsync();
            }
        }
    }

    /// <summary>A TLS connection that gets an HTTP answer, or null when the node closes it.</summary>
    private async Task<SslStream?> TryConnectAsync(CancellationToken cancellationToken)
    {
        SslStream? tls = null;
        try
        {
            tls = await RawHttp.ConnectAsync(node, certificate: null, "http/1.1", cancellationToken);
            // Kestrel may close a connection over the limit right after accepting it: only an answer proves a place.
            await tls.WriteAsync("GET /node/health/live HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray(), cancellationToken);
            var buffer = new byte[512];
            if (await tls.ReadAsync(buffer, cancellationToken) == 0)
            {
                await tls.DisposeAsync();
                return null;
            }

            return tls;
        }
        catch (Exception ex) when (ex is IOException or AuthenticationException or System.Net.Sockets.SocketException)
        {
            if (tls is not null)
            {
                await tls.DisposeAsync();
            }

            return null;
        }
    }
}
