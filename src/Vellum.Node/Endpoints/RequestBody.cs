using System.Buffers;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Vellum.Node.Endpoints;

/// <summary>Reads a JSON request body with the size limit enforced before anything is parsed.</summary>
internal static class RequestBody
{
    /// <summary>
    /// The body in a pooled buffer (the caller returns <c>Array</c> to <see cref="ArrayPool{T}.Shared"/>), or null after
    /// answering 400 for a wrong content type or 413 for a body over <paramref name="limit"/>. The same body gets the
    /// same answer with Content-Length or chunked: the limit counts the body's bytes, read here, not Kestrel's framing.
    /// </summary>
    public static async Task<ArraySegment<byte>?> ReadJsonAsync(HttpContext context, int limit, params string[] mediaTypes)
    {
        var accepted = mediaTypes.Length == 0 ? ["application/json"] : mediaTypes;
        if (!IsAccepted(context.Request.ContentType, accepted))
        {
            await AclResponses.Error(context, AclErrors.UnsupportedContentType,
                $"Content-Type must be {string.Join(" or ", accepted)} (UTF-8, the only charset accepted), not '{context.Request.ContentType ?? "(none)"}'.").ConfigureAwait(false);
            return null;
        }

        if (context.Request.ContentLength > limit)
        {
            await TooLarge(context, limit).ConfigureAwait(false);
            return null;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(limit + 1, (int)(context.Request.ContentLength ?? 4096) + 1));
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (buffer.Length > limit)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    await TooLarge(context, limit).ConfigureAwait(false);
                    return null;
                }

                var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(limit + 1, buffer.Length * 2));
                buffer.AsSpan(0, length).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = bigger;
            }

            // Never more than limit + 1 bytes in all: one byte over is enough to refuse, and Kestrel's own body limit
            // (NodeHost) then never decides first.
            int read;
            try
            {
                read = await context.Request.Body.ReadAsync(buffer.AsMemory(length, Math.Min(buffer.Length, limit + 1) - length), context.RequestAborted).ConfigureAwait(false);
            }
            catch (IOException ex) when (ex is not BadHttpRequestException and not ConnectionResetException && !context.RequestAborted.IsCancellationRequested)
            {
                // Kestrel reports a chunk size past int.MaxValue as a plain IOException, not as a bad request (its
                // other request errors are BadHttpRequestException, which NodeHost answers).
                ArrayPool<byte>.Shared.Return(buffer);
                await AclResponses.Error(context, AclErrors.InvalidInput, $"The request body could not be read: {ex.Message}").ConfigureAwait(false);
                return null;
            }

            if (read == 0)
            {
                break;
            }

            length += read;
            if (length > limit)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                await TooLarge(context, limit).ConfigureAwait(false);
                return null;
            }
        }

        return new ArraySegment<byte>(buffer, 0, length);
    }

    /// <summary>
    /// The media type is one of <paramref name="accepted"/> exactly (case aside; not a prefix: <c>application/jsonx</c>
    /// and <c>application/json-seq</c> are other types), the header parses (<c>application/json;;;</c> does not), and
    /// the charset, if given once, is UTF-8: JSON is UTF-8 (RFC 8259), and the body is parsed as UTF-8 whatever a
    /// header says.
    /// </summary>
    private static bool IsAccepted(string? contentType, string[] accepted)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var mediaType) ||
            !accepted.Any(m => mediaType.MediaType.Equals(m, StringComparison.OrdinalIgnoreCase)))
        {
            return false;
        }

        var charsets = mediaType.Parameters.Where(p => p.Name.Equals("charset", StringComparison.OrdinalIgnoreCase)).ToList();
        return charsets.Count == 0 ||
            (charsets.Count == 1 && HeaderUtilities.RemoveQuotes(charsets[0].Value).Equals("utf-8", StringComparison.OrdinalIgnoreCase));
    }

    private static Task TooLarge(HttpContext context, int limit) =>
        AclResponses.Error(context, AclErrors.RequestBodyTooLarge, $"The request body is larger than {limit} bytes.");
}
