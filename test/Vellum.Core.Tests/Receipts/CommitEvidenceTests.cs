using System.Security.Cryptography;
using System.Text;
using Vellum.Core.Primitives;
using Vellum.Core.Receipts;

namespace Vellum.Core.Tests.Receipts;

public sealed class CommitEvidenceTests
{
    private const string Hex = "f36ffe2930ec95d50ebaaec26e2bec56835abd051019eb270f538ab0744712a4";

    [Fact]
    public void Format_and_parse_round_trip()
    {
        var nonce = Convert.FromHexString(Hex);
        var text = CommitEvidence.Format(new TxId(2, 40), nonce);
        Assert.Equal("ce:2.40:" + Hex, text);

        Assert.True(CommitEvidence.TryParse(text, out var id, out var parsed));
        Assert.Equal(new TxId(2, 40), id);
        Assert.Equal(nonce, parsed);
    }

    [Fact]
    public void Format_rejects_bad_input()
    {
        Assert.Throws<ArgumentException>(() => CommitEvidence.Format(new TxId(2, 40), new byte[31]));
        Assert.Throws<ArgumentException>(() => CommitEvidence.Format(new TxId(2, 40), new byte[33]));
        Assert.Throws<ArgumentException>(() => CommitEvidence.Format(default, new byte[32]));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("ce:2.40")]
    [InlineData("ce:2.40:")]
    [InlineData("CE:2.40:" + Hex)]
    [InlineData("ce:2.40:" + "F36FFE2930EC95D50EBAAEC26E2BEC56835ABD051019EB270F538AB0744712A4")]
    [InlineData("ce:2.40:" + Hex + "0")]
    [InlineData("ce:2.40:" + "f36ffe2930ec95d50ebaaec26e2bec56835abd051019eb270f538ab0744712a")]
    [InlineData("ce:2.40:" + "g36ffe2930ec95d50ebaaec26e2bec56835abd051019eb270f538ab0744712a4")]
    [InlineData("ce:02.40:" + Hex)]
    [InlineData("ce:0.40:" + Hex)]
    [InlineData("ce:2:" + Hex)]
    [InlineData("ce:2.40::" + Hex)]
    [InlineData(" ce:2.40:" + Hex)]
    [InlineData("ce:2.40:" + Hex + " ")]
    public void Strict_parse_rejects_everything_else(string? text)
    {
        Assert.False(CommitEvidence.TryParse(text, out _, out var nonce));
        Assert.Null(nonce);
    }

    [Fact]
    public void Digest_is_sha256_of_utf8()
    {
        const string text = "ce:2.40:" + Hex;
        Assert.Equal(new Hash32(SHA256.HashData(Encoding.UTF8.GetBytes(text))), CommitEvidence.Digest(text));
    }
}
