using System.Text.Json.Serialization;
using Vellum.Core.Claims;

namespace Vellum.Core.Receipts;

/// <summary>Source-generated serialization of the receipt types; field names come from their attributes.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TransactionReceipt))]
[JsonSerializable(typeof(Receipt))]
[JsonSerializable(typeof(IReadOnlyList<ApplicationClaim>))]
internal sealed partial class ReceiptJsonContext : JsonSerializerContext;
