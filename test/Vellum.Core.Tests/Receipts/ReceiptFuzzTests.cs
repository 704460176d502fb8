using System.Text;
using CsCheck;
using Vellum.Core.Claims;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;
using Vellum.Core.Receipts;

namespace Vellum.Core.Tests.Receipts;

/// <summary>Random corruption of a valid receipt's JSON: parsing and verification report failures, never throw.</summary>
public sealed class ReceiptFuzzTests : IDisposable
{
    private readonly ServiceIdentity _service = ServiceIdentity.Create();
    private readonly NodeIdentity _node;
    private readonly byte[] _json;

    public ReceiptFuzzTests()
    {
        _node = NodeIdentity.Create(_service);
        var nonce = new byte[CommitEvidence.NonceSize];
        nonce[0] = 7;
        var commitEvidence = CommitEvidence.Format(new TxId(1, 5), nonce);
        var writeSet = Hash32.Compute("ws"u8);
        var sibling = Hash32.Compute("sibling"u8);
        Vellum.Core.Merkle.ProofStep[] path = [new(true, sibling)];
        var root = ReceiptHashes.ComputeRoot(ReceiptHashes.ComputeLeaf(writeSet, commitEvidence, Hash32.Zero), path);
        var receipt = ReceiptBuilder.Build(writeSet, commitEvidence, Hash32.Zero, path, _node.ExportCertificatePem(), _node.SignRoot(root));
        _json = Encoding.UTF8.GetBytes(ReceiptJson.Serialize(TransactionReceipt.Ready(new TxId(1, 5), receipt)));
    }

    public void Dispose()
    {
        _node.Dispose();
        _service.Dispose();
    }

    [Fact]
    public void Original_is_valid() =>
        Assert.True(ReceiptJson.TryParse(_json, out var envelope, out _) && ReceiptVerifier.Verify(envelope, _service.Certificate).IsValid);

    [Fact]
    public void Byte_mutations_never_throw()
    {
        Gen.Select(Gen.Int[0, _json.Length - 1], Gen.Byte).Array[1, 4].Sample(
            mutations =>
            {
                var copy = (byte[])_json.Clone();
                foreach (var (index, value) in mutations)
                {
                    copy[index] = value;
                }

                if (ReceiptJson.TryParse(copy, out var envelope, out _))
                {
                    var result = ReceiptVerifier.Verify(envelope, _service.Certificate);
                    _ = ReceiptVerifier.DangerousVerifyWithoutEndorsement(envelope.Receipt, envelope.ApplicationClaims);
                    Assert.NotNull(result.Message);
                }
            },
            iter: 3000);
    }

    [Fact]
    public void Truncations_never_throw()
    {
        for (var length = 0; length < _json.Length; length++)
        {
            Assert.False(ReceiptJson.TryParse(_json.AsSpan(0, length), out _, out _));
        }
    }

    [Fact]
    public void Claims_digest_of_random_claims_never_throws()
    {
        Gen.Select(Gen.String, Gen.String, Gen.String, Gen.Bool).Array[0, 3].Sample(
            items =>
            {
                var claims = items.Select(t => t.Item4
                    ? new ApplicationClaim { Kind = ApplicationClaimKind.LedgerEntry, LedgerEntry = new() { CollectionId = t.Item1, Contents = t.Item2, Protocol = "LedgerEntryV1", SecretKey = t.Item3 } }
                    : new ApplicationClaim { Kind = ApplicationClaimKind.ClaimDigest, Digest = new() { Protocol = t.Item1, Value = t.Item3 } }).ToArray();
                _ = ClaimsDigest.TryCompute(claims, out _, out _);
            },
            iter: 2000);
    }
}
