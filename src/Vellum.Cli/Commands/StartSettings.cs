using System.Collections;
using System.CommandLine;
using System.Text.Json;

namespace Vellum.Cli.Commands;

/// <summary>
/// The settings of <c>vellum start</c> (and of <c>vellum join</c>, which takes those it has flags for) that do not come
/// from flags: a JSON file (<c>--config FILE</c>) and
/// <c>VELLUM_…</c> environment variables, the latter winning. Each key is a flag without its dashes, in camelCase in the
/// file (<c>"tlsCert"</c> for <c>--tls-cert</c>) and upper snake case in the environment (<c>VELLUM_TLS_CERT</c>);
/// repeatable flags are arrays in the file and comma-separated in the environment, and their plural names are used
/// (<c>ledgers</c>, <c>adminCerts</c>, <c>peers</c>). Strict: an unknown key or a value of the wrong type is an error
/// naming it, so a typo never passes silently.
/// </summary>
internal sealed class StartSettings
{
    private enum Kind
    {
        Text,
        List,
        Flag,
        Number,
        Objects, // an array of objects: the config file only
    }

    private static readonly Dictionary<string, Kind> Keys = new(StringComparer.Ordinal)
    {
        ["data"] = Kind.Text,
        ["listen"] = Kind.Text,
        ["ledgers"] = Kind.List,
        ["ledgerType"] = Kind.Text,
        ["domain"] = Kind.Text,
        ["tlsCert"] = Kind.Text,
        ["tlsKey"] = Kind.Text,
        ["adminCerts"] = Kind.List,
        ["metricsListen"] = Kind.Text,
        ["benchmarkEndpoints"] = Kind.Flag,
        ["nodeListen"] = Kind.Text,
        ["peers"] = Kind.List,
        ["identityFrom"] = Kind.Text,
        ["backupWrites"] = Kind.Text,
        ["snapshotInterval"] = Kind.Number,
        ["maxSignaturesPerSecond"] = Kind.Number,
        ["jwtIssuer"] = Kind.Text,
        ["jwtCa"] = Kind.Text,
        ["jwtAudiences"] = Kind.List,
        ["jwtJwks"] = Kind.Text,
        ["jwtUserClaim"] = Kind.Text,
        ["adminOids"] = Kind.List,
        ["jwtIssuers"] = Kind.Objects,
        ["operatorCerts"] = Kind.List,
        ["operatorOids"] = Kind.List,
        ["tenant"] = Kind.Text,
        ["managementAudiences"] = Kind.List,
        ["ledgerQuota"] = Kind.Number,
        ["managementListen"] = Kind.Text,
    };

    private readonly Dictionary<string, object> _values = new(StringComparer.Ordinal);

    private StartSettings()
    {
    }

    /// <summary>The environment variable of <paramref name="key"/>: <c>tlsCert</c> → <c>VELLUM_TLS_CERT</c>.</summary>
    public static string EnvironmentName(string key) =>
        "VELLUM_" + string.Concat(key.Select(c => char.IsUpper(c) ? "_" + c : char.ToUpperInvariant(c).ToString()));

    /// <summary>
    /// Reads <paramref name="file"/> (when given), then the <c>VELLUM_…</c> variables of <paramref name="environment"/>
    /// over it; false with one line saying what is wrong.
    /// </summary>
    public static bool TryLoad(string? file, IDictionary environment, out StartSettings settings, out string? error)
    {
        settings = new StartSettings();
        error = null;
        if (file is not null && !settings.TryReadFile(file, out error))
        {
            return false;
        }

        foreach (var (key, kind) in Keys)
        {
            if (environment[EnvironmentName(key)] is not string text)
            {
                continue;
            }

            var name = EnvironmentName(key);
            if (kind == Kind.Objects)
            {
                error = $"{name}: '{key}' is set in the config file only (--config FILE)";
                return false;
            }

            switch (kind)
            {
                case Kind.Text:
                    settings._values[key] = text;
                    break;
                case Kind.List:
                    settings._values[key] = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    break;
                case Kind.Flag when bool.TryParse(text, out var flag):
                    settings._values[key] = flag;
                    break;
                case Kind.Number when int.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var number):
                    settings._values[key] = number;
                    break;
                default:
                    error = $"{name} is {(kind == Kind.Flag ? "true or false" : "a whole number")}, not '{text}'";
                    return false;
            }
        }

        return true;
    }

    /// <summary>Whether <paramref name="option"/> was given on the command line (a flag given wins over any setting).</summary>
    public static bool Given(ParseResult result, Option option) => result.GetResult(option) is { Implicit: false };

    /// <summary>The flag if given; else the setting <paramref name="key"/>; else the flag's default.</summary>
    public string Text(ParseResult result, Option<string> option, string key) =>
        Given(result, option) ? result.GetValue(option)! : Text(key) ?? result.GetValue(option)!;

    /// <summary>The flag if given; else the setting <paramref name="key"/>, which may be absent.</summary>
    public string? Maybe(ParseResult result, Option<string?> option, string key) => Given(result, option) ? result.GetValue(option) : Text(key);

    /// <summary>The repeated flag if given; else the setting <paramref name="key"/>; else none.</summary>
    public string[] List(ParseResult result, Option<string[]> option, string key) =>
        Given(result, option) ? result.GetValue(option) ?? [] : List(key) ?? [];

    /// <summary>The flag if given; else the setting <paramref name="key"/>; else the flag's default.</summary>
    public bool Flag(ParseResult result, Option<bool> option, string key) => Given(result, option) ? result.GetValue(option) : Flag(key) ?? result.GetValue(option);

    /// <summary>The flag if given; else the setting <paramref name="key"/>; else the flag's default.</summary>
    public int Number(ParseResult result, Option<int> option, string key) => Given(result, option) ? result.GetValue(option) : Number(key) ?? result.GetValue(option);

    /// <summary>A text setting, or null when neither the file nor the environment gives it.</summary>
    public string? Text(string key) => Get<string>(key);

    /// <summary>A repeatable setting, or null when neither the file nor the environment gives it.</summary>
    public string[]? List(string key) => Get<string[]>(key);

    /// <summary>A true/false setting, or null.</summary>
    public bool? Flag(string key) => _values.TryGetValue(Known(key), out var value) ? (bool)value : null;

    /// <summary>A number setting, or null.</summary>
    public int? Number(string key) => _values.TryGetValue(Known(key), out var value) ? (int)value : null;

    /// <summary>An array-of-objects setting (the config file's), or null when the file does not give it.</summary>
    public JsonElement[]? Objects(string key) => Get<JsonElement[]>(key);

    private T? Get<T>(string key)
        where T : class => _values.TryGetValue(Known(key), out var value) ? (T)value : null;

    private static string Known(string key) => Keys.ContainsKey(key) ? key : throw new ArgumentException($"no setting '{key}'", nameof(key));

    private bool TryReadFile(string file, out string? error)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(file), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error = $"--config {file}: {ex.Message}";
            return false;
        }
        catch (JsonException ex)
        {
            error = $"--config {file} is not JSON: {ex.Message}";
            return false;
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                error = $"--config {file} holds {document.RootElement.ValueKind}, not an object of settings";
                return false;
            }

            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!Keys.TryGetValue(property.Name, out var kind))
                {
                    error = $"--config {file}: unknown setting '{property.Name}' (settings: {string.Join(", ", Keys.Keys)})";
                    return false;
                }

                var value = property.Value;
                object? read = kind switch
                {
                    Kind.Text when value.ValueKind == JsonValueKind.String => value.GetString()!,
                    Kind.List when value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) =>
                        value.EnumerateArray().Select(e => e.GetString()!).ToArray(),
                    Kind.Flag when value.ValueKind is JsonValueKind.True or JsonValueKind.False => value.GetBoolean(),
                    Kind.Number when value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) => number,
                    Kind.Objects when value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Object) =>
                        value.EnumerateArray().Select(e => e.Clone()).ToArray(),
                    _ => null,
                };
                if (read is null)
                {
                    var expected = kind switch
                    {
                        Kind.Text => "a string",
                        Kind.List => "an array of strings",
                        Kind.Flag => "true or false",
                        Kind.Objects => "an array of objects",
                        _ => "a whole number",
                    };
                    error = $"--config {file}: '{property.Name}' is {expected}, not {value.ValueKind}";
                    return false;
                }

                _values[property.Name] = read;
            }
        }

        error = null;
        return true;
    }
}
