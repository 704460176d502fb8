using System.CommandLine;
using Vellum.Node;

namespace Vellum.Cli.Commands;

/// <summary>The <c>--backup-writes</c> value shared by <c>start</c> and <c>join</c>.</summary>
internal static class BackupWritesOption
{
    public static Option<string?> Create() => new("--backup-writes")
    {
        Description = "What a backup does with a write: forward (to the primary, relaying its answer; the default), redirect (307 to the primary) or refuse (503).",
    };

    /// <summary>Null text means the default (forward); otherwise forward, redirect or refuse, exactly.</summary>
    public static bool TryParse(string? text, out BackupWrites mode)
    {
        (var known, mode) = text switch
        {
            null or "forward" => (true, BackupWrites.Forward),
            "redirect" => (true, BackupWrites.Redirect),
            "refuse" => (true, BackupWrites.Refuse),
            _ => (false, BackupWrites.Forward),
        };
        return known;
    }
}
