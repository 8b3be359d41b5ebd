namespace CrateRun.Linux.Process;

/// <summary>The runtime's own resource limits and whether it may raise them.</summary>
public static class ResourceLimits
{
    private const int CapSysResource = 24;

    /// <summary>The runtime's hard limit of <paramref name="resource"/> (an RLIMIT_ number); RLIM_INFINITY is ulong.MaxValue.</summary>
    public static unsafe ulong Hard(int resource)
    {
        Interop.Sys.RlimitValues v;
        Interop.Check(Interop.Sys.getrlimit(resource, &v), "getrlimit", resource.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return v.Max;
    }

    /// <summary>
    /// CAP_SYS_RESOURCE in our effective set ("CapEff:" of /proc/self/status): without it
    /// setrlimit cannot raise a hard limit, and oom_score_adj cannot go below its minimum.
    /// </summary>
    public static bool CanRaise
    {
        get
        {
            try
            {
                var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
                return line is not null && ulong.TryParse(line["CapEff:".Length..].Trim(), System.Globalization.NumberStyles.HexNumber, null, out var mask)
                    && (mask & (1UL << CapSysResource)) != 0;
            }
            catch (IOException) { return false; }
        }
    }
}
