using System.Net;
using System.Text.Json;
using Vellum.Core.Receipts;

namespace Vellum.Node.Tests;

public sealed class DataPlaneTests(NodeFixture node) : IClassFixture<NodeFixture>
{
    private const string V = NodeFixture.Version;

    [Fact]
    public async Task Post_then_read_status_receipt_current_and_list()
    {
        var post = await node.Admin.PostAsync($"/app/transactions?collectionId=orders&api-version={V}", NodeFixture.Json("""{"contents":"first order"}"""));
        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        Assert.Equal("orders", (await NodeFixture.Body(post)).GetProperty("collectionId").GetString());
        var id = Assert.Single(post.Headers.GetValues("x-ms-ccf-transaction-id"));

        var entry = await NodeFixture.Body(await node.Admin.GetAsync($"/app/transactions/{id}?collectionId=orders&api-version={V}"));
        Assert.Equal("Ready", entry.GetProperty("state").GetString());
        Assert.Equal("first order", entry.GetProperty("entry").GetProperty("contents").GetString());
        Assert.Equal(id, entry.GetProperty("entry").GetProperty("transactionId").GetString());

        await WaitCommitted(id);
        var receiptJson = await node.Admin.GetStringAsync($"/app/transactions/{id}/receipt?api-version={V}");
        Assert.True(ReceiptJson.TryParse(receiptJson, out var receipt, out var error), error);
        Assert.Equal(ReceiptState.Ready, receipt.State);
        var verified = ReceiptVerifier.Verify(receipt, node.Ledger.Service.Certificate);
        Assert.True(verified.IsValid, verified.Message);
        Assert.Equal("first order", receipt.ApplicationClaims![0].LedgerEntry!.Contents);

        var current = await NodeFixture.Body(await node.Admin.GetAsync($"/app/transactions/current?collectionId=orders&api-version={V}"));
        Assert.Equal(id, current.GetProperty("transactionId").GetString());

        var collections = await NodeFixture.Body(await node.Admin.GetAsync($"/app/collections?api-version={V}"));
        Assert.Contains(collections.GetProperty("collections").EnumerateArray(), c => c.GetProperty("collectionId").GetString() == "orders");
    }

    [Fact]
    public async Task Listing_pages_with_nextLink_and_accepts_a_duplicated_api_version()
    {
        var ids = new List<string>();
        for (var i = 0; i < 230; i++)
        {
            var post = await node.Admin.PostAsync($"/app/transactions?collectionId=paged&tags=even{(i % 2 == 0 ? "" : "-not")}&api-version={V}", NodeFixture.Json($$"""{"contents":"page entry {{i}}"}"""));
            ids.Add(post.Headers.GetValues("x-ms-ccf-transaction-id").Single());
        }

        var seen = new List<string>();
        var url = $"/app/transactions?collectionId=paged&api-version={V}";
        var pages = 0;
        while (url is not null)
        {
            var page = await NodeFixture.Body(await node.Admin.GetAsync(url));
            pages++;
            seen.AddRange(page.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("transactionId").GetString()!));
            // As the JS client 1.0.0 does: follow nextLink and append api-version again.
            url = page.TryGetProperty("nextLink", out var next) ? next.GetString() + $"&api-version={V}" : null;
        }

        Assert.Equal(3, pages);
        Assert.Equal(ids, seen);

        var tagged = await NodeFixture.Body(await node.Admin.GetAsync($"/app/transactions?collectionId=paged&tag=even&api-version=2024-12-09-preview"));
        Assert.Equal(100, tagged.GetProperty("entries").GetArrayLength());
        Assert.All(tagged.GetProperty("entries").EnumerateArray(), e => Assert.Equal("even", e.GetProperty("tags")[0].GetString()));

        var ranged = await NodeFixture.Body(await node.Admin.GetAsync($"/app/transactions?collectionId=paged&fromTransactionId={ids[10]}&toTransactionId={ids[19]}&api-version={V}"));
        Assert.Equal(ids[10..20], ranged.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("transactionId").GetString()!));
    }

    [Fact]
    public async Task WaitForCommit_returns_a_receipt_that_verifies()
    {
        var post = await node.Admin.PostAsync($"/app/transactions?waitForCommit=true&api-version=2026-07-31-preview", NodeFixture.Json("""{"contents":"wait"}"""));
        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        var body = await NodeFixture.Body(post);
        Assert.Equal("Ready", body.GetProperty("state").GetString());
        Assert.True(ReceiptJson.TryParseReceipt(body.GetProperty("receipt").GetRawText(), out var receipt, out var error), error);
        Assert.True(ReceiptVerifier.Verify(receipt, node.Ledger.Service.Certificate).IsValid);
        var status = await NodeFixture.Body(await node.Admin.GetAsync($"/app/transactions/{body.GetProperty("transactionId").GetString()}/status?api-version={V}"));
        Assert.Equal("Committed", status.GetProperty("state").GetString());
    }

    [Theory]
    [InlineData("1.")]
    [InlineData("-1.2")]
    [InlineData("1.2.3")]
    [InlineData("01.2")]
    [InlineData("abc")]
    [InlineData("99999999999999999999.1")]
    public async Task Bad_transaction_ids_are_400(string id)
    {
        foreach (var suffix in new[] { "", "/receipt", "/status" })
        {
            var response = await node.Admin.GetAsync($"/app/transactions/{Uri.EscapeDataString(id)}{suffix}?api-version={V}");
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("InvalidInput", (await NodeFixture.Body(response)).GetProperty("error").GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task Unknown_ids_are_404_and_ids_of_other_views_do_not_exist()
    {
        var unknown = await node.Admin.GetAsync($"/app/transactions/1.999999/status?api-version={V}");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("TransactionNotFound", (await NodeFixture.Body(unknown)).GetProperty("error").GetProperty("code").GetString());

        var post = await node.Admin.PostAsync($"/app/transactions?api-version={V}", NodeFixture.Json("""{"contents":"x"}"""));
        var id = Vellum.Core.Primitives.TxId.Parse(post.Headers.GetValues("x-ms-ccf-transaction-id").Single());
        var otherView = await node.Admin.GetAsync($"/app/transactions/{id.View + 1}.{id.Seqno}?api-version={V}");
        Assert.Equal(HttpStatusCode.NotFound, otherView.StatusCode);

        // A signature transaction is not an entry.
        var signature = node.Ledger.Store.Index.SignatureAtOrAfter(1);
        var header = node.Ledger.Store.ReadHeader(signature);
        Assert.Equal(HttpStatusCode.NotFound, (await node.Admin.GetAsync($"/app/transactions/{header.Id}?api-version={V}")).StatusCode);
    }

    [Fact]
    public async Task Api_version_is_required_and_checked()
    {
        var missing = await node.Admin.GetAsync("/app/collections");
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Equal("MissingApiVersionParameter", (await NodeFixture.Body(missing)).GetProperty("error").GetProperty("code").GetString());
        var unknown = await node.Admin.GetAsync("/app/collections?api-version=2099-01-01");
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Equal("UnsupportedApiVersionValue", (await NodeFixture.Body(unknown)).GetProperty("error").GetProperty("code").GetString());
        var conflicting = await node.Admin.GetAsync($"/app/collections?api-version={V}&api-version=2026-02-23");
        Assert.Equal(HttpStatusCode.BadRequest, conflicting.StatusCode);
        foreach (var version in new[] { "2022-05-13", "2023-01-18-preview", "2024-01-26-preview", "2024-08-22-preview", "2024-12-09-preview", "2026-02-23", "2026-07-31-preview" })
        {
            Assert.Equal(HttpStatusCode.OK, (await node.Admin.GetAsync($"/app/collections?api-version={version}")).StatusCode);
        }
    }

    [Fact]
    public async Task Identity_service_governance_and_virtual_quotes()
    {
        using var anonymous = node.Client(certificate: null);
        var identity = await NodeFixture.Body(await anonymous.GetAsync("/ledgerIdentity/default"));
        Assert.Equal("default", identity.GetProperty("ledgerId").GetString());
        Assert.Equal(node.Ledger.Service.ExportCertificatePem().Trim(), identity.GetProperty("ledgerTlsCertificate").GetString()!.Trim());
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/ledgerIdentity/other")).StatusCode);

        var constitution = await NodeFixture.Body(await node.Admin.GetAsync($"/app/governance/constitution?api-version={V}"));
        var script = constitution.GetProperty("script").GetString()!;
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(script))), constitution.GetProperty("digest").GetString());

        var members = await NodeFixture.Body(await node.Admin.GetAsync($"/app/governance/members?api-version={V}"));
        Assert.Equal(NodeFixture.Fingerprint(node.AdminCertificate), members.GetProperty("members")[0].GetProperty("id").GetString());

        var quotes = await NodeFixture.Body(await node.Admin.GetAsync($"/app/enclaveQuotes?api-version={V}"));
        var nodeId = quotes.GetProperty("currentNodeId").GetString()!;
        Assert.Equal(node.Ledger.Node.NodeId, nodeId);
        Assert.Equal("virtual", quotes.GetProperty("enclaveQuotes").GetProperty(nodeId).GetProperty("quoteVersion").GetString());
    }

    [Fact]
    public async Task Http11_works_as_well_as_http2()
    {
        using var client = node.Client(node.AdminCertificate, HttpVersion.Version11);
        var response = await client.GetAsync($"/app/collections?api-version={V}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version11, response.Version);
    }

    private async Task WaitCommitted(string id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            var status = await NodeFixture.Body(await node.Admin.GetAsync($"/app/transactions/{id}/status?api-version={V}"));
            if (status.GetProperty("state").GetString() == "Committed")
            {
                return;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"{id} not committed within 10 s");
    }
}
