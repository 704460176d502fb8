using System.CommandLine;
using System.Text.Json.Nodes;
using Vellum.Core.Identity;

namespace Vellum.Cli.Commands;

/// <summary>Changing a ledger's tags and principals: read the resource, change it, send it whole.</summary>
internal static partial class LedgerCommand
{
    private static Command UpdateSubcommand(SharedOptions shared)
    {
        var name = new Argument<string>("name") { Description = "The ledger to change." };
        var tags = new Option<string[]>("--tag") { Description = "Set a tag, key=value (repeatable).", AllowMultipleArgumentsPerToken = false };
        var removeTags = new Option<string[]>("--remove-tag") { Description = "Remove a tag by key (repeatable).", AllowMultipleArgumentsPerToken = false };
        var principals = new Option<string[]>("--principal")
        {
            Description = "Give a user by object id a role, OBJECTID:Administrator|Contributor|Reader (repeatable).", AllowMultipleArgumentsPerToken = false,
        };
        var removePrincipals = new Option<string[]>("--remove-principal")
        {
            Description = "Take away the role the control plane gave a user by object id, OBJECTID (repeatable).", AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command("update", "Change a ledger's tags and principals; the rest of it is kept.") { name, tags, removeTags, principals, removePrincipals };
        command.SetAction((result, cancellationToken) =>
        {
            const string Verb = "update";
            var settings = shared.Read(result);
            if (!TryName(Verb, result.GetValue(name), out var ledger, out var exit))
            {
                return Task.FromResult(exit);
            }

            if (!TryTags(result.GetValue(tags) ?? [], out var set, out var error) || !TryPrincipals(result.GetValue(principals) ?? [], out var give, out error))
            {
                return Task.FromResult(Usage(Verb, error));
            }

            var unset = result.GetValue(removeTags) ?? [];
            var take = new List<string>();
            foreach (var text in result.GetValue(removePrincipals) ?? [])
            {
                if (!Guid.TryParse(text, out var id))
                {
                    return Task.FromResult(Usage(Verb, $"--remove-principal '{text}' is not an object id (a GUID)"));
                }

                take.Add(id.ToString("D"));
            }

            if (unset.FirstOrDefault(set.ContainsKey) is { } both)
            {
                return Task.FromResult(Usage(Verb, $"the tag '{both}' is both set and removed"));
            }

            if (give.FirstOrDefault(p => take.Contains(p.Id)) is { Id: { } twice })
            {
                return Task.FromResult(Usage(Verb, $"the principal {twice} is both given a role and removed"));
            }

            if (set.Count + unset.Length + give.Count + take.Count == 0)
            {
                return Task.FromResult(Usage(Verb, "nothing to change: give --tag, --remove-tag, --principal or --remove-principal"));
            }

            var change = new Change(set, unset, give, take);
            return RunAsync(Verb, settings, plane => UpdateAsync(plane, settings, ledger, change, cancellationToken), cancellationToken);
        });
        return command;
    }

    /// <summary>What <c>update</c> changes.</summary>
    /// <param name="SetTags">Tags to set.</param>
    /// <param name="RemoveTags">Tag keys to remove.</param>
    /// <param name="Give">Object ids to give a role (added, or their role changed).</param>
    /// <param name="Take">Object ids to remove from the principals.</param>
    private sealed record Change(Dictionary<string, string> SetTags, string[] RemoveTags, List<(string Id, string Role)> Give, List<string> Take);

    private static async Task<int> UpdateAsync(ControlPlane plane, Settings settings, LedgerName name, Change change, CancellationToken cancellationToken)
    {
        var url = plane.LedgerUrl(settings, name);
        var current = await plane.SendAsync(HttpMethod.Get, url, null, cancellationToken);
        if (current.Status != 200)
        {
            return Refused(current);
        }

        // The resource as read, changed where asked, is sent back whole (PATCH takes the whole resource here): the
        // principals not named stay, the creator's Administrator role among them (a body without them would take it
        // away). Read-only properties go back too; the control plane ignores them. Not atomic: a change made by
        // someone else between the GET and the PATCH is overwritten (the control plane has no ETags).
        if (JsonNode.Parse(current.Body) is not JsonObject resource)
        {
            Console.Error.WriteLine($"vellum ledger: the resource of {name} is not a JSON object");
            return 1;
        }

        if (resource["tags"] is not JsonObject tags)
        {
            resource["tags"] = tags = [];
        }

        foreach (var key in change.RemoveTags)
        {
            tags.Remove(key);
        }

        foreach (var (key, value) in change.SetTags)
        {
            tags[key] = value;
        }

        if (resource["properties"] is not JsonObject properties)
        {
            resource["properties"] = properties = [];
        }

        if (properties["aadBasedSecurityPrincipals"] is not JsonArray aad)
        {
            properties["aadBasedSecurityPrincipals"] = aad = [];
        }

        aad.RemoveAll(p => change.Take.Any(id => IsPrincipal(p, id)));
        foreach (var (id, role) in change.Give)
        {
            if (aad.FirstOrDefault(p => IsPrincipal(p, id)) is JsonObject existing)
            {
                existing["ledgerRoleName"] = role;
            }
            else
            {
                aad.Add(AadPrincipal(id, role));
            }
        }

        var changed = await plane.SendAsync(HttpMethod.Patch, url, resource.ToJsonString(), cancellationToken);
        if (changed.Status != 200)
        {
            return Refused(changed);
        }

        using var answer = changed.Parse();
        Console.WriteLine(settings.Json ? changed.Body : ResultLine(answer.RootElement));
        return 0;
    }

    private static bool IsPrincipal(JsonNode? principal, string id) =>
        principal is JsonObject entry && entry["principalId"] is JsonValue value && value.TryGetValue(out string? text) &&
        Guid.TryParse(text, out var guid) && guid.ToString("D") == id;
}
