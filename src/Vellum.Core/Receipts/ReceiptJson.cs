using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Vellum.Core.Claims;

namespace Vellum.Core.Receipts;

/// <summary>
/// JSON for receipts, in ACL's camelCase. Parsing also accepts the snake_case keys older ACL versions returned
/// (<c>leaf_components</c>, <c>node_id</c>, …): like the Python verifier, every key containing an underscore is
/// rewritten to camelCase before binding.
/// </summary>
public static class ReceiptJson
{
    private const int MaxDepth = 32;

    // Relaxed escaping so base64 '+' and PEM text appear as ACL writes them rather than as \u002B; the output is
    // JSON for API clients, never inlined into HTML.
    private static readonly ReceiptJsonContext Context = new(new JsonSerializerOptions
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        MaxDepth = MaxDepth,
    });

    /// <summary>The envelope as compact JSON.</summary>
    public static string Serialize(TransactionReceipt receipt) =>
        JsonSerializer.Serialize(receipt, Context.TransactionReceipt);

    /// <summary>The envelope as compact UTF-8 JSON.</summary>
    public static byte[] SerializeToUtf8Bytes(TransactionReceipt receipt) =>
        JsonSerializer.SerializeToUtf8Bytes(receipt, Context.TransactionReceipt);

    /// <summary>The inner receipt object as compact JSON.</summary>
    public static string Serialize(Receipt receipt) =>
        JsonSerializer.Serialize(receipt, Context.Receipt);

    /// <summary>
    /// Writes the inner receipt object as the next value of <paramref name="writer"/>, escaped as
    /// <see cref="Serialize(Receipt)"/> escapes it (whatever the writer's own encoder), without a string in between.
    /// </summary>
    public static void Write(Utf8JsonWriter writer, Receipt receipt)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteRawValue(JsonSerializer.SerializeToUtf8Bytes(receipt, Context.Receipt), skipInputValidation: true);
    }

    /// <summary>Parses an envelope; false with a message (never an exception) on malformed JSON.</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8Json, [NotNullWhen(true)] out TransactionReceipt? receipt, [NotNullWhen(false)] out string? error) =>
        TryParseCore(utf8Json, Context.TransactionReceipt, out receipt, out error);

    /// <inheritdoc cref="TryParse(ReadOnlySpan{byte}, out TransactionReceipt?, out string?)"/>
    public static bool TryParse(string? json, [NotNullWhen(true)] out TransactionReceipt? receipt, [NotNullWhen(false)] out string? error) =>
        TryParse(Encoding.UTF8.GetBytes(json ?? string.Empty), out receipt, out error);

    /// <summary>Parses an inner receipt object (what the Python <c>verify_receipt</c> takes).</summary>
    public static bool TryParseReceipt(ReadOnlySpan<byte> utf8Json, [NotNullWhen(true)] out Receipt? receipt, [NotNullWhen(false)] out string? error) =>
        TryParseCore(utf8Json, Context.Receipt, out receipt, out error);

    /// <inheritdoc cref="TryParseReceipt(ReadOnlySpan{byte}, out Receipt?, out string?)"/>
    public static bool TryParseReceipt(string? json, [NotNullWhen(true)] out Receipt? receipt, [NotNullWhen(false)] out string? error) =>
        TryParseReceipt(Encoding.UTF8.GetBytes(json ?? string.Empty), out receipt, out error);

    /// <summary>Parses an <c>applicationClaims</c> array on its own.</summary>
    public static bool TryParseApplicationClaims(
        string? json, [NotNullWhen(true)] out IReadOnlyList<ApplicationClaim>? claims, [NotNullWhen(false)] out string? error) =>
        TryParseCore(Encoding.UTF8.GetBytes(json ?? string.Empty), Context.IReadOnlyListApplicationClaim, out claims, out error);

    private static bool TryParseCore<T>(ReadOnlySpan<byte> utf8Json, JsonTypeInfo<T> typeInfo, [NotNullWhen(true)] out T? value, [NotNullWhen(false)] out string? error)
        where T : class
    {
        value = null;
        try
        {
            value = JsonSerializer.Deserialize(CamelCaseKeys(utf8Json), typeInfo);
        }
        catch (JsonException e)
        {
            error = e.Message;
            return false;
        }
        catch (InvalidOperationException e)
        {
            // Invalid UTF-8 or UTF-16 inside a string token surfaces as InvalidOperationException or ArgumentException.
            error = e.Message;
            return false;
        }
        catch (ArgumentException e)
        {
            error = e.Message;
            return false;
        }

        if (value is null)
        {
            error = "The JSON value is null.";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>Copies the JSON token by token, rewriting <c>snake_case</c> property names to <c>snakeCase</c>.</summary>
    private static byte[] CamelCaseKeys(ReadOnlySpan<byte> utf8Json)
    {
        var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = MaxDepth });
        var buffer = new ArrayBufferWriter<byte>(utf8Json.Length + 16);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { MaxDepth = MaxDepth }))
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        writer.WriteStartObject();
                        break;
                    case JsonTokenType.EndObject:
                        writer.WriteEndObject();
                        break;
                    case JsonTokenType.StartArray:
                        writer.WriteStartArray();
                        break;
                    case JsonTokenType.EndArray:
                        writer.WriteEndArray();
                        break;
                    case JsonTokenType.PropertyName:
                        writer.WritePropertyName(ToCamelCase(reader.GetString()!));
                        break;
                    case JsonTokenType.String:
                        writer.WriteStringValue(reader.GetString());
                        break;
                    case JsonTokenType.Number:
                        writer.WriteRawValue(reader.ValueSpan, skipInputValidation: true);
                        break;
                    case JsonTokenType.True:
                        writer.WriteBooleanValue(true);
                        break;
                    case JsonTokenType.False:
                        writer.WriteBooleanValue(false);
                        break;
                    case JsonTokenType.Null:
                        writer.WriteNullValue();
                        break;
                    default:
                        throw new JsonException($"Unexpected JSON token {reader.TokenType}.");
                }
            }
        }

        if (buffer.WrittenCount == 0)
        {
            throw new JsonException("The input is empty.");
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary><c>leaf_components</c> → <c>leafComponents</c>; names without an underscore are returned unchanged.</summary>
    internal static string ToCamelCase(string name)
    {
        if (!name.Contains('_', StringComparison.Ordinal))
        {
            return name;
        }

        var builder = new StringBuilder(name.Length);
        var upperNext = false;
        foreach (var c in name)
        {
            if (c == '_')
            {
                upperNext = builder.Length > 0;
                continue;
            }

            builder.Append(upperNext ? char.ToUpperInvariant(c) : c);
            upperNext = false;
        }

        return builder.ToString();
    }
}
