using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Vellum.Node.Tests;

/// <summary>
/// The request edge (issue #12, holes H2, H8, H9, H11 of the security probe): whatever the path's spelling, the
/// transfer coding or the Content-Type, a refusal is a clear 4xx in the ACL shape and writes nothing.
/// </summary>
public sealed class RequestEdgeTests(RequestEdgeTests.Node node) : IClassFixture<RequestEdgeTests.Node>
{
    private const string V = NodeFixture.Version;

    /// <summary>The fixture's node with a registered Reader.</summary>
    public sealed class Node : NodeFixture, IAsyncLifetime
    {
        public X509Certificate2 ReaderCertificate { get; } = NewUserCertificate("edge reader");

        public new async ValueTask InitializeAsync()
        {
            await base.InitializeAsync();
            var added = await Admin.PatchAsync($"/app/users/{Fingerprint(ReaderCertificate)}?api-version={V}", Json("""{"assignedRole":"Reader"}""", "application/merge-patch+json"));
            Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        }
    }

    public static TheoryData<string, string, string> CaseVariants => new()
    {
        { "GET", "/APP/users", "/app/users" },
        { "GET", "/App/transactions", "/app/transactions" },
        { "POST", "/App/transactions", "/app/transactions" },
        { "GET", "/aPp/governance/members", "/app/governance/members" },
        { "POST", "/NODE/JOIN-TOKENS", "/node/join-tokens" },
        { "DELETE", "/Node/Members/1.2.3.4:5", "/node/members/1.2.3.4:5" },
    };

    /// <summary>H2: a case-variant path gets exactly the checks of its canonical spelling; never 500, never a write.</summary>
    [Theory]
    [MemberData(nameof(CaseVariants))]
    public async Task A_case_variant_path_is_checked_like_its_canonical_path(string method, string variant, string canonical)
    {
        var callers = new (string Name, X509Certificate2? Certificate)[]
        {
            ("no certificate", null),
            ("unknown certificate", NodeFixture.NewUserCertificate("stranger")),
            ("Reader", node.ReaderCertificate),
        };
        foreach (var (name, certificate) in callers)
        {
            var client = node.Client(certificate);
            foreach (var query in new[] { $"?api-version={V}", "" })
            {
                var expected = await SendAsync(client, method, canonical + query);
                var actual = await SendAsync(client, method, variant + query);
                Assert.True(actual.Status != 500, $"{name}: {method} {variant}{query} answered 500: {actual.Text}");
                Assert.True(
                    expected.Status == actual.Status && expected.Code == actual.Code,
                    $"{name}: {method} {canonical}{query} gives {expected.Status} {expected.Code}, {method} {variant}{query} gives {actual.Status} {actual.Code}: {actual.Text}");
            }
        }
    }

    /// <summary>
    /// H2, the other half: the checks come from the endpoint, so every endpoint says what they are (an endpoint that
    /// says nothing is treated as the data plane), the data plane asks for a user and an api-version, and the OpenAPI
    /// document marks open exactly the endpoints that check no certificate.
    /// </summary>
    [Fact]
    public async Task Every_endpoint_declares_what_is_checked_before_it_runs()
    {
        var endpoints = node.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();
        Assert.NotEmpty(endpoints);
        Assert.All(endpoints, e => Assert.True(e.Metadata.GetMetadata<Auth.EndpointAccess>() is not null, $"{e.DisplayName} declares no EndpointAccess"));
        Assert.All(
            endpoints.Where(e => e.RoutePattern.RawText!.StartsWith("/app", StringComparison.OrdinalIgnoreCase)),
            e => Assert.Equal(Auth.EndpointAccess.DataPlane, e.Metadata.GetMetadata<Auth.EndpointAccess>()));

        // Every endpoint for users names the ledger action it needs: a read for GET, a write for anything else.
        Assert.All(
            endpoints.Where(e => e.Metadata.GetMetadata<Auth.EndpointAccess>()!.Proof == Auth.CallerProof.User),
            e =>
            {
                var action = e.Metadata.GetMetadata<Auth.LedgerActionRequirement>()?.Action;
                Assert.True(action is not null, $"{e.DisplayName} names no ledger action");
                var reads = e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.All(m => m == "GET");
                Assert.True(reads == action.EndsWith("/read", StringComparison.Ordinal), $"{e.DisplayName} needs {action}");
            });

        using var document = JsonDocument.Parse(await node.Client(null).GetStringAsync("/openapi.json"));
        foreach (var path in document.RootElement.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                var endpoint = endpoints.Single(e => e.RoutePattern.RawText == path.Name &&
                    e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.Contains(operation.Name.ToUpperInvariant()));
                var open = operation.Value.TryGetProperty("security", out var security) && security.GetArrayLength() == 0;
                var proof = endpoint.Metadata.GetMetadata<Auth.EndpointAccess>()!.Proof;
                Assert.True(open == (proof is Auth.CallerProof.None or Auth.CallerProof.JoinToken), $"{operation.Name} {path.Name}: OpenAPI open {open}, {proof}");
            }
        }
    }

    /// <summary>The error catalogue is the one docs/api-compatibility.md lists: same codes, same statuses.</summary>
    [Fact]
    public void The_documented_errors_are_the_catalogue()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Vellum.slnx")))
        {
            directory = directory.Parent;
        }

        Assert.NotNull(directory);
        var lines = File.ReadAllLines(Path.Combine(directory.FullName, "docs", "api-compatibility.md"));
        var documented = lines
            .SkipWhile(l => l != "## Errors")
            .TakeWhile(l => !l.StartsWith("## Refusals", StringComparison.Ordinal))
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"^\| (\d{3}|4xx) \| `(\w+)`"))
            .Where(m => m.Success)
            .Select(m => (Status: m.Groups[1].Value, Code: m.Groups[2].Value))
            .ToList();
        var catalogue = AclErrors.All
            .Select(e => (Status: e == AclErrors.BadRequest ? "4xx" : e.Status.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Code))
            .ToList();
        Assert.Equal(catalogue.Count, catalogue.Select(e => e.Code).Distinct().Count());
        Assert.Equal(catalogue.OrderBy(e => e.Code, StringComparer.Ordinal), documented.OrderBy(e => e.Code, StringComparer.Ordinal));
    }

    /// <summary>H8: a chunked body inside the 1 MiB limit gets the answer the same body gets with Content-Length.</summary>
    [Theory]
    [InlineData(1_048_000)]
    [InlineData(1_048_500)]
    [InlineData(1_048_576)]
    public async Task A_chunked_body_within_the_limit_is_answered_as_with_Content_Length(int size)
    {
        var body = EntryBody(size);
        var plain = await Refused(() => RawHttp.SendAsync(node, node.AdminCertificate,
            $"POST /app/transactions?api-version={V} HTTP/1.1\nContent-Type: application/json\nContent-Length: {body.Length}",
            stream => stream.WriteAsync(body).AsTask()));
        var chunked = await Refused(() => RawHttp.SendAsync(node, node.AdminCertificate,
            $"POST /app/transactions?api-version={V} HTTP/1.1\nContent-Type: application/json\nTransfer-Encoding: chunked",
            stream => RawHttp.WriteChunkedAsync(stream, body, 16 * 1024)));
        Assert.Equal((400, "EntrySizeCapacityExceeded"), (plain.Status, plain.Code));
        Assert.Equal((plain.Status, plain.Code), (chunked.Status, chunked.Code));
    }

    /// <summary>H8: a chunked body over the limit, however much more the client pushes, is 413 in the ACL shape.</summary>
    [Fact]
    public async Task A_chunked_body_over_the_limit_is_413()
    {
        var justOver = EntryBody(1_048_577);
        var answer = await Refused(() => RawHttp.SendAsync(node, node.AdminCertificate,
            $"POST /app/transactions?api-version={V} HTTP/1.1\nContent-Type: application/json\nTransfer-Encoding: chunked",
            stream => RawHttp.WriteChunkedAsync(stream, justOver, 16 * 1024)));
        Assert.Equal((413, "RequestBodyTooLarge"), (answer.Status, answer.Code));

        // Far more than the limit, never finished: refused once the limit is passed.
        var flood = new byte[4 * 1024 * 1024];
        flood.AsSpan().Fill((byte)'a');
        answer = await Refused(() => RawHttp.SendAsync(node, node.AdminCertificate,
            $"POST /app/transactions?api-version={V} HTTP/1.1\nContent-Type: application/json\nTransfer-Encoding: chunked",
            stream => RawHttp.WriteChunkedAsync(stream, flood, 64 * 1024, finish: false)));
        Assert.Equal((413, "RequestBodyTooLarge"), (answer.Status, answer.Code));
    }

    /// <summary>H8: a chunk size Kestrel cannot parse is 400 in the ACL shape, not 500.</summary>
    [Theory]
    [InlineData("FFFFFFFFFFFFFFFFFFFF")]
    [InlineData("-10")]
    [InlineData("zz")]
    public async Task A_malformed_chunk_size_is_400(string chunkSize)
    {
        var answer = await Refused(() => RawHttp.SendAsync(node, node.AdminCertificate,
            $"POST /app/transactions?api-version={V} HTTP/1.1\nContent-Type: application/json\nTransfer-Encoding: chunked",
            async stream => await stream.WriteAsync(Encoding.ASCII.GetBytes($"{chunkSize}\r\n{{\"contents\":\"x\"}}\r\n0\r\n\r\n"))));
        Assert.Equal((400, "InvalidInput"), (answer.Status, answer.Code));
    }

    /// <summary>H9: a wrong method on a known path is 405 with Allow, in the ACL shape, and writes nothing.</summary>
    [Theory]
    [InlineData("DELETE")]
    [InlineData("PUT")]
    [InlineData("PATCH")]
    [InlineData("POST")]
    public async Task A_wrong_method_on_a_known_path_is_405_in_the_ACL_shape(string method)
    {
        var answer = await Refused(async () =>
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), $"/app/transactions/1.3?api-version={V}");
            if (method != "DELETE")
            {
                request.Content = NodeFixture.Json("""{"contents":"x"}""");
            }

            return await Answer.Of(await node.Admin.SendAsync(request));
        });
        Assert.Equal((405, "MethodNotAllowed"), (answer.Status, answer.Code));
        Assert.Equal("GET", answer.Allow);
    }

    /// <summary>H9: an unknown path whose last segment has a dot is 404 in the ACL shape, as any unknown path.</summary>
    [Theory]
    [InlineData("GET", "/secrets/service_privk.pem")]
    [InlineData("GET", "/app/nothing.json")]
    [InlineData("DELETE", "/app/transactions/1.3/receipt.txt")]
    public async Task An_unknown_path_with_a_dot_is_404_in_the_ACL_shape(string method, string path)
    {
        var answer = await Refused(async () => await Answer.Of(await node.Admin.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"{path}?api-version={V}"))));
        Assert.Equal((404, "ResourceNotFound"), (answer.Status, answer.Code));
    }

    /// <summary>H11: the media type is compared exactly and only UTF-8 is accepted.</summary>
    [Theory]
    [InlineData("application/jsonx")]
    [InlineData("application/json-seq")]
    [InlineData("application/json; charset=utf-16")]
    [InlineData("application/json;;;")]
    [InlineData("application/json; charset=latin1")]
    [InlineData("text/json")]
    [InlineData("")]
    public async Task A_content_type_that_is_not_exactly_JSON_in_UTF8_is_refused(string contentType)
    {
        var answer = await Refused(() => RawHttp.SendAsync(node, node.AdminCertificate,
            $"POST /app/transactions?api-version={V} HTTP/1.1\nContent-Type: {contentType}\nContent-Length: 16",
            stream => stream.WriteAsync("""{"contents":"x"}"""u8.ToArray()).AsTask()));
        Assert.Equal((400, "UnsupportedContentType"), (answer.Status, answer.Code));
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/json; charset=UTF-8")]
    [InlineData("Application/JSON;charset=\"utf-8\"")]
    public async Task JSON_in_UTF8_is_accepted_however_it_is_spelled(string contentType)
    {
        var response = await RawHttp.SendAsync(node, node.AdminCertificate,
            $"POST /app/transactions?api-version={V} HTTP/1.1\nContent-Type: {contentType}\nContent-Length: 16",
            stream => stream.WriteAsync("""{"contents":"x"}"""u8.ToArray()).AsTask());
        Assert.True(response.Status == 200, $"{response.Status}: {response.Text}");
    }

    [Theory]
    [InlineData("application/merge-patch+json", 200)]
    [InlineData("application/merge-patch+json; charset=utf-8", 200)]
    [InlineData("application/json", 200)]
    [InlineData("application/merge-patch+jsonx", 400)]
    [InlineData("application/merge-patch+json; charset=utf-16", 400)]
    public async Task A_user_patch_takes_merge_patch_or_JSON_in_UTF8(string contentType, int status)
    {
        var user = Guid.NewGuid().ToString("D");
        var body = """{"assignedRole":"Reader"}"""u8.ToArray();
        var response = await RawHttp.SendAsync(node, node.AdminCertificate,
            $"PATCH /app/users/{user}?api-version={V} HTTP/1.1\nContent-Type: {contentType}\nContent-Length: {body.Length}",
            stream => stream.WriteAsync(body).AsTask());
        Assert.True(response.Status == status, $"{response.Status}: {response.Text}");
    }

    /// <summary><c>{"contents":"aaa…"}</c> of exactly <paramref name="size"/> bytes.</summary>
    private static byte[] EntryBody(int size)
    {
        var body = new byte[size];
        body.AsSpan().Fill((byte)'a');
        "{\"contents\":\""u8.CopyTo(body);
        "\"}"u8.CopyTo(body.AsSpan(size - 2));
        return body;
    }

    private readonly record struct Answer(int Status, string? Code, string? Allow, string Text)
    {
        public static async Task<Answer> Of(HttpResponseMessage response)
        {
            var text = await response.Content.ReadAsStringAsync();
            var allow = response.Content.Headers.Allow.Count > 0 ? string.Join(", ", response.Content.Headers.Allow) : null;
            return new Answer((int)response.StatusCode, CodeOf(text), allow, text);
        }

        public static Answer Of(RawHttp.Response response) =>
            new(response.Status, CodeOf(response.Text), response.Headers.TryGetValue("allow", out var allow) ? allow : null, response.Text);

        /// <summary>The ACL error code, or null for a body that is not an ACL error (a success, or an empty refusal).</summary>
        private static string? CodeOf(string text)
        {
            try
            {
                using var document = JsonDocument.Parse(text);
                return document.RootElement.TryGetProperty("error", out var error) ? error.GetProperty("code").GetString() : null;
            }
            catch (JsonException)
            {
                return null;
            }
        }
    }

    private async Task<Answer> SendAsync(HttpClient client, string method, string target)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), target);
        if (method is "POST" or "PATCH")
        {
            request.Content = NodeFixture.Json("""{"contents":"x"}""");
        }

        var before = await Settled();
        var answer = await Answer.Of(await client.SendAsync(request));
        Assert.Equal(before, await Settled());
        return answer;
    }

    private Task<Answer> Refused(Func<Task<RawHttp.Response>> send) => Refused(async () => Answer.Of(await send()));

    /// <summary>Sends, checks the answer is a refusal in the ACL shape, and that the ledger did not grow.</summary>
    private async Task<Answer> Refused(Func<Task<Answer>> send)
    {
        var before = await Settled();
        var answer = await send();
        Assert.True(answer.Status is >= 400 and < 500, $"{answer.Status}: {answer.Text}");
        Assert.True(answer.Code is not null, $"{answer.Status} without an ACL error body: '{answer.Text}'");
        Assert.Equal(before, await Settled());
        return answer;
    }

    /// <summary>The last seqno once every write so far (and its signature) is durable.</summary>
    private async Task<long> Settled()
    {
        await node.Ledger.Sequencer.WaitForCommitAsync(node.Ledger.LastSeqno).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        return node.Ledger.LastSeqno;
    }
}
