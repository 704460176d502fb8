using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Vellum.Node.Endpoints;

/// <summary>Writes JSON bodies and the ACL/CCF error shape <c>{"error":{"code","message"}}</c>.</summary>
internal static class AclResponses
{
    public const string TransactionIdHeader = "x-ms-ccf-transaction-id";

    /// <summary>Writes <paramref name="error"/> (an entry of <see cref="AclErrors"/>) with its status; the request changed nothing.</summary>
    public static Task Error(HttpContext context, AclError error, string message)
    {
        context.Response.StatusCode = error.Status;
        return Json(context, writer =>
        {
            writer.WriteStartObject("error");
            writer.WriteString("code", error.Code);
            writer.WriteString("message", message);
            writer.WriteEndObject();
        }, error.Status);
    }

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
