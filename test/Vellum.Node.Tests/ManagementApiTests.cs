using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Vellum.Node.Auth;
using Vellum.Node.Management;
using Vellum.TestSupport.Identity;

namespace Vellum.Node.Tests;

/// <summary>
/// The ARM-shaped control plane on a single node, over HTTPS with the development Administrator (an Owner when no
/// operator is named) and with tokens of two tenants: create (a long-running operation), read, list, change and delete
/// ledgers; names, types, tenants, quotas and refusals.
/// </summary>
public sealed class ManagementApiTests(ManagementApiTests.Fixture node) : IClassFixture<ManagementApiTests.Fixture>, IAsyncLifetime
{
    private const string Version = "api-version=2022-05-13";
    private const string Subscription = "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
    private const string TenantA = "11111111-2222-4333-8444-555555555555";
    private const string TenantB = "99999999-8888-4777-8666-555555555555";
    private const string OperatorA = "0a0a0a0a-1b1b-4c2c-8d3d-4e4e4e4e4e4e";
    private const string OperatorB = "0b0b0b0b-1b1b-4c2c-8d3d-4e4e4e4e4e4e";

    private const string TenantC = "33333333-4444-4555-8666-777777777777";
    private const string ReaderOperator = "0c0c0c0c-1b1b-4c2c-8d3d-4e4e4e4e4e4e";

    /// <summary>A node whose control plane has a certificate Owner, two token Owners and a token Reader; quota 3.</summary>
    public sealed class Fixture : NodeFixture
    {
        public TestIssuer Issuer { get; } = new();

        public System.Security.Cryptography.X509Certificates.X509Certificate2 Operator { get; } = NewUserCertificate("Operator");

        public HttpClient AsOperator => _asOperator ??= Client(Operator);

        private HttpClient? _asOperator;

        protected override NodeOptions CreateOptions(string data)
        {
            Directory.CreateDirectory(Root);
            var operatorFile = Path.Combine(Root, "operator_cert.pem");
            File.WriteAllText(operatorFile, Operator.ExportCertificatePem());
            return new NodeOptions
            {
                DataDirectory = data,
                Listen = new IPEndPoint(IPAddress.Loopback, 0),
                SignatureDelay = TimeSpan.FromMilliseconds(20),
                JwtIssuers = [new JwtIssuerOptions { Issuer = Issuer.Url, CaFile = Issuer.CaFile }],
                Management = new ManagementOptions
                {
                    LedgerQuota = 3,
                    Operators =
                    [
                        new OperatorSpec(operatorFile, IsCertificate: true, OperatorRole.Owner),
                        new OperatorSpec(OperatorA, IsCertificate: false, OperatorRole.Owner),
                        new OperatorSpec(OperatorB, IsCertificate: false, OperatorRole.Owner),
                        new OperatorSpec(ReaderOperator, IsCertificate: false, OperatorRole.Reader),
                    ],
                },
            };
        }
    }

    public async ValueTask InitializeAsync() => await node.Issuer.StartAsync();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static string Ledger(string name, string resourceGroup = "rg-one") =>
        $"/subscriptions/{Subscription}/resourceGroups/{resourceGroup}/providers/Microsoft.ConfidentialLedger/ledgers/{name}?{Version}";

    private static StringContent Body(string json) => NodeFixture.Json(json);

    [Fact]
    public async Task A_ledger_is_made_read_listed_changed_and_deleted_through_the_control_plane()
    {
        using var reader = NodeFixture.NewUserCertificate("Reader Principal");
        var readerPem = reader.ExportCertificatePem();
        var oneLine = readerPem.Replace("\n", string.Empty, StringComparison.Ordinal); // as ARM's examples send it
        var name = "alpha-" + Guid.NewGuid().ToString("N")[..6];

        string statusUrl;
        using (var created = await node.AsOperator.PutAsync(Ledger(name), Body($$$"""
            {"location":"eastus","tags":{"team":"ledgers"},"properties":{"ledgerType":"Private",
             "certBasedSecurityPrincipals":[{"cert":"{{{oneLine}}}","ledgerRoleName":"Reader"}]}}
            """)))
        {
            var body = await NodeFixture.Body(created);
            Assert.True(created.StatusCode == HttpStatusCode.Created, body.ToString());
            Assert.Equal("Creating", body.GetProperty("properties").GetProperty("provisioningState").GetString());
            statusUrl = created.Headers.GetValues("Azure-AsyncOperation").Single();
            Assert.Equal("1", created.Headers.GetValues("Retry-After").Single());
        }

        Assert.Equal("Succeeded", await PollStatusAsync(node.AsOperator, statusUrl));
        JsonElement resource;
        using (var got = await node.AsOperator.GetAsync(Ledger(name)))
        {
            resource = await NodeFixture.Body(got);
            Assert.True(got.StatusCode == HttpStatusCode.OK, resource.ToString());
        }

        var properties = resource.GetProperty("properties");
        Assert.Equal($"/subscriptions/{Subscription}/resourceGroups/rg-one/providers/Microsoft.ConfidentialLedger/ledgers/{name}", resource.GetProperty("id").GetString());
        Assert.Equal("Microsoft.ConfidentialLedger/ledgers", resource.GetProperty("type").GetString());
        Assert.Equal("ledgers", resource.GetProperty("tags").GetProperty("team").GetString());
        Assert.Equal("Succeeded", properties.GetProperty("provisioningState").GetString());
        Assert.Equal("Private", properties.GetProperty("ledgerType").GetString());
        Assert.Equal($"https://{name}.localhost:{node.Endpoint.Port}", properties.GetProperty("ledgerUri").GetString());
        Assert.Equal($"https://localhost:{node.Endpoint.Port}/ledgerIdentity/{name}", properties.GetProperty("identityServiceUri").GetString());
        var principals = properties.GetProperty("certBasedSecurityPrincipals").EnumerateArray().ToList();
        Assert.Equal(readerPem.Trim(), principals[0].GetProperty("cert").GetString()!.Trim()); // normalised
        Assert.Equal(["Reader", "Administrator"], principals.Select(p => p.GetProperty("ledgerRoleName").GetString()));

        // The ledger serves its principals: the creator (named no Administrator, so made one) writes, the Reader reads.
        Assert.True(node.Ledgers.TryGet(name, out var made));
        Assert.True(made.IsPrivate);
        string id;
        using (var write = await node.AsOperator.PostAsync($"/ledgers/{name}/app/transactions?{Version}&waitForCommit=true", Body("""{"contents":"made by ARM"}""")))
        {
            Assert.True(write.IsSuccessStatusCode, await write.Content.ReadAsStringAsync());
            id = write.Headers.GetValues("x-ms-ccf-transaction-id").Single();
        }

        var asReader = node.Client(reader);
        using (var read = await asReader.GetAsync($"/ledgers/{name}/app/transactions/{id}?{Version}"))
        {
            Assert.True(read.IsSuccessStatusCode, await read.Content.ReadAsStringAsync());
        }

        using (var refused = await asReader.PostAsync($"/ledgers/{name}/app/transactions?{Version}", Body("""{"contents":"no"}""")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        // Names: taken, invalid, free.
        foreach (var (candidate, available, reason) in new[] { (name, false, "AlreadyExists"), ("Bad_Name", false, "Invalid"), ("free-name", true, null) })
        {
            using var check = await node.AsOperator.PostAsync($"/subscriptions/{Subscription}/providers/Microsoft.ConfidentialLedger/checkNameAvailability?{Version}",
                Body($$"""{"name":"{{candidate}}","type":"Microsoft.ConfidentialLedger/ledgers"}"""));
            var answer = await NodeFixture.Body(check);
            Assert.Equal(available, answer.GetProperty("nameAvailable").GetBoolean());
            Assert.Equal(reason, answer.TryGetProperty("reason", out var r) ? r.GetString() : null);
        }

        // Lists by resource group and subscription, with the type filter.
        foreach (var (path, listed) in new[]
        {
            ($"/subscriptions/{Subscription}/resourceGroups/rg-one/providers/Microsoft.ConfidentialLedger/ledgers?{Version}", true),
            ($"/subscriptions/{Subscription}/resourceGroups/rg-two/providers/Microsoft.ConfidentialLedger/ledgers?{Version}", false),
            ($"/subscriptions/{Subscription}/providers/Microsoft.ConfidentialLedger/ledgers/?{Version}&$filter=ledgerType%20eq%20'Private'", true),
            ($"/subscriptions/{Subscription}/providers/Microsoft.ConfidentialLedger/ledgers?{Version}&$filter=ledgerType%20eq%20'Public'", false),
        })
        {
            using var list = await node.AsOperator.GetAsync(path);
            var value = (await NodeFixture.Body(list)).GetProperty("value").EnumerateArray().Select(l => l.GetProperty("name").GetString()).ToList();
            Assert.True(listed == value.Contains(name), $"{path}: {string.Join(",", value)}");
        }

        // A change of type is refused and changes nothing; tags and principals change (the Reader is dropped).
        using (var retype = await node.AsOperator.PatchAsync(Ledger(name), Body("""{"location":"eastus","properties":{"ledgerType":"Public"}}""")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, retype.StatusCode);
            Assert.Equal("LedgerTypeImmutable", (await NodeFixture.Body(retype)).GetProperty("error").GetProperty("code").GetString());
        }

        // Principals named as none would leave no Administrator: refused before anything changes (the Reader still reads).
        using (var orphaning = await node.AsOperator.PatchAsync(Ledger(name), Body("""{"location":"eastus","properties":{"aadBasedSecurityPrincipals":[],"certBasedSecurityPrincipals":[]}}""")))
        {
            Assert.Equal(HttpStatusCode.Conflict, orphaning.StatusCode);
        }

        using (var still = await asReader.GetAsync($"/ledgers/{name}/app/transactions/{id}?{Version}"))
        {
            Assert.True(still.IsSuccessStatusCode, await still.Content.ReadAsStringAsync());
        }

        var adminPem = node.Operator.ExportCertificatePem().Replace("\n", "\\n", StringComparison.Ordinal);
        using (var changed = await node.AsOperator.PatchAsync(Ledger(name), Body($$$"""
            {"location":"eastus","tags":{"team":"ledgers","stage":"two"},"properties":{"ledgerType":"Private",
             "certBasedSecurityPrincipals":[{"cert":"{{{adminPem}}}","ledgerRoleName":"Administrator"}]}}
            """)))
        {
            var body = await NodeFixture.Body(changed);
            Assert.True(changed.StatusCode == HttpStatusCode.OK, body.ToString());
            Assert.Equal("two", body.GetProperty("tags").GetProperty("stage").GetString());
        }

        using (var gone = await asReader.GetAsync($"/ledgers/{name}/app/transactions/{id}?{Version}"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, gone.StatusCode);
        }

        // What a change leaves out is kept: tags alone change here; location and principals stay.
        using (var tagsOnly = await node.AsOperator.PatchAsync(Ledger(name), Body("""{"tags":{"only":"tags"}}""")))
        {
            var body = await NodeFixture.Body(tagsOnly);
            Assert.True(tagsOnly.StatusCode == HttpStatusCode.OK, body.ToString());
            Assert.Equal("eastus", body.GetProperty("location").GetString());
            Assert.Equal("tags", body.GetProperty("tags").GetProperty("only").GetString());
            Assert.Single(body.GetProperty("properties").GetProperty("certBasedSecurityPrincipals").EnumerateArray());
        }

        // The name is taken from another resource group; PUT there is a conflict.
        using (var conflict = await node.AsOperator.PutAsync(Ledger(name, "rg-two"), Body("""{"location":"eastus"}""")))
        {
            Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        }

        // Delete: 202 and a Location to poll; then it is gone, files and all, and the name is free.
        string location;
        using (var deleting = await node.AsOperator.DeleteAsync(Ledger(name)))
        {
            Assert.True(deleting.StatusCode == HttpStatusCode.Accepted, await deleting.Content.ReadAsStringAsync());
            location = deleting.Headers.Location!.ToString();
        }

        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var poll = await node.AsOperator.GetAsync(location);
            if (poll.StatusCode != HttpStatusCode.Accepted)
            {
                Assert.Equal(HttpStatusCode.OK, poll.StatusCode);
                break;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the deletion did not end within 30 s");
            await Task.Delay(50);
        }

        using (var got = await node.AsOperator.GetAsync(Ledger(name)))
        {
            Assert.Equal(HttpStatusCode.NotFound, got.StatusCode);
            Assert.Equal("ResourceNotFound", (await NodeFixture.Body(got)).GetProperty("error").GetProperty("code").GetString());
        }

        Assert.False(node.Ledgers.TryGet(name, out _));
        Assert.False(Directory.Exists(Path.Combine(node.Root, "data", "ledgers", name)));
        using (var again = await node.AsOperator.DeleteAsync(Ledger(name)))
        {
            Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
        }
    }

    [Fact]
    public async Task An_operation_this_node_did_not_run_is_judged_from_the_ledgers_it_holds()
    {
        // A member that did not run an operation (it ran on a primary that failed since) judges it from its id, which
        // names what it does: here a single node stands in for it with ids it never issued.
        var name = "judged-" + Guid.NewGuid().ToString("N")[..6];
        using (var created = await node.AsOperator.PutAsync(Ledger(name), Body("""{"location":"eastus"}""")))
        {
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
            var status = created.Headers.GetValues("Azure-AsyncOperation").Single();
            Assert.Contains($"/operationStatuses/create.{name}.", status, StringComparison.Ordinal);
            Assert.Equal("Succeeded", await PollStatusAsync(node.AsOperator, status));
        }

        string Path(string id) => $"/subscriptions/{Subscription}/providers/Microsoft.ConfidentialLedger/locations/eastus/operationStatuses/{id}?{Version}";
        var other = Guid.NewGuid().ToString("N");
        (string Id, string Status, string? Code)[] cases =
        [
            ($"create.never-made.{other}", "Failed", "OperationInterrupted"), // nothing of it here: it never committed
            ($"create.{name}.{other}", "Failed", "OperationInterrupted"),     // the ledger is another creation's
            ($"delete.{name}.{other}", "Failed", "OperationInterrupted"),     // the ledger is still here
            ($"delete.never-made.{other}", "Succeeded", null),                // nothing of it here
        ];
        foreach (var (id, expected, code) in cases)
        {
            using var got = await node.AsOperator.GetAsync(Path(id));
            var body = await NodeFixture.Body(got);
            Assert.True(got.StatusCode == HttpStatusCode.OK, $"{id}: {(int)got.StatusCode} {body}");
            Assert.Equal(expected, body.GetProperty("status").GetString());
            Assert.Equal(id, body.GetProperty("name").GetString());
            Assert.Equal(code, body.TryGetProperty("error", out var error) ? error.GetProperty("code").GetString() : null);
        }

        // Ids of no operation's shape, and another tenant's ledger, are not found.
        foreach (var id in new[] { Guid.NewGuid().ToString(), $"rename.{name}.{other}", $"create.{name}.not-hex", $"create.-bad-.{other}" })
        {
            using var got = await node.AsOperator.GetAsync(Path(id));
            Assert.Equal(HttpStatusCode.NotFound, got.StatusCode);
        }

        using (var elsewhere = await TokenClient(OperatorB, TenantB).GetAsync(Path($"delete.{name}.{other}")))
        {
            Assert.Equal(HttpStatusCode.NotFound, elsewhere.StatusCode);
        }
    }

    [Fact]
    public async Task A_tenant_sees_and_manages_only_its_own_ledgers_and_a_name_is_the_deployment_s()
    {
        var asA = TokenClient(OperatorA, TenantA);
        var asB = TokenClient(OperatorB, TenantB);
        var name = "tenant-" + Guid.NewGuid().ToString("N")[..6];
        using (var created = await asA.PutAsync(Ledger(name), Body("""{"location":"westeurope","properties":{"ledgerType":"Public"}}""")))
        {
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
            Assert.Equal("Succeeded", await PollStatusAsync(asA, created.Headers.GetValues("Azure-AsyncOperation").Single()));
        }

        // The creator's token user is the ledger's Administrator (no Administrator named).
        using (var got = await asA.GetAsync(Ledger(name)))
        {
            var principals = (await NodeFixture.Body(got)).GetProperty("properties").GetProperty("aadBasedSecurityPrincipals");
            Assert.Equal(OperatorA, principals[0].GetProperty("principalId").GetString());
            Assert.Equal(TenantA, principals[0].GetProperty("tenantId").GetString());
        }

        // Tenant B: not found, not listed, not deletable (ARM's 204 for what it cannot see), and the name is taken.
        using (var got = await asB.GetAsync(Ledger(name)))
        {
            Assert.Equal(HttpStatusCode.NotFound, got.StatusCode);
        }

        using (var list = await asB.GetAsync($"/subscriptions/{Subscription}/providers/Microsoft.ConfidentialLedger/ledgers?{Version}"))
        {
            Assert.DoesNotContain(name, await list.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var deleted = await asB.DeleteAsync(Ledger(name)))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        Assert.True(node.Ledgers.TryGet(name, out _));
        using (var patched = await asB.PatchAsync(Ledger(name), Body("""{"location":"westeurope","tags":{"owner":"b"}}""")))
        {
            Assert.Equal(HttpStatusCode.NotFound, patched.StatusCode);
        }

        foreach (var type in new[] { "Public", "Private" })
        {
            using var taken = await asB.PutAsync(Ledger(name), Body($$$"""{"location":"westeurope","properties":{"ledgerType":"{{{type}}}"}}"""));
            Assert.Equal(HttpStatusCode.Conflict, taken.StatusCode);
        }

        // Tenant A's operation status is not B's to read.
        using (var delete = await asA.DeleteAsync(Ledger(name)))
        {
            Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
            var status = delete.Headers.GetValues("Azure-AsyncOperation").Single();
            using (var hidden = await asB.GetAsync(status))
            {
                Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
            }

            Assert.Equal("Succeeded", await PollStatusAsync(asA, status));
        }
    }

    [Fact]
    public async Task Refusals_name_what_is_wrong_and_change_nothing()
    {
        var before = node.Ledgers.All.Count;
        var name = "refused-" + Guid.NewGuid().ToString("N")[..6];
        // Over the limits: a tag value of 257 characters, 51 tags, 101 principals.
        var longTag = "{\"location\":\"eastus\",\"tags\":{\"k\":\"" + new string('v', 257) + "\"}}";
        var manyTags = "{\"location\":\"eastus\",\"tags\":{" + string.Join(",", Enumerable.Range(0, 51).Select(i => $"\"t{i}\":\"v\"")) + "}}";
        var manyPrincipals = "{\"location\":\"eastus\",\"properties\":{\"aadBasedSecurityPrincipals\":[" +
            string.Join(",", Enumerable.Range(0, 101).Select(_ => $"{{\"principalId\":\"{Guid.NewGuid()}\",\"ledgerRoleName\":\"Reader\"}}")) + "]}}";
        (HttpClient Client, HttpMethod Method, string Path, string? Body, HttpStatusCode Status, string Code)[] cases =
        [
            (TokenClient(ReaderOperator, TenantA), HttpMethod.Put, Ledger(name), """{"location":"eastus"}""", HttpStatusCode.Forbidden, "AuthorizationFailed"),
            (node.Admin, HttpMethod.Get, Ledger(name), null, HttpStatusCode.Forbidden, "AuthorizationFailed"), // operators are named: the development one is not
            (node.AsOperator, HttpMethod.Get, Ledger(name).Replace($"?{Version}", string.Empty, StringComparison.Ordinal), null, HttpStatusCode.BadRequest, "MissingApiVersionParameter"),
            (node.AsOperator, HttpMethod.Get, Ledger(name).Replace("2022-05-13", "2019-01-01", StringComparison.Ordinal), null, HttpStatusCode.BadRequest, "InvalidApiVersionParameter"),
            (node.Client(null), HttpMethod.Get, Ledger(name), null, HttpStatusCode.Unauthorized, "AuthenticationFailed"),
            (node.Client(NodeFixture.NewUserCertificate("Stranger")), HttpMethod.Get, Ledger(name), null, HttpStatusCode.Forbidden, "AuthorizationFailed"),
            (TokenClient(OperatorA, TenantA, audience: TestIssuer.AclAudience), HttpMethod.Get, Ledger(name), null, HttpStatusCode.Unauthorized, "AuthenticationFailed"),
            (TokenClient(Guid.NewGuid().ToString(), TenantA), HttpMethod.Get, Ledger(name), null, HttpStatusCode.Forbidden, "AuthorizationFailed"),
            (node.AsOperator, HttpMethod.Put, Ledger("Bad_Name"), """{"location":"eastus"}""", HttpStatusCode.BadRequest, "InvalidResourceName"),
            (node.AsOperator, HttpMethod.Put, Ledger("x1"), """{"location":"eastus"}""", HttpStatusCode.BadRequest, "InvalidResourceName"),
            (node.AsOperator, HttpMethod.Put, Ledger(name), """{"properties":{}}""", HttpStatusCode.BadRequest, "InvalidRequestContent"),
            (node.AsOperator, HttpMethod.Put, Ledger(name), """{"location":"eastus","properties":{"ledgerType":"Secret"}}""", HttpStatusCode.BadRequest, "InvalidRequestContent"),
            (node.AsOperator, HttpMethod.Put, Ledger(name), """{"location":"eastus","properties":{"aadBasedSecurityPrincipals":[{"principalId":"not-a-guid","ledgerRoleName":"Reader"}]}}""", HttpStatusCode.BadRequest, "InvalidRequestContent"),
            (node.AsOperator, HttpMethod.Put, Ledger(name), """{"location":"eastus","properties":{"certBasedSecurityPrincipals":[{"cert":"-----BEGIN CERTIFICATE-----AAAA-----END CERTIFICATE-----","ledgerRoleName":"Reader"}]}}""", HttpStatusCode.BadRequest, "InvalidRequestContent"),
            (node.AsOperator, HttpMethod.Put, Ledger(name), """{"location":"eastus","properties":{"aadBasedSecurityPrincipals":[{"principalId":"0a0a0a0a-1b1b-4c2c-8d3d-4e4e4e4e4e4e","ledgerRoleName":"Owner"}]}}""", HttpStatusCode.BadRequest, "InvalidRequestContent"),
            (node.AsOperator, HttpMethod.Put, Ledger(name), "not json", HttpStatusCode.BadRequest, "InvalidRequestContent"),
            (node.AsOperator, HttpMethod.Put, Ledger(name), $$"""{"location":"{{new string('l', 65)}}"}""", HttpStatusCode.BadRequest, "InvalidRequestContent"),
            (node.AsOperator, HttpMethod.Put, Ledger(name), longTag, HttpStatusCode.BadRequest, "InvalidRequestContent"),
            (node.AsOperator, HttpMethod.Put, Ledger(name), manyTags, HttpStatusCode.BadRequest, "InvalidRequestContent"),
            (node.AsOperator, HttpMethod.Put, Ledger(name), manyPrincipals, HttpStatusCode.BadRequest, "InvalidRequestContent"),
            (node.AsOperator, HttpMethod.Put, Ledger(name), """{"location":"eastus","properties":{"aadBasedSecurityPrincipals":[{"principalId":"0a0a0a0a-1b1b-4c2c-8d3d-4e4e4e4e4e4e","ledgerRoleName":"Reader"},{"principalId":"0A0A0A0A-1B1B-4C2C-8D3D-4E4E4E4E4E4E","ledgerRoleName":"Contributor"}]}}""", HttpStatusCode.BadRequest, "InvalidRequestContent"),
            (node.AsOperator, HttpMethod.Patch, Ledger(name), """{"location":"eastus"}""", HttpStatusCode.NotFound, "ResourceNotFound"),
            (node.AsOperator, HttpMethod.Put, $"/subscriptions/{Subscription}/resourceGroups/bad.group./providers/Microsoft.ConfidentialLedger/ledgers/{name}?{Version}", """{"location":"eastus"}""", HttpStatusCode.BadRequest, "InvalidResourceGroupName"),
            (node.AsOperator, HttpMethod.Get, $"/subscriptions/{Subscription}/providers/Microsoft.ConfidentialLedger/ledgers?{Version}&$filter=name%20eq%20'x'", null, HttpStatusCode.BadRequest, "InvalidFilter"),
            (node.AsOperator, HttpMethod.Get, $"/subscriptions/{Subscription}/providers/Microsoft.ConfidentialLedger/locations/eastus/operationStatuses/{Guid.NewGuid()}?{Version}", null, HttpStatusCode.NotFound, "OperationNotFound"),
        ];

        foreach (var (client, method, path, body, status, code) in cases)
        {
            using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : Body(body) };
            using var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"{method} {path} {body}: {(int)response.StatusCode} {text}");
            Assert.Equal(code, JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("code").GetString());
        }

        // Only a member node may name the operator it sends a request on for; an operator who tries is refused.
        using (var forged = new HttpRequestMessage(HttpMethod.Put, Ledger(name)) { Content = Body("""{"location":"eastus"}""") })
        {
            forged.Headers.Add("x-vellum-operator", "eyJpZCI6ImFueW9uZSJ9");
            using var response = await node.AsOperator.SendAsync(forged);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("AuthorizationFailed", (await NodeFixture.Body(response)).GetProperty("error").GetProperty("code").GetString());
        }

        Assert.Equal(before, node.Ledgers.All.Count);
        Assert.False(Directory.Exists(Path.Combine(node.Root, "data", "ledgers", name)));

        // The operations list needs no subscription.
        using var operations = await node.AsOperator.GetAsync($"/providers/Microsoft.ConfidentialLedger/operations?{Version}");
        Assert.Contains("Microsoft.ConfidentialLedger/ledgers/write", await operations.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_creations_of_one_name_make_one_ledger_and_a_tenant_s_quota_holds()
    {
        var name = "race-" + Guid.NewGuid().ToString("N")[..6];
        var asA = TokenClient(OperatorA, TenantC);
        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var response = await asA.PutAsync(Ledger(name), Body("""{"location":"eastus"}"""));
            return (response.StatusCode, Status: response.Headers.TryGetValues("Azure-AsyncOperation", out var values) ? values.Single() : null);
        }));

        // One creation runs; the others are conflicts (or, once it has finished, updates of the same ledger).
        var created = answers.Where(a => a.StatusCode == HttpStatusCode.Created).ToList();
        Assert.Single(created);
        Assert.All(answers, a => Assert.Contains(a.StatusCode, new[] { HttpStatusCode.Created, HttpStatusCode.Conflict, HttpStatusCode.OK }));
        Assert.Equal("Succeeded", await PollStatusAsync(asA, created[0].Status!));
        Assert.Single(node.Ledgers.All, l => l.Name.Value == name);

        // Quota 3 per tenant: two more are made, the fourth is refused.
        var more = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var next = $"{name}-{i}";
            using var response = await asA.PutAsync(Ledger(next), Body("""{"location":"eastus"}"""));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            Assert.Equal("Succeeded", await PollStatusAsync(asA, response.Headers.GetValues("Azure-AsyncOperation").Single()));
            more.Add(next);
        }

        using (var refused = await asA.PutAsync(Ledger(name + "-x"), Body("""{"location":"eastus"}""")))
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Equal("QuotaExceeded", (await NodeFixture.Body(refused)).GetProperty("error").GetProperty("code").GetString());
        }

        foreach (var made in more.Append(name))
        {
            using var deleted = await asA.DeleteAsync(Ledger(made));
            Assert.Equal("Succeeded", await PollStatusAsync(asA, deleted.Headers.GetValues("Azure-AsyncOperation").Single()));
        }
    }

    [Fact]
    public async Task A_hundred_concurrent_creations_of_distinct_names_all_succeed()
    {
        var plain = new QuotaFixture();
        await plain.InitializeAsync();
        try
        {
            var names = Enumerable.Range(0, 100).Select(i => $"many-{i:D3}").ToList();
            var statuses = await Task.WhenAll(names.Select(async name =>
            {
                using var created = await plain.Admin.PutAsync(Ledger(name, "many"), Body("""{"location":"local"}"""));
                Assert.True(created.StatusCode == HttpStatusCode.Created, $"{name}: {(int)created.StatusCode} {await created.Content.ReadAsStringAsync()}");
                return created.Headers.GetValues("Azure-AsyncOperation").Single();
            }));
            foreach (var status in statuses)
            {
                Assert.Equal("Succeeded", await PollStatusAsync(plain.Admin, status));
            }

            using var list = await plain.Admin.GetAsync($"/subscriptions/{Subscription}/resourceGroups/many/providers/Microsoft.ConfidentialLedger/ledgers?{Version}");
            Assert.Equal(names, (await NodeFixture.Body(list)).GetProperty("value").EnumerateArray().Select(l => l.GetProperty("name").GetString()));
            Assert.All(names, name => Assert.True(plain.Ledgers.TryGet(name, out var ledger) && ledger.Users.Count > 0, name));
        }
        finally
        {
            await plain.DisposeAsync();
        }
    }

    /// <summary>A node with the default operators (the development Administrator) and a quota of 100 ledgers a tenant, which the test fills.</summary>
    private sealed class QuotaFixture : NodeFixture
    {
        protected override NodeOptions CreateOptions(string data)
        {
            var options = Options(data);
            return new NodeOptions
            {
                DataDirectory = options.DataDirectory, Listen = options.Listen, SignatureDelay = options.SignatureDelay,
                Management = new ManagementOptions { LedgerQuota = 100 },
            };
        }
    }

    [Fact]
    public async Task With_no_operator_named_the_development_Administrator_is_an_Owner()
    {
        var plain = new NodeFixture();
        await plain.InitializeAsync();
        try
        {
            using var created = await plain.Admin.PutAsync(Ledger("plain-one"), Body("""{"location":"eastus"}"""));
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
            Assert.Equal("Succeeded", await PollStatusAsync(plain.Admin, created.Headers.GetValues("Azure-AsyncOperation").Single()));
            using var stranger = await plain.Client(NodeFixture.NewUserCertificate("Stranger")).GetAsync(Ledger("plain-one"));
            Assert.Equal(HttpStatusCode.Forbidden, stranger.StatusCode);
        }
        finally
        {
            await plain.DisposeAsync();
        }
    }

    [Fact]
    public async Task Operators_with_tokens_manage_the_deployments_ledgers_through_the_node_calls_too()
    {
        // The deployment's own calls (/node/ledgers) take the same operators as the control plane, tokens included.
        var name = "tok-" + Guid.NewGuid().ToString("N")[..6];
        using var owner = TokenClient(OperatorA, TenantA);
        using var reader = TokenClient(ReaderOperator, TenantA);
        await AssertAclError(await reader.PutAsync($"/node/ledgers/{name}", null), HttpStatusCode.Forbidden, "NotAllowed");
        using (var created = await owner.PutAsync($"/node/ledgers/{name}", null))
        {
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        }

        using (var list = await reader.GetAsync("/node/ledgers"))
        {
            var body = await NodeFixture.Body(list);
            Assert.True(list.StatusCode == HttpStatusCode.OK, body.ToString());
            Assert.Contains(body.GetProperty("ledgers").EnumerateArray(), l => l.GetProperty("name").GetString() == name);
        }

        // Not an operator, a token for the ledgers' data plane rather than the deployment, and no valid token at all.
        using (var stranger = TokenClient(Guid.NewGuid().ToString(), TenantA))
        {
            await AssertAclError(await stranger.GetAsync("/node/ledgers"), HttpStatusCode.Forbidden, "NotAllowed");
        }

        using (var dataPlane = TokenClient(OperatorA, TenantA, audience: TestIssuer.AclAudience))
        {
            await AssertAclError(await dataPlane.DeleteAsync($"/node/ledgers/{name}"), HttpStatusCode.Unauthorized, "InvalidAuthenticationInfo");
        }

        using (var forged = node.Client(null))
        {
            forged.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", node.Issuer.UnsignedToken(OperatorA));
            using var refused = await forged.DeleteAsync($"/node/ledgers/{name}");
            Assert.Contains(refused.Headers.WwwAuthenticate, h => h.Scheme == "Bearer");
            await AssertAclError(refused, HttpStatusCode.Unauthorized, "InvalidAuthenticationInfo");
        }

        Assert.True(node.Ledgers.TryGet(name, out _));
        using (var deleted = await owner.DeleteAsync($"/node/ledgers/{name}"))
        {
            Assert.True(deleted.StatusCode == HttpStatusCode.OK, await deleted.Content.ReadAsStringAsync());
        }

        Assert.False(node.Ledgers.TryGet(name, out _));
    }

    private static async Task AssertAclError(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        using (response)
        {
            var body = await NodeFixture.Body(response);
            Assert.True(response.StatusCode == status, $"{(int)response.StatusCode} {body}");
            Assert.Equal(code, body.GetProperty("error").GetProperty("code").GetString());
        }
    }

    /// <summary>A client with no certificate sending an operator's token (a management-audience one by default).</summary>
    private HttpClient TokenClient(string oid, string tenant, string audience = ManagementOptions.DefaultAudience)
    {
        var client = node.Client(null);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
            node.Issuer.Token(new Dictionary<string, object> { ["oid"] = oid, ["tid"] = tenant }, audience));
        return client;
    }

    private static async Task<string> PollStatusAsync(HttpClient client, string url)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var response = await client.GetAsync(url);
            var body = await NodeFixture.Body(response);
            Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
            var status = body.GetProperty("status").GetString()!;
            if (status != "InProgress")
            {
                return status == "Succeeded" ? status : $"{status}: {body}";
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the operation did not end within 30 s");
            await Task.Delay(50);
        }
    }
}
