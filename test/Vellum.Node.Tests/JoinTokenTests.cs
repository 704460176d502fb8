using System.Net;
using Vellum.Node.Service;

namespace Vellum.Node.Tests;

public sealed class JoinTokenTests(NodeFixture node) : IClassFixture<NodeFixture>
{
    private static readonly byte[] Key = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];

    [Fact]
    public void A_token_is_good_until_it_expires_and_only_under_its_key()
    {
        var now = DateTimeOffset.UtcNow;
        var token = JoinToken.Issue(Key, now.AddMinutes(5));
        Assert.True(JoinToken.IsValid(Key, token, now));
        Assert.False(JoinToken.IsValid(Key, token, now.AddMinutes(6)));
        Assert.False(JoinToken.IsValid([.. Key.Select(b => (byte)(b ^ 1))], token, now));
        Assert.NotEqual(token, JoinToken.Issue(Key, now.AddMinutes(5)));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not base64url!")]
    [InlineData("AAAA")]
    public void Malformed_tokens_are_refused(string? token) => Assert.False(JoinToken.IsValid(Key, token, DateTimeOffset.UtcNow));

    [Fact]
    public void Every_byte_of_a_token_matters()
    {
        var now = DateTimeOffset.UtcNow;
        var token = JoinToken.Issue(Key, now.AddMinutes(5));
        for (var i = 0; i < token.Length; i++)
        {
            var altered = token[..i] + (token[i] == 'A' ? 'B' : 'A') + token[(i + 1)..];
            Assert.False(JoinToken.IsValid(Key, altered, now), $"altering character {i} went unnoticed");
        }
    }

    [Fact]
    public async Task A_single_node_has_no_cluster_to_join_and_join_tokens_need_an_Administrator()
    {
        var reader = NodeFixture.NewUserCertificate("reader");
        var added = await node.Admin.PatchAsync(
            $"/app/users/{NodeFixture.Fingerprint(reader)}?api-version=2022-05-13", NodeFixture.Json("""{"assignedRole":"Reader"}""", "application/merge-patch+json"));
        Assert.True(added.IsSuccessStatusCode, await added.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, (await node.Client(null).PostAsync("/node/join-tokens", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await node.Client(reader).PostAsync("/node/join-tokens", null)).StatusCode);

        var single = await node.Admin.PostAsync("/node/join-tokens", null);
        Assert.Equal(HttpStatusCode.BadRequest, single.StatusCode);
        Assert.Equal("NotACluster", (await NodeFixture.Body(single)).GetProperty("error").GetProperty("code").GetString());
        var join = await node.Client(null).PostAsync("/node/join", NodeFixture.Json("""{"token":"x"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, join.StatusCode);
    }
}
