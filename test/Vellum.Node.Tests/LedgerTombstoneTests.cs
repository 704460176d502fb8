using Vellum.Core.Identity;
using Vellum.Core.Primitives;
using Vellum.Node.Ledgers;

namespace Vellum.Node.Tests;

/// <summary>The tombstone's two forms, the deletion entry's description and the file: with a tenant and without.</summary>
public sealed class LedgerTombstoneTests
{
    [Fact]
    public void A_tombstone_reads_back_as_written_with_or_without_its_tenant()
    {
        using var service = ServiceIdentity.Create();
        var root = Hash32.Compute("root"u8);
        var plain = new LedgerTombstone("alpha", true, service.Certificate.RawData, new TxId(2, 41), root, "someone", DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123));
        var owned = plain with { TenantId = "11111111-2222-4333-8444-555555555555" };
        foreach (var tombstone in new[] { plain, owned })
        {
            var encoded = tombstone.Encode();
            Assert.Equal(tombstone.TenantId is null ? 1 : 2, encoded[0]); // version 1 stays what older members read
            Assert.True(LedgerTombstone.TryDecode("alpha", encoded, out var decoded, out var error), error);
            Assert.Equal(tombstone.TenantId, decoded.TenantId);
            Assert.Equal(tombstone.LastSigned, decoded.LastSigned);
            Assert.Equal(tombstone.ServiceCertificateDigest, decoded.ServiceCertificateDigest);
            var file = LedgerTombstone.FromJson(tombstone.ToJson());
            Assert.Equal(tombstone.TenantId, file.TenantId);
            Assert.Equal(tombstone.DeletedAt, file.DeletedAt);

            // Cut short or with bytes after it: refused, not misread.
            Assert.False(LedgerTombstone.TryDecode("alpha", encoded.AsSpan(0, encoded.Length - 1), out _, out _));
            Assert.False(LedgerTombstone.TryDecode("alpha", [.. encoded, 0], out _, out _));
        }
    }
}
