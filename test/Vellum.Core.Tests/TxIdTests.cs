using Vellum.Core.Primitives;

namespace Vellum.Core.Tests;

public sealed class TxIdTests
{
    [Theory]
    [InlineData("2.40", 2, 40)]
    [InlineData("1.1", 1, 1)]
    [InlineData("9223372036854775807.9223372036854775807", long.MaxValue, long.MaxValue)]
    public void Parses_canonical_ids(string text, long view, long seqno)
    {
        Assert.True(TxId.TryParse(text, out var id));
        Assert.Equal(new TxId(view, seqno), id);
        Assert.Equal(text, id.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("1")]
    [InlineData("1.")]
    [InlineData(".1")]
    [InlineData("-1.2")]
    [InlineData("+1.2")]
    [InlineData("1.-2")]
    [InlineData("01.2")]
    [InlineData("1.02")]
    [InlineData("0.1")]
    [InlineData("1.0")]
    [InlineData("1.2.3")]
    [InlineData(" 1.2")]
    [InlineData("1.2 ")]
    [InlineData("1,2")]
    [InlineData("1.2a")]
    [InlineData("９.1")]
    [InlineData("9223372036854775808.1")]
    [InlineData("1.99999999999999999999")]
    [InlineData(null)]
    public void Rejects_everything_else(string? text)
    {
        Assert.False(TxId.TryParse(text, out _));
        if (text is not null)
        {
            Assert.Throws<FormatException>(() => TxId.Parse(text));
        }
    }
}
