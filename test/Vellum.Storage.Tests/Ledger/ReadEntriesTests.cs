using System.Text;
using Vellum.Core.Entries;
using Vellum.Storage.Ledger;

namespace Vellum.Storage.Tests.Ledger;

/// <summary><see cref="LedgerStore.ReadEntries"/>: pages of one collection, by tag, with bounded work per page.</summary>
public sealed class ReadEntriesTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_tag_crowded_elsewhere_is_paged_within_the_examine_limit(bool isPrivate)
    {
        using var ledger = new TestLedger(isPrivate);
        await using var store = ledger.Open(ledger.Options(durable: false));
        // 60 postings of tag "t": in "crowd", except every 20th, which is in "wanted".
        var wanted = new List<long>();
        var tagged = new List<long>();
        for (var i = 0; i < 60; i++)
        {
            var collection = i % 20 == 19 ? "wanted" : "crowd";
            var id = await store.AppendAsync(new UserEntry(collection, ["t"], Encoding.UTF8.GetBytes($"entry {i}"), []));
            tagged.Add(id.Seqno);
            if (collection == "wanted")
            {
                wanted.Add(id.Seqno);
            }
        }

        await store.AppendAsync(new UserEntry("wanted", [], "untagged"u8.ToArray(), []));
        await store.WaitForCommitAsync(store.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        var found = new List<long>();
        var from = 1L;
        var pages = 0;
        while (true)
        {
            pages++;
            var page = store.ReadEntries("wanted", "t", from, long.MaxValue, pageSize: 2, examineLimit: 7, out var next);
            Assert.All(page, e => Assert.Equal("wanted", e.Entry.CollectionId));
            found.AddRange(page.Select(e => e.Id.Seqno));
            if (next == 0)
            {
                break;
            }

            // At most 7 postings examined: the next page starts at most 7 postings further on.
            var examined = tagged.Count(s => s >= from && s < next);
            Assert.InRange(examined, 1, 7);
            Assert.Contains(next, tagged);
            from = next;
        }

        Assert.Equal(wanted, found);
        Assert.Equal(9, pages); // 60 postings, 7 a page; the last page sees the end of the postings
        var entry = store.ReadEntries("wanted", "t", wanted[1], wanted[1], 10, 10, out var none).Single();
        Assert.Equal("entry 39", entry.Entry.ContentsText);
        Assert.Equal(0, none);
    }

    [Fact]
    public async Task A_full_page_links_to_the_next_matching_entry()
    {
        using var ledger = new TestLedger();
        await using var store = ledger.Open(ledger.Options(durable: false));
        var ids = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await store.AppendAsync(new UserEntry("c", [i % 2 == 0 ? "even" : "odd"], Encoding.UTF8.GetBytes($"e{i}"), []))).Seqno);
        }

        await store.WaitForCommitAsync(store.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        // The whole collection: a full page, then the rest.
        var first = store.ReadEntries("c", null, 1, long.MaxValue, 3, 30, out var next);
        Assert.Equal(ids[..3], first.Select(e => e.Id.Seqno));
        Assert.Equal(ids[3], next);
        Assert.Equal(ids[3..], store.ReadEntries("c", null, next, long.MaxValue, 3, 30, out next).Select(e => e.Id.Seqno));
        Assert.Equal(0, next);

        // By tag, a full page skips nothing and links to the next entry with the tag; a bound on seqnos ends it.
        Assert.Equal([ids[0], ids[2]], store.ReadEntries("c", "even", 1, long.MaxValue, 2, 30, out next).Select(e => e.Id.Seqno));
        Assert.Equal(ids[4], next);
        Assert.Equal([ids[0], ids[2]], store.ReadEntries("c", "even", 1, ids[3], 2, 30, out next).Select(e => e.Id.Seqno));
        Assert.Equal(0, next);
        Assert.Empty(store.ReadEntries("elsewhere", "even", 1, long.MaxValue, 2, 30, out next));
        Assert.Equal(0, next);
    }
}
