using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Vellum.Node.Auth;

namespace Vellum.Node.Endpoints;

/// <summary>
/// The OpenAPI 3.0 document of this node's endpoints, served at <c>/openapi.json</c>. Written from the table below (the
/// handlers take <see cref="HttpContext"/> directly, so nothing can be inferred); a test checks it lists exactly the
/// routes the node maps.
/// </summary>
internal static class OpenApiDocument
{
    private sealed record Operation(string Method, string Path, string Summary, string[] Query, int Success, bool Authenticated = true);

    private static readonly Operation[] Operations =
    [
        new("post", "/app/transactions", "Write a ledger entry ({\"contents\": string}); returns the transaction id in x-ms-ccf-transaction-id.", ["collectionId", "tags", "waitForCommit"], 200),
        new("get", "/app/transactions", "List entries of a collection, paged with nextLink.", ["collectionId", "fromTransactionId", "toTransactionId", "tag"], 200),
        new("get", "/app/transactions/current", "The latest entry of a collection.", ["collectionId"], 200),
        new("get", "/app/transactions/{transactionId}", "Read an entry (state Loading until it is readable).", ["collectionId"], 200),
        new("get", "/app/transactions/{transactionId}/receipt", "The ACL receipt of a committed transaction.", [], 200),
        new("get", "/app/transactions/{transactionId}/status", "Pending or Committed.", [], 200),
        new("get", "/app/collections", "Collections that have entries.", [], 200),
        new("get", "/app/users", "Users and their role (2024-01-26-preview).", [], 200),
        new("get", "/app/users/{userId}", "A user's role.", [], 200),
        new("patch", "/app/users/{userId}", "Create or merge-patch a user ({\"assignedRole\"}); Administrator only.", [], 200),
        new("delete", "/app/users/{userId}", "Remove a user; Administrator only.", [], 204),
        new("get", "/app/ledgerUsers", "Users and their roles (2024-08-22-preview).", [], 200),
        new("get", "/app/ledgerUsers/{userId}", "A user's roles.", [], 200),
        new("patch", "/app/ledgerUsers/{userId}", "Create or merge-patch a user ({\"assignedRoles\"}); Administrator only.", [], 200),
        new("delete", "/app/ledgerUsers/{userId}", "Remove a user; Administrator only.", [], 204),
        new("get", "/app/governance/constitution", "The rules this node enforces (descriptive).", [], 200),
        new("get", "/app/governance/members", "The bootstrap Administrators' certificates.", [], 200),
        new("get", "/app/enclaveQuotes", "A virtual quote: a measurement of the running binary, no hardware root of trust.", [], 200),
        new("get", "/ledgerIdentity/{ledgerId}", "The service certificate clients pin.", [], 200, Authenticated: false),
        new("get", "/node/health/live", "Liveness.", [], 200, Authenticated: false),
        new("get", "/node/health/ready", "Readiness (503 while a cluster member catches up), with the last and committed seqno.", [], 200, Authenticated: false),
        new("post", "/node/join-tokens", "Administrator: a join token for a new node (lifetimeMinutes, default 60).", [], 200),
        new("post", "/node/join", "A new node trades a join token for the service material (token-authenticated).", [], 200, Authenticated: false),
        new("post", "/node/members", "A joined node asks the primary to add it (token-authenticated; backups redirect).", [], 200, Authenticated: false),
        new("delete", "/node/members/{nodeAddress}", "Administrator: retire a member (primary; backups redirect).", [], 204),
        new("get", "/node/ledger/frames", "Members only (an endorsed node certificate): durable transactions from seqno `from` as ledger-format frames, for catching up.", ["from"], 200),
        new("get", "/node/network", "The cluster as this node sees it: members, primary, view, this node's progress.", [], 200, Authenticated: false),
        new("get", "/openapi.json", "This document.", [], 200, Authenticated: false),
    ];

    private static readonly Operation[] BenchmarkOperations =
    [
        new("post", "/app/benchmark/noop", "Benchmark ceiling: a write's request work without the append (only with --benchmark-endpoints).", [], 200),
        new("get", "/app/benchmark/noop", "Benchmark ceiling: a read's request work with a fixed body (only with --benchmark-endpoints).", [], 200),
    ];

    public static void Map(IEndpointRouteBuilder app, bool benchmarkEndpoints)
    {
        var document = Build(benchmarkEndpoints ? [.. Operations, .. BenchmarkOperations] : Operations);
        app.MapGet("/openapi.json", context =>
        {
            context.Response.ContentType = "application/json";
            return context.Response.Body.WriteAsync(document, context.RequestAborted).AsTask();
        }).Requires(EndpointAccess.Open);
    }

    private static byte[] Build(Operation[] operations)
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
                    writer.WriteString("summary", operation.Summary);
                    writer.WriteStartArray("parameters");
                    foreach (var segment in operation.Path.Split('/').Where(s => s.StartsWith('{')))
                    {
                        Parameter(writer, segment.Trim('{', '}'), "path", required: true);
                    }

                    if (operation.Path.StartsWith("/app", StringComparison.Ordinal))
                    {
                        Parameter(writer, "api-version", "query", required: true);
                    }

                    foreach (var name in operation.Query)
                    {
                        Parameter(writer, name, "query", required: false);
                    }

                    writer.WriteEndArray();
                    writer.WriteStartObject("responses");
                    writer.WriteStartObject(operation.Success.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    writer.WriteString("description", operation.Success == 204 ? "No content" : "OK (application/json)");
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
