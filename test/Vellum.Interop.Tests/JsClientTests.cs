using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Vellum.Core.Identity;
using Vellum.Core.Receipts;
using Vellum.Node;

namespace Vellum.Interop.Tests;

/// <summary>
/// The official ACL JavaScript client, <c>@azure-rest/confidential-ledger</c> 1.0.0 from npm, against a real node
/// over mutual TLS. The test installs the package itself with <c>npm ci</c> from the committed lock file.
/// </summary>
public sealed class JsClientTests
{
    private static readonly string JsFolder = Path.Combine(AppContext.BaseDirectory, "js");

    [Fact]
    public async Task The_ACL_JavaScript_client_works_against_a_Vellum_node()
    {
        await NpmCi();
        var root = Path.Combine(Path.GetTempPath(), "vellum-interop-" + Guid.NewGuid().ToString("N"));
        var options = new NodeOptions { DataDirectory = Path.Combine(root, "data"), Listen = new IPEndPoint(IPAddress.Loopback, 0), SignatureDelay = TimeSpan.FromMilliseconds(20) };
        var (app, ledger) = await NodeHost.BuildAsync(options, logging: _ => { });
        try
        {
            await app.StartAsync();
            var endpoint = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

            // A self-signed reader certificate, as ACL's docs have users make them.
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
            using var readerCert = new CertificateRequest("CN=ACL Client Cert", key, HashAlgorithmName.SHA384)
                .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
            File.WriteAllText(Path.Combine(root, "reader_cert.pem"), readerCert.ExportCertificatePem());
            File.WriteAllText(Path.Combine(root, "reader_privk.pem"), key.ExportPkcs8PrivateKeyPem());
            var receiptsPath = Path.Combine(root, "receipts.json");

            var (exitCode, output, error) = await Run("node", ["interop.js"], JsFolder, TimeSpan.FromSeconds(180), new Dictionary<string, string>
            {
                ["VELLUM_ENDPOINT"] = endpoint,
                ["VELLUM_SERVICE_CERT"] = ledger.Data.Default.ServiceCertificate,
                ["VELLUM_ADMIN_CERT"] = Path.Combine(ledger.Data.Credentials, "admin_cert.pem"),
                ["VELLUM_ADMIN_KEY"] = Path.Combine(ledger.Data.Credentials, "admin_privk.pem"),
                ["VELLUM_READER_CERT"] = Path.Combine(root, "reader_cert.pem"),
                ["VELLUM_READER_KEY"] = Path.Combine(root, "reader_privk.pem"),
                ["VELLUM_READER_ID"] = CertificateFingerprint.Compute(readerCert),
                ["VELLUM_RECEIPTS_OUT"] = receiptsPath,
            });
            Assert.True(exitCode == 0, $"node exited {exitCode}: {output} {error}");
            using var result = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
            Assert.True(result.RootElement.GetProperty("ok").GetBoolean());
            Assert.Equal(["post", "get", "status", "paginate", "receipt", "users", "limits", "governance"],
                result.RootElement.GetProperty("steps").EnumerateArray().Select(s => s.GetString()));

            // Every receipt the JS client fetched verifies with our verifier and the pinned service certificate.
            using var receipts = JsonDocument.Parse(File.ReadAllText(receiptsPath));
            Assert.Equal(4, receipts.RootElement.GetArrayLength());
            foreach (var element in receipts.RootElement.EnumerateArray())
            {
                Assert.True(ReceiptJson.TryParse(element.GetRawText(), out var receipt, out var parseError), parseError);
                var verified = ReceiptVerifier.Verify(receipt, ledger.Service.Certificate);
                Assert.True(verified.IsValid, $"{receipt.TransactionId}: {verified.FailedStep} {verified.Message}");
            }
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            await ledger.DisposeAsync();
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task NpmCi()
    {
        if (Directory.Exists(Path.Combine(JsFolder, "node_modules", "@azure-rest", "confidential-ledger")))
        {
            return;
        }

        var (exitCode, output, error) = await Run("npm", ["ci", "--no-audit", "--no-fund"], JsFolder, TimeSpan.FromMinutes(5), new Dictionary<string, string>());
        Assert.True(exitCode == 0, $"npm ci failed ({exitCode}): {output} {error}");
    }

    private static async Task<(int ExitCode, string Output, string Error)> Run(
        string program, string[] args, string workingDirectory, TimeSpan timeout, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in {timeout}: {await output} {await error}");
        }

        return (process.ExitCode, await output, await error);
    }
}
