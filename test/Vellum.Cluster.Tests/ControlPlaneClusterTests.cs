using System.Net;
using System.Text;
using System.Text.Json;
using Vellum.TestSupport.Cluster;

namespace Vellum.Cluster.Tests;

/// <summary>
/// The control plane on a 3-process cluster, driven through a backup (which sends changes on to the primary): a ledger
/// made so, with its resource, reaches every member; a change of its tags reaches them through the consensus log; the
/// deletion erases it everywhere.
/// </summary>
[Collection(nameof(ClusterCollection))]
public sealed class ControlPlaneClusterTests
{
    private const string Version = "api-version=2026-02-23";
    private const string Subscription = "aa11bb22-cc33-4d44-8e55-ff6677889900";
    private const string Marker = "control-plane-marker-";

    private static string Ledger(string name) =>
        $"/subscriptions/{Subscription}/resourceGroups/cluster/providers/Microsoft.ConfidentialLedger/ledgers/{name}?{Version}";

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task A_ledger_made_changed_and_deleted_through_a_backup_is_so_on_every_member()
    {
        // Three members (the first alone, two joined); a fourth joins once the ledger is made and changed.
        await using var cluster = new ClusterProcess(4);
        await cluster.StartAsync(0, alone: true);
        await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        var token = await ManyLedgersClusterTests.JoinTokenAsync(cluster, 0);
        // Operators are each member's settings: a joining member is given the Administrator's certificate as one.
        string[] asOperator = ["--operator-cert", cluster.AdminCertificatePath];
        await cluster.JoinAsync(1, target: 0, token, asOperator);
        await cluster.JoinAsync(2, target: 0, token, asOperator);
        await cluster.WaitForAllReadyAsync(ClusterProcess.Timeout);
        var primary = await cluster.WaitForPrimaryAsync(ClusterProcess.Timeout);
        var backups = Enumerable.Range(0, 3).Where(i => i != primary).ToArray();
        const string Name = "cp-ledger";

        // Made through a backup, which sends it on to the primary as the operator it authenticated; the status URL it
        // answers points at the backup, which asks the primary.
        using var admin = cluster.Client(backups[0]);
        using (var created = await admin.PutAsync(Ledger(Name), Json("""{"location":"local","tags":{"stage":"one"},"properties":{"ledgerType":"Public"}}""")))
        {
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
            var statusUrl = new Uri(created.Headers.GetValues("Azure-AsyncOperation").Single());
            Assert.Equal(cluster.Url(backups[0]).Port, statusUrl.Port);
            var status = statusUrl.PathAndQuery;
            await ClusterTests.WaitUntilAsync(async () =>
            {
                using var poll = await admin.GetAsync(status);
                var state = (await ClusterTests.JsonAsync(poll)).GetProperty("status").GetString();
                Assert.NotEqual("Failed", state);
                return state == "Succeeded";
            }, "the creation to succeed");
        }

        // Every member has it with its resource; the creator (an Owner, named no Administrator) writes through a backup.
        foreach (var i in Enumerable.Range(0, 3))
        {
            await ClusterTests.WaitUntilAsync(async () => (await TagOf(cluster, i, Name)) == "one", $"member {i} to serve the ledger's resource");
        }

        string? id = null;
        for (var n = 0; n < 20; n++)
        {
            using var write = await cluster.Client(backups[1]).PostAsync($"/ledgers/{Name}/app/transactions?api-version=2022-05-13&waitForCommit=true",
                Json($$"""{"contents":"{{Marker}}{{n}}"}"""));
            Assert.True(write.IsSuccessStatusCode, await write.Content.ReadAsStringAsync());
            id = write.Headers.GetValues("x-ms-ccf-transaction-id").Single();
        }

        Assert.NotNull(id);

        // A change of tags (sent to the backup, made by the primary) reaches every member through the consensus log.
        using (var changed = await admin.PatchAsync(Ledger(Name), Json("""{"location":"local","tags":{"stage":"two"},"properties":{"ledgerType":"Public"}}""")))
        {
            Assert.True(changed.StatusCode == HttpStatusCode.OK, await changed.Content.ReadAsStringAsync());
        }

        foreach (var i in Enumerable.Range(0, 3))
        {
            await ClusterTests.WaitUntilAsync(async () => (await TagOf(cluster, i, Name)) == "two", $"member {i} to take the new tags");
        }

        // A member that joins now receives the ledger with its resource as it is.
        await cluster.JoinAsync(3, target: primary, await ManyLedgersClusterTests.JoinTokenAsync(cluster, primary), asOperator);
        await ClusterTests.WaitUntilAsync(async () => (await TagOf(cluster, 3, Name)) == "two", "the joined member to serve the ledger's resource");

        // Deleted through the backup: gone on every member, and no member's files hold its contents.
        using (var deleting = await admin.DeleteAsync(Ledger(Name)))
        {
            Assert.Equal(HttpStatusCode.Accepted, deleting.StatusCode);
            var location = new Uri(deleting.Headers.Location!.ToString()).PathAndQuery;
            await ClusterTests.WaitUntilAsync(async () =>
            {
                using var poll = await admin.GetAsync(location);
                Assert.True(poll.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.OK, $"{(int)poll.StatusCode} {await poll.Content.ReadAsStringAsync()}");
                return poll.StatusCode == HttpStatusCode.OK;
            }, "the deletion to end");
        }

        foreach (var i in Enumerable.Range(0, 4))
        {
            await ClusterTests.WaitUntilAsync(async () =>
            {
                using var got = await cluster.Client(i).GetAsync(Ledger(Name));
                return got.StatusCode == HttpStatusCode.NotFound && !Directory.Exists(Path.Combine(cluster.Data(i), "ledgers", Name));
            }, $"member {i} to erase the ledger");
        }

        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(0, await cluster.TerminateAsync(i));
            foreach (var file in Directory.EnumerateFiles(cluster.Data(i), "*", SearchOption.AllDirectories))
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                var bytes = new byte[stream.Length];
                stream.ReadExactly(bytes);
                Assert.True(bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(Marker)) < 0, $"{file} holds the deleted ledger's contents");
            }
        }
    }

    [Fact]
    public async Task A_ledger_whose_first_users_are_not_committed_answers_that_it_is_being_created()
    {
        // One member of three: no majority, so no primary commits the ledger's first Administrator yet.
        await using var cluster = new ClusterProcess(3);
        await cluster.StartAsync(0);
        using (var early = await cluster.Client(0).GetAsync("/app/ledgerUsers?api-version=2024-08-22-preview"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, early.StatusCode);
            Assert.Contains("being created", await early.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await cluster.StartAsync(1);
        await cluster.StartAsync(2);
        await ClusterTests.WaitUntilAsync(async () =>
        {
            using var users = await cluster.Client(0).GetAsync("/app/ledgerUsers?api-version=2024-08-22-preview");
            return users.StatusCode == HttpStatusCode.OK;
        }, "the ledger's first users to commit once a majority runs");
    }

    /// <summary>The <c>stage</c> tag member <paramref name="i"/> gives the ledger's resource; null when it has none yet.</summary>
    private static async Task<string?> TagOf(ClusterProcess cluster, int i, string name)
    {
        using var got = await cluster.Client(i).GetAsync(Ledger(name));
        if (got.StatusCode != HttpStatusCode.OK)
        {
            return null;
        }

        using var body = JsonDocument.Parse(await got.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("tags").TryGetProperty("stage", out var stage) ? stage.GetString() : null;
    }
}
