using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Vellum.Node.Service;

namespace Vellum.Node.Tests;

/// <summary>A node started as the only member of a new cluster (<c>--node-listen</c>, no peers).</summary>
public sealed class ClusterNodeFixture : NodeFixture
{
    protected override NodeOptions CreateOptions(string data) => MemberOptions(data);

    /// <summary>The options of the only member of a new cluster in <paramref name="data"/>, on free loopback ports.</summary>
    public static NodeOptions MemberOptions(string data)
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var options = Options(data);
        return new NodeOptions
        {
            DataDirectory = options.DataDirectory, Listen = options.Listen, SignatureDelay = options.SignatureDelay,
            NodeListen = new IPEndPoint(IPAddress.Loopback, port),
        };
    }
}

/// <summary>The membership endpoints' refusals, each with its ACL-shaped error, on a one-member cluster.</summary>
public sealed class ClusterEndpointsTests(ClusterNodeFixture node) : IClassFixture<ClusterNodeFixture>
{
    [Theory]
    [InlineData("0")]
    [InlineData("10081")]
    [InlineData("-5")]
    [InlineData("soon")]
    public async Task A_join_token_lifetime_out_of_range_is_400(string minutes) =>
        await AssertError(await node.Admin.PostAsync($"/node/join-tokens?lifetimeMinutes={minutes}", null), HttpStatusCode.BadRequest, "InvalidQueryParameterValue");

    [Fact]
    public async Task Join_and_membership_calls_need_a_valid_token_and_a_well_formed_body()
    {
        var anonymous = node.Client(null);
        var token = (await NodeFixture.Body(await node.Admin.PostAsync("/node/join-tokens?lifetimeMinutes=5", null))).GetProperty("token").GetString()!;
        var forged = token[..^2] + (token[^2] == 'A' ? "B" : "A") + token[^1];

        await AssertError(await anonymous.PostAsync("/node/join", NodeFixture.Json($$"""{"token":"{{forged}}"}""")), HttpStatusCode.Unauthorized, "InvalidJoinToken");
        await AssertError(await anonymous.PostAsync("/node/join", NodeFixture.Json("""{}""")), HttpStatusCode.Unauthorized, "InvalidJoinToken");
        await AssertError(await anonymous.PostAsync("/node/join", NodeFixture.Json("not json")), HttpStatusCode.BadRequest, "InvalidInput");
        await AssertError(await anonymous.PostAsync("/node/join", NodeFixture.Json($$"""{"token":"{{token}}"}""", "text/plain")), HttpStatusCode.BadRequest, "UnsupportedContentType");

        await AssertError(await anonymous.PostAsync("/node/members", NodeFixture.Json($$"""{"token":"{{forged}}","nodeAddress":"127.0.0.1:1","url":"https://127.0.0.1:2"}""")),
            HttpStatusCode.Unauthorized, "InvalidJoinToken");
        await AssertError(await anonymous.PostAsync("/node/members", NodeFixture.Json($$"""{"token":"{{token}}","nodeAddress":"nowhere","url":"https://127.0.0.1:2"}""")),
            HttpStatusCode.BadRequest, "InvalidInput");
        await AssertError(await anonymous.PostAsync("/node/members", NodeFixture.Json($$"""{"token":"{{token}}","nodeAddress":"127.0.0.1:1","url":"http://127.0.0.1:2"}""")),
            HttpStatusCode.BadRequest, "InvalidInput");

        // Nothing above changed the membership.
        var network = await NodeFixture.Body(await anonymous.GetAsync("/node/network"));
        Assert.Equal(1, network.GetProperty("nodes").GetArrayLength());

        // With a valid token the material comes back: the deployment's identity, and every ledger's.
        var material = await NodeFixture.Body(await anonymous.PostAsync("/node/join", NodeFixture.Json($$"""{"token":"{{token}}"}""")));
        Assert.Equal(File.ReadAllText(node.Ledger.Data.DeploymentServiceCertificate), material.GetProperty("deployment").GetProperty("serviceCertificate").GetString());
        Assert.Equal(File.ReadAllText(node.Ledger.Data.Default.ServiceCertificate),
            material.GetProperty("ledgers").EnumerateArray().Single(l => l.GetProperty("name").GetString() == "default").GetProperty("serviceCertificate").GetString());
    }

    [Fact]
    public async Task Retiring_needs_an_Administrator_and_a_node_address()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await node.Client(null).DeleteAsync("/node/members/127.0.0.1:1")).StatusCode);
        await AssertError(await node.Admin.DeleteAsync("/node/members/not-an-address"), HttpStatusCode.BadRequest, "InvalidInput");
        await AssertError(await node.Admin.DeleteAsync("/node/members/127.0.0.1:0"), HttpStatusCode.BadRequest, "InvalidInput");

        // The primary does not retire itself (its own key would be refused by the members it must reach to commit);
        // an address that is no member, and whose node id nobody reported, retires nothing.
        var self = (await NodeFixture.Body(await node.Client(null).GetAsync("/node/network"))).GetProperty("nodes")[0];
        var governance = node.Ledger.Store.LastGovernanceSeqno;
        await AssertError(await node.Admin.DeleteAsync($"/node/members/{self.GetProperty("nodeAddress").GetString()}"), HttpStatusCode.Conflict, "MembershipChangeFailed");
        await AssertError(await node.Admin.DeleteAsync("/node/members/127.0.0.1:1"), HttpStatusCode.Conflict, "MembershipChangeFailed");
        Assert.Equal(governance, node.Ledger.Store.LastGovernanceSeqno);
        Assert.Equal(0, node.Ledger.RetiredNodes.Count);
        Assert.Equal(64, self.GetProperty("nodeId").GetString()!.Length);
    }

    [Fact]
    public async Task Ledger_frames_go_only_to_members_and_carry_the_durable_transactions_in_file_format()
    {
        await AssertError(await node.Client(null).GetAsync("/node/ledger/frames?from=1"), HttpStatusCode.Unauthorized, "InvalidAuthenticationInfo");

        // An Administrator is a user, not a member: a Public ledger's frames are plaintext.
        await AssertError(await node.Admin.GetAsync("/node/ledger/frames?from=1"), HttpStatusCode.Forbidden, "Forbidden");

        var member = node.Client(node.Ledger.Node.CreateTlsCertificate());
        foreach (var bad in new[] { "0", "-1", "x", "" })
        {
            await AssertError(await member.GetAsync($"/node/ledger/frames?from={bad}"), HttpStatusCode.BadRequest, "InvalidQueryParameterValue");
        }

        var store = node.Ledger.Store;
        await RaftWait(() => store.DurableSeqno > 0);
        using var response = await member.GetAsync("/node/ledger/frames?from=1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var frames = await response.Content.ReadAsByteArrayAsync();
        var last = long.Parse(response.Headers.GetValues(LedgerService.LastSeqnoHeader).Single(), System.Globalization.CultureInfo.InvariantCulture);
        var end = long.Parse(response.Headers.GetValues(LedgerService.DurableSeqnoHeader).Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(last >= 1 && end >= last);

        // Frame by frame, exactly the bodies the store holds, in seqno order.
        var offset = 0;
        for (var seqno = 1L; seqno <= last; seqno++)
        {
            Assert.Equal(Vellum.Core.Format.FrameStatus.Ok, Vellum.Core.Format.Frame.TryRead(frames.AsSpan(offset), out var length));
            Assert.Equal(store.ReadBody(seqno), frames.AsSpan(offset + Vellum.Core.Format.Frame.HeaderSize, length).ToArray());
            offset += Vellum.Core.Format.Frame.HeaderSize + length;
        }

        Assert.Equal(frames.Length, offset);

        // Past the end: nothing, and the end says so.
        using var past = await member.GetAsync($"/node/ledger/frames?from={end + 1}");
        Assert.Equal(HttpStatusCode.OK, past.StatusCode);
        Assert.Empty(await past.Content.ReadAsByteArrayAsync());
    }

    private static async Task RaftWait(Func<bool> condition)
    {
        for (var i = 0; i < 100 && !condition(); i++)
        {
            await Task.Delay(100);
        }

        Assert.True(condition());
    }

    private static async Task AssertError(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        var body = await NodeFixture.Body(response);
        Assert.Equal(code, body.GetProperty("error").GetProperty("code").GetString());
    }
}
