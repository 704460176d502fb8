using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Vellum.Node.Endpoints;

/// <summary>Writes JSON bodies and the ACL/CCF error shape <c>{"error":{"code","message"}}</c>.</summary>
internal static class AclResponses
{
    public const string TransactionIdHeader = "x-ms-ccf-transaction-id";

    /// <summary>Writes <paramref name="error"/> (an entry of <see cref="AclErrors"/>) with its status; the request changed nothing.</summary>
    public static Task Error(HttpContext context, AclError error, string message) =>
        Json(
            context,
            (error.Code, message),
            static (writer, state) =>
            {
                writer.WriteStartObject("error");
                writer.WriteString("code", state.Code);
                writer.WriteString("message", state.message);
                writer.WriteEndObject();
            },
            error.Status);

    /// <summary>Writes a JSON object body built by <paramref name="build"/> (which writes the properties).</summary>
    public static Task Json(HttpContext context, Action<Utf8JsonWriter> build, int status = StatusCodes.Status200OK) =>
        Json(context, build, static (writer, build) => build(writer), status);

    /// <summary>
    /// Writes a JSON object body whose properties <paramref name="build"/> writes from <paramref name="state"/>. With a
    /// static lambda nothing is allocated per response: the body is built in a buffer the thread keeps, which goes back
    /// to the thread once the response's pipe has taken the bytes (at once, unless the write has to wait).
    /// </summary>
    public static Task Json<TState>(
        HttpContext context, TState state, Action<Utf8JsonWriter, TState> build, int status = StatusCodes.Status200OK)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var body = JsonBody.Take();
        ValueTask write;
        try
        {
            var writer = body.Writer;
            writer.WriteStartObject();
            build(writer, state);
            writer.WriteEndObject();
            writer.Flush();
            context.Response.ContentLength = body.WrittenCount;

            // Through the response stream rather than the pipe writer's Write and Flush: on HTTP/2 that was measurably
            // slower per response (noop-post, docs/benchmarks.md).
            write = context.Response.Body.WriteAsync(body.Written, context.RequestAborted);
        }
        catch
        {
            JsonBody.Give(body);
            throw;
        }

        if (write.IsCompletedSuccessfully)
        {
            JsonBody.Give(body);
            return Task.CompletedTask;
        }

        return WrittenAsync(write, body);
    }

    private static async Task WrittenAsync(ValueTask write, JsonBody body)
    {
        try
        {
            await write.ConfigureAwait(false);
        }
        finally
        {
            // Whichever thread this is: the buffer was this response's alone until now.
            JsonBody.Give(body);
        }
    }

    /// <summary>A thread's JSON writer and the pooled buffer under it, reused by every response the thread builds.</summary>
    private sealed class JsonBody : IBufferWriter<byte>
    {
        // A body past this goes back to the pool after use, so a thread keeps only a small buffer between responses.
        private const int KeptBytes = 16 * 1024;

        [ThreadStatic]
        private static JsonBody? _cached;

        private byte[] _buffer = ArrayPool<byte>.Shared.Rent(1024);

        private JsonBody() => Writer = new Utf8JsonWriter(this, AclJsonEncoder.WriterOptions);

        public Utf8JsonWriter Writer { get; }

        public int WrittenCount { get; private set; }

        public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, WrittenCount);

        /// <summary>This thread's body, empty; a new one if the thread's is in use (a body built inside another's build).</summary>
        public static JsonBody Take()
        {
            var body = _cached ?? new JsonBody();
            _cached = null;
            return body;
        }

        /// <summary>Empties <paramref name="body"/> and keeps it for this thread's next response.</summary>
        public static void Give(JsonBody body)
        {
            body.WrittenCount = 0;
            body.Writer.Reset();
            if (body._buffer.Length > KeptBytes)
            {
                ArrayPool<byte>.Shared.Return(body._buffer);
                body._buffer = ArrayPool<byte>.Shared.Rent(1024);
            }

            _cached = body;
        }

        public void Advance(int count) => WrittenCount += count;

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            Reserve(sizeHint);
            return _buffer.AsMemory(WrittenCount);
        }

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            Reserve(sizeHint);
            return _buffer.AsSpan(WrittenCount);
        }

        private void Reserve(int sizeHint)
        {
            var needed = WrittenCount + Math.Max(sizeHint, 1);
            if (needed <= _buffer.Length)
            {
                return;
            }

            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
            _buffer.AsSpan(0, WrittenCount).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
    }
}
