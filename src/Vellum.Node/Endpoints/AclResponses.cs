using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Vellum.Node.Endpoints;

/// <summary>Writes JSON bodies and the ACL/CCF error shape <c>{"error":{"code","message"}}</c>.</summary>
internal static class AclResponses
{
    public const string TransactionIdHeader = "x-ms-ccf-transaction-id";

    /// <summary>Writes an error with <paramref name="status"/>; the request changed nothing.</summary>
    public static Task Error(HttpContext context, int status, string code, string message)
    {
        context.Response.StatusCode = status;
        return Json(context, writer =>
        {
            writer.WriteStartObject("error");
            writer.WriteString("code", code);
            writer.WriteString("message", message);
            writer.WriteEndObject();
        }, status);
    }

    /// <summary>
    /// The error code of a refusal that reaches the application without a body of its own: Kestrel's request errors
    /// found while the body is read, and any status a component set without writing a body.
    /// </summary>
    public static string RefusalCode(int status) => status switch
    {
        400 => "InvalidInput",
        404 => "ResourceNotFound",
        405 => "MethodNotAllowed",
        408 => "RequestTimeout",
        413 => "RequestBodyTooLarge",
        503 => "ServiceUnavailable",
        >= 500 => "InternalError",
        _ => "BadRequest",
    };

    /// <summary>Writes a JSON object body built by <paramref name="build"/> (which writes the properties).</summary>
    public static async Task Json(HttpContext context, Action<Utf8JsonWriter> build, int status = StatusCodes.Status200OK)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, AclJsonEncoder.WriterOptions))
        {
            writer.WriteStartObject();
            build(writer);
            writer.WriteEndObject();
        }

        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }
}
