using Vellum.Core.Primitives;

namespace Vellum.Core.Receipts;

/// <summary>The steps of ACL receipt verification, in the order they run; a failed result names one of them.</summary>
public enum ReceiptVerificationStep
{
    /// <summary>No step failed: the receipt is valid.</summary>
    None = 0,

    /// <summary>A required field is missing or null, or a proof element has neither or both of left/right.</summary>
    Shape,

    /// <summary>The given application claims are malformed or their digest differs from <c>claimsDigest</c>.</summary>
    ClaimsDigest,

    /// <summary>The <c>cert</c> PEM cannot be loaded or its key is not an EC key.</summary>
    NodeCertificate,

    /// <summary>An endorsement or the service certificate is unusable, or a link of the chain does not verify.</summary>
    Endorsement,

    /// <summary><c>writeSetDigest</c> or <c>claimsDigest</c> is not 64 hex digits.</summary>
    Leaf,

    /// <summary>A proof sibling is not 64 hex digits.</summary>
    Root,

    /// <summary><c>nodeId</c> is not 64 hex digits or is not the SHA-256 of the node certificate's SubjectPublicKeyInfo.</summary>
    NodeId,

    /// <summary><c>signature</c> is not base64, or does not verify over the root with the node key.</summary>
    Signature,
}

/// <summary>The outcome of <see cref="ReceiptVerifier"/>: which step failed and why, plus the hashes computed on the way.</summary>
public sealed record ReceiptVerificationResult
{
    /// <summary>True when every step passed.</summary>
    public bool IsValid => FailedStep == ReceiptVerificationStep.None;

    /// <summary>The failing step, or <see cref="ReceiptVerificationStep.None"/>.</summary>
    public required ReceiptVerificationStep FailedStep { get; init; }

    /// <summary>What went wrong, or a short confirmation.</summary>
    public required string Message { get; init; }

    /// <summary>
    /// False when the endorsement chain was not checked (<see cref="ReceiptVerifier.DangerousVerifyWithoutEndorsement"/>),
    /// in which case a valid result proves only that <em>some</em> key signed the root, not that the service did.
    /// </summary>
    public bool EndorsementChecked { get; init; }

    /// <summary>The leaf, once computed.</summary>
    public Hash32? Leaf { get; init; }

    /// <summary>The root the proof leads to, once computed.</summary>
    public Hash32? Root { get; init; }
}
