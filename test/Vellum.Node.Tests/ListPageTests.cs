using System.Net;
using System.Text;
using System.Text.Json;

namespace Vellum.Node.Tests;

/// <summary>
/// How <c>GET /app/transactions</c> pages are written (issue #12, H4): at most 100 entries and at most 1 MiB of JSON
/// a page, continued with <c>nextLink</c>; printable non-ASCII text written as it is, not as <c>\uXXXX</c>.
/// </summary>
public sealed class ListPageTests(NodeFixture node) : IClassFixture<NodeFixture>
{
    private const string V = NodeFixture.Version;
    private const int OneMiB = 1024 * 1024;

    [Fact]
    public async Task A_page_ends_at_1_MiB_of_JSON_and_nextLink_continues_it()
    {
        // 40 entries of 8,192 × U+0001: a control character must be escaped (\u0001), so each entry is about 49 KB of
        // JSON and the 40 are 1.9 MB, well within the 100-entry page.
        var contents = string.Concat(Enumerable.Repeat("\\u0001", 8192));
        var written = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            var post = await node.Admin.PostAsync($"/app/transactions?collectionId=controls&api-version={V}", NodeFixture.Json($$"""{"contents":"{{contents}}"}"""));
            Assert.Equal(HttpStatusCode.OK, post.StatusCode);
            written.Add(post.Headers.GetValues("x-ms-ccf-transaction-id").Single());
        }

        await node.Ledger.Sequencer.WaitForCommitAsync(node.Ledger.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var listed = new List<string>();
        var link = $"/app/transactions?collectionId=controls&api-version={V}";
        var pages = 0;
        while (link is not null)
        {
            Assert.True(++pages <= 10, "more pages than 40 entries can fill");
            var bytes = await (await node.Admin.GetAsync(link)).Content.ReadAsByteArrayAsync();
            Assert.True(bytes.Length <= OneMiB, $"page {pages} is {bytes.Length} bytes");
            var page = JsonDocument.Parse(bytes).RootElement;
            Assert.Equal("Ready", page.GetProperty("state").GetString());
            foreach (var entry in page.GetProperty("entries").EnumerateArray())
            {
                Assert.Equal(new string('\u0001', 8192), entry.GetProperty("contents").GetString());
                listed.Add(entry.GetProperty("transactionId").GetString()!);
            }

            link = page.TryGetProperty("nextLink", out var next) ? next.GetString() : null;
        }

        Assert.Equal(written, listed);
        Assert.True(pages >= 2, "40 entries of 49 KB fitted in one page");
    }

    [Fact]
    public async Task Printable_non_ASCII_text_is_written_as_it_is()
    {
        const string text = "café 漢字 😀 ok";
        const string collection = "collé-漢";
        var post = await node.Admin.PostAsync(
            $"/app/transactions?collectionId={Uri.EscapeDataString(collection)}&tags={Uri.EscapeDataString("étiquette")}&api-version={V}",
            NodeFixture.Json(JsonSerializer.Serialize(new { contents = text + " <b>&'\u0007" })));
        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        var id = post.Headers.GetValues("x-ms-ccf-transaction-id").Single();
        await node.Ledger.Sequencer.WaitForCommitAsync(node.Ledger.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        var query = $"collectionId={Uri.EscapeDataString(collection)}&api-version={V}";
        foreach (var path in new[] { $"/app/transactions?{query}", $"/app/transactions/{id}?{query}", $"/app/transactions/current?{query}", $"/app/collections?api-version={V}" })
        {
            var raw = Encoding.UTF8.GetString(await (await node.Admin.GetAsync(path)).Content.ReadAsByteArrayAsync());
            Assert.Contains(collection, raw, StringComparison.Ordinal);
            Assert.DoesNotContain("\\u00E9", raw, StringComparison.OrdinalIgnoreCase);
            if (!path.StartsWith("/app/collections", StringComparison.Ordinal))
            {
                Assert.Contains(text, raw, StringComparison.Ordinal);
                Assert.Contains("\"étiquette\"", raw, StringComparison.Ordinal);

                // What JSON requires (controls) and the HTML-significant ASCII characters stay escaped, as before.
                Assert.Contains("\\u003Cb\\u003E\\u0026\\u0027\\u0007", raw, StringComparison.Ordinal);
                var entry = JsonDocument.Parse(raw).RootElement;
                entry = entry.TryGetProperty("entries", out var entries) ? entries[0] : entry.TryGetProperty("entry", out var one) ? one : entry;
                Assert.Equal(text + " <b>&'\u0007", entry.GetProperty("contents").GetString());
            }
        }
    }
}
