namespace CrateRun.Linux.Process;

/// <summary>One process as `ps -ef` (and so `docker top`) describes it, read from /proc.</summary>
public sealed record ProcessRow(uint Uid, int Pid, int PpId, int CpuPercent, DateTime Started, int TtyNr, TimeSpan CpuTime, string Command);

/// <summary>The /proc facts `top` prints: /proc/PID/stat, /proc/PID/status (Uid), /proc/PID/cmdline.</summary>
public static class ProcessTable
{
    /// <summary>USER_HZ: the kernel reports times in /proc in units of 1/100 s on every architecture.</summary>
    private const double TicksPerSecond = 100;

    /// <summary>The row for a pid, or null if the process is gone (it may exit between listing and reading).</summary>
    public static ProcessRow? Read(int pid, DateTime now)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var open = stat.IndexOf('(');
            var close = stat.LastIndexOf(')'); // comm may hold spaces and parentheses
            if (open < 0 || close < open) return null;
            var comm = stat[(open + 1)..close];
            var f = stat[(close + 2)..].Split(' '); // f[0] is field 3 (state)
            var ppid = int.Parse(f[1]);
            var ttyNr = int.Parse(f[4]);
            var ticks = ulong.Parse(f[11]) + ulong.Parse(f[12]); // utime + stime
            var startTicks = ulong.Parse(f[19]);
            var started = BootTime().AddSeconds(startTicks / TicksPerSecond);
            var cpu = TimeSpan.FromSeconds(ticks / TicksPerSecond);
            var elapsed = (now - started).TotalSeconds;
            // ps's C: CPU time over lifetime, in percent, truncated
            var percent = elapsed > 0 ? (int)(cpu.TotalSeconds * 100 / elapsed) : 0;
            var uid = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal)) is { } line
                ? uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1]) : 0;
            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline").TrimEnd('\0').Replace('\0', ' ');
            return new ProcessRow(uid, pid, ppid, percent, started, ttyNr, cpu, cmdline.Length > 0 ? cmdline : $"[{comm}]");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    private static DateTime? _bootTime;

    /// <summary>The host's boot time (btime in /proc/stat), in UTC: process start times count from it.</summary>
    public static DateTime BootTime()
    {
        if (_bootTime is { } known) return known;
        var line = File.ReadLines("/proc/stat").First(l => l.StartsWith("btime ", StringComparison.Ordinal));
        var value = DateTime.UnixEpoch.AddSeconds(long.Parse(line[6..].Trim()));
        _bootTime = value;
        return value;
    }

    /// <summary>The user's name in the host's /etc/passwd (ps prints the name), else the number.</summary>
    public static string UserName(uint uid)
    {
        try
        {
            foreach (var line in File.ReadLines("/etc/passwd"))
            {
                var parts = line.Split(':');
                if (parts.Length > 2 && parts[2] == uid.ToString(System.Globalization.CultureInfo.InvariantCulture)) return parts[0];
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
