using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Vellum.Core.Entries;
using Vellum.Node.Ledgers;

namespace Vellum.Node.Tests;

/// <summary>
/// User-defined roles (<c>/app/roles</c>): a role allows exactly the actions it lists, is assigned like a built-in one,
/// can be narrowed or deleted (its holders lose what it gave at once), is a ledger transaction (kept across a restart,
/// accepted by <c>vellum verify</c>); refused requests change nothing.
/// </summary>
public sealed class UserDefinedRoleTests : IAsyncLifetime
{
    private const string Preview = "api-version=2024-08-22-preview";
    private const string Latest = "api-version=2026-07-31-preview";
    private const string EntriesRead = "Microsoft.ConfidentialLedger/ledger/entries/read";
    private const string EntriesWrite = "Microsoft.ConfidentialLedger/ledger/entries/write";
    private readonly NodeFixture _node = new();

    public ValueTask InitializeAsync() => _node.InitializeAsync();

    public ValueTask DisposeAsync() => _node.DisposeAsync();

    private static StringContent Roles(string json) => NodeFixture.Json(json);

    private async Task<X509Certificate2> UserWithRolesAsync(string name, params string[] roles)
    {
        var certificate = NodeFixture.NewUserCertificate(name);
        var body = JsonSerializer.Serialize(new { assignedRoles = roles });
        using var response = await _node.Admin.PatchAsync($"/app/ledgerUsers/{NodeFixture.Fingerprint(certificate)}?{Preview}", NodeFixture.Json(body, "application/merge-patch+json"));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return certificate;
    }

    private static async Task<HttpStatusCode> WriteAsync(HttpClient client)
    {
        using var response = await client.PostAsync($"/app/transactions?{Preview}", NodeFixture.Json("""{"contents":"by a defined role"}"""));
        return response.StatusCode;
    }

    private static async Task<HttpStatusCode> ReadAsync(HttpClient client)
    {
        using var response = await client.GetAsync($"/app/transactions/current?{Preview}");
        return response.StatusCode == HttpStatusCode.NotFound ? HttpStatusCode.OK : response.StatusCode; // allowed, nothing there yet
    }

    [Fact]
    public async Task A_defined_role_allows_exactly_its_actions_and_narrowing_or_deleting_it_takes_them_away()
    {
        using (var put = await _node.Admin.PutAsync($"/app/roles?{Preview}", Roles($$"""
            {"roles":[{"roleName":"auditor","roleActions":["{{EntriesRead}}"]},
                      {"role_name":"Scribe","role_actions":["{{EntriesWrite}}","{{EntriesRead}}","/banking/accounts/post"]}]}
            """)))
        {
            Assert.True(put.StatusCode == HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
            Assert.Equal("Role added successfully.", JsonDocument.Parse(await put.Content.ReadAsStringAsync()).RootElement.GetString());
        }

        using (var get = await _node.Admin.GetAsync($"/app/roles?roleName=SCRIBE&{Preview}"))
        {
            var role = Assert.Single((await NodeFixture.Body(get)).GetProperty("role").EnumerateArray());
            Assert.Equal("Scribe", role.GetProperty("roleName").GetString());
            Assert.Equal([EntriesWrite, EntriesRead, "/banking/accounts/post"], role.GetProperty("roleActions").EnumerateArray().Select(a => a.GetString()));
        }

        using var auditorCertificate = await UserWithRolesAsync("auditor", "auditor");
        using var scribeCertificate = await UserWithRolesAsync("scribe", "scribe"); // any case; kept as defined
        using (var user = await _node.Admin.GetAsync($"/app/ledgerUsers/{NodeFixture.Fingerprint(scribeCertificate)}?{Preview}"))
        {
            Assert.Equal(["Scribe"], (await NodeFixture.Body(user)).GetProperty("assignedRoles").EnumerateArray().Select(r => r.GetString()));
        }

        var auditor = _node.Client(auditorCertificate);
        var scribe = _node.Client(scribeCertificate);
        Assert.Equal(HttpStatusCode.OK, await ReadAsync(auditor));
        Assert.Equal(HttpStatusCode.Forbidden, await WriteAsync(auditor));
        Assert.Equal(HttpStatusCode.OK, await WriteAsync(scribe));
        foreach (var path in new[] { $"/app/ledgerUsers?{Preview}", $"/app/roles?{Preview}" })
        {
            using var refused = await auditor.GetAsync(path);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        // Narrowed (2026-07-31-preview answers the roles): the scribe writes no more, at once.
        using (var patch = await _node.Admin.PatchAsync($"/app/roles?{Latest}", Roles($$"""{"roles":[{"roleName":"scribe","roleActions":["{{EntriesRead}}"]}]}""")))
        {
            var body = await NodeFixture.Body(patch);
            Assert.True(patch.StatusCode == HttpStatusCode.OK, body.ToString());
            Assert.Equal([EntriesRead], Assert.Single(body.GetProperty("roles").EnumerateArray()).GetProperty("roleActions").EnumerateArray().Select(a => a.GetString()));
        }

        Assert.Equal(HttpStatusCode.Forbidden, await WriteAsync(scribe));
        Assert.Equal(HttpStatusCode.OK, await ReadAsync(scribe));

        // Deleted (204 in 2026-07-31-preview): the auditor keeps the name, which allows nothing.
        using (var deleted = await _node.Admin.DeleteAsync($"/app/roles?roleName=auditor&{Latest}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        Assert.Equal(HttpStatusCode.Forbidden, await ReadAsync(auditor));
        using (var all = await _node.Admin.GetAsync($"/app/roles?{Preview}"))
        {
            Assert.Equal(["Scribe"], (await NodeFixture.Body(all)).GetProperty("roles").EnumerateArray().Select(r => r.GetProperty("roleName").GetString()));
        }

        // Defined again: it allows again.
        using (var put = await _node.Admin.PutAsync($"/app/roles?{Preview}", Roles($$"""{"roles":[{"roleName":"auditor","roleActions":["{{EntriesRead}}"]}]}""")))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, await ReadAsync(auditor));
    }

    [Fact]
    public async Task Refused_role_requests_change_nothing()
    {
        async Task Refused(HttpClient client, HttpMethod method, string path, string? body, HttpStatusCode status, string code)
        {
            using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : Roles(body) };
            using var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"{method} {path} {body}: {(int)response.StatusCode} {text}");
            Assert.Equal(code, JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("code").GetString());
        }

        var path = $"/app/roles?{Preview}";
        await Refused(_node.Admin, HttpMethod.Put, path, $$"""{"roles":[{"roleName":"administrator","roleActions":["{{EntriesRead}}"]}]}""", HttpStatusCode.BadRequest, "InvalidInput");
        await Refused(_node.Admin, HttpMethod.Put, path, $$"""{"roles":[{"roleName":"two words","roleActions":["{{EntriesRead}}"]}]}""", HttpStatusCode.BadRequest, "InvalidInput");
        await Refused(_node.Admin, HttpMethod.Put, path, """{"roles":[{"roleName":"empty","roleActions":[]}]}""", HttpStatusCode.BadRequest, "InvalidInput");
        await Refused(_node.Admin, HttpMethod.Put, path, """{"roles":[{"roleName":"numbers","roleActions":[5]}]}""", HttpStatusCode.BadRequest, "InvalidInput");
        await Refused(_node.Admin, HttpMethod.Put, path, $$"""{"roles":[{"roleName":"{{new string('n', 65)}}","roleActions":["x"]}]}""", HttpStatusCode.BadRequest, "InvalidInput");
        await Refused(_node.Admin, HttpMethod.Put, path, $$"""{"roles":[{"roleName":"long","roleActions":["{{new string('a', 257)}}"]}]}""", HttpStatusCode.BadRequest, "InvalidInput");
        await Refused(_node.Admin, HttpMethod.Put, path, $$"""{"roles":[{"roleName":"many","roleActions":[{{string.Join(',', Enumerable.Range(0, 33).Select(i => $"\"a{i}\""))}}]}]}""", HttpStatusCode.BadRequest, "InvalidInput");
        await Refused(_node.Admin, HttpMethod.Put, path, $$"""{"roles":[{"roleName":"twice","roleActions":["x"]},{"roleName":"TWICE","roleActions":["y"]}]}""", HttpStatusCode.BadRequest, "InvalidInput");
        await Refused(_node.Admin, HttpMethod.Put, path, """{"roles":[]}""", HttpStatusCode.BadRequest, "InvalidInput");
        await Refused(_node.Admin, HttpMethod.Put, path, "not json", HttpStatusCode.BadRequest, "InvalidInput");

        // One good and one bad role: neither is defined.
        await Refused(_node.Admin, HttpMethod.Put, path, $$"""{"roles":[{"roleName":"good","roleActions":["x"]},{"roleName":"Reader","roleActions":["y"]}]}""", HttpStatusCode.BadRequest, "InvalidInput");
        await Refused(_node.Admin, HttpMethod.Patch, path, """{"roles":[{"roleName":"absent","roleActions":["x"]}]}""", HttpStatusCode.NotFound, "RoleNotFound");
        await Refused(_node.Admin, HttpMethod.Delete, $"/app/roles?roleName=absent&{Preview}", null, HttpStatusCode.NotFound, "RoleNotFound");
        await Refused(_node.Admin, HttpMethod.Delete, path, null, HttpStatusCode.BadRequest, "InvalidQueryParameterValue");
        await Refused(_node.Admin, HttpMethod.Get, $"/app/roles?roleName=absent&{Preview}", null, HttpStatusCode.NotFound, "RoleNotFound");

        // A role that does not exist cannot be assigned.
        using var stranger = NodeFixture.NewUserCertificate("stranger");
        await Refused(_node.Admin, HttpMethod.Patch, $"/app/ledgerUsers/{NodeFixture.Fingerprint(stranger)}?{Preview}", """{"assignedRoles":["absent"]}""", HttpStatusCode.BadRequest, "InvalidInput");

        // Only roles/write may define roles: a Reader (and Contributor) may not.
        using var reader = await UserWithRolesAsync("reader", "Reader");
        await Refused(_node.Client(reader), HttpMethod.Put, path, """{"roles":[{"roleName":"mine","roleActions":["x"]}]}""", HttpStatusCode.Forbidden, "NotAllowed");

        using var all = await _node.Client(reader).GetAsync(path); // readers may read them
        Assert.Empty((await NodeFixture.Body(all)).GetProperty("roles").EnumerateArray());

        // At most 100 roles: 100 in one request fit; one more does not.
        var hundred = string.Join(',', Enumerable.Range(0, 100).Select(i => $$"""{"roleName":"r{{i}}","roleActions":["x"]}"""));
        using (var put = await _node.Admin.PutAsync(path, Roles($$"""{"roles":[{{hundred}}]}""")))
        {
            Assert.True(put.StatusCode == HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
        }

        await Refused(_node.Admin, HttpMethod.Put, path, """{"roles":[{"roleName":"r100","roleActions":["x"]}]}""", HttpStatusCode.BadRequest, "InvalidInput");
        using (var redefine = await _node.Admin.PutAsync(path, Roles("""{"roles":[{"roleName":"R7","roleActions":["y"]}]}""")))
        {
            Assert.Equal(HttpStatusCode.OK, redefine.StatusCode); // a redefinition is not a new role
        }
    }

    [Fact]
    public async Task Roles_are_ledger_transactions_kept_across_a_restart_and_accepted_by_verify()
    {
        var root = Directory.CreateTempSubdirectory("vellum-roles-").FullName;
        try
        {
            var options = NodeFixture.Options(root);
            await using (var registry = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
            {
                var ledger = registry.Default!;
                Assert.Null(await ledger.ChangeRoleAsync(null, new RoleDefinitionEntry("keeper", [EntriesRead]), default));
                Assert.Null(await ledger.ChangeRoleAsync(null, new RoleDefinitionEntry("gone", [EntriesRead]), default));
                Assert.Null(await ledger.ChangeRoleAsync(null, new RoleDefinitionEntry("gone", []), default));
                Assert.Null(await ledger.ChangeUserAsync(null, new string('A', 64), ["keeper"], default));
                await ledger.Sequencer.WaitForCommitAsync(ledger.Sequencer.LastSeqno, default).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            }

            string certificate;
            await using (var registry = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
            {
                var users = registry.Default!.Users;
                Assert.Equal(["keeper"], users.DefinedRoles().Select(r => r.RoleName));
                Assert.True(users.Allows(users.RolesOf(new string('A', 64)), EntriesRead));
                Assert.False(users.Allows(users.RolesOf(new string('A', 64)), EntriesWrite));
                certificate = registry.Default.Service.ExportCertificatePem();
            }

            using var service = X509Certificate2.CreateFromPem(certificate);
            var (_, failure) = Vellum.Storage.Verification.LedgerDirectoryVerifier.Verify(Path.Combine(root, "ledgers", "default", "ledger"), service);
            Assert.Null(failure);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
