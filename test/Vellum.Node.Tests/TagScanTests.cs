using System.Net;
using System.Text.Json;
using System.Web;
using Vellum.Core.Primitives;

namespace Vellum.Node.Tests;

/// <summary>
/// A tag filter does bounded work per page (probe hole H5): a tag used by thousands of entries in one collection,
/// listed for another collection, answers pages that each examine at most 1,000 postings and link on to the rest,
/// rather than one answer that walks them all.
/// </summary>
public sealed class TagScanTests(NodeFixture node) : IClassFixture<NodeFixture>
{
    private const string V = NodeFixture.Version;
    private const int Budget = 1000; // 10 × the page size of 100
    private const int Crowd = 3000;

    [Fact]
    public async Task A_tag_crowded_in_another_collection_is_listed_in_bounded_pages()
    {
        var crowd = await PostMany(Crowd, "tag-crowd", "scan");
        var wanted = await PostMany(2, "tag-wanted", "scan");
        await node.Ledger.Sequencer.WaitForCommitAsync(node.Ledger.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        var link = $"/app/transactions?collectionId=tag-wanted&tag=scan&api-version={V}";
        var found = new List<string>();
        var pages = 0;
        var examinedBefore = 0L;
        while (link is not null)
        {
            Assert.True(++pages <= 10, $"still paging after 10 pages at {link}");
            var page = await GetPage(link);
            found.AddRange(page.Entries);
            link = page.NextLink;
            if (link is null)
            {
                break;
            }

            // The link goes on from the first posting this page did not examine: count the postings it passed.
            var from = TxId.Parse(HttpUtility.ParseQueryString(link.Split('?', 2)[1])["fromTransactionId"]!).Seqno;
            var examined = crowd.Count(s => s < from) + wanted.Count(s => s < from);
            Assert.True(examined - examinedBefore <= Budget, $"page {pages} examined {examined - examinedBefore} postings");
            Assert.True(examined > examinedBefore, "a page made no progress");
            examinedBefore = examined;
        }

        // The first page stopped at the budget, with none of its 1,000 postings in this collection.
        Assert.True(pages >= 3, $"{pages} pages for {Crowd} crowding postings");
        Assert.Equal(wanted.Order(), found.Select(id => TxId.Parse(id).Seqno).Order());
    }

    [Fact]
    public async Task A_tag_page_in_its_own_collection_is_still_full()
    {
        await PostMany(150, "tag-own", "own");
        var first = await GetPage($"/app/transactions?collectionId=tag-own&tag=own&api-version={V}");
        Assert.Equal(100, first.Entries.Count);
        Assert.NotNull(first.NextLink);
        var second = await GetPage(first.NextLink!);
        Assert.Equal(50, second.Entries.Count);
        Assert.Null(second.NextLink);
    }

    private async Task<(List<string> Entries, string? NextLink)> GetPage(string link)
    {
        var response = await node.Admin.GetAsync(link);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        var body = JsonDocument.Parse(text).RootElement;
        var entries = body.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("transactionId").GetString()!).ToList();
        return (entries, body.TryGetProperty("nextLink", out var next) ? next.GetString() : null);
    }

    /// <summary>Writes <paramref name="count"/> entries over HTTP/2, 64 at a time; returns their seqnos.</summary>
    private async Task<List<long>> PostMany(int count, string collectionId, string tag)
    {
        var seqnos = new List<long>(count);
        var next = -1;
        var writers = Enumerable.Range(0, 64).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) < count)
            {
                var response = await node.Admin.PostAsync(
                    $"/app/transactions?collectionId={collectionId}&tags={tag}&api-version={V}", NodeFixture.Json("""{"contents":"crowd"}"""));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var seqno = TxId.Parse(response.Headers.GetValues("x-ms-ccf-transaction-id").Single()).Seqno;
                lock (seqnos)
                {
                    seqnos.Add(seqno);
                }
            }
        }));
        await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(60));
        return seqnos;
    }
}
