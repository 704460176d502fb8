using System.CommandLine;
using System.Text.Json;

namespace Vellum.Cli.Commands;

/// <summary>The reads: listing ledgers and showing one.</summary>
internal static partial class LedgerCommand
{
    private static Command ListSubcommand(SharedOptions shared)
    {
        var type = new Option<string?>("--type") { Description = "Only ledgers of this type: Public or Private." };
        var command = new Command("list", "List the ledgers of the resource group when --resource-group is given, else of the subscription.") { type };
        command.SetAction((result, cancellationToken) =>
        {
            var settings = shared.Read(result);
            var typeText = result.GetValue(type);
            if (!TryType(typeText, out var isPrivate))
            {
                return Task.FromResult(Usage("list", $"--type is Public or Private, not '{typeText}'"));
            }

            return RunAsync("list", settings, plane => ListAsync(plane, settings, isPrivate, cancellationToken), cancellationToken);
        });
        return command;
    }

    private static async Task<int> ListAsync(ControlPlane plane, Settings settings, bool? isPrivate, CancellationToken cancellationToken)
    {
        var path = settings.ResourceGroupGiven
            ? $"{ResourceGroupPath(settings)}/ledgers"
            : $"/subscriptions/{Escape(settings.Subscription)}/providers/Microsoft.ConfidentialLedger/ledgers";
        var filter = isPrivate is { } only ? "&$filter=" + Uri.EscapeDataString($"ledgerType eq '{(only ? "Private" : "Public")}'") : string.Empty;
        var answer = await plane.SendAsync(HttpMethod.Get, plane.Url($"{path}?api-version={ApiVersion}{filter}"), null, cancellationToken);
        if (answer.Status != 200)
        {
            return Refused(answer);
        }

        if (settings.Json)
        {
            Console.WriteLine(answer.Body);
            return 0;
        }

        using var list = answer.Parse();
        var root = list.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("value", out var value) || value.ValueKind != JsonValueKind.Array)
        {
            Console.Error.WriteLine($"vellum ledger: {plane.Name} answered a list without \"value\": {answer.Body}");
            return 1;
        }

        var rows = new List<string[]>();
        foreach (var ledger in value.EnumerateArray())
        {
            var properties = ledger.TryGetProperty("properties", out var p) ? p : default;
            rows.Add([Text(ledger, "name"), Text(properties, "ledgerType"), Text(properties, "provisioningState"), Text(properties, "ledgerUri")]);
        }

        if (rows.Count == 0)
        {
            Console.Error.WriteLine(settings.ResourceGroupGiven
                ? $"no ledgers in resource group {settings.ResourceGroup}"
                : $"no ledgers in subscription {settings.Subscription}");
            return 0;
        }

        var widths = Enumerable.Range(0, 3).Select(column => rows.Max(row => row[column].Length)).ToArray();
        foreach (var row in rows)
        {
            Console.WriteLine($"{row[0].PadRight(widths[0])}  {row[1].PadRight(widths[1])}  {row[2].PadRight(widths[2])}  {row[3]}");
        }

        return 0;
    }

    private static Command ShowSubcommand(SharedOptions shared)
    {
        var name = new Argument<string>("name") { Description = "The ledger." };
        var command = new Command("show", "Print a ledger's resource as JSON.") { name };
        command.SetAction((result, cancellationToken) =>
        {
            var settings = shared.Read(result);
            if (!TryName("show", result.GetValue(name), out var ledger, out var exit))
            {
                return Task.FromResult(exit);
            }

            return RunAsync("show", settings, async plane =>
            {
                var answer = await plane.SendAsync(HttpMethod.Get, plane.LedgerUrl(settings, ledger), null, cancellationToken);
                if (answer.Status != 200)
                {
                    return Refused(answer);
                }

                Console.WriteLine(settings.Json ? answer.Body : JsonSerializer.Serialize(answer.Parse().RootElement, Indented));
                return 0;
            }, cancellationToken);
        });
        return command;
    }
}
