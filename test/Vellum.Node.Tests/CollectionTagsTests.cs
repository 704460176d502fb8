using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Vellum.Node.Ledgers;

namespace Vellum.Node.Tests;

/// <summary>
/// <c>GET /app/collections/tags</c> (2026-07-31-preview): the tags a collection's entries carry, in ordinal order,
/// paged with nextLink; a tag counts once per collection that uses it against the ledger's tag limit, as in ACL; an
/// index written before collection tags existed is rebuilt at open.
/// </summary>
public sealed class CollectionTagsTests(CollectionTagsTests.Fixture node) : IClassFixture<CollectionTagsTests.Fixture>
{
    private const string V = "api-version=2026-07-31-preview";

    public sealed class Fixture : NodeFixture
    {
        protected override NodeOptions CreateOptions(string data) => new()
        {
            DataDirectory = data,
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            SignatureDelay = TimeSpan.FromMilliseconds(20),
            LedgerDefaults = new LedgerOptions { PageSize = 2, MaxTags = 12 },
        };
    }

    private async Task PostAsync(string collection, string tags)
    {
        using var response = await node.Admin.PostAsync($"/app/transactions?collectionId={collection}&tags={tags}&waitForCommit=true&{V}", NodeFixture.Json("""{"contents":"x"}"""));
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Every tag of a collection, following nextLink; also checks each page holds at most two.</summary>
    private async Task<List<string>> AllTagsAsync(HttpClient client, string path)
    {
        var tags = new List<string>();
        for (var pages = 0; path is not null; pages++)
        {
            Assert.True(pages < 20, "nextLink does not end");
            using var response = await client.GetAsync(path);
            var body = await NodeFixture.Body(response);
            Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
            var page = body.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!).ToList();
            Assert.True(page.Count <= 2, $"a page of {page.Count}");
            tags.AddRange(page);
            path = body.GetProperty("nextLink").ValueKind == JsonValueKind.Null ? null! : body.GetProperty("nextLink").GetString()!;
        }

        return tags;
    }

    [Fact]
    public async Task A_collections_tags_are_listed_in_order_page_by_page_and_each_counts_per_collection()
    {
        await PostAsync("fruit", "pear,apple");
        await PostAsync("fruit", "apple,quince,banana");
        await PostAsync("veg", "apple,leek");
        await PostAsync("subledger:0", "plain");

        Assert.Equal(["apple", "banana", "pear", "quince"], await AllTagsAsync(node.Admin, $"/app/collections/tags?collectionId=fruit&{V}"));
        Assert.Equal(["apple", "leek"], await AllTagsAsync(node.Admin, $"/app/collections/tags?collectionId=veg&{V}"));
        Assert.Equal(["plain"], await AllTagsAsync(node.Admin, $"/app/collections/tags?{V}"));
        Assert.Empty(await AllTagsAsync(node.Admin, $"/app/collections/tags?collectionId=none&{V}"));

        // By the ledger's prefix too, and to a Reader.
        using var reader = NodeFixture.NewUserCertificate("reader");
        using (var added = await node.Admin.PatchAsync($"/app/users/{NodeFixture.Fingerprint(reader)}?api-version=2022-05-13", NodeFixture.Json("""{"assignedRole":"Reader"}""", "application/merge-patch+json")))
        {
            Assert.True(added.IsSuccessStatusCode, await added.Content.ReadAsStringAsync());
        }

        Assert.Equal(["apple", "leek"], await AllTagsAsync(node.Client(reader), $"/ledgers/default/app/collections/tags?collectionId=veg&{V}"));

        // apple counts in fruit and in veg: 7 tags now; 5 more fit under 12, the sixth does not, and old ones still do.
        await PostAsync("veg", "a1,a2,a3,a4,a5");
        using (var refused = await node.Admin.PostAsync($"/app/transactions?collectionId=fruit&tags=leek&{V}", NodeFixture.Json("""{"contents":"x"}""")))
        {
            var text = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.BadRequest, text);
            Assert.Equal("TagCapacityExceeded", JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("code").GetString());
        }

        await PostAsync("fruit", "apple,pear");

        // A bad collection id or continuation is refused.
        using var bad = await node.Admin.GetAsync($"/app/collections/tags?collectionId=%07&{V}");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("InvalidQueryParameterValue", (await NodeFixture.Body(bad)).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task An_index_of_the_format_before_collection_tags_is_rebuilt_with_them()
    {
        var root = Directory.CreateTempSubdirectory("vellum-tags-").FullName;
        try
        {
            var options = NodeFixture.Options(root);
            await using (var registry = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
            {
                var ledger = registry.Default!;
                await ledger.AppendEntryAsync("old", "x"u8.ToArray(), ["kept", "also"], default).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            }

            // A plain restart reads the pairs back from their postings.
            await using (var registry = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
            {
                Assert.Equal(["also", "kept"], registry.Default!.Store.Index.TagsIn("old", null, 10));
            }

            // As an earlier version left it: no format marker and no collection-tag postings.
            var index = Path.Combine(root, "ledgers", "default", "state", "index");
            Assert.True(File.Exists(Path.Combine(index, "format-2")));
            File.Delete(Path.Combine(index, "format-2"));
            var pairs = Directory.GetFiles(index, "p-*");
            Assert.Equal(2, pairs.Length);
            foreach (var pair in pairs)
            {
                File.Delete(pair);
            }

            await using (var registry = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
            {
                Assert.Equal(["also", "kept"], registry.Default!.Store.Index.TagsIn("old", null, 10));
                Assert.Equal(["kept"], registry.Default!.Store.Index.TagsIn("old", "also", 10));
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
