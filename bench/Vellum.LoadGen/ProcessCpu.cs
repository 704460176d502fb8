using System.Globalization;

namespace Vellum.LoadGen;

/// <summary>CPU time of a process on this machine, from <c>/proc/&lt;pid&gt;/stat</c> (Linux).</summary>
internal static class ProcessCpu
{
    // utime and stime are in clock ticks of USER_HZ, which the kernel fixes at 100 for user space on every
    // architecture .NET runs on (sysconf(_SC_CLK_TCK)); it is not the kernel's internal HZ.
    private const double TicksPerSecond = 100;

    /// <summary>utime + stime of <paramref name="pid"/>, or null if it cannot be read (no such process, not Linux).</summary>
    public static TimeSpan? Read(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        return Parse(stat);
    }

    /// <summary>
    /// utime + stime of <paramref name="pid"/> and of its live child processes, or null if <paramref name="pid"/>
    /// cannot be read. A node is one process; PostgreSQL is a postmaster with a backend process per connection, whose
    /// work would otherwise go unseen.
    /// </summary>
    public static TimeSpan? ReadTree(int pid)
    {
        if (Read(pid) is not { } total)
        {
            return null;
        }

        string[] entries;
        try
        {
            entries = Directory.GetDirectories("/proc");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return total;
        }

        foreach (var entry in entries)
        {
            var name = Path.GetFileName(entry);
            if (name.Length == 0 || !char.IsAsciiDigit(name[0]))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(entry, "stat"));
                if (ParentOf(stat) == pid && Parse(stat) is { } child)
                {
                    total += child;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The process ended between listing and reading.
            }
        }

        return total;
    }

    /// <summary>Field 4 (ppid) of a <c>stat</c> line, or -1.</summary>
    internal static int ParentOf(string stat)
    {
        var close = stat.LastIndexOf(')');
        if (close < 0)
        {
            return -1;
        }

        var fields = stat.AsSpan(close + 1).Trim();
        // fields: "<state> <ppid> …"
        var space = fields.IndexOf(' ');
        if (space < 0)
        {
            return -1;
        }

        var rest = fields[(space + 1)..];
        var end = rest.IndexOf(' ');
        return int.TryParse(end < 0 ? rest : rest[..end], NumberStyles.None, CultureInfo.InvariantCulture, out var ppid) ? ppid : -1;
    }

    /// <summary>Parses a <c>stat</c> line: fields 14 and 15 (utime, stime) counted after the command, which may hold spaces.</summary>
    internal static TimeSpan? Parse(string stat)
    {
        var close = stat.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }

        // After ") " come field 3 (state) onwards; utime is field 14, so index 11 here, stime index 12.
        var fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 13
            || !long.TryParse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture, out var utime)
            || !long.TryParse(fields[12], NumberStyles.None, CultureInfo.InvariantCulture, out var stime))
        {
            return null;
        }

        return TimeSpan.FromSeconds((utime + stime) / TicksPerSecond);
    }

    /// <summary>This process's CPU time (user + system), all threads.</summary>
    public static TimeSpan Self()
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }
}
