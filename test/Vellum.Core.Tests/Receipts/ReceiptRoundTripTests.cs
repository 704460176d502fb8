using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Vellum.Core.Claims;
using Vellum.Core.Identity;
using Vellum.Core.Merkle;
using Vellum.Core.Primitives;
using Vellum.Core.Receipts;

namespace Vellum.Core.Tests.Receipts;

/// <summary>
/// Receipts built with our own identities for a hand-made five-leaf tree, verified in full, then tampered with.
/// <code>
///            root
///           /    \
///        n0123    l4
///        /   \
///      n01   n23
///      / \   / \
///     l0 l1 l2 l3      the receipt is for l2: path = [right l3, left n01, right l4]
/// </code>
/// </summary>
public sealed class ReceiptRoundTripTests : IDisposable
{
    private const string CommitEvidenceText = "ce:3.17:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    private readonly ServiceIdentity _service = ServiceIdentity.Create();
    private readonly NodeIdentity _node;
    private readonly IReadOnlyList<ApplicationClaim> _claims;
    private readonly Hash32 _writeSetDigest = Hash32.Compute("write set of 3.17"u8);
    private readonly Hash32 _leaf;
    private readonly Hash32 _root;
    private readonly ProofStep[] _path;
    private readonly Receipt _receipt;

    public ReceiptRoundTripTests()
    {
        var options = new NodeIdentityOptions();
        options.IPAddresses.Add(System.Net.IPAddress.Loopback);
        _node = NodeIdentity.Create(_service, options);
        _claims = [ApplicationClaim.ForLedgerEntry("subledger:0", "hello", RandomNumberGenerator.GetBytes(32))];
        var claimsDigest = ClaimsDigest.Compute(_claims);

        // The leaf and tree by hand, with SHA-256 directly, not with the code under test.
        _leaf = H(_writeSetDigest.ToArray(), SHA256.HashData(Encoding.UTF8.GetBytes(CommitEvidenceText)), claimsDigest.ToArray());
        var l0 = Hash32.Compute("l0"u8);
        var l1 = Hash32.Compute("l1"u8);
        var l3 = Hash32.Compute("l3"u8);
        var l4 = Hash32.Compute("l4"u8);
        var n01 = H(l0.ToArray(), l1.ToArray());
        var n23 = H(_leaf.ToArray(), l3.ToArray());
        var n0123 = H(n01.ToArray(), n23.ToArray());
        _root = H(n0123.ToArray(), l4.ToArray());
        _path = [new ProofStep(false, l3), new ProofStep(true, n01), new ProofStep(false, l4)];

        _receipt = ReceiptBuilder.Build(
            _writeSetDigest, CommitEvidenceText, claimsDigest, _path, _node.ExportCertificatePem(), _node.SignRoot(_root));
    }

    public void Dispose()
    {
        _node.Dispose();
        _service.Dispose();
    }

    [Fact]
    public void Built_receipt_verifies_fully()
    {
        var result = ReceiptVerifier.Verify(_receipt, _service.Certificate, _claims);
        Assert.True(result.IsValid, result.Message);
        Assert.True(result.EndorsementChecked);
        Assert.Equal(_leaf, result.Leaf);
        Assert.Equal(_root, result.Root);

        // Also against the public-only PEM a client would pin, and without claims.
        using var pinned = _service.ToPublicOnly();
        Assert.True(ReceiptVerifier.Verify(_receipt, pinned.ExportCertificatePem()).IsValid);
    }

    [Fact]
    public void Builder_fills_every_field_in_acl_form()
    {
        Assert.Equal(_node.NodeId, _receipt.NodeId);
        Assert.Equal(_node.ExportCertificatePem(), _receipt.Cert);
        Assert.Equal(_writeSetDigest.ToString(), _receipt.LeafComponents!.WriteSetDigest);
        Assert.Equal(CommitEvidenceText, _receipt.LeafComponents.CommitEvidence);
        Assert.Equal(ClaimsDigest.Compute(_claims).ToString(), _receipt.LeafComponents.ClaimsDigest);
        Assert.Empty(_receipt.ServiceEndorsements!);
        Assert.Collection(
            _receipt.Proof!,
            p => Assert.Equal((null, _path[0].Sibling.ToString()), (p.Left, p.Right)),
            p => Assert.Equal((_path[1].Sibling.ToString(), null), (p.Left, p.Right)),
            p => Assert.Equal((null, _path[2].Sibling.ToString()), (p.Left, p.Right)));
        Assert.Equal(_root, ReceiptHashes.ComputeRoot(ReceiptHashes.ComputeLeaf(_writeSetDigest, CommitEvidenceText, ClaimsDigest.Compute(_claims)), _path));
    }

    [Fact]
    public void Builder_rejects_malformed_arguments()
    {
        var pem = _node.ExportCertificatePem();
        byte[] signature = [1];
        Assert.Throws<ArgumentException>(() => ReceiptBuilder.Build(_writeSetDigest, "ce:3.17:00", Hash32.Zero, _path, pem, signature));
        Assert.Throws<ArgumentException>(() => ReceiptBuilder.Build(_writeSetDigest, CommitEvidenceText, Hash32.Zero, _path, "nope", signature));
        Assert.Throws<ArgumentException>(() => ReceiptBuilder.Build(_writeSetDigest, CommitEvidenceText, Hash32.Zero, _path, pem, []));
    }

    [Fact]
    public void Json_round_trip_still_verifies()
    {
        var envelope = TransactionReceipt.Ready(new TxId(3, 17), _receipt, _claims);
        Assert.True(ReceiptJson.TryParse(ReceiptJson.SerializeToUtf8Bytes(envelope), out var parsed, out var error), error);
        var result = ReceiptVerifier.Verify(parsed, _service.Certificate);
        Assert.True(result.IsValid, result.Message);
        Assert.Equal("3.17", parsed.TransactionId);
    }

    public static TheoryData<string> LeafTampers() => ["writeSetDigest", "commitEvidence", "claimsDigest"];

    [Theory]
    [MemberData(nameof(LeafTampers))]
    public void Altered_leaf_component_fails_at_the_signature(string field)
    {
        var other = Hash32.Compute("tampered"u8).ToString();
        var components = _receipt.LeafComponents!;
        var tampered = _receipt with
        {
            LeafComponents = field switch
            {
                "writeSetDigest" => components with { WriteSetDigest = other },
                "commitEvidence" => components with { CommitEvidence = "ce:3.18:" + other },
                _ => components with { ClaimsDigest = other },
            },
        };

        var result = ReceiptVerifier.Verify(tampered, _service.Certificate);
        Assert.Equal(ReceiptVerificationStep.Signature, result.FailedStep);
        Assert.NotEqual(_leaf, result.Leaf);
        Assert.NotEqual(_root, result.Root);
    }

    [Fact]
    public void Altered_claims_digest_with_claims_given_fails_at_the_claims_step()
    {
        var tampered = _receipt with { LeafComponents = _receipt.LeafComponents! with { ClaimsDigest = Hash32.Zero.ToString() } };
        Assert.Equal(ReceiptVerificationStep.ClaimsDigest, ReceiptVerifier.Verify(tampered, _service.Certificate, _claims).FailedStep);

        var otherClaims = new[] { ApplicationClaim.ForDigest("p", [1, 2, 3]) };
        Assert.Equal(ReceiptVerificationStep.ClaimsDigest, ReceiptVerifier.Verify(_receipt, _service.Certificate, otherClaims).FailedStep);
        Assert.Equal(ReceiptVerificationStep.ClaimsDigest, ReceiptVerifier.Verify(_receipt, _service.Certificate, []).FailedStep);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void Altered_proof_hash_fails_at_the_signature(int index)
    {
        var proof = _receipt.Proof!.ToArray();
        var flipped = Hash32.Compute(Encoding.UTF8.GetBytes($"flip {index}")).ToString();
        proof[index] = proof[index].Left is null ? new ReceiptProofElement { Right = flipped } : new ReceiptProofElement { Left = flipped };

        var result = ReceiptVerifier.Verify(_receipt with { Proof = proof }, _service.Certificate);
        Assert.Equal(ReceiptVerificationStep.Signature, result.FailedStep);
        Assert.Equal(_leaf, result.Leaf);
        Assert.NotEqual(_root, result.Root);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void Swapped_side_fails_at_the_signature(int index)
    {
        var proof = _receipt.Proof!.ToArray();
        proof[index] = new ReceiptProofElement { Left = proof[index].Right, Right = proof[index].Left };

        var result = ReceiptVerifier.Verify(_receipt with { Proof = proof }, _service.Certificate);
        Assert.Equal(ReceiptVerificationStep.Signature, result.FailedStep);
        Assert.NotEqual(_root, result.Root);
    }

    [Fact]
    public void Removed_or_extra_proof_step_fails_at_the_signature()
    {
        var shorter = _receipt with { Proof = _receipt.Proof!.Take(2).ToArray() };
        var longer = _receipt with { Proof = [.. _receipt.Proof!, new ReceiptProofElement { Left = _root.ToString() }] };
        Assert.Equal(ReceiptVerificationStep.Signature, ReceiptVerifier.Verify(shorter, _service.Certificate).FailedStep);
        Assert.Equal(ReceiptVerificationStep.Signature, ReceiptVerifier.Verify(longer, _service.Certificate).FailedStep);
    }

    [Fact]
    public void Every_signature_byte_matters()
    {
        var signature = Convert.FromBase64String(_receipt.Signature!);
        for (var i = 0; i < signature.Length; i++)
        {
            var copy = (byte[])signature.Clone();
            copy[i] ^= 0x01;
            var result = ReceiptVerifier.Verify(_receipt with { Signature = Convert.ToBase64String(copy) }, _service.Certificate);
            Assert.Equal(ReceiptVerificationStep.Signature, result.FailedStep);
            Assert.Equal(_root, result.Root);
        }
    }

    [Fact]
    public void Node_of_a_different_service_fails_at_the_endorsement()
    {
        using var otherService = ServiceIdentity.Create();
        using var impostor = NodeIdentity.Create(otherService);
        var forged = ReceiptBuilder.Build(
            _writeSetDigest, CommitEvidenceText, ClaimsDigest.Compute(_claims), _path, impostor.ExportCertificatePem(), impostor.SignRoot(_root));

        // Internally consistent: it would pass if nobody checked who issued the node certificate.
        Assert.True(ReceiptVerifier.DangerousVerifyWithoutEndorsement(forged).IsValid);
        Assert.True(ReceiptVerifier.Verify(forged, otherService.Certificate).IsValid);

        var result = ReceiptVerifier.Verify(forged, _service.Certificate, _claims);
        Assert.Equal(ReceiptVerificationStep.Endorsement, result.FailedStep);
        Assert.Null(result.Root);
    }

    [Fact]
    public void Swapped_cert_fails_at_the_signature_or_node_id()
    {
        // Another genuine node of the same service: endorsement passes, the node id no longer matches.
        using var sibling = NodeIdentity.Create(_service);
        var swapped = _receipt with { Cert = sibling.ExportCertificatePem() };
        Assert.Equal(ReceiptVerificationStep.NodeId, ReceiptVerifier.Verify(swapped, _service.Certificate).FailedStep);

        // Without a nodeId the signature check catches it.
        Assert.Equal(ReceiptVerificationStep.Signature, ReceiptVerifier.Verify(swapped with { NodeId = null }, _service.Certificate).FailedStep);
    }

    [Fact]
    public void Wrong_node_id_fails_at_the_node_id_step()
    {
        using var sibling = NodeIdentity.Create(_service);
        var result = ReceiptVerifier.Verify(_receipt with { NodeId = sibling.NodeId }, _service.Certificate);
        Assert.Equal(ReceiptVerificationStep.NodeId, result.FailedStep);
        Assert.Equal(_root, result.Root);

        // nodeId is optional; upper-case hex is the same bytes.
        Assert.True(ReceiptVerifier.Verify(_receipt with { NodeId = null }, _service.Certificate).IsValid);
        Assert.True(ReceiptVerifier.Verify(_receipt with { NodeId = _receipt.NodeId!.ToUpperInvariant() }, _service.Certificate).IsValid);
    }

    [Theory]
    [InlineData("signature", "not base64!", ReceiptVerificationStep.Signature)]
    [InlineData("signature", "", ReceiptVerificationStep.Signature)]
    [InlineData("signature", "AAAA", ReceiptVerificationStep.Signature)]
    [InlineData("writeSetDigest", "zz", ReceiptVerificationStep.Leaf)]
    [InlineData("writeSetDigest", "8452624d10bdd79c408c0f062a1917aa96711ea062c508c745469636ae1460", ReceiptVerificationStep.Leaf)]
    [InlineData("writeSetDigest", "8452624d10bdd79c408c0f062a1917aa96711ea062c508c745469636ae1460bexx", ReceiptVerificationStep.Leaf)]
    [InlineData("claimsDigest", "0x00", ReceiptVerificationStep.Leaf)]
    [InlineData("proof", "ghij", ReceiptVerificationStep.Root)]
    [InlineData("proof", "", ReceiptVerificationStep.Root)]
    [InlineData("nodeId", "not hex", ReceiptVerificationStep.NodeId)]
    [InlineData("nodeId", "", ReceiptVerificationStep.NodeId)]
    [InlineData("cert", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", ReceiptVerificationStep.NodeCertificate)]
    [InlineData("cert", "garbage", ReceiptVerificationStep.NodeCertificate)]
    [InlineData("cert", "", ReceiptVerificationStep.NodeCertificate)]
    [InlineData("endorsement", "garbage", ReceiptVerificationStep.Endorsement)]
    public void Garbage_values_fail_at_their_step_without_throwing(string field, string value, ReceiptVerificationStep step)
    {
        var components = _receipt.LeafComponents!;
        var tampered = field switch
        {
            "signature" => _receipt with { Signature = value },
            "writeSetDigest" => _receipt with { LeafComponents = components with { WriteSetDigest = value } },
            "claimsDigest" => _receipt with { LeafComponents = components with { ClaimsDigest = value } },
            "proof" => _receipt with { Proof = [_receipt.Proof![0], new ReceiptProofElement { Left = value }, _receipt.Proof[2]] },
            "nodeId" => _receipt with { NodeId = value },
            "cert" => _receipt with { Cert = value },
            "endorsement" => _receipt with { ServiceEndorsements = [value] },
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };

        Assert.Equal(step, ReceiptVerifier.Verify(tampered, _service.Certificate).FailedStep);
    }

    [Fact]
    public void Missing_fields_fail_the_shape_step()
    {
        Receipt?[] broken =
        [
            null,
            _receipt with { Cert = null },
            _receipt with { LeafComponents = null },
            _receipt with { LeafComponents = _receipt.LeafComponents! with { CommitEvidence = null } },
            _receipt with { Proof = null },
            _receipt with { Proof = [new ReceiptProofElement()] },
            _receipt with { Proof = [new ReceiptProofElement { Left = _root.ToString(), Right = _root.ToString() }] },
            _receipt with { Proof = [null!] },
            _receipt with { Signature = null },
            _receipt with { ServiceEndorsements = [null!] },
        ];

        foreach (var receipt in broken)
        {
            Assert.Equal(ReceiptVerificationStep.Shape, ReceiptVerifier.Verify(receipt, _service.Certificate).FailedStep);
        }

        Assert.Equal(ReceiptVerificationStep.Shape, ReceiptVerifier.Verify((TransactionReceipt?)null, _service.Certificate).FailedStep);
    }

    [Fact]
    public void Unusable_service_certificate_fails_at_the_endorsement()
    {
        Assert.Equal(ReceiptVerificationStep.Endorsement, ReceiptVerifier.Verify(_receipt, (X509Certificate2?)null).FailedStep);
        Assert.Equal(ReceiptVerificationStep.Endorsement, ReceiptVerifier.Verify(_receipt, "not a pem").FailedStep);

        using var rsa = RSA.Create(2048);
        using var rsaCert = new CertificateRequest("CN=rsa", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            .CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
        Assert.Equal(ReceiptVerificationStep.Endorsement, ReceiptVerifier.Verify(_receipt, rsaCert).FailedStep);

        // An RSA node certificate is rejected before any endorsement is tried.
        Assert.Equal(ReceiptVerificationStep.NodeCertificate, ReceiptVerifier.Verify(_receipt with { Cert = rsaCert.ExportCertificatePem() }, _service.Certificate).FailedStep);
    }

    [Fact]
    public void Endorsement_chain_runs_from_oldest_to_the_current_service()
    {
        // The receipt's node was issued by _service; the service identity was then renewed twice.
        using var second = ServiceIdentity.Create(new ServiceIdentityOptions { SubjectName = "CN=Vellum Service 2" });
        using var third = ServiceIdentity.Create(new ServiceIdentityOptions { SubjectName = "CN=Vellum Service 3" });
        var firstBySecond = second.CreateEndorsement(_service.Certificate);
        var secondByThird = third.CreateEndorsement(second.Certificate);

        var endorsed = _receipt with { ServiceEndorsements = [firstBySecond, secondByThird] };
        var result = ReceiptVerifier.Verify(endorsed, third.Certificate, _claims);
        Assert.True(result.IsValid, result.Message);

        Assert.Equal(ReceiptVerificationStep.Endorsement, ReceiptVerifier.Verify(endorsed, second.Certificate).FailedStep);
        Assert.Equal(ReceiptVerificationStep.Endorsement, ReceiptVerifier.Verify(endorsed, _service.Certificate).FailedStep);
        Assert.Equal(
            ReceiptVerificationStep.Endorsement,
            ReceiptVerifier.Verify(_receipt with { ServiceEndorsements = [secondByThird, firstBySecond] }, third.Certificate).FailedStep);
        Assert.Equal(
            ReceiptVerificationStep.Endorsement,
            ReceiptVerifier.Verify(_receipt with { ServiceEndorsements = [firstBySecond] }, third.Certificate).FailedStep);
        Assert.True(ReceiptVerifier.Verify(_receipt with { ServiceEndorsements = [firstBySecond] }, second.Certificate).IsValid);
    }

    private static Hash32 H(params byte[][] parts) => new(SHA256.HashData(parts.SelectMany(p => p).ToArray()));
}
