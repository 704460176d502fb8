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
