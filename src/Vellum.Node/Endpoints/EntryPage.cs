using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Vellum.Core.Entries;
using Vellum.Core.Primitives;

namespace Vellum.Node.Endpoints;

/// <summary>
/// Writes a page of <c>GET /app/transactions</c> (<c>{"state":"Ready","entries":[…],"nextLink":…}</c>) to the response
/// entry by entry, flushing as it goes, and ends it at <see cref="MaxBytes"/> of JSON.
/// </summary>
/// <remarks>
/// A page used to be built whole before the first byte went out: 100 entries of 8,192 control characters are 4.9 MB of
/// JSON, and an HTTP/2 client that never opens its flow-control window made the node hold one such page per stream
/// (issue #12, H4). Now the node holds at most one entry and what Kestrel buffers for a stream before a flush waits
/// for the client, whatever the page size; the byte cap bounds how long a page keeps a stream busy. The response
/// starts with the first entry (or the end of an empty page), so an error before it can still be answered in the
/// ACL shape; after it, an error aborts the response.
/// </remarks>
internal sealed class EntryPage : IDisposable
{
    /// <summary>Largest page, in bytes of JSON; the entry that would pass it starts the next page (via nextLink).</summary>
    public const int MaxBytes = 1024 * 1024;

    /// <summary>
    /// Room kept below <see cref="MaxBytes"/> for what follows the last entry (<c>],"nextLink":"…"}</c>): a nextLink
    /// holds a collection id of up to 256 bytes and a tag, each %-escaped (up to 3 characters a byte), and two
    /// transaction ids, so 4 KiB is ample.
    /// </summary>
    private const int TailBytes = 4096;

    /// <summary>Bytes written between flushes: each flush lets Kestrel send (or, for a slow client, wait).</summary>
    private const int FlushBytes = 16 * 1024;

    private readonly HttpContext _context;
    private readonly ArrayBufferWriter<byte> _entry = new(1024);
    private readonly Utf8JsonWriter _entryWriter;
    private Utf8JsonWriter? _page;
    private long _flushed;

    public EntryPage(HttpContext context)
    {
        _context = context;
        _entryWriter = new Utf8JsonWriter(_entry, AclJsonEncoder.WriterOptions);
    }

    /// <summary>Entries written so far.</summary>
    public int Count { get; private set; }

    /// <summary>
    /// Writes the entry, or returns false when it would take the page past <see cref="MaxBytes"/> (never for the first
    /// entry, so that every page makes progress).
    /// </summary>
    public async ValueTask<bool> TryAddAsync(TxId id, UserEntry entry)
    {
        _entry.ResetWrittenCount();
        _entryWriter.Reset(_entry);
        _entryWriter.WriteStartObject();
        TransactionEndpoints.WriteEntry(_entryWriter, id, entry);
        _entryWriter.WriteEndObject();
        _entryWriter.Flush();

        var page = Start();
        if (Count > 0 && Written(page) + 1 + _entry.WrittenCount + TailBytes > MaxBytes)
        {
            return false;
        }

        page.WriteRawValue(_entry.WrittenSpan, skipInputValidation: true);
        Count++;
        if (Written(page) - _flushed >= FlushBytes)
        {
            await FlushAsync(page).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>Closes the entries, adds <paramref name="nextLink"/> if there is one, and flushes.</summary>
    public async Task EndAsync(string? nextLink)
    {
        var page = Start();
        page.WriteEndArray();
        if (nextLink is not null)
        {
            page.WriteString("nextLink", nextLink);
        }

        page.WriteEndObject();
        await FlushAsync(page).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _entryWriter.Dispose();
        _page?.Dispose();
    }

    private static long Written(Utf8JsonWriter page) => page.BytesCommitted + page.BytesPending;

    private Utf8JsonWriter Start()
    {
        if (_page is not null)
        {
            return _page;
        }

        _context.Response.StatusCode = StatusCodes.Status200OK;
        _context.Response.ContentType = "application/json";
        _page = new Utf8JsonWriter(_context.Response.BodyWriter, AclJsonEncoder.WriterOptions);
        _page.WriteStartObject();
        _page.WriteString("state", "Ready");
        _page.WriteStartArray("entries");
        return _page;
    }

    private async ValueTask FlushAsync(Utf8JsonWriter page)
    {
        page.Flush();
        _flushed = page.BytesCommitted;
        await _context.Response.BodyWriter.FlushAsync(_context.RequestAborted).ConfigureAwait(false);
    }
}
