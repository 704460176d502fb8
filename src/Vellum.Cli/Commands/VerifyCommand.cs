using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Vellum.Core.Crypto;
using Vellum.Core.Verification;
using Vellum.Storage.Verification;

namespace Vellum.Cli.Commands;

/// <summary><c>vellum verify &lt;ledger-dir&gt; --service-cert &lt;pem&gt; [--secret &lt;file&gt;] [--json]</c>.</summary>
internal static class VerifyCommand
{
    public static Command Create()
    {
        var directory = new Argument<string>("ledger-dir") { Description = "The folder of ledger chunk files (ledger_*)." };
        var serviceCert = new Option<string>("--service-cert") { Description = "PEM of the service certificate every node certificate must be endorsed by.", Required = true };
        var secret = new Option<string?>("--secret") { Description = "The ledger secret file: also check commit evidence and decrypt a Private ledger." };
        var json = new Option<bool>("--json") { Description = "Print the result as one JSON object." };
        var command = new Command("verify", "Check a ledger's files offline: every entry, leaf, Merkle root, signature and node endorsement.")
        {
            directory, serviceCert, secret, json,
        };
        command.SetAction(result => Run(result.GetValue(directory)!, result.GetValue(serviceCert)!, result.GetValue(secret), result.GetValue(json)));
        return command;
    }

    internal static int Run(string directory, string serviceCertPath, string? secretPath, bool json)
    {
        X509Certificate2 serviceCertificate;
        LedgerSecret? secret = null;
        try
        {
            serviceCertificate = X509Certificate2.CreateFromPem(File.ReadAllText(serviceCertPath));
            if (secretPath is not null)
            {
                secret = LedgerSecret.Load(secretPath);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or InvalidDataException or ArgumentException)
        {
            Console.Error.WriteLine($"vellum verify: {ex.Message}");
            return 2;
        }

        using (serviceCertificate)
        using (secret)
        {
            var stopwatch = Stopwatch.StartNew();
            using var bar = !json && !Console.IsErrorRedirected ? new ProgressBar() : null;
            var (summary, failure) = LedgerDirectoryVerifier.Verify(directory, serviceCertificate, secret, bar is null ? null : bar.Report);
            bar?.Dispose();
            var seconds = stopwatch.Elapsed.TotalSeconds;
            if (json)
            {
                Console.WriteLine(failure is null ? JsonOk(summary!, seconds) : JsonFailure(failure));
            }
            else if (failure is null)
            {
                Console.WriteLine(Describe(summary!, seconds));
            }
            else
            {
                Console.WriteLine($"FAILED: {failure}");
            }

            return failure is null ? 0 : 1;
        }
    }

    internal static string Describe(VerificationSummary s, double seconds)
    {
        var rate = seconds > 0 ? s.Transactions / seconds : 0;
        return string.Create(CultureInfo.InvariantCulture,
            $"OK: {s.Transactions} transactions, {s.Signatures} signatures in {s.Chunks} chunks; last signed root {s.LastSignedRoot} at seqno {s.LastSignedSeqno} ({s.LastSignatureId}); {s.UnsignedTail} unsigned at the tail; {(s.Decrypted ? "contents decrypted and checked" : "contents not decrypted")}; {seconds:F2} s, {rate:F0} tx/s");
    }

    private static string JsonOk(VerificationSummary s, double seconds)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteBoolean("ok", true);
            writer.WriteNumber("transactions", s.Transactions);
            writer.WriteNumber("signatures", s.Signatures);
            writer.WriteNumber("chunks", s.Chunks);
            writer.WriteNumber("lastSignedSeqno", s.LastSignedSeqno);
            writer.WriteString("lastSignatureTransactionId", s.LastSignatureId.ToString());
            writer.WriteString("lastSignedRoot", s.LastSignedRoot.ToString());
            writer.WriteNumber("unsignedTail", s.UnsignedTail);
            writer.WriteBoolean("decrypted", s.Decrypted);
            writer.WriteNumber("seconds", Math.Round(seconds, 3));
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static string JsonFailure(VerificationFailure f)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteBoolean("ok", false);
            writer.WriteStartObject("error");
            if (f.File is null)
            {
                writer.WriteNull("file");
            }
            else
            {
                writer.WriteString("file", f.File);
            }

            writer.WriteNumber("offset", f.Offset);
            writer.WriteNumber("seqno", f.Seqno);
            writer.WriteString("message", f.Message);
            writer.WriteString("text", f.ToString());
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
