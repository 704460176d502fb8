using System.Text;
using System.Text.Json;
using Vellum.Core.Entries;

namespace Vellum.Core.Tests.Entries;

public sealed class LedgerEntryJsonTests
{
    [Theory]
    [InlineData("""{"contents":"hello"}""", "hello")]
    [InlineData("""{"\u0063ontents":"escaped name"}""", "escaped name")]
    [InlineData("""{"collectionId":"ignored","contents":"x","tags":["a","a"]}""", "x")]
    [InlineData("""{"a":{"contents":1},"b":[{"a":1},{"a":2}],"contents":"same names, other objects"}""", "same names, other objects")]
    [InlineData("""{"contents":"caf\u00e9 \ud83d\ude00"}""", "café 😀")]
    public void Reads_the_contents(string json, string expected)
    {
        Assert.True(LedgerEntryJson.TryReadContents(Encoding.UTF8.GetBytes(json), out var contents, out var problem), problem);
        Assert.Equal(expected, Encoding.UTF8.GetString(contents));
    }

    [Theory]
    [InlineData("""{"contents":"first","contents":"second"}""", "'contents' twice")]
    [InlineData("""{"contents":"first","\u0063ontents":"second"}""", "'contents' twice")]
    [InlineData("""{"c\u006Fntents":"first","contents":"second"}""", "'contents' twice")]
    [InlineData("""{"a":1,"contents":"x","a":2}""", "'a' twice")]
    [InlineData("""{"contents":"x","o":{"k":1,"\u006b":2}}""", "'k' twice")]
    [InlineData("""{"contents":"x","o":[[{"p":{"q":1,"q":{}}}]]}""", "'q' twice")]
    [InlineData("""{"contents":"first","contents":5}""", "'contents' twice")]
    public void Refuses_a_property_name_twice_in_one_object(string json, string expected)
    {
        Assert.False(LedgerEntryJson.TryReadContents(Encoding.UTF8.GetBytes(json), out _, out var problem));
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_long_repeated_name_is_cut_short_in_the_message()
    {
        var name = new string('n', 10_000);
        var json = "{\"contents\":\"x\",\"" + name + "\":1,\"" + name + "\":2}";
        Assert.False(LedgerEntryJson.TryReadContents(Encoding.UTF8.GetBytes(json), out _, out var problem));
        Assert.Contains($"'{name[..64]}…' twice", problem, StringComparison.Ordinal);
        Assert.True(problem.Length < 200);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("""{"contents":5}""")]
    [InlineData("""{"contents":"a"} {"contents":"b"}""")]
    [InlineData("""{"contents":"a\ud800"}""")]
    [InlineData("""{"contents":"x","\ud800":1}""")]
    [InlineData("""{"contents":"x","deep":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}""")]
    public void Refuses_malformed_bodies(string json)
    {
        Assert.False(LedgerEntryJson.TryReadContents(Encoding.UTF8.GetBytes(json), out _, out var problem));
        Assert.NotEmpty(problem);
    }

    /// <summary>
    /// The duplicate check agrees with System.Text.Json's own (<c>AllowDuplicateProperties = false</c>) on random
    /// nested values built from a few names, some of them escaped spellings of others.
    /// </summary>
    [Fact]
    public void Agrees_with_the_runtime_on_random_nested_values()
    {
        var strict = new JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = LedgerEntryJson.MaxDepth };
        var random = new Random(12);
        var refused = 0;
        for (var i = 0; i < 3000; i++)
        {
            var json = $$"""{"contents":"x","extra":{{RandomValue(random, 0)}}}""";
            bool expected;
            try
            {
                using var document = JsonDocument.Parse(json, strict);
                expected = true;
            }
            catch (JsonException)
            {
                expected = false;
            }

            Assert.True(expected == LedgerEntryJson.TryReadContents(Encoding.UTF8.GetBytes(json), out _, out var problem), $"{json}: {problem}");
            refused += expected ? 0 : 1;
        }

        Assert.InRange(refused, 300, 2700); // both outcomes were tried often
    }

    private static readonly string[] Names = ["a", "b", "\\u0061", "contents", "\\u0063ontents"];

    private static string RandomValue(Random random, int depth)
    {
        switch (depth >= 5 ? 0 : random.Next(4))
        {
            case 0:
                return random.Next(2) == 0 ? "1" : "\"s\"";
            case 1:
                return "[" + string.Join(',', Enumerable.Range(0, random.Next(3)).Select(_ => RandomValue(random, depth + 1))) + "]";
            default:
                var count = random.Next(3);
                return "{" + string.Join(',', Enumerable.Range(0, count).Select(_ => $"\"{Names[random.Next(Names.Length)]}\":{RandomValue(random, depth + 1)}")) + "}";
        }
    }
}
