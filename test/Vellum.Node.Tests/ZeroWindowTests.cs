using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Vellum.Node.Tests;

/// <summary>Tests that measure the process's memory run alone, so that no other test's allocations blur the figure.</summary>
[CollectionDefinition(nameof(MemoryMeasuringCollection), DisableParallelization = true)]
public sealed class MemoryMeasuringCollection;

/// <summary>
/// Issue #12, H4: one Reader with one HTTP/2 connection that never opens its flow-control window, asking for many
/// pages of large entries at once, must not make the node build and hold those pages (the probe saw +0.7 GB), nor
/// keep other clients waiting.
/// </summary>
[Collection(nameof(MemoryMeasuringCollection))]
public sealed class ZeroWindowTests(NodeFixture node) : IClassFixture<NodeFixture>
{
    private const string V = NodeFixture.Version;
    private const string Collection = "zero-window";

    [Fact]
    public async Task A_zero_window_client_cannot_make_the_node_hold_its_pages()
    {
        var readerCertificate = NodeFixture.NewUserCertificate("zero-window reader");
        var added = await node.Admin.PatchAsync($"/app/users/{NodeFixture.Fingerprint(readerCertificate)}?api-version={V}", NodeFixture.Json("""{"assignedRole":"Reader"}""", "application/merge-patch+json"));
        Assert.Equal(HttpStatusCode.OK, added.StatusCode);

        // 100 entries of 8,192 × U+0001 (the probe's): 49 KB of JSON each, 4.9 MB as one page of 100.
        var body = $$"""{"contents":"{{string.Concat(Enumerable.Repeat("\\u0001", 8192))}}"}""";
        for (var batch = 0; batch < 10; batch++)
        {
            var posts = Enumerable.Range(0, 10).Select(_ => node.Admin.PostAsync($"/app/transactions?collectionId={Collection}&api-version={V}", NodeFixture.Json(body)));
            Assert.All(await Task.WhenAll(posts), response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        }

        await node.Ledger.Sequencer.WaitForCommitAsync(node.Ledger.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var reader = node.Client(readerCertificate);
        var path = $"/app/transactions?collectionId={Collection}&api-version={V}";
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync(path)).StatusCode);

        var before = GC.GetTotalMemory(forceFullCollection: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var h2 = await ZeroWindowClient.ConnectAsync(node, readerCertificate, timeout.Token);
        // As many streams as the node allows on one connection (the probe: 100), each asking for the whole list.
        var streams = Math.Min(100, h2.MaxConcurrentStreams);
        for (var i = 0; i < streams; i++)
        {
            await h2.GetAsync(path, node.Endpoint.Authority, timeout.Token);
        }

        await h2.WaitForAnswersAsync(streams, TimeSpan.FromSeconds(15));
        await Task.Delay(TimeSpan.FromSeconds(2), timeout.Token);

        // Another client is served meanwhile, promptly.
        using (var probe = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            var current = await reader.GetAsync($"/app/transactions/current?collectionId={Collection}&api-version={V}", probe.Token);
            Assert.Equal(HttpStatusCode.OK, current.StatusCode);
        }

        // Measured on a 2-core machine: 10-11 MiB held by 100 streams with streamed pages (2.5 MiB by 32 streams);
        // 91 MiB when each stream first read its page's 100 entries and then streamed them; 564 MiB when every stream
        // held its whole page of 4.9 MB (the probe's 0.7 GB RSS). The node runs in this process, which runs no other
        // test meanwhile.
        var held = GC.GetTotalMemory(forceFullCollection: true) - before;
        Assert.True(held < 64L * 1024 * 1024, $"{streams} zero-window streams of one connection ({h2.Answered} answered) hold {held / (1024 * 1024)} MiB");
        Assert.True(h2.Answered >= streams, $"{h2.Answered} of {streams} streams answered");
        Assert.True(h2.MaxConcurrentStreams <= 100, $"the node allows {h2.MaxConcurrentStreams} streams per connection");
    }

    /// <summary>
    /// A minimal HTTP/2 client over TLS (ALPN h2): it sends SETTINGS_INITIAL_WINDOW_SIZE = 0 and never a WINDOW_UPDATE,
    /// so the node can send headers but no body byte; it answers SETTINGS and PING as the protocol requires.
    /// </summary>
    private sealed class ZeroWindowClient : IAsyncDisposable
    {
        private const byte Data = 0, Headers = 1, RstStream = 3, Settings = 4, Ping = 6, GoAway = 7;
        private const byte EndStream = 0x1, Ack = 0x1, EndHeaders = 0x4;

        private readonly SslStream _tls;
        private readonly SemaphoreSlim _writing = new(1, 1);
        private readonly TaskCompletionSource<int> _serverSettings = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ConcurrentDictionary<int, byte> _answered = new();
        private readonly CancellationTokenSource _stop = new();
        private Task _reading = Task.CompletedTask;
        private int _nextStream = 1;

        private ZeroWindowClient(SslStream tls) => _tls = tls;

        /// <summary>The node's SETTINGS_MAX_CONCURRENT_STREAMS.</summary>
        public int MaxConcurrentStreams { get; private set; } = int.MaxValue;

        /// <summary>Streams the node answered with HEADERS or refused with RST_STREAM.</summary>
        public int Answered => _answered.Count;

        public static async Task<ZeroWindowClient> ConnectAsync(NodeFixture node, X509Certificate2 certificate, CancellationToken cancellationToken)
        {
            var tls = await RawHttp.ConnectAsync(node, certificate, "h2", cancellationToken);
            Assert.Equal(SslApplicationProtocol.Http2, tls.NegotiatedApplicationProtocol);
            var client = new ZeroWindowClient(tls);
            await tls.WriteAsync("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray(), cancellationToken);
            // SETTINGS_ENABLE_PUSH = 0, SETTINGS_INITIAL_WINDOW_SIZE = 0.
            await client.WriteFrameAsync(Settings, 0, 0, [0, 2, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0], cancellationToken);
            client._reading = Task.Run(client.ReadAsync, CancellationToken.None);
            await client._serverSettings.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
            return client;
        }

        public async Task GetAsync(string path, string authority, CancellationToken cancellationToken)
        {
            var block = new List<byte> { 0x82, 0x87 }; // :method GET, :scheme https (static table)
            Literal(block, 4, path);                   // :path, literal without indexing
            Literal(block, 1, authority);              // :authority
            var stream = _nextStream;
            _nextStream += 2;
            await WriteFrameAsync(Headers, EndStream | EndHeaders, stream, [.. block], cancellationToken);
        }

        public async Task WaitForAnswersAsync(int count, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (_answered.Count < count && DateTime.UtcNow < deadline && !_reading.IsCompleted)
            {
                await Task.Delay(50);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _tls.DisposeAsync();
            try
            {
                await _reading.WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
            {
            }

            _stop.Dispose();
            _writing.Dispose();
        }

        /// <summary>HPACK literal header field without indexing, name from the static table, value not Huffman-coded.</summary>
        private static void Literal(List<byte> block, int nameIndex, string value)
        {
            block.Add((byte)nameIndex);
            var bytes = Encoding.ASCII.GetBytes(value);
            var length = bytes.Length;
            if (length < 127)
            {
                block.Add((byte)length);
            }
            else
            {
                block.Add(127);
                length -= 127;
                while (length >= 128)
                {
                    block.Add((byte)((length % 128) + 128));
                    length /= 128;
                }

                block.Add((byte)length);
            }

            block.AddRange(bytes);
        }

        private async Task WriteFrameAsync(byte type, byte flags, int stream, byte[] payload, CancellationToken cancellationToken)
        {
            var frame = new byte[9 + payload.Length];
            frame[0] = (byte)(payload.Length >> 16);
            frame[1] = (byte)(payload.Length >> 8);
            frame[2] = (byte)payload.Length;
            frame[3] = type;
            frame[4] = flags;
            BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), stream);
            payload.CopyTo(frame, 9);
            await _writing.WaitAsync(cancellationToken);
            try
            {
                await _tls.WriteAsync(frame, cancellationToken);
                await _tls.FlushAsync(cancellationToken);
            }
            finally
            {
                _writing.Release();
            }
        }

        private async Task ReadAsync()
        {
            var header = new byte[9];
            while (!_stop.IsCancellationRequested)
            {
                await _tls.ReadExactlyAsync(header, _stop.Token);
                var length = (header[0] << 16) | (header[1] << 8) | header[2];
                var type = header[3];
                var flags = header[4];
                var stream = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & 0x7FFFFFFF;
                var payload = new byte[length];
                await _tls.ReadExactlyAsync(payload, _stop.Token);
                switch (type)
                {
                    case Settings when (flags & Ack) == 0:
                        for (var i = 0; i + 6 <= payload.Length; i += 6)
                        {
                            if (BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(i)) == 3)
                            {
                                MaxConcurrentStreams = (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(i + 2)));
                            }
                        }

                        await WriteFrameAsync(Settings, Ack, 0, [], _stop.Token);
                        _serverSettings.TrySetResult(0);
                        break;
                    case Ping when (flags & Ack) == 0:
                        await WriteFrameAsync(Ping, Ack, 0, payload, _stop.Token);
                        break;
                    case Headers or RstStream:
                        _answered.TryAdd(stream, type);
                        break;
                    case GoAway:
                        return;
                    case Data:
                    default:
                        break;
                }
            }
        }
    }
}
