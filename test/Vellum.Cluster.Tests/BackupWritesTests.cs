using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Vellum.TestSupport.Cluster;

namespace Vellum.Cluster.Tests;

/// <summary>
/// What a backup does with a write (<c>--backup-writes</c>): forward it to the primary (the default), redirect, or
/// refuse; and the trust a forwarded write rests on — only a member's node certificate may name the caller.
/// </summary>
[Collection(nameof(ClusterCollection))]
public sealed class BackupWritesTests
{
    private const string V = "api-version=2022-05-13";
    private const string ForwardedUser = "x-vellum-forwarded-user";

    [Fact]
    public async Task By_default_a_backup_forwards_writes_to_the_primary_and_only_members_may_name_the_caller()
    {
        await using var cluster = new ClusterProcess(3);
        await cluster.StartAllAsync();
        var primary = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        await cluster.WaitForAllReadyAsync(ClusterProcess.Timeout);
        var backups = Enumerable.Range(0, 3).Where(i => i != primary).ToArray();
        await ClusterTests.WaitUntilAsync(async () => await cluster.NetworkAsync(backups[0]) is { } n && n.GetProperty("primary").GetString() == cluster.Url(primary).ToString().TrimEnd('/'),
            $"node {backups[0]} to know the primary");

        // A write to a backup is answered 200 by the backup itself, with the transaction id the primary gave it.
        using var admin = cluster.Client(backups[0], followRedirects: false);
        using (var response = await admin.PostAsync($"/app/transactions?collectionId=forwarded&{V}", Json("""{"contents":"sent to a backup"}""")))
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {text}");
            Assert.Null(response.Headers.Location);
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            var id = Assert.Single(response.Headers.GetValues("x-ms-ccf-transaction-id"));
            Assert.Equal("forwarded", JsonDocument.Parse(text).RootElement.GetProperty("collectionId").GetString());

            // Readable everywhere once committed, through the backup that forwarded it too.
            foreach (var i in new[] { primary, backups[0] })
            {
                using var reader = cluster.Client(i);
                await ClusterTests.WaitUntilAsync(async () => await StateAsync(reader, id) == "Committed", $"{id} to be Committed on node {i}");
                var entry = await ClusterTests.JsonAsync(await reader.GetAsync($"/app/transactions/{id}?collectionId=forwarded&{V}"));
                Assert.Equal("sent to a backup", entry.GetProperty("entry").GetProperty("contents").GetString());
            }
        }

        // A user-management write through a backup: forwarded as the Administrator it authenticated.
        using var userCertificate = NewUserCertificate();
        var user = Convert.ToHexString(SHA256.HashData(userCertificate.RawData));
        using (var response = await admin.PatchAsync($"/app/users/{user}?{V}", Json("""{"assignedRole":"Contributor"}""", "application/merge-patch+json")))
        {
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        // The new Contributor writes through a backup as itself (the primary's user table has it) ...
        using var asUser = cluster.Client(backups[1], userCertificate, followRedirects: false);
        await ClusterTests.WaitUntilAsync(async () => (await asUser.GetAsync($"/app/collections?{V}")).StatusCode == HttpStatusCode.OK, $"node {backups[1]} to know the new user");
        var (status, _, body) = await ClusterTests.PostAsync(asUser, "a contributor's write via a backup");
        Assert.True(status == HttpStatusCode.OK, body);

        // ... but may not name anyone in the forwarded-user header, to the primary or to a backup: refused, nothing written.
        foreach (var i in new[] { primary, backups[1] })
        {
            using var client = cluster.Client(i, userCertificate, followRedirects: false);
            using var request = new HttpRequestMessage(HttpMethod.Patch, $"/app/users/{user}?{V}") { Content = Json("""{"assignedRole":"Administrator"}""", "application/merge-patch+json") };
            request.Headers.Add(ForwardedUser, Fingerprint(cluster.AdminCertificate));
            await AssertErrorAsync(await client.SendAsync(request), HttpStatusCode.Forbidden, "ForwardedUserNotAllowed");

            using var write = new HttpRequestMessage(HttpMethod.Post, $"/app/transactions?collectionId=forged&{V}") { Content = Json("""{"contents":"forged"}""") };
            write.Headers.Add(ForwardedUser, Fingerprint(cluster.AdminCertificate));
            await AssertErrorAsync(await client.SendAsync(write), HttpStatusCode.Forbidden, "ForwardedUserNotAllowed");
        }

        // A member's certificate may name a caller, but a write forwarded to a node that is not primary is not
        // forwarded again: 503, and nothing written.
        using (var member = cluster.Client(backups[1], cluster.NodeCertificate(backups[0]), followRedirects: false))
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/app/transactions?collectionId=forged&{V}") { Content = Json("""{"contents":"bounced"}""") };
            request.Headers.Add(ForwardedUser, Fingerprint(cluster.AdminCertificate));
            await AssertErrorAsync(await member.SendAsync(request), HttpStatusCode.ServiceUnavailable, "ServiceUnavailable");
        }

        using (var check = cluster.Client(primary))
        {
            Assert.Equal("Contributor", (await ClusterTests.JsonAsync(await check.GetAsync($"/app/users/{user}?{V}"))).GetProperty("assignedRole").GetString());
            var collections = await ClusterTests.JsonAsync(await check.GetAsync($"/app/collections?{V}"));
            Assert.DoesNotContain(collections.GetProperty("collections").EnumerateArray(), c => c.GetProperty("collectionId").GetString() == "forged");
        }
    }

    [Fact]
    public async Task With_redirect_a_backup_answers_307_to_the_primary_and_with_refuse_503()
    {
        await using var cluster = new ClusterProcess(3);
        await cluster.StartAllAsync("--backup-writes", "redirect");
        var first = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);

        // One backup restarted to refuse instead (the other two keep a majority meanwhile).
        var refusing = (first + 1) % 3;
        Assert.Equal(0, await cluster.TerminateAsync(refusing));
        await cluster.StartAsync(refusing, options: ["--backup-writes", "refuse"]);
        var primary = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout, not: refusing);
        var redirecting = Enumerable.Range(0, 3).Single(i => i != primary && i != refusing);
        var primaryUrl = cluster.Url(primary).ToString().TrimEnd('/');
        foreach (var i in new[] { redirecting, refusing })
        {
            await ClusterTests.WaitUntilAsync(async () => await cluster.NetworkAsync(i) is { } n && n.GetProperty("primary").GetString() == primaryUrl, $"node {i} to know the primary");
        }

        using (var client = cluster.Client(redirecting, followRedirects: false))
        using (var response = await client.PostAsync($"/app/transactions?collectionId=redirected&{V}", Json("""{"contents":"to a backup"}""")))
        {
            Assert.Equal(HttpStatusCode.TemporaryRedirect, response.StatusCode);
            Assert.Equal(cluster.Url(primary).Authority, response.Headers.Location!.Authority);
            Assert.Equal($"/app/transactions?collectionId=redirected&{V}", response.Headers.Location.PathAndQuery);
        }

        // A client that follows 307 (as ACL's clients and curl -L do) gets its write in.
        using (var following = cluster.Client(redirecting))
        {
            var (status, id, body) = await ClusterTests.PostAsync(following, "followed the redirect");
            Assert.True(status == HttpStatusCode.OK && id is not null, body);
        }

        using (var client = cluster.Client(refusing, followRedirects: false))
        using (var response = await client.PostAsync($"/app/transactions?{V}", Json("""{"contents":"to a backup"}""")))
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode} {text}");
            Assert.Null(response.Headers.Location);
            var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
            Assert.Equal("ServiceUnavailable", error.GetProperty("code").GetString());
            Assert.Contains(cluster.Url(primary).Authority, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
    }

    private static async Task<string?> StateAsync(HttpClient client, string id)
    {
        using var response = await client.GetAsync($"/app/transactions/{id}/status?{V}");
        return response.IsSuccessStatusCode ? JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("state").GetString() : null;
    }

    private static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"expected {(int)status} {code}, got {(int)response.StatusCode} {text}");
            Assert.Equal(code, JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("code").GetString());
        }
    }

    private static X509Certificate2 NewUserCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var request = new CertificateRequest("CN=Backup Writes Test User", key, HashAlgorithmName.SHA384);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    private static string Fingerprint(X509Certificate2 certificate) => Convert.ToHexString(SHA256.HashData(certificate.RawData));

    private static StringContent Json(string json, string mediaType = "application/json") => new(json, Encoding.UTF8, new MediaTypeHeaderValue(mediaType));

}
