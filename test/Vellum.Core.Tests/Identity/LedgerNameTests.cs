using Vellum.Core.Identity;

namespace Vellum.Core.Tests.Identity;

public sealed class LedgerNameTests
{
    [Theory]
    [InlineData("abc", "abc")]
    [InlineData("default", "default")]
    [InlineData("Alpha", "alpha")]
    [InlineData("MY-LEDGER-2", "my-ledger-2")]
    [InlineData("a-b", "a-b")]
    [InlineData("a0000000000000000000000000000009", "a0000000000000000000000000000009")] // 32
    public void Valid_names_parse_to_lower_case(string text, string expected)
    {
        Assert.True(LedgerName.TryParse(text, out var name, out var error), error);
        Assert.Equal(expected, name.Value);
        Assert.Equal(expected, name.ToString());
    }

    [Theory]
    [InlineData(null, "required")]
    [InlineData("", "required")]
    [InlineData("ab", "3 to 32 characters")]
    [InlineData("a00000000000000000000000000000009", "3 to 32 characters")] // 33
    [InlineData("1ab", "starts with a letter")]
    [InlineData("-ab", "starts with a letter")]
    [InlineData("ab-", "does not end with '-'")]
    [InlineData("a_b", "only the letters a-z")]
    [InlineData("a.b", "only the letters a-z")]
    [InlineData("a b", "only the letters a-z")]
    [InlineData("ledgerı", "only the letters a-z")] // dotless i
    [InlineData("\u212Aelvin", "only the letters a-z")] // Kelvin sign, which lower-cases to 'k' under Unicode rules
    [InlineData("İstanbul", "only the letters a-z")] // dotted capital I
    [InlineData("ab\u0000c", "U+0000")]
    [InlineData("ab\u202Ec", "U+202E")]
    public void Invalid_names_say_which_rule_they_break(string? text, string expected)
    {
        Assert.False(LedgerName.TryParse(text, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => LedgerName.Parse(text));
    }

    [Fact]
    public void Names_compare_without_regard_to_the_case_given()
    {
        Assert.Equal(LedgerName.Parse("Alpha"), LedgerName.Parse("ALPHA"));
        Assert.True(LedgerName.Parse("alpha") == LedgerName.Parse("aLpHa"));
        Assert.NotEqual(LedgerName.Parse("alpha"), LedgerName.Parse("beta"));
        Assert.Equal(LedgerName.Parse("Alpha").GetHashCode(), LedgerName.Parse("alpha").GetHashCode());
        Assert.Equal("default", LedgerName.Default.Value);
        Assert.Equal(LedgerName.Default, default(LedgerName));
    }
}
