using System.Buffers;
using Microsoft.AspNetCore.Http;

namespace Vellum.Node.Endpoints;

/// <summary>Reads a JSON request body with the size limit enforced before anything is parsed.</summary>
internal static class RequestBody
{
    /// <summary>
    /// The body in a pooled buffer (the caller returns <c>Array</c> to <see cref="ArrayPool{T}.Shared"/>), or null after
    /// answering 400 for a wrong content type or 413 for a body over <paramref name="limit"/>.
    /// </summary>
    public static async Task<ArraySegment<byte>?> ReadJsonAsync(HttpContext context, int limit, params string[] mediaTypes)
    {
        var contentType = context.Request.ContentType;
        var accepted = mediaTypes.Length == 0 ? ["application/json"] : mediaTypes;
        if (contentType is null || !accepted.Any(m => contentType.StartsWith(m, StringComparison.OrdinalIgnoreCase)))
        {
            await AclResponses.Error(context, 400, "UnsupportedContentType",
                $"Content-Type must be {string.Join(" or ", accepted)}, not '{contentType ?? "(none)"}'.").ConfigureAwait(false);
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

            var read = await context.Request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted).ConfigureAwait(false);
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

    private static Task TooLarge(HttpContext context, int limit) =>
        AclResponses.Error(context, 413, "RequestBodyTooLarge", $"The request body is larger than {limit} bytes.");
}
