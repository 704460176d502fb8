using System.CommandLine;
using Vellum.Node;

namespace Vellum.Cli.Commands;

/// <summary>The <c>--snapshot-interval</c> value shared by <c>start</c> and <c>join</c>.</summary>
internal static class SnapshotIntervalOption
{
    public static Option<int> Create() => new("--snapshot-interval")
    {
        Description = "Cluster members: Raft log entries between snapshots; each lets the log drop the entries before it (0 keeps the whole log).",
        DefaultValueFactory = _ => NodeOptions.DefaultSnapshotInterval,
    };

    /// <summary>False, with the one line on stderr, for a negative value.</summary>
    public static bool Check(string command, int value)
    {
        if (value >= 0)
        {
            return true;
        }

        Console.Error.WriteLine($"vellum {command}: --snapshot-interval is 0 or a positive number of log entries, not {value}");
        return false;
    }
}
