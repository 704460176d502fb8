using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Primitives;

namespace Vellum.Core.Tests.Entries;

/// <summary>Encoding helpers and structural comparison for the entry tests.</summary>
internal static class EntryCodec
{
    /// <summary>A fixed secret: the codec tests are deterministic.</summary>
    public static LedgerSecret FixedSecret(byte fill = 0x42) => new(Enumerable.Repeat(fill, LedgerSecret.Size).ToArray());

    public static byte[] Encode(UserEntry entry, TxId id, LedgerSecret commitEvidence, LedgerSecret? encryptWith)
    {
        var body = new byte[entry.EncodedLength(encryptWith is not null)];
        entry.Encode(body, id, commitEvidence.CommitEvidenceDigest(id), entry.ClaimsDigest(), encryptWith);
        return body;
    }

    public static EntryHeader Header(ReadOnlySpan<byte> body)
    {
        Assert.True(EntryHeader.TryRead(body, out var header, out var error), error);
        return header;
    }

    public static UserEntry Decode(byte[] body, LedgerSecret? secret)
    {
        var header = Header(body);
        Assert.True(UserEntry.TryDecode(body, header, secret, out var entry, out var error), error);
        return entry!;
    }

    public static void AssertSame(UserEntry expected, UserEntry actual)
    {
        Assert.Equal(expected.CollectionId, actual.CollectionId);
        Assert.Equal(expected.Tags, actual.Tags);
        Assert.Equal(expected.Contents.ToArray(), actual.Contents.ToArray());
        Assert.Equal(expected.Claims.Count, actual.Claims.Count);
        for (var i = 0; i < expected.Claims.Count; i++)
        {
            var (e, a) = (expected.Claims[i], actual.Claims[i]);
            Assert.Equal(e.Kind, a.Kind);
            if (e.Kind == EntryClaimKind.LedgerEntryV1)
            {
                Assert.Equal(e.SecretKey, a.SecretKey);
            }
            else
            {
                Assert.Equal(e.Protocol ?? string.Empty, a.Protocol);
                Assert.Equal(e.Value, a.Value);
            }
        }
    }
}
