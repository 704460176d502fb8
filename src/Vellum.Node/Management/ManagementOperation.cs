using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace Vellum.Node.Management;

/// <summary>What a long-running control-plane operation does.</summary>
public enum OperationKind
{
    Create,
    Delete,
}

/// <summary>
/// One long-running control-plane operation (ARM's operation-status resource): what it does to which ledger, for whom,
/// and how it ended. Kept in <c>node/operations/{id}.json</c> when it starts and when it ends, so that its status
/// survives a stop; one that a stop cut short is judged at the next start (<see cref="OperationStore.Open"/>).
/// </summary>
public sealed record ManagementOperation(
    string Id, OperationKind Kind, string LedgerName, string SubscriptionId, string TenantId, string Location, DateTimeOffset StartTime)
{
    /// <summary><c>InProgress</c>, <c>Succeeded</c> or <c>Failed</c>.</summary>
    public string Status { get; init; } = "InProgress";

    public DateTimeOffset? EndTime { get; init; }

    /// <summary>When Failed: the ARM error code and message.</summary>
    public (string Code, string Message)? Error { get; init; }

    public bool IsDone => Status != "InProgress";

    public byte[] Encode()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("id", Id);
            writer.WriteString("kind", Kind.ToString());
            writer.WriteString("ledgerName", LedgerName);
            writer.WriteString("subscriptionId", SubscriptionId);
            writer.WriteString("tenantId", TenantId);
            writer.WriteString("location", Location);
            writer.WriteString("startTime", StartTime);
            writer.WriteString("status", Status);
            if (EndTime is { } end)
            {
                writer.WriteString("endTime", end);
            }

            if (Error is { } error)
            {
                writer.WriteStartObject("error");
                writer.WriteString("code", error.Code);
                writer.WriteString("message", error.Message);
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static bool TryDecode(byte[] bytes, [NotNullWhen(true)] out ManagementOperation? operation)
    {
        operation = null;
        try
        {
            using var document = JsonDocument.Parse(bytes);
            var root = document.RootElement;
            operation = new ManagementOperation(
                root.GetProperty("id").GetString()!, Enum.Parse<OperationKind>(root.GetProperty("kind").GetString()!), root.GetProperty("ledgerName").GetString()!,
                root.GetProperty("subscriptionId").GetString()!, root.GetProperty("tenantId").GetString()!, root.GetProperty("location").GetString()!,
                root.GetProperty("startTime").GetDateTimeOffset())
            {
                Status = root.GetProperty("status").GetString()!,
                EndTime = root.TryGetProperty("endTime", out var end) ? end.GetDateTimeOffset() : null,
                Error = root.TryGetProperty("error", out var error) ? (error.GetProperty("code").GetString()!, error.GetProperty("message").GetString()!) : null,
            };
            return true;
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException or FormatException)
        {
            return false;
        }
    }
}

/// <summary>The node's control-plane operations, in memory and in <c>node/operations/</c>; finished ones are kept a day.</summary>
public sealed class OperationStore
{
    private static readonly TimeSpan Kept = TimeSpan.FromDays(1);

    private readonly string _folder;
    private readonly ConcurrentDictionary<string, ManagementOperation> _operations = new(StringComparer.OrdinalIgnoreCase);

    private OperationStore(string folder) => _folder = folder;

    /// <summary>
    /// Reads the operations kept in <paramref name="folder"/>, drops those finished over a day ago and judges those a
    /// stop cut short with <paramref name="judge"/> (which says how the operation ended, from what the node holds).
    /// </summary>
    public static OperationStore Open(string folder, Func<ManagementOperation, ManagementOperation> judge)
    {
        Vellum.Storage.IO.OwnerOnly.CreateDirectory(folder);
        var store = new OperationStore(folder);
        foreach (var file in Directory.EnumerateFiles(folder, "*.json"))
        {
            if (!ManagementOperation.TryDecode(File.ReadAllBytes(file), out var operation))
            {
                File.Delete(file);
                continue;
            }

            if (operation.IsDone && operation.EndTime < DateTimeOffset.UtcNow - Kept)
            {
                File.Delete(file);
                continue;
            }

            if (!operation.IsDone)
            {
                operation = judge(operation);
                store.Save(operation);
            }

            store._operations[operation.Id] = operation;
        }

        return store;
    }

    public bool TryGet(string id, [NotNullWhen(true)] out ManagementOperation? operation) => _operations.TryGetValue(id, out operation);

    /// <summary>Keeps <paramref name="operation"/> (new or changed) in memory and on disk.</summary>
    public void Save(ManagementOperation operation)
    {
        Vellum.Storage.IO.Durability.WriteFileAtomic(Path.Combine(_folder, operation.Id + ".json"), operation.Encode());
        _operations[operation.Id] = operation;
    }
}
