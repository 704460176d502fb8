using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Vellum.Node.Tests;

/// <summary>Every limit and every denial answers in the ACL error shape and writes nothing.</summary>
public sealed class LimitsAndAuthTests(NodeFixture node) : IClassFixture<NodeFixture>
{
    private const string V = NodeFixture.Version;

    [Fact]
    public async Task Contents_of_exactly_the_limit_are_accepted_and_one_byte_more_is_refused()
    {
        var ok = await node.Admin.PostAsync($"/app/transactions?api-version={V}", NodeFixture.Json($$"""{"contents":"{{new string('a', 8192)}}"}"""));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        // Multi-byte characters count in UTF-8 bytes after JSON decoding: 2,731 × 3 bytes = 8,193.
        await AssertRefused(
            () => node.Admin.PostAsync($"/app/transactions?api-version={V}", NodeFixture.Json($$"""{"contents":"{{new string('€', 2731)}}"}""")),
            HttpStatusCode.BadRequest, "EntrySizeCapacityExceeded", "8193");
        await AssertRefused(
            () => node.Admin.PostAsync($"/app/transactions?api-version={V}", NodeFixture.Json($$"""{"contents":"{{new string('a', 8193)}}"}""")),
            HttpStatusCode.BadRequest, "EntrySizeCapacityExceeded", "8192");
    }

    [Fact]
    public async Task Collection_id_length_and_collection_capacity_are_enforced()
    {
        var longest = new string('c', 256);
        Assert.Equal(HttpStatusCode.OK, (await node.Admin.PostAsync($"/app/transactions?collectionId={longest}&api-version={V}", NodeFixture.Json("""{"contents":"x"}"""))).StatusCode);
        await AssertRefused(
            () => node.Admin.PostAsync($"/app/transactions?collectionId={longest}d&api-version={V}", NodeFixture.Json("""{"contents":"x"}""")),
            HttpStatusCode.BadRequest, "CollectionIdTooLong", "257");

        // The fixture allows 20 collections besides the default one.
        var created = node.Ledger.Collections().Count(c => c != "subledger:0");
        for (var i = created; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await node.Admin.PostAsync($"/app/transactions?collectionId=cap-{i}&api-version={V}", NodeFixture.Json("""{"contents":"x"}"""))).StatusCode);
        }

        await AssertRefused(
            () => node.Admin.PostAsync($"/app/transactions?collectionId=one-too-many&api-version={V}", NodeFixture.Json("""{"contents":"x"}""")),
            HttpStatusCode.BadRequest, "CollectionCapacityExceeded", "limit");
        // Existing collections and the default one still take writes.
        Assert.Equal(HttpStatusCode.OK, (await node.Admin.PostAsync($"/app/transactions?collectionId={longest}&api-version={V}", NodeFixture.Json("""{"contents":"x"}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await node.Admin.PostAsync($"/app/transactions?api-version={V}", NodeFixture.Json("""{"contents":"x"}"""))).StatusCode);
    }

    [Fact]
    public async Task Tag_limits_are_enforced()
    {
        await AssertRefused(
            () => node.Admin.PostAsync($"/app/transactions?tags={string.Join(',', Enumerable.Range(0, 11).Select(i => $"t{i}"))}&api-version={V}", NodeFixture.Json("""{"contents":"x"}""")),
            HttpStatusCode.BadRequest, "InvalidInput", "limit is 10");
        await AssertRefused(
            () => node.Admin.PostAsync($"/app/transactions?tags={new string('t', 65)}&api-version={V}", NodeFixture.Json("""{"contents":"x"}""")),
            HttpStatusCode.BadRequest, "InvalidInput", "longer than 64");
        await AssertRefused(
            () => node.Admin.PostAsync($"/app/transactions?tags=a,,b&api-version={V}", NodeFixture.Json("""{"contents":"x"}""")),
            HttpStatusCode.BadRequest, "InvalidInput", "empty");
        // 30 distinct tags per ledger in this fixture.
        for (var i = 0; i < 3; i++)
        {
            var tags = string.Join(',', Enumerable.Range(i * 10, 10).Select(t => $"cap{t}"));
            Assert.Equal(HttpStatusCode.OK, (await node.Admin.PostAsync($"/app/transactions?tags={tags}&api-version={V}", NodeFixture.Json("""{"contents":"x"}"""))).StatusCode);
        }

        await AssertRefused(
            () => node.Admin.PostAsync($"/app/transactions?tags=brand-new&api-version={V}", NodeFixture.Json("""{"contents":"x"}""")),
            HttpStatusCode.BadRequest, "TagCapacityExceeded", "limit");
        Assert.Equal(HttpStatusCode.OK, (await node.Admin.PostAsync($"/app/transactions?tags=cap0&api-version={V}", NodeFixture.Json("""{"contents":"x"}"""))).StatusCode);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("""{"contents": 5}""")]
    [InlineData("""{"contents": "a"} {"contents": "b"}""")]
    [InlineData("""{"contents": "a\ud800"}""")]
    public async Task Malformed_bodies_are_400(string body)
    {
        await AssertRefused(() => node.Admin.PostAsync($"/app/transactions?api-version={V}", NodeFixture.Json(body)), HttpStatusCode.BadRequest, "InvalidInput", "");
    }

    [Fact]
    public async Task Wrong_content_type_and_oversized_bodies_are_refused()
    {
        await AssertRefused(
            () => node.Admin.PostAsync($"/app/transactions?api-version={V}", new StringContent("""{"contents":"x"}""", Encoding.UTF8, new MediaTypeHeaderValue("text/plain"))),
            HttpStatusCode.BadRequest, "UnsupportedContentType", "application/json");
        var huge = $$"""{"contents":"x","padding":"{{new string('p', 1024 * 1024)}}"}""";
        await AssertRefused(() => node.Admin.PostAsync($"/app/transactions?api-version={V}", NodeFixture.Json(huge)), HttpStatusCode.RequestEntityTooLarge, "RequestBodyTooLarge", "");
        await AssertRefused(() => node.Admin.PostAsync($"/app/transactions?waitForCommit=maybe&api-version={V}", NodeFixture.Json("""{"contents":"x"}""")), HttpStatusCode.BadRequest, "InvalidQueryParameterValue", "");
    }

    [Fact]
    public async Task Roles_decide_what_a_user_may_do()
    {
        var readerCert = NodeFixture.NewUserCertificate("reader");
        var contributorCert = NodeFixture.NewUserCertificate("contributor");
        await Patch($"/app/users/{NodeFixture.Fingerprint(readerCert)}", """{"assignedRole":"Reader"}""");
        // Fingerprints are accepted with colons and in lower case.
        var colons = string.Join(':', Enumerable.Range(0, 32).Select(i => NodeFixture.Fingerprint(contributorCert).Substring(i * 2, 2))).ToLowerInvariant();
        await Patch($"/app/users/{Uri.EscapeDataString(colons)}", """{"assignedRole":"Contributor"}""");
        var reader = node.Client(readerCert);
        var contributor = node.Client(contributorCert);

        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync($"/app/collections?api-version={V}")).StatusCode);
        await AssertRefused(() => reader.PostAsync($"/app/transactions?api-version={V}", NodeFixture.Json("""{"contents":"x"}""")), HttpStatusCode.Forbidden, "NotAllowed", "POST /app/transactions");
        Assert.Equal(HttpStatusCode.OK, (await contributor.PostAsync($"/app/transactions?api-version={V}", NodeFixture.Json("""{"contents":"by contributor"}"""))).StatusCode);
        await AssertRefused(
            () => contributor.PatchAsync($"/app/users/{NodeFixture.Fingerprint(readerCert)}?api-version={V}", NodeFixture.Json("""{"assignedRole":"Administrator"}""", "application/merge-patch+json")),
            HttpStatusCode.Forbidden, "NotAllowed", "PATCH");

        var stranger = node.Client(NodeFixture.NewUserCertificate("stranger"));
        await AssertRefused(() => stranger.GetAsync($"/app/collections?api-version={V}"), HttpStatusCode.Unauthorized, "InvalidAuthenticationInfo", "fingerprint");
        var anonymous = node.Client(null);
        await AssertRefused(() => anonymous.GetAsync($"/app/collections?api-version={V}"), HttpStatusCode.Unauthorized, "InvalidAuthenticationInfo", "client certificate");

        // Delete, then the user is gone.
        Assert.Equal(HttpStatusCode.NoContent, (await node.Admin.DeleteAsync($"/app/users/{NodeFixture.Fingerprint(readerCert)}?api-version={V}")).StatusCode);
        await AssertRefused(() => reader.GetAsync($"/app/collections?api-version={V}"), HttpStatusCode.Unauthorized, "InvalidAuthenticationInfo", "");
        await AssertRefused(() => node.Admin.GetAsync($"/app/users/{NodeFixture.Fingerprint(readerCert)}?api-version={V}"), HttpStatusCode.NotFound, "UserNotFound", "");
    }

    [Fact]
    public async Task Users_merge_patch_multiple_roles_and_the_last_administrator()
    {
        var objectId = Guid.NewGuid().ToString("D").ToUpperInvariant();
        await Patch($"/app/ledgerUsers/{objectId}", """{"assignedRoles":["Reader","Contributor"]}""", "2024-08-22-preview");
        var user = await NodeFixture.Body(await node.Admin.GetAsync($"/app/ledgerUsers/{objectId}?api-version=2024-08-22-preview"));
        Assert.Equal(["Reader", "Contributor"], user.GetProperty("assignedRoles").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(objectId.ToLowerInvariant(), user.GetProperty("userId").GetString());
        var single = await NodeFixture.Body(await node.Admin.GetAsync($"/app/users/{objectId}?api-version={V}"));
        Assert.Equal("Contributor", single.GetProperty("assignedRole").GetString());
        // A merge patch without the role keeps it.
        await Patch($"/app/users/{objectId}", "{}");
        Assert.Equal("Contributor", (await NodeFixture.Body(await node.Admin.GetAsync($"/app/users/{objectId}?api-version={V}"))).GetProperty("assignedRole").GetString());

        await AssertRefused(
            () => node.Admin.PatchAsync($"/app/users/{objectId}?api-version={V}", NodeFixture.Json("""{"assignedRole":"Owner"}""", "application/merge-patch+json")),
            HttpStatusCode.BadRequest, "InvalidInput", "not a role");
        await AssertRefused(
            () => node.Admin.PatchAsync($"/app/users/not-a-user-id?api-version={V}", NodeFixture.Json("""{"assignedRole":"Reader"}""", "application/merge-patch+json")),
            HttpStatusCode.BadRequest, "InvalidUserId", "");
        await AssertRefused(
            () => node.Admin.DeleteAsync($"/app/users/{NodeFixture.Fingerprint(node.AdminCertificate)}?api-version={V}"),
            HttpStatusCode.BadRequest, "CannotRemoveLastAdministrator", "");
        var list = await NodeFixture.Body(await node.Admin.GetAsync($"/app/users?api-version=2024-01-26-preview"));
        Assert.Contains(list.GetProperty("ledgerUsers").EnumerateArray(), u => u.GetProperty("userId").GetString() == objectId.ToLowerInvariant());
    }

    [Fact]
    public async Task Read_side_errors_answer_in_the_ACL_shape()
    {
        await AssertRefused(() => node.Admin.GetAsync($"/app/transactions?fromTransactionId=1.&api-version={V}"), HttpStatusCode.BadRequest, "InvalidQueryParameterValue", "fromTransactionId");
        await AssertRefused(() => node.Admin.GetAsync($"/app/transactions?toTransactionId=x&api-version={V}"), HttpStatusCode.BadRequest, "InvalidQueryParameterValue", "toTransactionId");
        await AssertRefused(() => node.Admin.GetAsync($"/app/transactions/current?collectionId=never-written&api-version={V}"), HttpStatusCode.NotFound, "TransactionNotFound", "never-written");

        var post = await node.Admin.PostAsync($"/app/transactions?api-version={V}", NodeFixture.Json("""{"contents":"x"}"""));
        var id = post.Headers.GetValues("x-ms-ccf-transaction-id").Single();
        await AssertRefused(() => node.Admin.GetAsync($"/app/transactions/{id}?collectionId=elsewhere&api-version={V}"), HttpStatusCode.NotFound, "TransactionNotFound", "elsewhere");
    }

    [Fact]
    public async Task A_new_user_needs_a_role()
    {
        var objectId = Guid.NewGuid().ToString("D");
        await AssertRefused(
            () => node.Admin.PatchAsync($"/app/users/{objectId}?api-version={V}", NodeFixture.Json("{}", "application/merge-patch+json")),
            HttpStatusCode.BadRequest, "InvalidInput", "assignedRole");
        await AssertRefused(
            () => node.Admin.PatchAsync($"/app/ledgerUsers/{objectId}?api-version=2024-08-22-preview", NodeFixture.Json("""{"assignedRoles":[]}""", "application/merge-patch+json")),
            HttpStatusCode.BadRequest, "InvalidInput", "non-empty");
        await AssertRefused(
            () => node.Admin.PatchAsync($"/app/users/{objectId}?api-version={V}", NodeFixture.Json("""{"assignedRole":"Reader"}""", "text/plain")),
            HttpStatusCode.BadRequest, "UnsupportedContentType", "merge-patch");
    }

    private async Task Patch(string path, string body, string version = V)
    {
        var response = await node.Admin.PatchAsync($"{path}?api-version={version}", NodeFixture.Json(body, "application/merge-patch+json"));
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Sends the request and checks the status, the ACL error body, and that the ledger did not grow.</summary>
    private async Task AssertRefused(Func<Task<HttpResponseMessage>> send, HttpStatusCode status, string code, string messagePart)
    {
        await node.Ledger.Sequencer.WaitForCommitAsync(node.Ledger.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var before = node.Ledger.LastSeqno;
        var response = await send();
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"{response.StatusCode}: {text}");
        var error = System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Contains(messagePart, error.GetProperty("message").GetString()!, StringComparison.Ordinal);
        Assert.Equal(before, node.Ledger.LastSeqno);
    }
}
