using System.Net;

namespace Vellum.Node.Tests;

/// <summary>
/// Probe hole H3: the last-Administrator guard counts only Administrators who can sign in (certificate users today),
/// so an object-id Administrator — allowed, as in ACL, but unable to authenticate until token auth exists — does
/// not let the last certificate Administrator be removed.
/// </summary>
public sealed class LastAdministratorTests(NodeFixture node) : IClassFixture<NodeFixture>
{
    private const string V = NodeFixture.Version;

    [Fact]
    public async Task The_last_certificate_Administrator_cannot_be_removed_while_only_object_id_Administrators_remain()
    {
        var objectId = "11111111-2222-3333-4444-555555555555";
        using (var response = await node.Admin.PatchAsync(
            $"/app/users/{objectId}?api-version={V}", NodeFixture.Json("""{"assignedRole":"Administrator"}""", "application/merge-patch+json")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var admin = NodeFixture.Fingerprint(node.AdminCertificate);
        await Task.Delay(100);
        var before = node.Ledger.LastSeqno;
        using (var response = await node.Admin.DeleteAsync($"/app/users/{admin}?api-version={V}"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("CannotRemoveLastAdministrator", (await NodeFixture.Body(response)).GetProperty("error").GetProperty("code").GetString());
        }

        using (var response = await node.Admin.PatchAsync(
            $"/app/users/{admin}?api-version={V}", NodeFixture.Json("""{"assignedRole":"Reader"}""", "application/merge-patch+json")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("CannotRemoveLastAdministrator", (await NodeFixture.Body(response)).GetProperty("error").GetProperty("code").GetString());
        }

        Assert.Equal(before, node.Ledger.LastSeqno);

        // The Administrator can still manage users, the object-id Administrator included.
        using (var response = await node.Admin.DeleteAsync($"/app/users/{objectId}?api-version={V}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }
    }
}
