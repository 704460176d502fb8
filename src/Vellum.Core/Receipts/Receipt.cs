using System.Text.Json.Serialization;

namespace Vellum.Core.Receipts;

/// <summary>
/// The inner <c>receipt</c> object of an ACL write receipt (CCF ≥ 2 format), with the wire values kept as text so
/// that a parsed receipt re-serializes unchanged and malformed values reach the verifier, which reports them.
/// </summary>
public sealed record Receipt
{
    /// <summary>PEM of the node certificate that signed the root.</summary>
    [JsonPropertyName("cert")]
    public string? Cert { get; init; }

    /// <summary>The three digests the leaf is made of.</summary>
    [JsonPropertyName("leafComponents")]
    public LeafComponents? LeafComponents { get; init; }

    /// <summary>Lower-case hex SHA-256 of the node certificate's SubjectPublicKeyInfo; optional for verifiers.</summary>
    [JsonPropertyName("nodeId")]
    public string? NodeId { get; init; }

    /// <summary>Siblings from the leaf up to the signed root.</summary>
    [JsonPropertyName("proof")]
    public IReadOnlyList<ReceiptProofElement>? Proof { get; init; }

    /// <summary>Previous service identity endorsements (PEM), oldest to latest; Vellum always writes the array.</summary>
    [JsonPropertyName("serviceEndorsements")]
    public IReadOnlyList<string>? ServiceEndorsements { get; init; }

    /// <summary>Base64 DER ECDSA signature over the root, the root being the digest.</summary>
    [JsonPropertyName("signature")]
    public string? Signature { get; init; }
}

/// <summary>The <c>leafComponents</c> object: leaf = SHA256(writeSetDigest ‖ SHA256(commitEvidence) ‖ claimsDigest).</summary>
public sealed record LeafComponents
{
    /// <summary>Hex SHA-256 of the application claims; all zeros when there are none.</summary>
    [JsonPropertyName("claimsDigest")]
    public string? ClaimsDigest { get; init; }

    /// <summary>The commit evidence string <c>ce:{view}.{seqno}:{64 hex}</c>.</summary>
    [JsonPropertyName("commitEvidence")]
    public string? CommitEvidence { get; init; }

    /// <summary>Hex SHA-256 of the transaction's write set.</summary>
    [JsonPropertyName("writeSetDigest")]
    public string? WriteSetDigest { get; init; }
}

/// <summary>One proof element: exactly one of <c>left</c> and <c>right</c>, the sibling's hex digest.</summary>
public sealed record ReceiptProofElement
{
    /// <summary>The sibling when it is on the left: <c>h = SHA256(left ‖ h)</c>.</summary>
    [JsonPropertyName("left")]
    public string? Left { get; init; }

    /// <summary>The sibling when it is on the right: <c>h = SHA256(h ‖ right)</c>.</summary>
    [JsonPropertyName("right")]
    public string? Right { get; init; }
}
