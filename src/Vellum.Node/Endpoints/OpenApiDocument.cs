using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Vellum.Node.Auth;

namespace Vellum.Node.Endpoints;

/// <summary>What <c>/openapi.json</c> says of an endpoint, declared where the endpoint is mapped (<see cref="OpenApiDocument.Describe"/>).</summary>
/// <param name="Summary">One sentence: what the operation does.</param>
/// <param name="Success">The status of success (200, 204).</param>
/// <param name="Query">The optional query parameters (api-version is added for every /app operation).</param>
internal sealed record ApiOperation(string Summary, int Success, string[] Query);

/// <summary>
/// The OpenAPI 3.0 document of this node's endpoints, served at <c>/openapi.json</c>. The route table is the document:
/// it is written, once, from the endpoints the node mapped — each path and method, the description each endpoint
/// declares (<see cref="Describe"/>), and whether it needs a caller (<see cref="EndpointAccess"/>) — so a route cannot
/// be added, removed or opened without the document saying so. An endpoint that declares no description stops the
/// document (and a test) rather than go unlisted.
/// </summary>
internal static class OpenApiDocument
{
    private sealed record Operation(string Method, string Path, ApiOperation Description, bool Authenticated);

    /// <summary>Declares what <c>/openapi.json</c> says of this endpoint.</summary>
    public static TBuilder Describe<TBuilder>(this TBuilder builder, string summary, int success = 200, params string[] query)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ApiOperation(summary, success, query));

    public static void Map(IEndpointRouteBuilder app)
    {
        // The route table is complete once the host is built, before the first request can reach this.
        var document = new Lazy<byte[]>(() => Write(app.DataSources), LazyThreadSafetyMode.ExecutionAndPublication);
        app.MapGet("/openapi.json", context =>
        {
            context.Response.ContentType = "application/json";
            return context.Response.Body.WriteAsync(document.Value, context.RequestAborted).AsTask();
        }).Requires(EndpointAccess.Open).Describe("This document.");
    }

    /// <summary>The document of the routes in <paramref name="sources"/>; throws when one declares no description.</summary>
    internal static byte[] Write(IEnumerable<EndpointDataSource> sources) => Build(Operations(sources));

    /// <summary>Every mapped route but the fallback, in the order mapped, with its description.</summary>
    private static List<Operation> Operations(IEnumerable<EndpointDataSource> sources)
    {
        var operations = new List<Operation>();
        foreach (var endpoint in sources.SelectMany(source => source.Endpoints).OfType<RouteEndpoint>())
        {
            if (endpoint.RoutePattern.Parameters.Any(p => p.IsCatchAll))
            {
                continue;
            }

            var description = endpoint.Metadata.GetMetadata<ApiOperation>()
                ?? throw new InvalidOperationException($"The endpoint {endpoint.DisplayName} declares no OpenAPI description (Describe).");
            var proof = EndpointAccess.Of(endpoint).Proof;
            foreach (var method in endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? [])
            {
                operations.Add(new Operation(method.ToLowerInvariant(), endpoint.RoutePattern.RawText!, description, proof is not (CallerProof.None or CallerProof.JoinToken)));
            }
        }

        return operations;
    }

    private static byte[] Build(List<Operation> operations)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteString("openapi", "3.0.3");
            writer.WriteStartObject("info");
            writer.WriteString("title", "Vellum ledger node");
            writer.WriteString("version", "2022-05-13");
            writer.WriteString("description", "Azure Confidential Ledger data-plane compatible API. Every /app operation needs the api-version query parameter and a client certificate (mutual TLS). Errors: {\"error\":{\"code\",\"message\"}}.");
            writer.WriteEndObject();
            writer.WriteStartObject("paths");
            foreach (var group in operations.GroupBy(o => o.Path))
            {
                writer.WriteStartObject(group.Key);
                foreach (var operation in group)
                {
                    writer.WriteStartObject(operation.Method);
                    writer.WriteString("summary", operation.Description.Summary);
                    writer.WriteStartArray("parameters");
                    foreach (var segment in operation.Path.Split('/').Where(s => s.StartsWith('{')))
                    {
                        Parameter(writer, segment.Trim('{', '}'), "path", required: true);
                    }

                    if (operation.Path.StartsWith("/app", StringComparison.Ordinal))
                    {
                        Parameter(writer, "api-version", "query", required: true);
                    }

                    foreach (var name in operation.Description.Query)
                    {
                        Parameter(writer, name, "query", required: false);
                    }

                    writer.WriteEndArray();
                    writer.WriteStartObject("responses");
                    writer.WriteStartObject(operation.Description.Success.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    writer.WriteString("description", operation.Description.Success == 204 ? "No content" : "OK (application/json)");
                    writer.WriteEndObject();
                    writer.WriteStartObject("default");
                    writer.WriteString("description", "Error {\"error\":{\"code\",\"message\"}}");
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                    if (!operation.Authenticated)
                    {
                        writer.WriteStartArray("security");
                        writer.WriteEndArray();
                    }

                    writer.WriteEndObject();
                }

                writer.WriteEndObject();
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void Parameter(Utf8JsonWriter writer, string name, string location, bool required)
    {
        writer.WriteStartObject();
        writer.WriteString("name", name);
        writer.WriteString("in", location);
        writer.WriteBoolean("required", required);
        writer.WriteStartObject("schema");
        writer.WriteString("type", "string");
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
