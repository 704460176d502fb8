using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;
using Vellum.Node.Ledgers;

namespace Vellum.Node.Tests;

/// <summary>
/// Deleting a ledger on a single node: <c>DELETE /node/ledgers/{name}</c> through <c>default</c> removes it for good —
/// no request reaches it, no file, key or node-log record of it stays, only a tombstone — and frees the name; bad requests
/// delete nothing; a deletion cut short by a crash is finished at the next start.
/// </summary>
public sealed class LedgerDeletionTests : IAsyncLifetime
{
    private const string V = "api-version=2022-05-13";
    private readonly NodeFixture _node = new();

    public ValueTask InitializeAsync() => _node.InitializeAsync();

    public ValueTask DisposeAsync() => _node.DisposeAsync();

    private string Data => Path.Combine(_node.Root, "data");

    [Fact]
    public async Task A_deleted_ledger_leaves_only_its_tombstone_and_its_name_is_free_again()
    {
        using (var created = await _node.Admin.PutAsync("/node/ledgers/alpha", NodeFixture.Json("""{"ledgerType":"Private"}""")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        string id;
        using (var write = await _node.Admin.PostAsync($"/ledgers/alpha/app/transactions?{V}&waitForCommit=true", NodeFixture.Json("""{"contents":"secret words of alpha"}""")))
        {
            Assert.True(write.IsSuccessStatusCode, await write.Content.ReadAsStringAsync());
            id = write.Headers.GetValues("x-ms-ccf-transaction-id").Single();
        }

        // One more write left unsigned for a moment: the deletion waits for its signature, so the tombstone covers it.
        using (var write = await _node.Admin.PostAsync($"/ledgers/alpha/app/transactions?{V}", NodeFixture.Json("""{"contents":"last words"}""")))
        {
            Assert.True(write.IsSuccessStatusCode, await write.Content.ReadAsStringAsync());
        }

        Assert.True(_node.Ledgers.TryGet("alpha", out var alpha));
        var lastSeqno = alpha.LastSeqno;
        var certificate = alpha.Service.ExportCertificatePem();
        var secretHex = File.ReadAllText(Path.Combine(Data, "ledgers", "alpha", "secrets", "ledger.secret")).Trim();

        JsonElement tombstone;
        using (var deleted = await _node.Admin.DeleteAsync("/node/ledgers/alpha"))
        {
            tombstone = await NodeFixture.Body(deleted);
            Assert.True(deleted.StatusCode == HttpStatusCode.OK, tombstone.ToString());
        }

        Assert.Equal("alpha", tombstone.GetProperty("name").GetString());
        Assert.Equal("Private", tombstone.GetProperty("ledgerType").GetString());
        Assert.Equal(certificate, tombstone.GetProperty("serviceCertificate").GetString());
        Assert.Equal(NodeFixture.Fingerprint(_node.AdminCertificate), tombstone.GetProperty("deletedBy").GetString());
        var lastSigned = TxId.Parse(tombstone.GetProperty("lastSignedTransactionId").GetString()!);
        Assert.True(lastSigned.Seqno > lastSeqno - 1, $"the tombstone's last signature {lastSigned} does not cover seqno {lastSeqno}");
        Assert.False(Hash32.ParseHex(tombstone.GetProperty("lastSignedRoot").GetString()).IsZero);

        // Nothing reaches it any more, by any name.
        Assert.False(_node.Ledgers.TryGet("alpha", out _));
        foreach (var path in new[] { $"/ledgers/alpha/app/transactions/{id}?{V}", "/ledgerIdentity/alpha" })
        {
            using var gone = await _node.Admin.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
            Assert.Equal("LedgerNotFound", (await NodeFixture.Body(gone)).GetProperty("error").GetProperty("code").GetString());
        }

        using (var again = await _node.Admin.DeleteAsync("/node/ledgers/alpha"))
        {
            Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        }

        using (var list = await _node.Admin.GetAsync("/node/ledgers"))
        {
            var body = await NodeFixture.Body(list);
            Assert.Equal(["default"], body.GetProperty("ledgers").EnumerateArray().Select(l => l.GetProperty("name").GetString()));
            var kept = Assert.Single(body.GetProperty("deleted").EnumerateArray());
            Assert.Equal(tombstone.GetProperty("lastSignedRoot").GetString(), kept.GetProperty("lastSignedRoot").GetString());
        }

        // No file of it stays: not its folder, not its secret (in hex or raw), not a record of it in the node log.
        Assert.Equal(["default"], Directory.GetDirectories(Path.Combine(Data, "ledgers")).Select(Path.GetFileName));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(Data, "node", "deleting")));
        var secret = Convert.FromHexString(secretHex);
        foreach (var file in Directory.EnumerateFiles(Data, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith("vellum.lock", StringComparison.Ordinal)))
        {
            var bytes = File.ReadAllBytes(file);
            Assert.False(bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(secretHex)) >= 0, $"{file} holds the deleted ledger's secret (hex)");
            Assert.False(bytes.AsSpan().IndexOf(secret) >= 0, $"{file} holds the deleted ledger's secret");
            Assert.False(bytes.AsSpan().IndexOf("secret words of alpha"u8) >= 0, $"{file} holds the deleted ledger's contents");
            if (file.EndsWith(".wal", StringComparison.Ordinal))
            {
                Assert.False(bytes.AsSpan().IndexOf("\u0005alpha"u8) >= 0, $"{file} still holds a node-log record of the deleted ledger");
            }
        }

        var tombstoneFile = Assert.Single(Directory.GetFiles(Path.Combine(Data, "node", "tombstones")));
        Assert.Equal($"alpha.{LedgerCreation.DigestOf(certificate)}.json", Path.GetFileName(tombstoneFile));
        Assert.Equal(LedgerCreation.DigestOf(certificate), LedgerCreation.DigestOf(Assert.Single(_node.Ledgers.Tombstones("ALPHA")).ServiceCertificatePem)); // by name, any case
        Assert.Empty(_node.Ledgers.Tombstones("alph"));
        Assert.Empty(_node.Ledgers.Tombstones("not a name"));

        // A single node has no members to give a ledger's material to: even its own certificate is refused (the
        // answers a member gets, 410 with the tombstone, are DeploymentIdentityTests').
        using (var member = await _node.Client(_node.Ledger.Tls.Certificate).GetAsync($"/node/ledgers/alpha/material?digest={LedgerCreation.DigestOf(certificate)}"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, member.StatusCode);
        }

        // The name is free: a new ledger, with a new identity, and none of the old one's transactions.
        using (var created = await _node.Admin.PutAsync("/node/ledgers/alpha", null))
        {
            var body = await NodeFixture.Body(created);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            Assert.Equal("Public", body.GetProperty("ledgerType").GetString());
            Assert.NotEqual(certificate, body.GetProperty("serviceCertificate").GetString());
        }

        using (var entries = await _node.Admin.GetAsync($"/ledgers/alpha/app/transactions?{V}"))
        {
            Assert.DoesNotContain("secret words of alpha", await entries.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Default_an_unknown_or_bad_name_or_the_wrong_caller_deletes_nothing()
    {
        using (var created = await _node.Admin.PutAsync("/node/ledgers/beta", null))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        async Task Refused(HttpClient client, string path, HttpStatusCode status, string code)
        {
            using var response = await client.DeleteAsync(path);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"{path}: {(int)response.StatusCode} {text}");
            Assert.Equal(code, JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("code").GetString());
        }

        await Refused(_node.Admin, "/node/ledgers/gamma", HttpStatusCode.NotFound, "LedgerNotFound");
        await Refused(_node.Admin, "/node/ledgers/9lives", HttpStatusCode.BadRequest, "InvalidInput");
        await Refused(_node.Admin, "/ledgers/beta/node/ledgers/beta", HttpStatusCode.Forbidden, "LedgersNotManagedHere");
        await Refused(_node.Client(null), "/node/ledgers/beta", HttpStatusCode.Unauthorized, "InvalidAuthenticationInfo");
        using var contributor = NodeFixture.NewUserCertificate("contributor");
        using (var added = await _node.Admin.PatchAsync($"/app/users/{NodeFixture.Fingerprint(contributor)}?{V}", NodeFixture.Json("""{"assignedRole":"Contributor"}""", "application/merge-patch+json")))
        {
            Assert.True(added.IsSuccessStatusCode, await added.Content.ReadAsStringAsync());
        }

        await Refused(_node.Client(contributor), "/node/ledgers/beta", HttpStatusCode.Forbidden, "NotAllowed");

        Assert.True(_node.Ledgers.TryGet("beta", out _));
        Assert.True(_node.Ledgers.TryGet("default", out _));
        Assert.Equal(["beta", "default"], Directory.GetDirectories(Path.Combine(Data, "ledgers")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.False(Directory.Exists(Path.Combine(Data, "node", "tombstones")));
    }

    [Fact]
    public async Task A_deletion_holds_across_a_restart_a_name_made_again_opens_and_a_deletion_cut_short_is_finished()
    {
        var root = Directory.CreateTempSubdirectory("vellum-delete-").FullName;
        try
        {
            var options = new NodeOptions
            {
                DataDirectory = root,
                Listen = new IPEndPoint(IPAddress.Loopback, 0),
                SignatureDelay = TimeSpan.FromMilliseconds(20),
            };
            var gamma = LedgerName.Parse("gamma");
            string second;
            await using (var registry = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
            {
                var first = await registry.CreateAsync(new LedgerSpec(gamma, true), default).WaitAsync(TimeSpan.FromSeconds(30));
                await first.AppendEntryAsync("c", "first gamma"u8.ToArray(), [], default).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
                await registry.DeleteAsync(gamma, "tester", default).WaitAsync(TimeSpan.FromSeconds(30));
                await Assert.ThrowsAsync<LedgerNotFoundException>(() => registry.DeleteAsync(gamma, "tester", default));

                // Made again under the same name, and written: the node log now holds only the new one's batches.
                var made = await registry.CreateAsync(new LedgerSpec(gamma, false), default).WaitAsync(TimeSpan.FromSeconds(30));
                second = made.Service.ExportCertificatePem();
                await made.AppendEntryAsync("c", "second gamma"u8.ToArray(), [], default).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

                // A crash just after a deletion kept theta's tombstone, before its folder left ledgers/.
                var theta = await registry.CreateAsync(new LedgerSpec(LedgerName.Parse("theta"), null), default).WaitAsync(TimeSpan.FromSeconds(30));
                var kept = theta.Tombstone("tester", DateTimeOffset.UtcNow);
                var data = new Vellum.Storage.DataDirectory(root);
                data.KeepTombstone(data.TombstoneFile(LedgerName.Parse("theta"), kept.ServiceCertificateDigest.ToString()), kept.ToJson());
            }

            // A crash in the middle of another deletion: the folder left ledgers/ but was not erased yet.
            var cutShort = Path.Combine(root, "node", "deleting", "omega.0123");
            Directory.CreateDirectory(Path.Combine(cutShort, "secrets"));
            File.WriteAllText(Path.Combine(cutShort, "secrets", "ledger.secret"), "00");

            await using (var reopened = await LedgerRegistry.OpenAsync(options, NullLogger.Instance))
            {
                Assert.Equal(["default", "gamma"], reopened.All.Select(l => l.Name.Value));
                Assert.True(reopened.TryGet("gamma", out var made));
                Assert.False(made.IsPrivate);
                Assert.Equal(second, made.Service.ExportCertificatePem());
                var contents = Enumerable.Range(1, (int)made.Store.DurableSeqno)
                    .Where(seqno => made.Store.ReadHeader(seqno).Kind == Vellum.Core.Entries.EntryKind.UserEntry)
                    .Select(seqno => made.Store.ReadUserEntry(seqno).Entry.ContentsText);
                Assert.Equal(["second gamma"], contents);
                Assert.False(Directory.Exists(cutShort));
                Assert.False(Directory.Exists(Path.Combine(root, "ledgers", "theta")));
                Assert.Equal(["gamma", "theta"], reopened.Tombstones().Select(t => t.Name));
                Assert.All(reopened.Tombstones(), t => Assert.Equal("tester", t.DeletedBy));
            }

            using var service = X509Certificate2.CreateFromPem(second);
            var (_, failure) = Vellum.Storage.Verification.LedgerDirectoryVerifier.Verify(Path.Combine(root, "ledgers", "gamma", "ledger"), service);
            Assert.Null(failure);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task After_a_deletion_whose_node_log_move_failed_no_ledger_is_made_until_the_move_works()
    {
        var root = Directory.CreateTempSubdirectory("vellum-roll-").FullName;
        try
        {
            var failing = 0; // moves to fail from now on
            var moves = 0;
            var options = new NodeOptions
            {
                DataDirectory = root,
                Listen = new IPEndPoint(IPAddress.Loopback, 0),
                SignatureDelay = TimeSpan.FromMilliseconds(20),
                NodeLog = new Vellum.Consensus.NodeLogOptions
                {
                    MoveFault = () =>
                    {
                        Interlocked.Increment(ref moves);
                        return Volatile.Read(ref failing) > 0 ? new IOException("injected: the disk refused a new segment") : null;
                    },
                },
            };
            var gamma = LedgerName.Parse("gamma");
            var log = Path.Combine(root, "node", "log");
            await using var registry = await LedgerRegistry.OpenAsync(options, NullLogger.Instance);
            var first = await registry.CreateAsync(new LedgerSpec(gamma, true), default).WaitAsync(TimeSpan.FromSeconds(30));
            await first.AppendEntryAsync("c", "first gamma"u8.ToArray(), [], default).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            var firstCertificate = first.Service.ExportCertificatePem();

            // The deletion is done (tombstone kept, folder erased) but the node log could not leave the segment that
            // holds gamma's batches: the caller is told.
            Volatile.Write(ref failing, 1);
            var segments = Directory.GetFiles(log, "*.wal");
            await Assert.ThrowsAsync<IOException>(() => registry.DeleteAsync(gamma, "tester", default).WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.False(registry.TryGet("gamma", out _));
            Assert.Single(registry.Tombstones("gamma"));
            Assert.Equal(segments, Directory.GetFiles(log, "*.wal"));

            // While the move keeps failing, no ledger is made: not gamma again, nor any other (nothing staged or adopted).
            await Assert.ThrowsAsync<IOException>(() => registry.CreateAsync(new LedgerSpec(gamma, false), default).WaitAsync(TimeSpan.FromSeconds(30)));
            await Assert.ThrowsAsync<IOException>(() => registry.CreateAsync(new LedgerSpec(LedgerName.Parse("delta"), false), default).WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.False(Directory.Exists(Path.Combine(root, "ledgers", "gamma")));
            Assert.False(Directory.Exists(Path.Combine(root, "ledgers", "delta")));
            Assert.Equal(["default"], registry.All.Select(l => l.Name.Value));

            // Once it works, the next creation moves first: the segments that held the deleted gamma's batches are gone.
            Volatile.Write(ref failing, 0);
            var before = Volatile.Read(ref moves);
            var made = await registry.CreateAsync(new LedgerSpec(gamma, false), default).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(Volatile.Read(ref moves) > before);
            Assert.All(segments, segment => Assert.False(File.Exists(segment), $"{segment} still holds the deleted gamma's batches"));
            await made.AppendEntryAsync("c", "second gamma"u8.ToArray(), [], default).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.NotEqual(firstCertificate, made.Service.ExportCertificatePem());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
