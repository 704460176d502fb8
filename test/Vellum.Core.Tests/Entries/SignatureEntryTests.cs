using Vellum.Core.Entries;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;

namespace Vellum.Core.Tests.Entries;

public sealed class SignatureEntryTests : IDisposable
{
    private static readonly TxId Id = new(2, 41);
    private static readonly Hash32 Root = Hash32.Compute("root of 1..40"u8);
    private static readonly Hash32 Evidence = Hash32.Compute("commit evidence"u8);
    private readonly ServiceIdentity _service = ServiceIdentity.Create();
    private readonly NodeIdentity _node;
    private readonly NodeRootSigner _signer;

    public SignatureEntryTests()
    {
        _node = NodeIdentity.Create(_service);
        _signer = new NodeRootSigner(_node);
    }

    public void Dispose()
    {
        _node.Dispose();
        _service.Dispose();
    }

    private SignatureEntry Signed(Hash32 root, long treeSize = 40, long firstCovered = 21) =>
        new(treeSize, root, firstCovered, _signer.NodeId, _signer.CertificateDer.ToArray(), _signer.SignRoot(root));

    private static bool TryDecode(byte[] body, out SignatureEntry? entry, out string? error)
    {
        if (!EntryHeader.TryRead(body, out var header, out error))
        {
            entry = null;
            return false;
        }

        return SignatureEntry.TryDecode(body, header, out entry, out error);
    }

    [Fact]
    public void Round_trips_and_verifies()
    {
        var entry = Signed(Root);
        var body = entry.Encode(Id, Evidence);
        Assert.Equal(entry.EncodedLength, body.Length);
        var header = EntryCodec.Header(body);
        Assert.Equal(EntryKind.Signature, header.Kind);
        Assert.Equal(Id, header.Id);
        Assert.Equal(Evidence, header.CommitEvidenceDigest);
        Assert.True(header.ClaimsDigest.IsZero);
        Assert.Equal(body.Length, header.PrivateOffset);

        Assert.True(TryDecode(body, out var decoded, out var error), error);
        Assert.Equal(entry.TreeSize, decoded!.TreeSize);
        Assert.Equal(entry.Root, decoded.Root);
        Assert.Equal(entry.FirstCoveredSeqno, decoded.FirstCoveredSeqno);
        Assert.Equal(entry.NodeId, decoded.NodeId);
        Assert.Equal(entry.NodeCertificateDer, decoded.NodeCertificateDer);
        Assert.Equal(entry.Signature, decoded.Signature);
        Assert.True(decoded.VerifySignature(out error), error);
        Assert.Equal(Hash32.ParseHex(_node.NodeId), SignatureEntry.NodeIdOf(_node.Certificate.PublicKey.ExportSubjectPublicKeyInfo()));
    }

    [Fact]
    public void Verification_fails_for_another_root_node_id_signer_or_certificate()
    {
        var good = Signed(Root);
        Assert.False((good with { Root = Hash32.Compute("other"u8) }).VerifySignature(out var error));
        Assert.Contains("does not verify", error, StringComparison.Ordinal);

        Assert.False((good with { NodeId = Hash32.Compute("someone"u8) }).VerifySignature(out error));
        Assert.Contains("node id", error, StringComparison.Ordinal);

        using var otherNode = NodeIdentity.Create(_service);
        Assert.False((good with { Signature = otherNode.SignRoot(Root) }).VerifySignature(out error));
        Assert.Contains("does not verify", error, StringComparison.Ordinal);

        Assert.False((good with { Signature = [0x30, 0x00] }).VerifySignature(out error));
        Assert.False((good with { Signature = [] }).VerifySignature(out error));

        var garbled = good.NodeCertificateDer.ToArray();
        garbled[garbled.Length / 2] ^= 0xFF;
        Assert.False((good with { NodeCertificateDer = garbled }).VerifySignature(out error));
        Assert.False((good with { NodeCertificateDer = [1, 2, 3] }).VerifySignature(out error));
        Assert.Contains("unreadable", error, StringComparison.Ordinal);
        Assert.False((good with { NodeCertificateDer = [] }).VerifySignature(out error));
    }

    [Theory]
    [InlineData(39, 21, "claims tree size")]
    [InlineData(41, 21, "claims tree size")]
    [InlineData(40, 0, "covers from seqno")]
    [InlineData(40, 42, "covers from seqno")]
    [InlineData(40, -5, "covers from seqno")]
    public void Decoding_rejects_inconsistent_fields(long treeSize, long firstCovered, string expected)
    {
        var body = Signed(Root, treeSize, firstCovered).Encode(Id, Evidence);
        Assert.False(TryDecode(body, out var entry, out var error));
        Assert.Null(entry);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Decoding_accepts_the_bounds_of_the_covered_range()
    {
        Assert.True(TryDecode(Signed(Root, firstCovered: 1).Encode(Id, Evidence), out _, out var error), error);
        Assert.True(TryDecode(Signed(Root, firstCovered: Id.Seqno).Encode(Id, Evidence), out _, out error), error);
    }

    [Fact]
    public void Decoding_rejects_structural_damage()
    {
        var body = Signed(Root).Encode(Id, Evidence);

        // A private section (public length one byte short of the body).
        var withPrivate = (byte[])body.Clone();
        withPrivate[4]--;
        Assert.False(TryDecode(withPrivate, out _, out var error));
        Assert.Contains("no private section", error, StringComparison.Ordinal);

        var encrypted = (byte[])body.Clone();
        encrypted[2] = (byte)EntryFlags.Encrypted;
        Assert.False(TryDecode(encrypted, out _, out error));

        var claims = (byte[])body.Clone();
        claims[60] = 1;
        Assert.False(TryDecode(claims, out _, out error));
        Assert.Contains("no application claims", error, StringComparison.Ordinal);

        // Certificate length pointing past the end, and bytes after the signature.
        var longCert = (byte[])body.Clone();
        longCert[EntryHeader.Size + 81] = 0xFF;
        Assert.False(TryDecode(longCert, out _, out error));
        Assert.Contains("truncated", error, StringComparison.Ordinal);

        var extra = body.Concat(new byte[] { 0 }).ToArray();
        extra[4]++;
        Assert.False(TryDecode(extra, out _, out error));
        Assert.Contains("unexpected bytes", error, StringComparison.Ordinal);

        var user = (byte[])body.Clone();
        user[1] = (byte)EntryKind.UserEntry;
        Assert.False(TryDecode(user, out _, out error));
        Assert.Contains("not Signature", error, StringComparison.Ordinal);

        for (var cut = 1; cut < body.Length - EntryHeader.Size; cut += 7)
        {
            var truncated = body[..^cut];
            truncated[4..8].AsSpan().Clear();
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(truncated.AsSpan(4), truncated.Length - EntryHeader.Size);
            Assert.False(TryDecode(truncated, out _, out _), $"cut {cut}");
        }
    }
}
