using System.Text.Json.Serialization;

namespace Vellum.Core.Claims;

/// <summary>The kind of an ACL application claim.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ApplicationClaimKind>))]
public enum ApplicationClaimKind
{
    /// <summary>A ledger entry disclosed with its secret key (<c>ledgerEntry</c>, protocol <c>LedgerEntryV1</c>).</summary>
    LedgerEntry,

    /// <summary>A digest with its protocol (<c>digest</c>).</summary>
    ClaimDigest,
}

/// <summary>
/// One element of a receipt's <c>applicationClaims</c> array, as ACL serializes it:
/// <c>{"kind":"LedgerEntry","ledgerEntry":{…}}</c> or <c>{"kind":"ClaimDigest","digest":{…}}</c>.
/// </summary>
public sealed record ApplicationClaim
{
    /// <summary>Which of <see cref="LedgerEntry"/> and <see cref="Digest"/> carries the claim.</summary>
    [JsonPropertyName("kind")]
    public required ApplicationClaimKind Kind { get; init; }

    /// <summary>The claim when <see cref="Kind"/> is <see cref="ApplicationClaimKind.LedgerEntry"/>.</summary>
    [JsonPropertyName("ledgerEntry")]
    public ApplicationClaimLedgerEntry? LedgerEntry { get; init; }

    /// <summary>The claim when <see cref="Kind"/> is <see cref="ApplicationClaimKind.ClaimDigest"/>.</summary>
    [JsonPropertyName("digest")]
    public ApplicationClaimDigest? Digest { get; init; }

    /// <summary>A <c>LedgerEntryV1</c> claim; <paramref name="secretKey"/> is written as base64.</summary>
    public static ApplicationClaim ForLedgerEntry(string collectionId, string contents, ReadOnlySpan<byte> secretKey) => new()
    {
        Kind = ApplicationClaimKind.LedgerEntry,
        LedgerEntry = new ApplicationClaimLedgerEntry
        {
            CollectionId = collectionId,
            Contents = contents,
            Protocol = ClaimsDigest.LedgerEntryV1Protocol,
            SecretKey = Convert.ToBase64String(secretKey),
        },
    };

    /// <summary>A <c>ClaimDigest</c> claim; <paramref name="value"/> is written as lower-case hex.</summary>
    public static ApplicationClaim ForDigest(string protocol, ReadOnlySpan<byte> value) => new()
    {
        Kind = ApplicationClaimKind.ClaimDigest,
        Digest = new ApplicationClaimDigest { Protocol = protocol, Value = Convert.ToHexStringLower(value) },
    };
}

/// <summary>
/// A disclosed ledger entry (<c>ApplicationClaimLedgerEntry</c> in the ACL API). All fields are optional on the wire;
/// the claims digest needs all four.
/// </summary>
public sealed record ApplicationClaimLedgerEntry
{
    /// <summary>The collection (sub-ledger) id.</summary>
    [JsonPropertyName("collectionId")]
    public string? CollectionId { get; init; }

    /// <summary>The entry contents.</summary>
    [JsonPropertyName("contents")]
    public string? Contents { get; init; }

    /// <summary>Always <c>LedgerEntryV1</c>.</summary>
    [JsonPropertyName("protocol")]
    public string? Protocol { get; init; }

    /// <summary>The base64 HMAC key that blinds collection id and contents.</summary>
    [JsonPropertyName("secretKey")]
    public string? SecretKey { get; init; }
}

/// <summary>A digest claim (<c>ClaimDigest</c> in the ACL API).</summary>
public sealed record ApplicationClaimDigest
{
    /// <summary>The protocol name, hashed in front of the value.</summary>
    [JsonPropertyName("protocol")]
    public string? Protocol { get; init; }

    /// <summary>The digest value as hex.</summary>
    [JsonPropertyName("value")]
    public string? Value { get; init; }
}
