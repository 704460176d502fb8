using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Claims;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;

namespace Vellum.Core.Receipts;

/// <summary>
/// Verifies ACL write receipts exactly as the Azure SDK's <c>verify_receipt</c> does (acl-api.md §3.2), reporting
/// the step that failed. No method throws on malformed input: bad base64, hex, PEM or lengths become failures.
/// </summary>
/// <remarks>
/// Steps: shape → claims digest (when claims are given) → node certificate is EC → endorsement chain
/// (<c>serviceEndorsements</c> oldest to latest, then the service certificate) → leaf → root → node id (when present)
/// → ECDSA signature over the root used as a prehashed digest.
/// Two deliberate differences from the Python reference, both rejecting what it would only reject later or not at
/// all: hex digests must be exactly 64 digits, and a proof element must carry exactly one of left/right.
/// </remarks>
public static class ReceiptVerifier
{
    /// <summary>Verifies <paramref name="receipt"/> against the pinned service certificate.</summary>
    /// <param name="receipt">The inner receipt object.</param>
    /// <param name="serviceCertificate">The current service identity certificate.</param>
    /// <param name="applicationClaims">When given, their digest must equal <c>claimsDigest</c>.</param>
    public static ReceiptVerificationResult Verify(
        Receipt? receipt, X509Certificate2? serviceCertificate, IReadOnlyList<ApplicationClaim>? applicationClaims = null) =>
        serviceCertificate is null
            ? Fail(ReceiptVerificationStep.Endorsement, "No service certificate was given.", endorsementChecked: true)
            : VerifyCore(receipt, serviceCertificate, applicationClaims, checkEndorsement: true);

    /// <summary>Verifies <paramref name="receipt"/> against a service certificate given as PEM.</summary>
    public static ReceiptVerificationResult Verify(
        Receipt? receipt, string? serviceCertificatePem, IReadOnlyList<ApplicationClaim>? applicationClaims = null)
    {
        if (!IdentityCertificates.TryLoadCertificatePem(serviceCertificatePem, out var serviceCertificate))
        {
            return Fail(ReceiptVerificationStep.Endorsement, "The service certificate is not a PEM certificate.", endorsementChecked: true);
        }

        using (serviceCertificate)
        {
            return VerifyCore(receipt, serviceCertificate, applicationClaims, checkEndorsement: true);
        }
    }

    /// <summary>Verifies the receipt inside an envelope, with the envelope's application claims when it has any.</summary>
    public static ReceiptVerificationResult Verify(TransactionReceipt? transactionReceipt, X509Certificate2? serviceCertificate) =>
        transactionReceipt is null
            ? Fail(ReceiptVerificationStep.Shape, "The transaction receipt is null.", endorsementChecked: true)
            : Verify(transactionReceipt.Receipt, serviceCertificate, transactionReceipt.ApplicationClaims);

    /// <summary>
    /// <b>Not for normal use.</b> Runs every step except the endorsement chain, so a valid result proves only that the
    /// key in the receipt's own <c>cert</c> signed the root, not that the ledger's service did. It exists for receipts
    /// whose service certificate is unknown, such as the published ACL documentation samples.
    /// </summary>
    public static ReceiptVerificationResult DangerousVerifyWithoutEndorsement(
        Receipt? receipt, IReadOnlyList<ApplicationClaim>? applicationClaims = null) =>
        VerifyCore(receipt, serviceCertificate: null, applicationClaims, checkEndorsement: false);

    private static ReceiptVerificationResult VerifyCore(
        Receipt? receipt, X509Certificate2? serviceCertificate, IReadOnlyList<ApplicationClaim>? applicationClaims, bool checkEndorsement)
    {
        // 1. Shape.
        if (CheckShape(receipt) is { } shapeError)
        {
            return Fail(ReceiptVerificationStep.Shape, shapeError, checkEndorsement);
        }

        var leafComponents = receipt!.LeafComponents!;

        // 2. Claims digest: an exact string compare, as the reference does (it prints lower-case hex).
        if (applicationClaims is not null)
        {
            if (!ClaimsDigest.TryCompute(applicationClaims, out var claimsDigest, out var claimsError))
            {
                return Fail(ReceiptVerificationStep.ClaimsDigest, claimsError, checkEndorsement);
            }

            if (!string.Equals(claimsDigest.ToString(), leafComponents.ClaimsDigest, StringComparison.Ordinal))
            {
                return Fail(ReceiptVerificationStep.ClaimsDigest, "The application claims do not match claimsDigest.", checkEndorsement);
            }
        }

        // 3. Node certificate.
        if (!IdentityCertificates.TryLoadCertificatePem(receipt.Cert, out var nodeCertificate))
        {
            return Fail(ReceiptVerificationStep.NodeCertificate, "cert is not a PEM certificate.", checkEndorsement);
        }

        using (nodeCertificate)
        {
            using var nodeKey = TryGetEcKey(nodeCertificate);
            if (nodeKey is null)
            {
                return Fail(ReceiptVerificationStep.NodeCertificate, "The node certificate's key is not an EC key.", checkEndorsement);
            }

            // 4. Endorsement chain.
            if (checkEndorsement && CheckEndorsements(nodeCertificate, receipt.ServiceEndorsements, serviceCertificate!) is { } endorsementError)
            {
                return Fail(ReceiptVerificationStep.Endorsement, endorsementError, checkEndorsement);
            }

            // 5. Leaf.
            if (!Hash32.TryParseHex(leafComponents.WriteSetDigest, out var writeSetDigest))
            {
                return Fail(ReceiptVerificationStep.Leaf, "writeSetDigest is not 64 hex digits.", checkEndorsement);
            }

            if (!Hash32.TryParseHex(leafComponents.ClaimsDigest, out var leafClaimsDigest))
            {
                return Fail(ReceiptVerificationStep.Leaf, "claimsDigest is not 64 hex digits.", checkEndorsement);
            }

            var leaf = ReceiptHashes.ComputeLeaf(writeSetDigest, leafComponents.CommitEvidence!, leafClaimsDigest);

            // 6. Root.
            var root = leaf;
            var proof = receipt.Proof!;
            for (var i = 0; i < proof.Count; i++)
            {
                var element = proof[i];
                var isLeft = element.Left is not null;
                if (!Hash32.TryParseHex(isLeft ? element.Left : element.Right, out var sibling))
                {
                    return Fail(ReceiptVerificationStep.Root, $"proof[{i}] is not 64 hex digits.", checkEndorsement, leaf);
                }

                root = isLeft ? Hash32.Combine(sibling, root) : Hash32.Combine(root, sibling);
            }

            // 7a. Node id.
            if (receipt.NodeId is not null)
            {
                if (!Hash32.TryParseHex(receipt.NodeId, out var claimedNodeId))
                {
                    return Fail(ReceiptVerificationStep.NodeId, "nodeId is not 64 hex digits.", checkEndorsement, leaf, root);
                }

                if (!NodeIdentity.TryComputeNodeId(nodeCertificate.RawDataMemory, out var actualNodeId) || actualNodeId != claimedNodeId)
                {
                    return Fail(ReceiptVerificationStep.NodeId, "nodeId is not the SHA-256 of the node certificate's public key.", checkEndorsement, leaf, root);
                }
            }

            // 7b. Signature over the root.
            var signatureText = receipt.Signature!;
            var signature = new byte[(signatureText.Length / 4 * 3) + 3];
            if (!Convert.TryFromBase64String(signatureText, signature, out var signatureLength) || signatureLength == 0)
            {
                return Fail(ReceiptVerificationStep.Signature, "signature is not base64.", checkEndorsement, leaf, root);
            }

            if (!NodeIdentity.VerifyRootSignature(nodeKey, root, signature.AsSpan(0, signatureLength)))
            {
                return Fail(ReceiptVerificationStep.Signature, "The signature does not verify over the root with the node key.", checkEndorsement, leaf, root);
            }

            return new ReceiptVerificationResult
            {
                FailedStep = ReceiptVerificationStep.None,
                Message = checkEndorsement ? "The receipt is valid." : "The receipt is valid, but its endorsement was NOT checked.",
                EndorsementChecked = checkEndorsement,
                Leaf = leaf,
                Root = root,
            };
        }
    }

    private static string? CheckShape(Receipt? receipt)
    {
        if (receipt is null)
        {
            return "The receipt is null.";
        }

        if (receipt.Cert is null)
        {
            return "cert is missing.";
        }

        if (receipt.LeafComponents is not { ClaimsDigest: not null, CommitEvidence: not null, WriteSetDigest: not null })
        {
            return "leafComponents needs claimsDigest, commitEvidence and writeSetDigest.";
        }

        if (receipt.Proof is null)
        {
            return "proof is missing.";
        }

        for (var i = 0; i < receipt.Proof.Count; i++)
        {
            if (receipt.Proof[i] is not { } element || (element.Left is null) == (element.Right is null))
            {
                return $"proof[{i}] must have exactly one of left and right.";
            }
        }

        if (receipt.Signature is null)
        {
            return "signature is missing.";
        }

        if (receipt.ServiceEndorsements is { } endorsements)
        {
            for (var i = 0; i < endorsements.Count; i++)
            {
                if (endorsements[i] is null)
                {
                    return $"serviceEndorsements[{i}] is null.";
                }
            }
        }

        return null;
    }

    private static string? CheckEndorsements(X509Certificate2 nodeCertificate, IReadOnlyList<string>? endorsements, X509Certificate2 serviceCertificate)
    {
        // current = node; for each endorser in (endorsements oldest→latest, then the service): endorser signed current;
        // current = endorser. Certificates loaded from serviceEndorsements are ours to dispose.
        var count = endorsements?.Count ?? 0;
        var loaded = new List<X509Certificate2>(count);
        try
        {
            var current = nodeCertificate;
            var currentName = "The node certificate";
            for (var i = 0; i <= count; i++)
            {
                X509Certificate2 endorser;
                string name;
                if (i < count)
                {
                    name = $"serviceEndorsements[{i}]";
                    if (!IdentityCertificates.TryLoadCertificatePem(endorsements![i], out var endorsement))
                    {
                        return $"{name} is not a PEM certificate.";
                    }

                    loaded.Add(endorsement);
                    endorser = endorsement;
                }
                else
                {
                    name = "the service certificate";
                    endorser = serviceCertificate;
                }

                using var endorserKey = TryGetEcKey(endorser);
                if (endorserKey is null)
                {
                    return $"The key of {name} is not an EC key.";
                }

                if (!CertificateEndorsement.IsEndorsedBy(current.RawDataMemory, endorserKey))
                {
                    return $"{currentName} is not endorsed by {name}.";
                }

                current = endorser;
                currentName = name;
            }

            return null;
        }
        finally
        {
            foreach (var certificate in loaded)
            {
                certificate.Dispose();
            }
        }
    }

    private static ECDsa? TryGetEcKey(X509Certificate2 certificate)
    {
        try
        {
            return certificate.GetECDsaPublicKey();
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    private static ReceiptVerificationResult Fail(
        ReceiptVerificationStep step, string message, bool endorsementChecked, Hash32? leaf = null, Hash32? root = null) => new()
    {
        FailedStep = step,
        Message = message,
        EndorsementChecked = endorsementChecked,
        Leaf = leaf,
        Root = root,
    };
}
