using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Claims;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;
using Vellum.Core.Receipts;

namespace Vellum.Core.Tests.Receipts;

/// <summary>
/// The two real ACL receipts from the documentation. Their service certificates were never published, so the
/// endorsement step is skipped here (and only here) with the deliberately alarming entry point.
/// </summary>
public sealed class AclVectorTests
{
    [Theory]
    [InlineData("r1", "d56ac28649051a2bac300ca8354ccdf73d64e89b6500687ed03934e6fdb509ad", "4778b85647041215ef2e5a5c638b829381c203c5aef7f0625dbd8fbdb48ee5f7")]
    [InlineData("r2", "ab64db6ebde6fa0427dd5b7d74e1ac3376f463648515a180adc2bb8cfaac4b4a", "f7b9072e3235ea1f5fe150f7153527bd670009ebbc48a37e4fd6c4428f6fa148")]
    public void Leaf_root_node_id_and_signature_verify(string name, string leaf, string root)
    {
        var receipt = AclVectors.Receipt(name);
        var result = ReceiptVerifier.DangerousVerifyWithoutEndorsement(receipt);

        Assert.True(result.IsValid, result.Message);
        Assert.False(result.EndorsementChecked);
        Assert.Equal(Hash32.ParseHex(leaf), result.Leaf);
        Assert.Equal(Hash32.ParseHex(root), result.Root);

        // The nodeId check ran (the field is present) and matches our own computation.
        using var cert = X509Certificate2.CreateFromPem(receipt.Cert);
        Assert.Equal(receipt.NodeId, NodeIdentity.ComputeNodeId(cert));
        Assert.Equal(receipt.NodeId, Convert.ToHexStringLower(SHA256.HashData(cert.PublicKey.ExportSubjectPublicKeyInfo())));
        Assert.True(NodeIdentity.VerifyRootSignature(cert, Hash32.ParseHex(root), Convert.FromBase64String(receipt.Signature!)));
    }

    [Fact]
    public void Hashes_match_the_published_values_independently_of_the_verifier()
    {
        var receipt = AclVectors.Receipt("r1");
        var components = receipt.LeafComponents!;
        var leaf = ReceiptHashes.ComputeLeaf(
            Hash32.ParseHex(components.WriteSetDigest), components.CommitEvidence!, Hash32.ParseHex(components.ClaimsDigest));
        Assert.Equal("d56ac28649051a2bac300ca8354ccdf73d64e89b6500687ed03934e6fdb509ad", leaf.ToString());

        var path = receipt.Proof!.Select(p => new Vellum.Core.Merkle.ProofStep(p.Left is not null, Hash32.ParseHex(p.Left ?? p.Right))).ToArray();
        Assert.Equal("4778b85647041215ef2e5a5c638b829381c203c5aef7f0625dbd8fbdb48ee5f7", ReceiptHashes.ComputeRoot(leaf, path).ToString());
    }

    [Fact]
    public void R2_claims_digest_matches_its_application_claim()
    {
        var claims = AclVectors.ApplicationClaims();
        Assert.Equal(AclVectors.ExpectedClaimsDigest, ClaimsDigest.Compute(claims).ToString());

        var result = ReceiptVerifier.DangerousVerifyWithoutEndorsement(AclVectors.Receipt("r2"), claims);
        Assert.True(result.IsValid, result.Message);

        // The same claims do not belong to r1.
        var r1 = ReceiptVerifier.DangerousVerifyWithoutEndorsement(AclVectors.Receipt("r1"), claims);
        Assert.Equal(ReceiptVerificationStep.ClaimsDigest, r1.FailedStep);
    }

    [Fact]
    public void Normal_verification_checks_the_endorsement()
    {
        // With a service certificate that did not issue the node certificate, the real receipt fails at exactly that step.
        using var unrelated = ServiceIdentity.Create();
        var result = ReceiptVerifier.Verify(AclVectors.Receipt("r2"), unrelated.Certificate, AclVectors.ApplicationClaims());
        Assert.Equal(ReceiptVerificationStep.Endorsement, result.FailedStep);
        Assert.True(result.EndorsementChecked);
    }

    [Theory]
    [InlineData("r1")]
    [InlineData("r2")]
    public void Vectors_survive_a_json_round_trip(string name)
    {
        var receipt = AclVectors.Receipt(name);
        Assert.True(ReceiptJson.TryParseReceipt(ReceiptJson.Serialize(receipt), out var again, out var error), error);
        Assert.Equal(ReceiptJson.Serialize(receipt), ReceiptJson.Serialize(again));
        Assert.True(ReceiptVerifier.DangerousVerifyWithoutEndorsement(again).IsValid);
    }
}
