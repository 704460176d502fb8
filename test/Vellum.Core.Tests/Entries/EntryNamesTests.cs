using Vellum.Core.Entries;

namespace Vellum.Core.Tests.Entries;

public sealed class EntryNamesTests
{
    [Theory]
    [InlineData("subledger:0")]
    [InlineData("café")]
    [InlineData("漢字")]
    [InlineData("😀")]
    [InlineData("a b")] // a space is neither a control nor a format character
    [InlineData("../../etc/passwd")]
    public void Ordinary_names_pass(string name) => Assert.Null(EntryNames.Problem("tag", name));

    [Theory]
    [InlineData("a\u0000b", "U+0000", 1)]
    [InlineData("a\r\nb", "U+000D", 1)]
    [InlineData("x\ty", "U+0009", 1)]
    [InlineData("\u001B[31m", "U+001B", 0)]
    [InlineData("x\u007Fy", "U+007F", 1)]
    [InlineData("x\u0085y", "U+0085", 1)]
    [InlineData("adm\u202Eni\u200Bn", "U+202E", 3)]
    [InlineData("x\u200By", "U+200B", 1)]
    [InlineData("\uFEFFx", "U+FEFF", 0)]
    [InlineData("😀\u200D😀", "U+200D", 2)] // the zero-width joiner is a format character too
    [InlineData("x\U000E0041", "U+E0041", 1)] // a tag character (Cf) outside the BMP
    public void Control_and_format_characters_are_named_by_code_point(string name, string codePoint, int index)
    {
        var problem = EntryNames.Problem("collection id", name);
        Assert.NotNull(problem);
        Assert.Contains($"The collection id has {codePoint} (", problem, StringComparison.Ordinal);
        Assert.Contains($"at index {index}:", problem, StringComparison.Ordinal);
        Assert.Contains("Cc and Cf", problem, StringComparison.Ordinal);
        Assert.DoesNotContain(name, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unpaired_surrogate_is_not_text() =>
        Assert.Contains("not valid Unicode", EntryNames.Problem("tag", "x\uD800y"), StringComparison.Ordinal);
}
