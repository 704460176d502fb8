using System.Buffers.Binary;
using System.Security.Cryptography;
using Vellum.Core.Entries;
using Vellum.Core.Primitives;

namespace Vellum.Core.Tests.Entries;

public sealed class EntryHeaderTests
{
    private static readonly EntryHeader Sample = new(EntryKind.UserEntry, EntryFlags.None, 10, new TxId(4, 99),
        Hash32.Compute("ce"u8), Hash32.Compute("claims"u8));

    private static byte[] Body(EntryHeader header, int privateLength = 20)
    {
        var body = new byte[EntryHeader.Size + header.PublicLength + privateLength];
        header.Write(body);
        return body;
    }

    private static string Reject(byte[] body)
    {
        Assert.False(EntryHeader.TryRead(body, out _, out var error));
        return error;
    }

    [Fact]
    public void Writes_the_documented_layout_and_reads_it_back()
    {
        var body = Body(Sample);
        Assert.Equal(new byte[] { 1, 1, 0, 0, 10, 0, 0, 0 }, body[..8]);
        Assert.Equal(4, BinaryPrimitives.ReadInt64LittleEndian(body.AsSpan(8)));
        Assert.Equal(99, BinaryPrimitives.ReadInt64LittleEndian(body.AsSpan(16)));
        Assert.Equal(Sample.CommitEvidenceDigest, new Hash32(body.AsSpan(24, 32)));
        Assert.Equal(Sample.ClaimsDigest, new Hash32(body.AsSpan(56, 32)));

        Assert.True(EntryHeader.TryRead(body, out var read, out var error), error);
        Assert.Equal(Sample, read);
        Assert.Equal(EntryHeader.Size + 10, read.PrivateOffset);
    }

    [Fact]
    public void Leaf_is_the_hash_of_body_hash_evidence_and_claims()
    {
        var body = Body(Sample);
        var expected = SHA256.HashData(SHA256.HashData(body).Concat(Sample.CommitEvidenceDigest.ToArray()).Concat(Sample.ClaimsDigest.ToArray()).ToArray());
        Assert.Equal(new Hash32(expected), EntryHeader.ComputeLeaf(body, Sample.CommitEvidenceDigest, Sample.ClaimsDigest));
    }

    [Theory]
    [InlineData(EntryKind.Governance)]
    [InlineData(EntryKind.UserManagement)]
    [InlineData(EntryKind.KeyRotation)]
    [InlineData(EntryKind.Signature)]
    public void Accepts_every_defined_kind(EntryKind kind)
    {
        Assert.True(EntryHeader.TryRead(Body(Sample with { Kind = kind }), out var header, out var error), error);
        Assert.Equal(kind, header.Kind);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(255)]
    public void Rejects_another_version(byte version)
    {
        var body = Body(Sample);
        body[0] = version;
        Assert.Contains("format version", Reject(body), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(6)]
    [InlineData(255)]
    public void Rejects_an_unknown_kind(byte kind)
    {
        var body = Body(Sample);
        body[1] = kind;
        Assert.Contains("unknown entry kind", Reject(body), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2, 0)]
    [InlineData(0x81, 0)]
    [InlineData(0, 1)]
    [InlineData(1, 0x80)]
    public void Rejects_unknown_flags_and_a_nonzero_reserved_byte(byte flags, byte reserved)
    {
        var body = Body(Sample);
        body[2] = flags;
        body[3] = reserved;
        Assert.Contains("unknown entry flags", Reject(body), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    [InlineData(31)]
    [InlineData(int.MaxValue)]
    public void Rejects_a_public_length_outside_the_body(int publicLength)
    {
        var body = Body(Sample); // 30 bytes after the header
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(4), publicLength);
        Assert.Contains("public section length", Reject(body), StringComparison.Ordinal);
    }

    [Fact]
    public void Accepts_a_public_section_filling_the_body()
    {
        var body = Body(Sample);
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(4), 30);
        Assert.True(EntryHeader.TryRead(body, out var header, out _));
        Assert.Equal(body.Length, header.PrivateOffset);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0)]
    [InlineData(-1, 5)]
    [InlineData(5, long.MinValue)]
    public void Rejects_a_zero_or_negative_transaction_id(long view, long seqno)
    {
        var body = Body(Sample);
        BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(8), view);
        BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(16), seqno);
        Assert.Contains("is not valid", Reject(body), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(EntryHeader.Size - 1)]
    public void Rejects_a_body_shorter_than_the_header(int length)
    {
        Assert.Contains("shorter than", Reject(Body(Sample)[..length]), StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_an_encrypted_body_shorter_than_its_tag()
    {
        var encrypted = Sample with { Flags = EntryFlags.Encrypted };
        Assert.Contains("16-byte tag", Reject(Body(encrypted, privateLength: 15)), StringComparison.Ordinal);
        Assert.Contains("16-byte tag", Reject(Body(encrypted, privateLength: 0)), StringComparison.Ordinal);
        Assert.True(EntryHeader.TryRead(Body(encrypted, privateLength: 16), out var header, out _));
        Assert.True(header.IsEncrypted);

        // The same length is fine in the clear.
        Assert.True(EntryHeader.TryRead(Body(Sample, privateLength: 0), out _, out _));
    }
}
