using System.Text.Json.Serialization;
using Vellum.Core.Claims;
using Vellum.Core.Primitives;

namespace Vellum.Core.Receipts;

/// <summary>Whether a receipt can be served yet.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ReceiptState>))]
public enum ReceiptState
{
    /// <summary>The transaction has no signed root covering it yet; ask again.</summary>
    Loading,

    /// <summary>The receipt is present.</summary>
    Ready,
}

/// <summary>
/// The ACL <c>TransactionReceipt</c> envelope: <c>{"applicationClaims":[…]?, "receipt":{…}, "state":"Ready", "transactionId":"2.40"}</c>.
/// </summary>
public sealed record TransactionReceipt
{
    /// <summary>The transaction's application claims, when it has any (API 2023-01-18-preview and later).</summary>
    [JsonPropertyName("applicationClaims")]
    public IReadOnlyList<ApplicationClaim>? ApplicationClaims { get; init; }

    /// <summary>The receipt; absent while <see cref="State"/> is <see cref="ReceiptState.Loading"/>.</summary>
    [JsonPropertyName("receipt")]
    public Receipt? Receipt { get; init; }

    /// <summary>Loading or Ready.</summary>
    [JsonPropertyName("state")]
    public required ReceiptState State { get; init; }

    /// <summary>The transaction id, <c>view.seqno</c>.</summary>
    [JsonPropertyName("transactionId")]
    public string? TransactionId { get; init; }

    /// <summary>A ready envelope.</summary>
    public static TransactionReceipt Ready(TxId transactionId, Receipt receipt, IReadOnlyList<ApplicationClaim>? applicationClaims = null)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        return new TransactionReceipt
        {
            ApplicationClaims = applicationClaims is { Count: > 0 } ? applicationClaims : null,
            Receipt = receipt,
            State = ReceiptState.Ready,
            TransactionId = transactionId.ToString(),
        };
    }

    /// <summary>A not-yet-available envelope.</summary>
    public static TransactionReceipt Loading(TxId transactionId) =>
        new() { State = ReceiptState.Loading, TransactionId = transactionId.ToString() };
}
