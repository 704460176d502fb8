using CsCheck;
using Vellum.Core.Claims;
using Vellum.Core.Entries;
using Vellum.Core.Primitives;

namespace Vellum.Core.Tests.Entries;

/// <summary>
/// <see cref="EntryClaim.ComputeDigest"/> (what the ledger stores in each leaf) and <see cref="ClaimsDigest"/> (what
/// a receipt verifier recomputes) are two independent implementations of ACL's claims digest; they must agree.
/// </summary>
public sealed class EntryClaimTests
{
    private static readonly byte[] VectorKey = Convert.FromBase64String("Jde/VvaIfyrjQ/B19P+UJCBwmcrgN7sERStoyHnYO0M=");
    private static readonly Hash32 VectorDigest = Hash32.ParseHex("d08d8764437d09b2d4d07d52293cddaf40f44a3ea2176a0528819a80002df9f6");

    [Fact]
    public void Acl_vector_gives_the_published_digest()
    {
        var claim = new EntryClaim(EntryClaimKind.LedgerEntryV1, VectorKey, null, default);
        Assert.Equal(VectorDigest, EntryClaim.ComputeDigest("subledger:0"u8, "Hello world"u8, [claim]));
        Assert.Equal(ClaimsDigest.Combine([ClaimsDigest.LedgerEntryV1("subledger:0"u8, "Hello world"u8, VectorKey)]),
            EntryClaim.ComputeDigest("subledger:0"u8, "Hello world"u8, [claim]));

        // As a stored entry: the digest the codec writes into the header is the vector's.
        var entry = new UserEntry(UserEntry.DefaultCollectionId, [], "Hello world"u8.ToArray(), [claim]);
        Assert.Equal(VectorDigest, entry.ClaimsDigest());
    }

    [Fact]
    public void No_claims_is_the_zero_digest()
    {
        Assert.Equal(Hash32.Zero, EntryClaim.ComputeDigest("c"u8, "x"u8, null));
        Assert.Equal(Hash32.Zero, EntryClaim.ComputeDigest("c"u8, "x"u8, []));
    }

    [Fact]
    public void Random_claim_lists_agree_with_the_receipt_implementation()
    {
        var claimGen = Gen.OneOf(
            Gen.Byte.Array[32].Select(key => new EntryClaim(EntryClaimKind.LedgerEntryV1, key, null, default)),
            Gen.Select(Gen.String[0, 30], Gen.Byte.Array[32], (p, v) => new EntryClaim(EntryClaimKind.ClaimDigest, null, p, new Hash32(v))));
        Gen.Select(Gen.Byte.Array[0, 40], Gen.Byte.Array[0, 300], claimGen.Array[1, 5]).Sample((collection, contents, claims) =>
        {
            var perClaim = claims.Select(c => c.Kind == EntryClaimKind.LedgerEntryV1
                ? ClaimsDigest.LedgerEntryV1(collection, contents, c.SecretKey)
                : ClaimsDigest.ForDigest(c.Protocol!, c.Value.ToArray())).ToArray();
            Assert.Equal(ClaimsDigest.Combine(perClaim), EntryClaim.ComputeDigest(collection, contents, claims));
        }, iter: 300);
    }

    [Fact]
    public void Digest_binds_collection_contents_and_key()
    {
        var claim = new EntryClaim(EntryClaimKind.LedgerEntryV1, VectorKey, null, default);
        var digest = EntryClaim.ComputeDigest("subledger:0"u8, "Hello world"u8, [claim]);
        Assert.NotEqual(digest, EntryClaim.ComputeDigest("subledger:1"u8, "Hello world"u8, [claim]));
        Assert.NotEqual(digest, EntryClaim.ComputeDigest("subledger:0"u8, "Hello world!"u8, [claim]));
        Assert.NotEqual(digest, EntryClaim.ComputeDigest("subledger:0"u8, "Hello world"u8, [EntryClaim.NewLedgerEntry()]));
        Assert.NotEqual(digest, EntryClaim.ComputeDigest("subledger:0"u8, "Hello world"u8, [claim, claim]));
    }
}
