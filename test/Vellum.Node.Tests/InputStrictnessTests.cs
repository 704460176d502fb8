using System.Net;
using System.Text.Json;

namespace Vellum.Node.Tests;

/// <summary>
/// Bodies and names the node refuses rather than guess at: duplicate JSON property names (probe hole H10), and control
/// or format characters in collection ids and tags (probe hole H12). Each refusal is a 400 in the ACL shape that
/// writes nothing.
/// </summary>
public sealed class InputStrictnessTests(NodeFixture node) : IClassFixture<NodeFixture>
{
    private const string V = NodeFixture.Version;

    [Theory]
    [InlineData("""{"contents":"first","contents":"second"}""")]
    [InlineData("""{"contents":"first","\u0063ontents":"second"}""")]
    [InlineData("""{"contents":"x","padding":1,"padding":2}""")]
    [InlineData("""{"contents":"x","extra":{"a":1,"b":{"c":[{"d":1,"d":2}]}}}""")]
    public async Task An_entry_body_with_a_property_name_twice_is_refused(string body)
    {
        await AssertRefused(() => node.Admin.PostAsync($"/app/transactions?api-version={V}", NodeFixture.Json(body)), "InvalidInput", "twice");
    }

    [Fact]
    public async Task The_same_name_in_different_objects_is_not_a_duplicate()
    {
        var response = await node.Admin.PostAsync(
            $"/app/transactions?collectionId=same-name&api-version={V}",
            NodeFixture.Json("""{"extra":{"contents":1},"list":[{"a":1},{"a":2}],"contents":"kept"}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var id = response.Headers.GetValues("x-ms-ccf-transaction-id").Single();
        var entry = await ReadWhenReady($"/app/transactions/{id}?api-version={V}");
        Assert.Equal("kept", entry.GetProperty("contents").GetString());
    }

    [Theory]
    [InlineData("/app/users", V, """{"assignedRole":"Administrator","assignedRole":"Reader"}""")]
    [InlineData("/app/users", V, """{"assignedRole":"Reader","assignedRole":"Administrator"}""")]
    [InlineData("/app/users", V, """{"assignedRole":"Reader","\u0061ssignedRole":"Administrator"}""")]
    [InlineData("/app/ledgerUsers", "2024-08-22-preview", """{"assignedRoles":["Reader"],"assignedRoles":["Administrator"]}""")]
    [InlineData("/app/ledgerUsers", "2024-08-22-preview", """{"assignedRoles":["Reader"],"x":{"y":1,"y":2}}""")]
    public async Task A_user_patch_with_a_property_name_twice_is_refused(string path, string version, string body)
    {
        var userId = Guid.NewGuid().ToString("D");
        await AssertRefused(
            () => node.Admin.PatchAsync($"{path}/{userId}?api-version={version}", NodeFixture.Json(body, "application/merge-patch+json")),
            "InvalidInput", "Duplicate property");
        // Nothing was applied: the user does not exist.
        Assert.Equal(HttpStatusCode.NotFound, (await node.Admin.GetAsync($"{path}/{userId}?api-version={version}")).StatusCode);
    }

    /// <summary>The probe's strings: NUL, CR/LF/TAB/ESC, a bidi override, a zero-width space, and each alone.</summary>
    public static TheoryData<string> Forbidden => new()
    {
        "a\u0000b", "a\r\nb\t\u001B[31m", "adm\u202Eni\u200Bn", "x\ty", "x\u001By", "x\u202Ey", "x\u200By", "x\u0085y", "\uFEFFx",
    };

    [Theory]
    [MemberData(nameof(Forbidden))]
    public async Task A_collection_id_with_a_control_or_format_character_is_refused(string collectionId)
    {
        var escaped = Uri.EscapeDataString(collectionId);
        await AssertRefused(
            () => node.Admin.PostAsync($"/app/transactions?collectionId={escaped}&api-version={V}", NodeFixture.Json("""{"contents":"x"}""")),
            "InvalidInput", "Cc and Cf");
        var collections = await NodeFixture.Body(await node.Admin.GetAsync($"/app/collections?api-version={V}"));
        Assert.DoesNotContain(collections.GetProperty("collections").EnumerateArray(), c => c.GetProperty("collectionId").GetString() == collectionId);

        // Reads that filter by collection refuse it too, rather than echo it back.
        await AssertRefused(() => node.Admin.GetAsync($"/app/transactions?collectionId={escaped}&api-version={V}"), "InvalidQueryParameterValue", "Cc and Cf");
        await AssertRefused(() => node.Admin.GetAsync($"/app/transactions/current?collectionId={escaped}&api-version={V}"), "InvalidQueryParameterValue", "Cc and Cf");
        var post = await node.Admin.PostAsync($"/app/transactions?api-version={V}", NodeFixture.Json("""{"contents":"x"}"""));
        var id = post.Headers.GetValues("x-ms-ccf-transaction-id").Single();
        await AssertRefused(() => node.Admin.GetAsync($"/app/transactions/{id}?collectionId={escaped}&api-version={V}"), "InvalidQueryParameterValue", "Cc and Cf");
    }

    [Theory]
    [MemberData(nameof(Forbidden))]
    public async Task A_tag_with_a_control_or_format_character_is_refused(string tag)
    {
        var escaped = Uri.EscapeDataString(tag);
        await AssertRefused(
            () => node.Admin.PostAsync($"/app/transactions?tags=ok,{escaped}&api-version={V}", NodeFixture.Json("""{"contents":"x"}""")),
            "InvalidInput", "Cc and Cf");
        await AssertRefused(() => node.Admin.GetAsync($"/app/transactions?tag={escaped}&api-version={V}"), "InvalidQueryParameterValue", "Cc and Cf");
    }

    [Fact]
    public async Task Ordinary_non_ASCII_names_are_accepted_and_echoed()
    {
        const string collectionId = "café-漢字-😀";
        const string tag = "é漢😀";
        var response = await node.Admin.PostAsync(
            $"/app/transactions?collectionId={Uri.EscapeDataString(collectionId)}&tags={Uri.EscapeDataString(tag)}&api-version={V}",
            NodeFixture.Json("""{"contents":"non-ASCII names"}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(collectionId, (await NodeFixture.Body(response)).GetProperty("collectionId").GetString());
        var id = response.Headers.GetValues("x-ms-ccf-transaction-id").Single();
        await ReadWhenReady($"/app/transactions/{id}?collectionId={Uri.EscapeDataString(collectionId)}&api-version={V}");

        var list = await NodeFixture.Body(await node.Admin.GetAsync(
            $"/app/transactions?collectionId={Uri.EscapeDataString(collectionId)}&tag={Uri.EscapeDataString(tag)}&api-version={V}"));
        var entry = Assert.Single(list.GetProperty("entries").EnumerateArray());
        Assert.Equal(collectionId, entry.GetProperty("collectionId").GetString());
        Assert.Equal([tag], entry.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
    }

    /// <summary>The entry once it is durable (a GET answers <c>Loading</c> until then).</summary>
    private async Task<JsonElement> ReadWhenReady(string path)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var response = await node.Admin.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await NodeFixture.Body(response);
            if (body.GetProperty("state").GetString() == "Ready")
            {
                return body.GetProperty("entry");
            }

            Assert.True(DateTime.UtcNow < deadline, $"{path} still Loading after 10 s");
            await Task.Delay(20);
        }
    }

    /// <summary>Sends the request and checks for a 400 with the ACL error body, and that the ledger did not grow.</summary>
    private async Task AssertRefused(Func<Task<HttpResponseMessage>> send, string code, string messagePart)
    {
        await node.Ledger.Sequencer.WaitForCommitAsync(node.Ledger.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var before = node.Ledger.LastSeqno;
        var response = await send();
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Contains(messagePart, error.GetProperty("message").GetString()!, StringComparison.Ordinal);
        Assert.Equal(before, node.Ledger.LastSeqno);
    }
}
