using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Vellum.Cli.Tests;

/// <summary>
/// A <c>vellum start</c> process SIGKILLed right after the control plane accepted a creation or a deletion: after the
/// restart the ledger is wholly there or wholly gone, and the operation's status says which.
/// </summary>
public sealed class ControlPlaneCrashTests(ITestOutputHelper output) : IDisposable
{
    private const string Version = "api-version=2026-02-23";
    private const string Subscription = "5e4d3c2b-1a09-4f8e-9d7c-6b5a49382716";
    private readonly string _data = Path.Combine(Path.GetTempPath(), "vellum-cp-crash-" + Guid.NewGuid().ToString("N"));

    private static string Ledger(string name) =>
        $"/subscriptions/{Subscription}/resourceGroups/crash/providers/Microsoft.ConfidentialLedger/ledgers/{name}?{Version}";

    [Fact]
    public async Task A_creation_or_deletion_cut_short_by_SIGKILL_is_whole_or_absent_and_its_status_agrees()
    {
        // Three rounds here; bench/control-plane-kills.sh runs more (VELLUM_CONTROL_PLANE_KILLS).
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("VELLUM_CONTROL_PLANE_KILLS"), out var n) && n > 0 ? n : 3;
        for (var round = 0; round < rounds; round++)
        {
            var name = $"crash-{round}";

            // Creation, killed as soon as it is accepted.
            string status;
            using (var node = await RunningNode.Start(_data))
            {
                using var client = Deployment(node);
                using var created = await client.PutAsync(Ledger(name), new StringContent("""{"location":"eastus","properties":{"ledgerType":"Private"}}""", Encoding.UTF8, "application/json"));
                Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
                status = new Uri(created.Headers.GetValues("Azure-AsyncOperation").Single()).PathAndQuery;
                node.Kill();
            }

            using (var node = await RunningNode.Start(_data))
            {
                using var client = Deployment(node);
                var outcome = await OutcomeAsync(client, status);
                using var got = await client.GetAsync(Ledger(name));
                var exists = Directory.Exists(Path.Combine(_data, "ledgers", name));
                output.WriteLine($"round {round}: creation {outcome}");
                Assert.True(outcome == "Succeeded" ? got.StatusCode == HttpStatusCode.OK && exists : got.StatusCode == HttpStatusCode.NotFound && !exists,
                    $"round {round}: creation {outcome}, GET {(int)got.StatusCode}, folder {(exists ? "present" : "absent")}");
                if (outcome != "Succeeded")
                {
                    continue; // nothing to delete; the next round tries again
                }

                // The ledger works: its creator (the development Administrator, an Owner) writes to it.
                using var write = await client.PostAsync($"/ledgers/{name}/app/transactions?api-version=2022-05-13&waitForCommit=true",
                    new StringContent("""{"contents":"before the deletion"}""", Encoding.UTF8, "application/json"));
                Assert.True(write.IsSuccessStatusCode, await write.Content.ReadAsStringAsync());

                // Deletion, killed as soon as it is accepted.
                using var deleting = await client.DeleteAsync(Ledger(name));
                Assert.Equal(HttpStatusCode.Accepted, deleting.StatusCode);
                status = new Uri(deleting.Headers.GetValues("Azure-AsyncOperation").Single()).PathAndQuery;
                node.Kill();
            }

            using (var node = await RunningNode.Start(_data))
            {
                using var client = Deployment(node);
                var outcome = await OutcomeAsync(client, status);
                using var got = await client.GetAsync(Ledger(name));
                var exists = Directory.Exists(Path.Combine(_data, "ledgers", name));
                output.WriteLine($"round {round}: deletion {outcome}");
                Assert.True(outcome == "Succeeded" ? got.StatusCode == HttpStatusCode.NotFound && !exists : got.StatusCode == HttpStatusCode.OK && exists,
                    $"round {round}: deletion {outcome}, GET {(int)got.StatusCode}, folder {(exists ? "present" : "absent")}");
                Assert.Equal(0, await node.Terminate());
            }
        }
    }

    /// <summary>The deployment's client (<c>https://localhost:{port}</c>, its development CA trusted) as the development Administrator.</summary>
    private HttpClient Deployment(RunningNode node) =>
        node.DeploymentClient(X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(_data, "credentials", "deployment_ca_cert.pem"))));

    /// <summary>The status an operation ended with (a restarted node has judged one cut short).</summary>
    private static async Task<string> OutcomeAsync(HttpClient client, string status)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var response = await client.GetAsync(status);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{status}: {(int)response.StatusCode} {text}");
            var value = JsonDocument.Parse(text).RootElement.GetProperty("status").GetString()!;
            if (value != "InProgress")
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, "the operation did not end within 30 s of the restart");
            await Task.Delay(50);
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
