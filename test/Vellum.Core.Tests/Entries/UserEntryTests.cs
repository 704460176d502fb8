using System.Text;
using CsCheck;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Primitives;

namespace Vellum.Core.Tests.Entries;

public sealed class UserEntryTests : IDisposable
{
    private static readonly TxId Id = new(3, 17);
    private readonly LedgerSecret _secret = EntryCodec.FixedSecret();

    public void Dispose() => _secret.Dispose();

    public static TheoryData<string> Cases => ["empty", "tags", "ledger-entry-claim", "claim-digest", "both-claims", "non-ascii", "large"];

    private static UserEntry Case(string name) => name switch
    {
        "empty" => new UserEntry(UserEntry.DefaultCollectionId, ReadOnlyMemory<byte>.Empty),
        "tags" => new UserEntry("c1", ["alpha", "", "gamma"], "hello"u8.ToArray(), []),
        "ledger-entry-claim" => new UserEntry("c1", [], "hello"u8.ToArray(), [new EntryClaim(EntryClaimKind.LedgerEntryV1, Bytes(32, 7), null, default)]),
        "claim-digest" => new UserEntry("c1", ["t"], "hello"u8.ToArray(), [new EntryClaim(EntryClaimKind.ClaimDigest, null, "MyProtocol", new Hash32(Bytes(32, 9)))]),
        "both-claims" => new UserEntry("c1", ["t"], "x"u8.ToArray(),
            [new EntryClaim(EntryClaimKind.ClaimDigest, null, "", new Hash32(Bytes(32, 1))), new EntryClaim(EntryClaimKind.LedgerEntryV1, Bytes(32, 2), null, default)]),
        "non-ascii" => new UserEntry("collection-é-日本", ["ταγ", "🙂"], Encoding.UTF8.GetBytes("Grüße, 世界 🙂"),
            [new EntryClaim(EntryClaimKind.ClaimDigest, null, "protocolé", new Hash32(Bytes(32, 3)))]),
        "large" => new UserEntry(new string('c', ushort.MaxValue), Enumerable.Range(0, 300).Select(i => $"tag{i}").ToArray(), Bytes(1 << 20, 5),
            Enumerable.Range(0, byte.MaxValue).Select(i => new EntryClaim(EntryClaimKind.LedgerEntryV1, Bytes(32, (byte)i), null, default)).ToArray()),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static byte[] Bytes(int length, byte seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Public_entry_round_trips(string name)
    {
        var entry = Case(name);
        var body = EntryCodec.Encode(entry, Id, _secret, encryptWith: null);
        var header = EntryCodec.Header(body);
        Assert.Equal(EntryKind.UserEntry, header.Kind);
        Assert.False(header.IsEncrypted);
        Assert.Equal(Id, header.Id);
        Assert.Equal(entry.PublicLength, header.PublicLength);
        Assert.Equal(_secret.CommitEvidenceDigest(Id), header.CommitEvidenceDigest);
        Assert.Equal(entry.ClaimsDigest(), header.ClaimsDigest);
        Assert.Equal(entry.Claims.Count == 0, header.ClaimsDigest.IsZero);

        // Without a secret too: a Public entry needs none.
        EntryCodec.AssertSame(entry, EntryCodec.Decode(body, secret: null));
        EntryCodec.AssertSame(entry, EntryCodec.Decode(body, _secret));
        Assert.True(body.AsSpan(header.PrivateOffset + 4, entry.Contents.Length).SequenceEqual(entry.Contents.Span), "Public contents are stored in clear");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Private_entry_round_trips_and_hides_the_contents(string name)
    {
        var entry = Case(name);
        var body = EntryCodec.Encode(entry, Id, _secret, _secret);
        Assert.Equal(entry.EncodedLength(privateLedger: true), body.Length);
        var header = EntryCodec.Header(body);
        Assert.True(header.IsEncrypted);
        EntryCodec.AssertSame(entry, EntryCodec.Decode(body, _secret));

        // The public section stays readable without the secret; the private section does not decode without it.
        Assert.True(UserEntry.TryDecodePublic(body, header, out var collection, out var tags, out var error), error);
        Assert.Equal(entry.CollectionId, collection);
        Assert.Equal(entry.Tags, tags);
        Assert.False(UserEntry.TryDecode(body, header, null, out var none, out error));
        Assert.Null(none);
        Assert.Contains("no ledger secret", error, StringComparison.Ordinal);
        if (entry.Contents.Length >= 4)
        {
            Assert.True(body.AsSpan(header.PrivateOffset).IndexOf(entry.Contents.Span) < 0, "Private contents appear in clear");
        }
    }

    [Fact]
    public void Private_entry_fails_authentication_when_any_byte_or_the_key_changes()
    {
        var entry = Case("both-claims");
        var body = EntryCodec.Encode(entry, Id, _secret, _secret);
        var header = EntryCodec.Header(body);
        using var other = EntryCodec.FixedSecret(0x43);
        Assert.False(UserEntry.TryDecode(body, header, other, out _, out var error));
        Assert.Contains("AES-GCM", error, StringComparison.Ordinal);

        // Every byte after the fixed header's own checks is authenticated: public section (associated data),
        // ciphertext and tag. Header fields other than the id are associated data too.
        for (var i = 24; i < body.Length; i++)
        {
            var altered = (byte[])body.Clone();
            altered[i] ^= 0x01;
            Assert.True(EntryHeader.TryRead(altered, out var alteredHeader, out _));
            Assert.False(UserEntry.TryDecode(altered, alteredHeader, _secret, out _, out _), $"flip at byte {i} decoded");
        }

        // The nonce is the transaction id: the same bytes presented as another transaction do not decrypt.
        var moved = (byte[])body.Clone();
        moved[16] ^= 0x02; // seqno 17 -> 19
        Assert.False(UserEntry.TryDecode(moved, EntryCodec.Header(moved), _secret, out _, out _));
    }

    [Fact]
    public void Decoding_rejects_malformed_private_sections_without_throwing()
    {
        var entry = Case("claim-digest");
        var body = EntryCodec.Encode(entry, Id, _secret, encryptWith: null);
        var header = EntryCodec.Header(body);

        var trailing = body.Concat(new byte[] { 0 }).ToArray();
        Assert.False(UserEntry.TryDecode(trailing, EntryCodec.Header(trailing), null, out _, out var error));
        Assert.Contains("unexpected bytes", error, StringComparison.Ordinal);

        var unknownClaim = (byte[])body.Clone();
        unknownClaim[header.PrivateOffset + 4 + entry.Contents.Length + 1] = 9; // the first claim's kind
        Assert.False(UserEntry.TryDecode(unknownClaim, header, null, out _, out error));
        Assert.Contains("unknown kind 9", error, StringComparison.Ordinal);

        var hugeContents = (byte[])body.Clone();
        hugeContents.AsSpan(header.PrivateOffset).Fill(0xFF); // contents length -1
        Assert.False(UserEntry.TryDecode(hugeContents, header, null, out _, out error));
        Assert.Contains("truncated", error, StringComparison.Ordinal);

        foreach (var cut in new[] { 1, 33, body.Length - header.PrivateOffset })
        {
            var truncated = body[..^cut];
            Assert.True(EntryHeader.TryRead(truncated, out var truncatedHeader, out _));
            Assert.False(UserEntry.TryDecode(truncated, truncatedHeader, null, out _, out _), $"cut {cut}");
        }
    }

    [Fact]
    public void Decoding_rejects_malformed_public_sections_without_throwing()
    {
        var entry = Case("tags");
        var body = EntryCodec.Encode(entry, Id, _secret, encryptWith: null);
        var header = EntryCodec.Header(body);

        var badUtf8 = (byte[])body.Clone();
        badUtf8[EntryHeader.Size + 2] = 0xC3; // "c1" -> 0xC3 '1': a lead byte without its continuation
        Assert.False(UserEntry.TryDecode(badUtf8, header, null, out _, out var error));
        Assert.Contains("not UTF-8", error, StringComparison.Ordinal);

        var manyTags = (byte[])body.Clone();
        manyTags[EntryHeader.Size + 4] = 0xFF;
        manyTags[EntryHeader.Size + 5] = 0xFF;
        Assert.False(UserEntry.TryDecode(manyTags, header, null, out _, out error));
        Assert.Contains("tag count", error, StringComparison.Ordinal);

        var signature = (byte[])body.Clone();
        signature[1] = (byte)EntryKind.Signature;
        Assert.False(UserEntry.TryDecode(signature, EntryCodec.Header(signature), null, out _, out error));
        Assert.Contains("not UserEntry", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Too_many_claims_for_the_u8_count_is_refused_at_encode()
    {
        var claims = Enumerable.Range(0, 256).Select(_ => new EntryClaim(EntryClaimKind.LedgerEntryV1, new byte[32], null, default)).ToArray();
        var entry = new UserEntry("c", [], "x"u8.ToArray(), claims);
        Assert.Throws<OverflowException>(() => EntryCodec.Encode(entry, Id, _secret, null));
    }

    private static readonly Gen<EntryClaim> ClaimGen = Gen.OneOf(
        Gen.Byte.Array[32].Select(key => new EntryClaim(EntryClaimKind.LedgerEntryV1, key, null, default)),
        Gen.Select(Gen.String[0, 40], Gen.Byte.Array[32], (protocol, value) => new EntryClaim(EntryClaimKind.ClaimDigest, null, protocol, new Hash32(value))));

    private static readonly Gen<(UserEntry Entry, long View, long Seqno, bool Encrypted)> EntryGen =
        from collection in Gen.String[0, 60]
        from tags in Gen.String[0, 20].Array[0, 5]
        from contents in Gen.Byte.Array[0, 2000]
        from claims in ClaimGen.Array[0, 4]
        from view in Gen.Long[1, uint.MaxValue]
        from seqno in Gen.Long[1, long.MaxValue]
        from encrypted in Gen.Bool
        select (new UserEntry(collection, tags, contents, claims), view, seqno, encrypted);

    [Fact]
    public void Random_entries_round_trip()
    {
        // Gen.String yields arbitrary UTF-16, lone surrogates included; the codec stores UTF-8, so the property is over
        // what UTF-8 can carry: the string after a UTF-8 round trip.
        static string Utf8(string s) => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s));
        EntryGen.Sample(sample =>
        {
            var entry = sample.Entry with
            {
                CollectionId = Utf8(sample.Entry.CollectionId),
                Tags = sample.Entry.Tags.Select(Utf8).ToArray(),
                Claims = sample.Entry.Claims.Select(c => c with { Protocol = c.Protocol is null ? null : Utf8(c.Protocol) }).ToArray(),
            };
            var id = new TxId(sample.View, sample.Seqno);
            var body = EntryCodec.Encode(entry, id, _secret, sample.Encrypted ? _secret : null);
            Assert.Equal(entry.EncodedLength(sample.Encrypted), body.Length);
            var header = EntryCodec.Header(body);
            Assert.Equal(id, header.Id);
            Assert.Equal(sample.Encrypted, header.IsEncrypted);
            EntryCodec.AssertSame(entry, EntryCodec.Decode(body, _secret));
        }, iter: 500);
    }
}
