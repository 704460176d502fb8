using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Vellum.Core.Entries;
using Vellum.Core.Primitives;
using Vellum.Core.Receipts;
using Vellum.Node.Auth;
using Vellum.Node.Ledgers;
using Vellum.Ledger;
using Vellum.Node.Service;
using Vellum.Storage.Indexing;

namespace Vellum.Node.Endpoints;

/// <summary><c>/app/transactions…</c>: write, read, receipt, status, current, list; and the tags of a collection.</summary>
internal static class TransactionEndpoints
{
    public static void Map(IEndpointRouteBuilder app, bool benchmarkEndpoints)
    {
        app.MapPost("/app/transactions", context => Post(context, LedgerRouting.Of(context))).Requires(EndpointAccess.DataPlane, LedgerActions.EntriesWrite)
            .Describe("Write a ledger entry ({\"contents\": string}); returns the transaction id in x-ms-ccf-transaction-id.", 200, "collectionId", "tags", "waitForCommit");
        app.MapGet("/app/transactions", context => List(context, LedgerRouting.Of(context))).Requires(EndpointAccess.DataPlane, LedgerActions.EntriesRead)
            .Describe("List entries of a collection, paged with nextLink.", 200, "collectionId", "fromTransactionId", "toTransactionId", "tag");
        app.MapGet("/app/collections/tags", context => Tags(context, LedgerRouting.Of(context))).Requires(EndpointAccess.DataPlane, LedgerActions.EntriesRead)
            .Describe("The tags used in a collection, in ordinal order, paged with nextLink (2026-07-31-preview).", 200, "collectionId");
        app.MapGet("/app/transactions/current", context => Current(context, LedgerRouting.Of(context))).Requires(EndpointAccess.DataPlane, LedgerActions.EntriesRead)
            .Describe("The latest entry of a collection.", 200, "collectionId");
        app.MapGet("/app/transactions/{transactionId}", context => Get(context, LedgerRouting.Of(context))).Requires(EndpointAccess.DataPlane, LedgerActions.EntriesRead)
            .Describe("Read an entry (state Loading until it is readable).", 200, "collectionId");
        app.MapGet("/app/transactions/{transactionId}/receipt", context => Receipt(context, LedgerRouting.Of(context))).Requires(EndpointAccess.DataPlane, LedgerActions.EntriesRead)
            .Describe("The ACL receipt of a committed transaction.");
        app.MapGet("/app/transactions/{transactionId}/status", context => Status(context, LedgerRouting.Of(context))).Requires(EndpointAccess.DataPlane, LedgerActions.EntriesRead)
            .Describe("Pending or Committed.");
        if (benchmarkEndpoints)
        {
            app.MapPost("/app/benchmark/noop", context => NoopPost(context, LedgerRouting.Of(context))).Requires(EndpointAccess.DataPlane, LedgerActions.EntriesWrite)
                .Describe("Benchmark ceiling: a write's request work without the append (only with --benchmark-endpoints).");
            app.MapGet("/app/benchmark/noop", context => NoopGet(context)).Requires(EndpointAccess.DataPlane, LedgerActions.EntriesRead)
                .Describe("Benchmark ceiling: a read's request work with a fixed body (only with --benchmark-endpoints).");
        }
    }

    /// <summary>A write's request work (role, limits, body, JSON) without the append: the same-stack ceiling.</summary>
    private static async Task NoopPost(HttpContext context, LedgerService ledger)
    {
        if (await RequestBody.ReadJsonAsync(context, ledger.Options.MaxRequestBodyBytes) is not { } body)
        {
            return;
        }

        try
        {
            if (!LedgerEntryJson.TryReadContents(body, out _, out var problem))
            {
                await AclResponses.Error(context, AclErrors.InvalidInput, problem);
                return;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body.Array!);
        }

        context.Response.Headers[AclResponses.TransactionIdHeader] = "0.0";
        await AclResponses.Json(context, writer => writer.WriteString("collectionId", UserEntry.DefaultCollectionId));
    }

    /// <summary>A read's request work (role) answering a fixed entry-sized body: the same-stack ceiling for reads.</summary>
    private static async Task NoopGet(HttpContext context)
    {
        await AclResponses.Json(context, writer =>
        {
            writer.WriteString("state", "Ready");
            writer.WriteStartObject("entry");
            writer.WriteString("contents", NoopContents);
            writer.WriteString("collectionId", UserEntry.DefaultCollectionId);
            writer.WriteString("transactionId", "0.0");
            writer.WriteEndObject();
        });
    }

    private static readonly string NoopContents = new('x', 256);

    private static async Task Post(HttpContext context, LedgerService ledger)
    {
        var limits = ledger.Settings;
        var collectionId = CollectionParameter(context);
        if (Encoding.UTF8.GetByteCount(collectionId) > limits.MaxCollectionIdBytes)
        {
            await AclResponses.Error(context, AclErrors.CollectionIdTooLong,
                $"Collection id of {Encoding.UTF8.GetByteCount(collectionId)} bytes exceeds the limit of {limits.MaxCollectionIdBytes} bytes.").ConfigureAwait(false);
            return;
        }

        if (EntryNames.Problem("collection id", collectionId) is { } nameProblem)
        {
            await AclResponses.Error(context, AclErrors.InvalidInput, nameProblem).ConfigureAwait(false);
            return;
        }

        var (tags, tagError) = ParseTags(context.Request.Query["tags"], limits);
        if (tagError is not null)
        {
            await AclResponses.Error(context, AclErrors.InvalidInput, tagError).ConfigureAwait(false);
            return;
        }

        var waitForCommit = false;
        var wait = context.Request.Query["waitForCommit"];
        if (wait.Count > 0 && !bool.TryParse(wait[0], out waitForCommit))
        {
            await AclResponses.Error(context, AclErrors.InvalidQueryParameterValue, $"waitForCommit is true or false, not '{wait[0]}'.").ConfigureAwait(false);
            return;
        }

        if (await RequestBody.ReadJsonAsync(context, ledger.Options.MaxRequestBodyBytes).ConfigureAwait(false) is not { } body)
        {
            return;
        }

        byte[] contents;
        try
        {
            if (!LedgerEntryJson.TryReadContents(body, out contents, out var problem))
            {
                await AclResponses.Error(context, AclErrors.InvalidInput, problem).ConfigureAwait(false);
                return;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body.Array!);
        }

        if (contents.Length > limits.MaxContentsBytes)
        {
            await AclResponses.Error(context, AclErrors.EntrySizeCapacityExceeded,
                $"Entry contents of {contents.Length} bytes exceed the limit of {limits.MaxContentsBytes} bytes.").ConfigureAwait(false);
            return;
        }

        if (ledger.ReserveNames(collectionId, tags) is { } capacity)
        {
            await AclResponses.Error(context, capacity.Error, capacity.Message).ConfigureAwait(false);
            return;
        }

        var caller = ClientIdentity.Of(context);
        if (await ledger.TryAppendEntryAsync(caller.UserId, caller.UsersVersion, collectionId, contents, tags, context.RequestAborted).ConfigureAwait(false) is not { } id)
        {
            // The caller was removed or demoted after its roles were checked, before the entry was sequenced.
            var gone = ledger.Users.RolesOf(caller.UserId).Count == 0;
            await AclResponses.Error(context, gone ? AclErrors.InvalidAuthenticationInfo : AclErrors.NotAllowed,
                gone ? $"User {caller.UserId} was removed before this entry was written." : $"Not allowed to call {context.Request.Method} {context.Request.Path}").ConfigureAwait(false);
            return;
        }

        context.Response.Headers[AclResponses.TransactionIdHeader] = id.ToString();
        if (!waitForCommit)
        {
            await AclResponses.Json(context, collectionId, static (writer, collection) => writer.WriteString("collectionId", collection))
                .ConfigureAwait(false);
            return;
        }

        await ledger.Sequencer.WaitForCommitAsync(id.Seqno, context.RequestAborted).ConfigureAwait(false);
        // The answer carries the receipt alone, not the application claims (GET .../receipt has those).
        var receipt = ledger.Store.GetReceipt(id.Seqno, includeClaims: false);
        await AclResponses.Json(context, (collectionId, Receipt: receipt.Receipt!, id), static (writer, state) =>
        {
            writer.WriteString("collectionId", state.collectionId);
            writer.WritePropertyName("receipt");
            ReceiptJson.Write(writer, state.Receipt);
            writer.WriteString("state", "Ready");
            writer.WriteString("transactionId", state.id.ToString());
        }).ConfigureAwait(false);
    }

    private static async Task Get(HttpContext context, LedgerService ledger)
    {
        var resolved = await Resolve(context, ledger).ConfigureAwait(false);
        if (resolved is not { } tx)
        {
            return;
        }

        var wanted = context.Request.Query["collectionId"];
        var filtered = wanted.Count > 0 && !string.IsNullOrEmpty(wanted[0]);
        if (filtered && await RefusedName(context, "collection id", wanted[0]!).ConfigureAwait(false))
        {
            return;
        }

        if (tx.Outcome == ReadOutcome.Loading)
        {
            await AclResponses.Json(context, writer => writer.WriteString("state", "Loading")).ConfigureAwait(false);
            return;
        }

        var (id, entry) = ledger.Store.DecodeUserEntry(tx.Id.Seqno, tx.Body!);
        if (filtered && wanted[0] != entry.CollectionId)
        {
            await AclResponses.Error(context, AclErrors.TransactionNotFound, $"Transaction {id} is not in collection '{wanted[0]}'.").ConfigureAwait(false);
            return;
        }

        await AclResponses.Json(context, (id, entry), static (writer, state) =>
        {
            writer.WriteString("state", "Ready");
            writer.WriteStartObject("entry");
            WriteEntry(writer, state.id, state.entry);
            writer.WriteEndObject();
        }).ConfigureAwait(false);
    }

    private static async Task Receipt(HttpContext context, LedgerService ledger)
    {
        var resolved = await Resolve(context, ledger, userEntriesOnly: false).ConfigureAwait(false);
        if (resolved is not { } tx)
        {
            return;
        }

        var receipt = ledger.Reads.Receipt(tx);
        context.Response.ContentType = "application/json";
        var bytes = ReceiptJson.SerializeToUtf8Bytes(receipt);
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Committed, Pending or Invalid by CCF's rules (<see cref="LedgerReads.Status(TxId)"/>); 404 when not known.</summary>
    private static async Task Status(HttpContext context, LedgerService ledger)
    {
        var text = (string?)context.Request.RouteValues["transactionId"];
        if (!TxId.TryParse(text, out var id))
        {
            await AclResponses.Error(context, AclErrors.InvalidInput, $"'{text}' is not a transaction id of the form view.seqno.").ConfigureAwait(false);
            return;
        }

        var status = ledger.Reads.Status(id);
        if (status.State is not { } state)
        {
            await AclResponses.Error(context, AclErrors.TransactionNotFound, status.Reason!).ConfigureAwait(false);
            return;
        }

        await AclResponses.Json(context, (state, id), static (writer, status) =>
        {
            writer.WriteString("state", status.state);
            writer.WriteString("transactionId", status.id.ToString());
        }).ConfigureAwait(false);
    }

    private static async Task Current(HttpContext context, LedgerService ledger)
    {
        var collectionId = CollectionParameter(context);
        if (await RefusedName(context, "collection id", collectionId).ConfigureAwait(false))
        {
            return;
        }

        var seqno = ledger.Store.Index.Last(LedgerIndex.CollectionKind, collectionId);
        if (seqno == 0)
        {
            await AclResponses.Error(context, AclErrors.TransactionNotFound, $"Collection '{collectionId}' has no entry.").ConfigureAwait(false);
            return;
        }

        var (id, entry) = ledger.Store.ReadUserEntry(seqno);
        await AclResponses.Json(context, (id, entry), static (writer, state) => WriteEntry(writer, state.id, state.entry))
            .ConfigureAwait(false);
    }

    private static async Task List(HttpContext context, LedgerService ledger)
    {
        var query = context.Request.Query;
        var collectionId = CollectionParameter(context);
        var tag = query["tag"] is { Count: > 0 } tagValues && !string.IsNullOrEmpty(tagValues[0]) ? tagValues[0] : null;
        if (await RefusedName(context, "collection id", collectionId).ConfigureAwait(false) ||
            (tag is not null && await RefusedName(context, "tag", tag).ConfigureAwait(false)))
        {
            return;
        }

        long from = 1, to = long.MaxValue;
        if (query["fromTransactionId"] is { Count: > 0 } f && !string.IsNullOrEmpty(f[0]))
        {
            if (!TxId.TryParse(f[0], out var fromId))
            {
                await AclResponses.Error(context, AclErrors.InvalidQueryParameterValue, $"fromTransactionId '{f[0]}' is not a transaction id of the form view.seqno.").ConfigureAwait(false);
                return;
            }

            from = fromId.Seqno;
        }

        if (query["toTransactionId"] is { Count: > 0 } t && !string.IsNullOrEmpty(t[0]))
        {
            if (!TxId.TryParse(t[0], out var toId))
            {
                await AclResponses.Error(context, AclErrors.InvalidQueryParameterValue, $"toTransactionId '{t[0]}' is not a transaction id of the form view.seqno.").ConfigureAwait(false);
                return;
            }

            to = toId.Seqno;
        }

        // A tag's postings may lie mostly in other collections: a page examines at most ten pages' worth of them and
        // links on from where it stopped (possibly with no entry yet), so one request's work stays bounded.
        var pageSize = ledger.Settings.PageSize;
        var seqnos = ledger.Store.FindEntries(collectionId, tag, from, to, pageSize, 10 * pageSize, out var next);

        // Read and written one entry at a time, so that a client that does not read holds one entry, not a page; a
        // page also ends at EntryPage.MaxBytes of JSON, and the entry left out starts the next.
        using var page = new EntryPage(context);
        foreach (var seqno in seqnos)
        {
            var (id, entry) = ledger.Store.ReadUserEntry(seqno);
            if (!await page.TryAddAsync(id, entry).ConfigureAwait(false))
            {
                next = seqno;
                break;
            }
        }

        string? nextLink = null;
        if (next > 0)
        {
            var nextId = ledger.Store.ReadHeader(next).Id;
            var link = new StringBuilder("/app/transactions?");
            link.Append("collectionId=").Append(Uri.EscapeDataString(collectionId));
            link.Append("&fromTransactionId=").Append(nextId.ToString());
            if (to != long.MaxValue)
            {
                link.Append("&toTransactionId=").Append(Uri.EscapeDataString(query["toTransactionId"][0]!));
            }

            if (!string.IsNullOrEmpty(tag))
            {
                link.Append("&tag=").Append(Uri.EscapeDataString(tag));
            }

            link.Append("&api-version=").Append(ApiVersions.Of(context));
            nextLink = link.ToString();
        }

        await page.EndAsync(nextLink).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>GET /app/collections/tags?collectionId=</c>: <c>{"tags":[…],"nextLink":…}</c>, the tags entries of the
    /// collection carry (as applied here), a page of <see cref="LedgerOptions.PageSize"/> at a time; the nextLink names
    /// the last tag given (<c>after</c>), and is null on the last page.
    /// </summary>
    private static async Task Tags(HttpContext context, LedgerService ledger)
    {
        var collectionId = CollectionParameter(context);
        var after = context.Request.Query["after"] is { Count: > 0 } afterValues && !string.IsNullOrEmpty(afterValues[0]) ? afterValues[0] : null;
        if (await RefusedName(context, "collection id", collectionId).ConfigureAwait(false) ||
            (after is not null && await RefusedName(context, "tag", after).ConfigureAwait(false)))
        {
            return;
        }

        var pageSize = ledger.Settings.PageSize;
        var tags = ledger.Store.Index.TagsIn(collectionId, after, pageSize + 1);
        var count = Math.Min(tags.Count, pageSize);
        var nextLink = tags.Count > pageSize
            ? $"/app/collections/tags?collectionId={Uri.EscapeDataString(collectionId)}&after={Uri.EscapeDataString(tags[count - 1])}" +
              $"&api-version={ApiVersions.Of(context)}"
            : null;
        await AclResponses.Json(context, (tags, count, nextLink), static (writer, page) =>
        {
            writer.WriteStartArray("tags");
            for (var i = 0; i < page.count; i++)
            {
                writer.WriteStringValue(page.tags[i]);
            }

            writer.WriteEndArray();
            if (page.nextLink is null)
            {
                writer.WriteNull("nextLink");
            }
            else
            {
                writer.WriteString("nextLink", page.nextLink);
            }
        }).ConfigureAwait(false);
    }

    internal static void WriteEntry(Utf8JsonWriter writer, TxId id, UserEntry entry)
    {
        writer.WriteString("contents", entry.Contents.Span);
        writer.WriteString("collectionId", entry.CollectionId);
        writer.WriteString("transactionId", id.ToString());
        if (entry.Tags.Count > 0)
        {
            writer.WriteStartArray("tags");
            foreach (var tag in entry.Tags)
            {
                writer.WriteStringValue(tag);
            }

            writer.WriteEndArray();
        }
    }

    /// <summary>
    /// Parses <c>{transactionId}</c> and looks it up (<see cref="LedgerReads.Transaction"/>): 400 if malformed, 404 if
    /// not found (saying why); otherwise the result, Loading or Ready.
    /// </summary>
    private static async Task<TransactionResult?> Resolve(HttpContext context, LedgerService ledger, bool userEntriesOnly = true)
    {
        var text = (string?)context.Request.RouteValues["transactionId"];
        if (!TxId.TryParse(text, out var id))
        {
            await AclResponses.Error(context, AclErrors.InvalidInput, $"'{text}' is not a transaction id of the form view.seqno.").ConfigureAwait(false);
            return null;
        }

        var found = ledger.Reads.Transaction(id, userEntriesOnly);
        if (found.Outcome == ReadOutcome.NotFound)
        {
            await AclResponses.Error(context, AclErrors.TransactionNotFound, found.Reason!).ConfigureAwait(false);
            return null;
        }

        return found;
    }

    /// <summary>
    /// Answers 400 <c>InvalidQueryParameterValue</c> when a collection id or tag a read filters by breaks the character
    /// rule of <see cref="EntryNames"/> (a name no write accepts), rather than echo it back in a message or link.
    /// </summary>
    private static async Task<bool> RefusedName(HttpContext context, string what, string name)
    {
        if (EntryNames.Problem(what, name) is not { } problem)
        {
            return false;
        }

        await AclResponses.Error(context, AclErrors.InvalidQueryParameterValue, problem).ConfigureAwait(false);
        return true;
    }

    private static string CollectionParameter(HttpContext context)
    {
        var values = context.Request.Query["collectionId"];
        return values.Count > 0 && !string.IsNullOrEmpty(values[0]) ? values[0]! : UserEntry.DefaultCollectionId;
    }

    private static (string[] Tags, string? Error) ParseTags(Microsoft.Extensions.Primitives.StringValues values, LedgerOptions options)
    {
        if (values.Count == 0 || string.IsNullOrEmpty(values[0]))
        {
            return ([], null);
        }

        var tags = new List<string>();
        foreach (var value in values)
        {
            foreach (var raw in value!.Split(','))
            {
                var tag = raw.Trim();
                if (tag.Length == 0)
                {
                    return ([], "A tag in 'tags' is empty.");
                }

                if (Encoding.UTF8.GetByteCount(tag) > options.MaxTagBytes)
                {
                    return ([], $"Tag '{tag}' is longer than {options.MaxTagBytes} bytes.");
                }

                if (EntryNames.Problem("tag", tag) is { } problem)
                {
                    return ([], problem);
                }

                if (!tags.Contains(tag))
                {
                    tags.Add(tag);
                }
            }
        }

        return tags.Count > options.MaxTagsPerEntry
            ? ([], $"{tags.Count} tags on one entry; the limit is {options.MaxTagsPerEntry}.")
            : (tags.ToArray(), null);
    }
}
