using System.Security.Cryptography;
using System.Text;
using Vellum.Core.Claims;
using Vellum.Core.Primitives;

namespace Vellum.Core.Tests.Claims;

public sealed class ClaimsDigestTests
{
    private const string VectorSecret = "Jde/VvaIfyrjQ/B19P+UJCBwmcrgN7sERStoyHnYO0M=";
    private static readonly Hash32 VectorDigest = Hash32.ParseHex("d08d8764437d09b2d4d07d52293cddaf40f44a3ea2176a0528819a80002df9f6");

    private static ApplicationClaim VectorClaim() => new()
    {
        Kind = ApplicationClaimKind.LedgerEntry,
        LedgerEntry = new ApplicationClaimLedgerEntry
        {
            CollectionId = "subledger:0",
            Contents = "Hello world",
            Protocol = "LedgerEntryV1",
            SecretKey = VectorSecret,
        },
    };

    [Fact]
    public void Acl_vector_claim_gives_the_published_digest()
    {
        Assert.Equal(VectorDigest, ClaimsDigest.Compute([VectorClaim()]));
        Assert.Equal("d08d8764437d09b2d4d07d52293cddaf40f44a3ea2176a0528819a80002df9f6", ClaimsDigest.Compute([VectorClaim()]).ToString());
    }

    [Fact]
    public void Raw_bytes_path_matches_the_json_model()
    {
        var key = Convert.FromBase64String(VectorSecret);
        var claim = ClaimsDigest.LedgerEntryV1("subledger:0"u8, "Hello world"u8, key);
        Assert.True(ClaimsDigest.TryComputeClaim(VectorClaim(), out var fromModel, out _));
        Assert.Equal(fromModel, claim);
        Assert.Equal(VectorDigest, ClaimsDigest.Combine([claim]));
        Assert.Equal(VectorDigest, ClaimsDigest.Compute([ApplicationClaim.ForLedgerEntry("subledger:0", "Hello world", key)]));
    }

    [Fact]
    public void Ledger_entry_claim_is_the_documented_formula()
    {
        var key = Convert.FromBase64String(VectorSecret);
        var macs = HMACSHA256.HashData(key, "subledger:0"u8).Concat(HMACSHA256.HashData(key, "Hello world"u8)).ToArray();
        var expected = SHA256.HashData("LedgerEntryV1"u8.ToArray().Concat(SHA256.HashData(macs)).ToArray());
        Assert.Equal(new Hash32(expected), ClaimsDigest.LedgerEntryV1("subledger:0"u8, "Hello world"u8, key));
    }

    [Fact]
    public void Claim_digest_kind_and_count_prefix_follow_the_reference()
    {
        var value = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var claims = new[] { ApplicationClaim.ForDigest("MyProtocol", value), VectorClaim() };

        var first = SHA256.HashData(Encoding.UTF8.GetBytes("MyProtocol").Concat(value).ToArray());
        var input = new byte[] { 2, 0, 0, 0 }.Concat(first).Concat(VectorClaimDigest()).ToArray();
        Assert.Equal(new Hash32(SHA256.HashData(input)), ClaimsDigest.Compute(claims));

        // Order matters.
        Assert.NotEqual(ClaimsDigest.Compute(claims), ClaimsDigest.Compute([claims[1], claims[0]]));
    }

    [Theory]
    [InlineData(1, 3)]
    [InlineData(40, 3)]     // 4 + 40 × 32 bytes: past the stack buffer, hashed from a pooled array
    [InlineData(2, 300)]    // a protocol name longer than the stack buffer
    public void Long_claim_lists_and_protocols_follow_the_formula(int count, int protocolLength)
    {
        var protocol = new string('p', protocolLength);
        var claims = Enumerable.Range(0, count)
            .Select(i => ApplicationClaim.ForDigest(protocol, Enumerable.Range(i, 32).Select(b => (byte)b).ToArray()))
            .ToArray();
        var input = BitConverter.GetBytes((uint)count).AsEnumerable();
        foreach (var claim in claims)
        {
            var value = Convert.FromHexString(claim.Digest!.Value!);
            input = input.Concat(SHA256.HashData(Encoding.UTF8.GetBytes(protocol).Concat(value).ToArray()));
        }

        Assert.Equal(new Hash32(SHA256.HashData(input.ToArray())), ClaimsDigest.Compute(claims));
    }

    [Fact]
    public void New_ledger_entry_keys_are_fresh_across_the_random_block()
    {
        // 100 keys cross the 32-key block three times; none may repeat or be left zeroed.
        var keys = Enumerable.Range(0, 100).Select(_ => Vellum.Core.Entries.EntryClaim.NewLedgerEntry().SecretKey!).ToArray();
        Assert.All(keys, k => Assert.Equal(ClaimsDigest.SecretKeySize, k.Length));
        Assert.Equal(100, keys.Select(Convert.ToHexString).Distinct().Count());
        Assert.DoesNotContain(keys, k => k.All(b => b == 0));
    }

    [Fact]
    public void Claim_digest_value_accepts_either_hex_case()
    {
        var lower = new ApplicationClaim { Kind = ApplicationClaimKind.ClaimDigest, Digest = new() { Protocol = "p", Value = "abcd" } };
        var upper = new ApplicationClaim { Kind = ApplicationClaimKind.ClaimDigest, Digest = new() { Protocol = "p", Value = "ABCD" } };
        Assert.Equal(ClaimsDigest.Compute([lower]), ClaimsDigest.Compute([upper]));
    }

    [Fact]
    public void Empty_list_is_an_error_and_no_claims_is_zero()
    {
        Assert.False(ClaimsDigest.TryCompute([], out _, out var error));
        Assert.Contains("empty", error, StringComparison.OrdinalIgnoreCase);
        Assert.False(ClaimsDigest.TryCompute(null, out _, out _));
        Assert.Throws<ArgumentException>(() => ClaimsDigest.Compute([]));
        Assert.Throws<ArgumentException>(() => ClaimsDigest.Combine([]));
        Assert.Equal(Hash32.Zero, ClaimsDigest.ComputeOrZero(null));
        Assert.Equal(Hash32.Zero, ClaimsDigest.ComputeOrZero([]));
        Assert.Equal(VectorDigest, ClaimsDigest.ComputeOrZero([VectorClaim()]));
    }

    private static readonly ApplicationClaim[] InvalidClaims =
    [
        new ApplicationClaim { Kind = ApplicationClaimKind.LedgerEntry },
        new ApplicationClaim { Kind = ApplicationClaimKind.ClaimDigest },
        new ApplicationClaim { Kind = ApplicationClaimKind.LedgerEntry, Digest = new() { Protocol = "p", Value = "00" } },
        VectorClaim() with { LedgerEntry = VectorClaim().LedgerEntry! with { Protocol = "LedgerEntryV2" } },
        VectorClaim() with { LedgerEntry = VectorClaim().LedgerEntry! with { Protocol = null } },
        VectorClaim() with { LedgerEntry = VectorClaim().LedgerEntry! with { SecretKey = "not base64!" } },
        VectorClaim() with { LedgerEntry = VectorClaim().LedgerEntry! with { SecretKey = null } },
        VectorClaim() with { LedgerEntry = VectorClaim().LedgerEntry! with { Contents = null } },
        VectorClaim() with { LedgerEntry = VectorClaim().LedgerEntry! with { CollectionId = null } },
        new ApplicationClaim { Kind = ApplicationClaimKind.ClaimDigest, Digest = new() { Protocol = "p", Value = "abc" } },
        new ApplicationClaim { Kind = ApplicationClaimKind.ClaimDigest, Digest = new() { Protocol = "p", Value = "zz" } },
        new ApplicationClaim { Kind = ApplicationClaimKind.ClaimDigest, Digest = new() { Protocol = null, Value = "00" } },
        new ApplicationClaim { Kind = (ApplicationClaimKind)42, Digest = new() { Protocol = "p", Value = "00" } },
    ];

    public static TheoryData<int> InvalidClaimIndexes() => new(Enumerable.Range(0, InvalidClaims.Length));

    [Theory]
    [MemberData(nameof(InvalidClaimIndexes))]
    public void Malformed_claims_are_errors_not_exceptions(int index)
    {
        var claim = InvalidClaims[index];
        Assert.False(ClaimsDigest.TryCompute([VectorClaim(), claim], out _, out var error));
        Assert.StartsWith("Application claim 1:", error, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => ClaimsDigest.Compute([claim]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(31)]
    [InlineData(33)]
    public void Raw_helper_requires_a_32_byte_secret(int length)
    {
        var key = new byte[length];
        Assert.Throws<ArgumentException>(() => ClaimsDigest.LedgerEntryV1("c"u8, "x"u8, key));
    }

    private static byte[] VectorClaimDigest()
    {
        Assert.True(ClaimsDigest.TryComputeClaim(VectorClaim(), out var claim, out _));
        return claim.ToArray();
    }
}
