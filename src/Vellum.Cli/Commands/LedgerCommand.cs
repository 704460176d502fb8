using System.CommandLine;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Vellum.Core.Identity;

namespace Vellum.Cli.Commands;

/// <summary>
/// <c>vellum ledger create|list|show|update|delete</c>: ledgers managed through a deployment's control plane (Azure
/// Resource Manager's <c>Microsoft.ConfidentialLedger</c> shape, docs/operations.md), as an operator with a client
/// certificate or a bearer token. Exit codes: 0 done, 1 the deployment refused or failed (or could not be reached),
/// 2 bad usage (nothing was sent).
/// </summary>
internal static partial class LedgerCommand
{
    private const string ApiVersion = "2022-05-13";
    private const string DefaultSubscription = "00000000-0000-0000-0000-000000000000";
    private const string DefaultResourceGroup = "default";
    private const string TokenVariable = "VELLUM_TOKEN";
    private static readonly string[] GivenRoles = ["Administrator", "Contributor", "Reader"];

    // Terminal output, not HTML: PEM's '+' and '/' stay as they are.
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create()
    {
        var shared = new SharedOptions();
        var command = new Command("ledger", "Create, list, show, change and delete ledgers through a deployment's control plane, as an operator.");
        foreach (var option in shared.All)
        {
            command.Options.Add(option);
        }

        command.Subcommands.Add(CreateSubcommand(shared));
        command.Subcommands.Add(ListSubcommand(shared));
        command.Subcommands.Add(ShowSubcommand(shared));
        command.Subcommands.Add(UpdateSubcommand(shared));
        command.Subcommands.Add(DeleteSubcommand(shared));
        return command;
    }

    /// <summary>
    /// Opens the connection <paramref name="settings"/> describe (bad credentials or trust are usage, exit 2) and runs
    /// <paramref name="work"/>; a deployment that cannot be reached, does not answer in time or is not trusted is exit 1.
    /// </summary>
    private static async Task<int> RunAsync(string verb, Settings settings, Func<ControlPlane, Task<int>> work, CancellationToken cancellationToken)
    {
        if (!ControlPlane.TryOpen(settings, out var plane, out var error))
        {
            return Usage(verb, error);
        }

        using (plane)
        {
            try
            {
                return await work(plane);
            }
            catch (HttpRequestException ex)
            {
                Console.Error.WriteLine($"vellum ledger: cannot reach {plane.Name}: {Describe(ex)}");
                return 1;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                Console.Error.WriteLine($"vellum ledger: {plane.Name} did not answer within {ControlPlane.CallTimeout.TotalSeconds:F0} s");
                return 1;
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine("vellum ledger: interrupted; an operation the deployment accepted goes on there");
                return 1;
            }
            catch (JsonException ex)
            {
                Console.Error.WriteLine($"vellum ledger: {plane.Name} answered something that is not the control plane's JSON: {ex.Message}");
                return 1;
            }
        }
    }

    /// <summary>The innermost useful reason of a failed request: an untrusted certificate says so, with what to do.</summary>
    private static string Describe(HttpRequestException ex)
    {
        for (Exception? inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is AuthenticationException)
            {
                return $"the TLS handshake failed ({inner.Message}); is the deployment's certificate issued by the CA given with --ca (or --data), " +
                    "and does --endpoint name the host it is for?";
            }
        }

        return ex.InnerException?.Message ?? ex.Message;
    }

    /// <summary>One line on stderr for a bad flag value; exit 2.</summary>
    private static int Usage(string verb, string message)
    {
        Console.Error.WriteLine($"vellum ledger {verb}: {message}");
        return 2;
    }

    /// <summary><c>vellum ledger: {status} {code}: {message}</c> on stderr for a refusal; exit 1.</summary>
    private static int Refused(Answer answer)
    {
        var (code, message) = answer.Error();
        Console.Error.WriteLine($"vellum ledger: {answer.Status} {code}: {message}");
        return 1;
    }

    private static bool TryName(string verb, string? text, out LedgerName name, out int exit)
    {
        exit = 0;
        if (LedgerName.TryParse(text, out name, out var error))
        {
            return true;
        }

        exit = Usage(verb, $"'{text}' is not a ledger name: {error}");
        return false;
    }

    /// <summary><c>NAME: Succeeded, ledgerUri …, identityServiceUri …</c> for a resource.</summary>
    private static string ResultLine(JsonElement resource)
    {
        var properties = resource.TryGetProperty("properties", out var p) ? p : default;
        return $"{Text(resource, "name")}: {Text(properties, "provisioningState")}, ledgerUri {Text(properties, "ledgerUri")}, " +
               $"identityServiceUri {Text(properties, "identityServiceUri")}";
    }

    /// <summary>A string property, or "?" when absent (an answer of another shape is shown, not thrown on).</summary>
    private static string Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : "?";

    private static string Escape(string segment) => Uri.EscapeDataString(segment);

    /// <summary><c>/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ConfidentialLedger</c> of <paramref name="settings"/>.</summary>
    private static string ResourceGroupPath(Settings settings) =>
        $"/subscriptions/{Escape(settings.Subscription)}/resourceGroups/{Escape(settings.ResourceGroup)}/providers/Microsoft.ConfidentialLedger";

    /// <summary>
    /// Parses <c>key=value</c> tags (the first '=' splits; the value may be empty, the key may not).
    /// </summary>
    private static bool TryTags(string[] texts, [NotNullWhen(true)] out Dictionary<string, string>? tags, [NotNullWhen(false)] out string? error)
    {
        tags = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var text in texts)
        {
            var equals = text.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                (tags, error) = (null, $"--tag '{text}' is not key=value");
                return false;
            }

            tags[text[..equals]] = text[(equals + 1)..];
        }

        error = null;
        return true;
    }

    /// <summary>Parses <c>OBJECTID:Role</c>: the object id a GUID (lower case, as the server keeps it), the role one ACL gives.</summary>
    private static bool TryPrincipals(
        string[] texts, [NotNullWhen(true)] out List<(string Id, string Role)>? principals, [NotNullWhen(false)] out string? error)
    {
        principals = [];
        foreach (var text in texts)
        {
            var colon = text.LastIndexOf(':');
            if (colon <= 0 || !Guid.TryParse(text[..colon], out var id))
            {
                (principals, error) = (null, $"--principal '{text}' is not OBJECTID:Role with a GUID object id");
                return false;
            }

            if (!TryRole(text[(colon + 1)..], out var role, out error))
            {
                (principals, error) = (null, $"--principal '{text}': {error}");
                return false;
            }

            principals.Add((id.ToString("D"), role));
        }

        error = null;
        return true;
    }

    /// <summary>Parses <c>PEMFILE:Role</c> (the last ':' splits, so a path may hold one) and reads the certificate.</summary>
    private static bool TryCertPrincipals(
        string[] texts, [NotNullWhen(true)] out List<(string Pem, string Role)>? principals, [NotNullWhen(false)] out string? error)
    {
        principals = [];
        foreach (var text in texts)
        {
            var colon = text.LastIndexOf(':');
            if (colon <= 0)
            {
                (principals, error) = (null, $"--principal-cert '{text}' is not PEMFILE:Role");
                return false;
            }

            if (!TryRole(text[(colon + 1)..], out var role, out error))
            {
                (principals, error) = (null, $"--principal-cert '{text}': {error}");
                return false;
            }

            var file = text[..colon];
            try
            {
                using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(file));
                principals.Add((certificate.ExportCertificatePem() + "\n", role));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
            {
                (principals, error) = (null, $"--principal-cert {file}: {ex.Message}");
                return false;
            }
        }

        error = null;
        return true;
    }

    /// <summary>Administrator, Contributor or Reader, in any case (sent as ACL spells it).</summary>
    private static bool TryRole(string text, [NotNullWhen(true)] out string? role, [NotNullWhen(false)] out string? error)
    {
        role = GivenRoles.FirstOrDefault(r => string.Equals(r, text, StringComparison.OrdinalIgnoreCase));
        error = role is null ? $"the role is Administrator, Contributor or Reader, not '{text}'" : null;
        return role is not null;
    }

    /// <summary>Public or Private, in any case (as the control plane reads it); null text means any type.</summary>
    private static bool TryType(string? text, out bool? isPrivate)
    {
        isPrivate = string.Equals(text, "Private", StringComparison.OrdinalIgnoreCase) ? true
            : string.Equals(text, "Public", StringComparison.OrdinalIgnoreCase) ? false
            : null;
        return text is null || isPrivate is not null;
    }

    /// <summary>An <c>aadBasedSecurityPrincipals</c> entry.</summary>
    private static JsonObject AadPrincipal(string id, string role) => new() { ["principalId"] = id, ["ledgerRoleName"] = role };

    private static bool TryTimeout(string verb, int seconds, out TimeSpan timeout, out int exit)
    {
        timeout = TimeSpan.FromSeconds(seconds);
        exit = seconds > 0 ? 0 : Usage(verb, $"--timeout is a number of seconds above 0, not {seconds}");
        return seconds > 0;
    }

    /// <summary>Elapsed whole seconds, for the progress line.</summary>
    private static long Seconds(Stopwatch clock) => (long)clock.Elapsed.TotalSeconds;
}
