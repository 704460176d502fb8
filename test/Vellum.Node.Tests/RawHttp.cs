using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Vellum.Core.Identity;

namespace Vellum.Node.Tests;

/// <summary>
/// Requests HttpClient will not send (malformed chunking, odd Content-Types, bodies cut off mid-way), written byte by
/// byte over a real TLS connection to the node, and the HTTP/1.1 answer read back.
/// </summary>
internal static class RawHttp
{
    /// <summary>A TLS connection to the node pinned to its service certificate, offering <paramref name="alpn"/>.</summary>
    public static async Task<SslStream> ConnectAsync(NodeFixture node, X509Certificate2? certificate, string alpn, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(node.Endpoint.Host, node.Endpoint.Port, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        var serviceCertificate = node.Ledger.Service.Certificate;
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            // At the node's address, as most clients of the ledger 'default' are: no server name, default's certificate.
            TargetHost = node.Endpoint.Host,
            ApplicationProtocols = [new SslApplicationProtocol(alpn)],
            ClientCertificates = certificate is null ? null : new X509CertificateCollection { certificate },
            RemoteCertificateValidationCallback = (_, cert, _, _) => ServiceCertificatePin.Accepts(cert, serviceCertificate),
        }, cancellationToken);
        return tls;
    }

    /// <summary>An HTTP/1.1 answer: status, headers (names lower-cased) and the decoded body.</summary>
    public sealed record Response(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body)
    {
        public string Text => Encoding.UTF8.GetString(Body);
    }

    /// <summary>
    /// Sends <paramref name="head"/> (request line and headers, without the blank line), then lets
    /// <paramref name="writeBody"/> write the body while the answer is read; 10 s at most.
    /// </summary>
    public static async Task<Response> SendAsync(NodeFixture node, X509Certificate2? certificate, string head, Func<Stream, Task>? writeBody = null)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await using var tls = await ConnectAsync(node, certificate, "http/1.1", timeout.Token);
        var host = $"Host: {node.Endpoint.Authority}\r\n";
        await tls.WriteAsync(Encoding.ASCII.GetBytes(head.Replace("\n", "\r\n", StringComparison.Ordinal).TrimEnd() + "\r\n" + host + "\r\n"), timeout.Token);
        await tls.FlushAsync(timeout.Token);

        // The node may answer (and close) before the body is all sent: a failed write is part of the test, not an error.
        var writing = writeBody is null ? Task.CompletedTask : Task.Run(async () =>
        {
            try
            {
                await writeBody(tls);
                await tls.FlushAsync(timeout.Token);
            }
            catch (IOException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
            catch (OperationCanceledException)
            {
                // The node neither read the rest nor closed within the timeout; the answer read decides the test.
            }
        });
        var response = await ReadResponseAsync(tls, timeout.Token);
        await writing.WaitAsync(TimeSpan.FromSeconds(10));
        return response;
    }

    /// <summary>Writes <paramref name="data"/> in chunked transfer coding, <paramref name="chunkSize"/> bytes a chunk, and the last chunk if asked.</summary>
    public static async Task WriteChunkedAsync(Stream stream, ReadOnlyMemory<byte> data, int chunkSize, bool finish = true)
    {
        for (var offset = 0; offset < data.Length; offset += chunkSize)
        {
            var chunk = data.Slice(offset, Math.Min(chunkSize, data.Length - offset));
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"{chunk.Length:X}\r\n"));
            await stream.WriteAsync(chunk);
            await stream.WriteAsync("\r\n"u8.ToArray());
        }

        if (finish)
        {
            await stream.WriteAsync("0\r\n\r\n"u8.ToArray());
        }
    }

    private static async Task<Response> ReadResponseAsync(Stream stream, CancellationToken cancellationToken)
    {
        var input = new BufferedReader(stream);
        var statusLine = await input.ReadLineAsync(cancellationToken) ?? throw new IOException("the node closed the connection without an answer");
        var status = int.Parse(statusLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        while (await input.ReadLineAsync(cancellationToken) is { Length: > 0 } line)
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = line[..colon].Trim().ToLowerInvariant();
            headers[name] = headers.TryGetValue(name, out var before) ? before + ", " + line[(colon + 1)..].Trim() : line[(colon + 1)..].Trim();
        }

        var body = new MemoryStream();
        if (headers.TryGetValue("content-length", out var length))
        {
            body.Write(await input.ReadExactlyAsync(int.Parse(length, System.Globalization.CultureInfo.InvariantCulture), cancellationToken));
        }
        else if (headers.TryGetValue("transfer-encoding", out var coding) && coding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            while (true)
            {
                var size = Convert.ToInt32((await input.ReadLineAsync(cancellationToken))!.Split(';')[0], 16);
                if (size == 0)
                {
                    while (await input.ReadLineAsync(cancellationToken) is { Length: > 0 })
                    {
                    }

                    break;
                }

                body.Write(await input.ReadExactlyAsync(size, cancellationToken));
                await input.ReadLineAsync(cancellationToken);
            }
        }

        return new Response(status, headers, body.ToArray());
    }

    /// <summary>Just enough buffering to read CRLF lines and exact byte counts from a stream.</summary>
    private sealed class BufferedReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[16 * 1024];
        private int _start;
        private int _end;

        public async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
        {
            var line = new MemoryStream();
            while (true)
            {
                if (_start == _end && !await FillAsync(cancellationToken))
                {
                    return line.Length == 0 ? null : Encoding.ASCII.GetString(line.ToArray());
                }

                var b = _buffer[_start++];
                if (b == '\n')
                {
                    var text = Encoding.ASCII.GetString(line.ToArray());
                    return text.EndsWith('\r') ? text[..^1] : text;
                }

                line.WriteByte(b);
            }
        }

        public async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
        {
            var result = new byte[count];
            var done = 0;
            while (done < count)
            {
                if (_start == _end && !await FillAsync(cancellationToken))
                {
                    throw new EndOfStreamException($"the body ended after {done} of {count} bytes");
                }

                var n = Math.Min(count - done, _end - _start);
                _buffer.AsSpan(_start, n).CopyTo(result.AsSpan(done));
                _start += n;
                done += n;
            }

            return result;
        }

        private async Task<bool> FillAsync(CancellationToken cancellationToken)
        {
            _start = 0;
            _end = await stream.ReadAsync(_buffer, cancellationToken);
            return _end > 0;
        }
    }
}
