using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Vellum.Core.Identity;

namespace Vellum.Cli.Commands;

/// <summary>Creation and deletion: the long-running operations, followed to their end with a progress line.</summary>
internal static partial class LedgerCommand
{
    private static readonly TimeSpan MinimumPollInterval = TimeSpan.FromSeconds(0.5);
    private static readonly TimeSpan DefaultPollInterval = TimeSpan.FromSeconds(1);

    private static Command CreateSubcommand(SharedOptions shared)
    {
        var name = new Argument<string>("name") { Description = "The new ledger's name (3 to 32 of a-z, 0-9 and -, starting with a letter)." };
        var type = new Option<string>("--type") { Description = "Public or Private, fixed once made.", DefaultValueFactory = _ => "Public" };
        var location = new Option<string>("--location") { Description = "The resource's location.", DefaultValueFactory = _ => "local" };
        var tags = new Option<string[]>("--tag") { Description = "A tag, key=value (repeatable).", AllowMultipleArgumentsPerToken = false };
        var principals = new Option<string[]>("--principal")
        {
            Description = "A user by object id, OBJECTID:Administrator|Contributor|Reader (repeatable). Without an Administrator, the caller is made one.",
            AllowMultipleArgumentsPerToken = false,
        };
        var certPrincipals = new Option<string[]>("--principal-cert")
        {
            Description = "A user by certificate, PEMFILE:Administrator|Contributor|Reader (repeatable).", AllowMultipleArgumentsPerToken = false,
        };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to follow the creation before giving up (exit 1; it goes on).", DefaultValueFactory = _ => 300 };
        var command = new Command("create", "Create a ledger and follow its creation to the end.") { name, type, location, tags, principals, certPrincipals, timeout };
        command.SetAction((result, cancellationToken) =>
        {
            const string Verb = "create";
            var settings = shared.Read(result);
            var typeText = result.GetValue(type);
            if (!TryName(Verb, result.GetValue(name), out var ledger, out var exit) || !TryTimeout(Verb, result.GetValue(timeout), out var limit, out exit))
            {
                return Task.FromResult(exit);
            }

            if (!TryType(typeText, out var isPrivate))
            {
                return Task.FromResult(Usage(Verb, $"--type is Public or Private, not '{typeText}'"));
            }

            if (!TryTags(result.GetValue(tags) ?? [], out var tagValues, out var error) ||
                !TryPrincipals(result.GetValue(principals) ?? [], out var aad, out error) ||
                !TryCertPrincipals(result.GetValue(certPrincipals) ?? [], out var certificates, out error))
            {
                return Task.FromResult(Usage(Verb, error));
            }

            if (result.GetValue(location) is not { Length: > 0 } where)
            {
                return Task.FromResult(Usage(Verb, "--location is empty"));
            }

            var body = new JsonObject
            {
                ["location"] = where,
                ["tags"] = new JsonObject(tagValues.Select(t => KeyValuePair.Create(t.Key, (JsonNode?)t.Value))),
                ["properties"] = new JsonObject
                {
                    ["ledgerType"] = isPrivate == true ? "Private" : "Public",
                    ["aadBasedSecurityPrincipals"] = new JsonArray([.. aad.Select(p => (JsonNode)AadPrincipal(p.Id, p.Role))]),
                    ["certBasedSecurityPrincipals"] = new JsonArray(
                        [.. certificates.Select(p => (JsonNode)new JsonObject { ["cert"] = p.Pem, ["ledgerRoleName"] = p.Role })]),
                },
            };
            return RunAsync(Verb, settings, plane => CreateAsync(plane, settings, ledger, body.ToJsonString(), limit, cancellationToken), cancellationToken);
        });
        return command;
    }

    private static async Task<int> CreateAsync(
        ControlPlane plane, Settings settings, LedgerName name, string body, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var url = plane.LedgerUrl(settings, name);

        // PUT is ARM's create-or-update: a PUT of a ledger that is already there would change it. 'create' makes ledgers
        // only (a ledger made in between the two requests is still changed: the control plane has no If-None-Match).
        var existing = await plane.SendAsync(HttpMethod.Get, url, null, cancellationToken);
        if (existing.Status == 200)
        {
            Console.Error.WriteLine($"vellum ledger: {name} exists already in resource group {settings.ResourceGroup}; change it with 'vellum ledger update'");
            return 1;
        }

        if (existing.Status != 404)
        {
            return Refused(existing);
        }

        var created = await plane.SendAsync(HttpMethod.Put, url, body, cancellationToken);
        if (created.Status is not (200 or 201))
        {
            return Refused(created);
        }

        if (await FollowAsync(plane, $"creating {name}", created, clock, timeout, cancellationToken) is null)
        {
            return 1;
        }

        var made = await plane.SendAsync(HttpMethod.Get, url, null, cancellationToken);
        if (made.Status != 200)
        {
            return Refused(made);
        }

        using var resource = made.Parse();
        Console.WriteLine(settings.Json ? made.Body : ResultLine(resource.RootElement));
        return 0;
    }

    private static Command DeleteSubcommand(SharedOptions shared)
    {
        var name = new Argument<string>("name") { Description = "The ledger to delete." };
        var yes = new Option<bool>("--yes") { Description = "Delete it: its entries, secrets and users are erased, irreversibly." };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to follow the deletion before giving up (exit 1; it goes on).", DefaultValueFactory = _ => 300 };
        var command = new Command("delete", "Delete a ledger, irreversibly (with --yes), and follow the deletion to the end.") { name, yes, timeout };
        command.SetAction((result, cancellationToken) =>
        {
            const string Verb = "delete";
            var settings = shared.Read(result);
            if (!TryName(Verb, result.GetValue(name), out var ledger, out var exit) || !TryTimeout(Verb, result.GetValue(timeout), out var limit, out exit))
            {
                return Task.FromResult(exit);
            }

            if (!result.GetValue(yes))
            {
                return Task.FromResult(Usage(Verb,
                    $"deleting {ledger} is irreversible: its entries, secrets and users are erased and cannot be recovered; add --yes to delete it"));
            }

            return RunAsync(Verb, settings, plane => DeleteAsync(plane, settings, ledger, limit, cancellationToken), cancellationToken);
        });
        return command;
    }

    private static async Task<int> DeleteAsync(ControlPlane plane, Settings settings, LedgerName name, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var deleting = await plane.SendAsync(HttpMethod.Delete, plane.LedgerUrl(settings, name), null, cancellationToken);
        if (deleting.Status == 204)
        {
            // ARM's answer for what is not there (or is another tenant's, or in another resource group).
            Console.WriteLine($"{name}: no such ledger");
            return 0;
        }

        if (deleting.Status is not (200 or 202))
        {
            return Refused(deleting);
        }

        if (await FollowAsync(plane, $"deleting {name}", deleting, clock, timeout, cancellationToken) is not { } end)
        {
            return 1;
        }

        Console.WriteLine(settings.Json ? end : $"{name}: deleted");
        return 0;
    }

    /// <summary>
    /// Follows the operation <paramref name="accepted"/> started until it ends or <paramref name="timeout"/> passes:
    /// its <c>Azure-AsyncOperation</c> status resource when given, else its <c>Location</c>, at the pace its
    /// <c>Retry-After</c> asks (never faster than every 0.5 s). A poll that fails to connect or meets a node that is
    /// restarting is tried again until the time is up. The progress line goes to stderr. Returns the last answer's body
    /// when the operation succeeded; null once the failure is printed.
    /// </summary>
    private static async Task<string?> FollowAsync(
        ControlPlane plane, string what, Answer accepted, Stopwatch clock, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var byStatus = accepted.AsyncOperation is not null;
        if ((accepted.AsyncOperation ?? accepted.Location) is not { } url)
        {
            return accepted.Body; // answered synchronously: nothing to follow
        }

        if (!plane.IsOwn(url))
        {
            Console.Error.WriteLine($"vellum ledger: the deployment named {url} for the operation's status, not at {plane.Name}; not following it there");
            return null;
        }

        using var progress = new ProgressLine(what, clock);
        var interval = Max(accepted.RetryAfter ?? DefaultPollInterval, MinimumPollInterval);
        var state = "InProgress";
        while (true)
        {
            progress.Show(state);
            var remaining = timeout - clock.Elapsed;
            if (remaining <= TimeSpan.Zero)
            {
                progress.End(state);
                Console.Error.WriteLine($"vellum ledger: gave up after {timeout.TotalSeconds:F0} s; the operation goes on at the deployment: {url}");
                return null;
            }

            await Task.Delay(interval < remaining ? interval : remaining, cancellationToken);
            Answer poll;
            try
            {
                poll = await plane.SendAsync(HttpMethod.Get, url, null, cancellationToken);
            }
            catch (Exception ex) when ((ex is HttpRequestException && ex.InnerException is not System.Security.Authentication.AuthenticationException) ||
                                       (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // A node restarting (it judges an operation cut short when it is back) or a moment's network trouble.
                state = "InProgress (no answer; trying again)";
                continue;
            }

            if (poll.Status is 502 or 503 or 504)
            {
                state = "InProgress (the deployment is busy; trying again)";
                continue;
            }

            interval = Max(poll.RetryAfter ?? interval, MinimumPollInterval);
            if (!byStatus)
            {
                // Location: 202 while it runs, then the answer the request would have had (an error's status when it failed).
                if (poll.Status == 202)
                {
                    state = "InProgress";
                    continue;
                }

                progress.End(poll.Status is >= 200 and < 300 ? "Succeeded" : "Failed");
                return poll.Status is >= 200 and < 300 ? poll.Body : RefusedNull(poll);
            }

            if (poll.Status != 200)
            {
                progress.End("unknown");
                return RefusedNull(poll);
            }

            using var status = poll.Parse();
            state = Text(status.RootElement, "status");
            if (state is "InProgress" or "Accepted" or "Running" or "Creating" or "Deleting" or "Updating")
            {
                continue; // ARM's non-terminal states; this deployment says InProgress only
            }

            progress.End(state);
            if (state == "Succeeded")
            {
                return poll.Body;
            }

            var error = status.RootElement.TryGetProperty("error", out var e) ? e : default;
            Console.Error.WriteLine($"vellum ledger: {state} {Text(error, "code")}: {Text(error, "message")}");
            return null;
        }
    }

    private static string? RefusedNull(Answer answer)
    {
        _ = Refused(answer);
        return null;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>
    /// <c>creating NAME: InProgress (3 s)</c> on stderr: rewritten in place while the operation runs when stderr is a
    /// terminal; otherwise (a log, a pipe) written once, when it ends. Disposed without an end (interrupted, no answer),
    /// a line drawn is finished, so that the message that follows starts a line of its own.
    /// </summary>
    private sealed class ProgressLine(string what, Stopwatch clock) : IDisposable
    {
        private readonly bool _live = !Console.IsErrorRedirected;
        private int _width;
        private bool _open;

        public void Show(string state)
        {
            if (_live)
            {
                Draw(state);
            }
        }

        public void End(string state)
        {
            if (_live)
            {
                Draw(state);
                Console.Error.WriteLine();
                _open = false;
            }
            else
            {
                Console.Error.WriteLine(Line(state));
            }
        }

        public void Dispose()
        {
            if (_open)
            {
                Console.Error.WriteLine();
                _open = false;
            }
        }

        private void Draw(string state)
        {
            var line = Line(state);
            Console.Error.Write("\r" + line.PadRight(_width));
            _width = Math.Max(_width, line.Length);
            _open = true;
        }

        private string Line(string state) => $"{what}: {state} ({Seconds(clock)} s)";
    }
}
