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
/// and how it ended. Kept in <c>node/operations/{id}.json</c> by the node that runs it, when it starts and when it ends.
/// Its id names what it does (<see cref="NewId"/>), so that any node can judge from the ledgers it holds how an
/// operation it does not run ended: one a stop cut short, or one that another member ran before it failed.
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

    /// <summary>A new operation's id: <c>{create|delete}.{ledger name}.{32 hex digits}</c>.</summary>
    public static string NewId(OperationKind kind, string ledgerName) =>
        $"{(kind == OperationKind.Create ? "create" : "delete")}.{ledgerName}.{Guid.NewGuid():N}";

    /// <summary>What an id made by <see cref="NewId"/> names; false for any other text.</summary>
    public static bool TryParseId(string id, out OperationKind kind, [NotNullWhen(true)] out string? ledgerName)
    {
        kind = default;
        ledgerName = null;
        var parts = id.Split('.');
        if (parts.Length != 3 || parts[2].Length != 32 || !Guid.TryParseExact(parts[2], "N", out _) ||
            !Vellum.Core.Identity.LedgerName.TryParse(parts[1], out var name, out _))
        {
            return false;
        }

        switch (parts[0])
        {
            case "create":
                kind = OperationKind.Create;
                break;
            case "delete":
                kind = OperationKind.Delete;
                break;
            default:
                return false;
        }

        ledgerName = name.Value;
        return true;
    }

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

/// <summary>The node's control-plane operations, in memory and in <c>node/operations/</c>; each kept a day from its start.</summary>
public sealed class OperationStore
{
    private static readonly TimeSpan Kept = TimeSpan.FromDays(1);

    private readonly string _folder;
    private readonly ConcurrentDictionary<string, ManagementOperation> _operations = new(StringComparer.OrdinalIgnoreCase);

    private OperationStore(string folder) => _folder = folder;

    /// <summary>
    /// Reads the operations kept in <paramref name="folder"/> and drops those that began over a day ago. Those a stop cut
    /// short stay in progress here: the control plane judges them when asked, from what the node then holds.
    /// </summary>
    public static OperationStore Open(string folder)
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

            if (operation.StartTime < DateTimeOffset.UtcNow - Kept)
            {
                File.Delete(file);
                continue;
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
