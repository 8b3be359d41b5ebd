namespace CrateRun.Core.Security;

/// <summary>Linux capability names and numbers (linux/capability.h).</summary>
public static class Capabilities
{
    public static readonly string[] All =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
        "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ];

    /// <summary>Docker's default set for containers (14 capabilities).</summary>
    public static readonly IReadOnlyList<string> DockerDefault =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ];

    /// <summary>"net_raw", "NET_RAW" and "CAP_NET_RAW" all name CAP_NET_RAW.</summary>
    public static string Normalize(string name)
    {
        var n = name.Trim().ToUpperInvariant();
        return n.StartsWith("CAP_", StringComparison.Ordinal) ? n : "CAP_" + n;
    }

    public static int Number(string name)
    {
        var i = Array.IndexOf(All, Normalize(name));
        return i >= 0 ? i : throw new UsageException($"unknown capability '{name}'");
    }

    /// <summary>The bit mask of a set of names; capabilities above the kernel's last one are left out.</summary>
    public static ulong Mask(IEnumerable<string>? names, int lastCap)
    {
        ulong mask = 0;
        foreach (var n in names ?? [])
        {
            var bit = Number(n);
            if (bit <= lastCap) mask |= 1UL << bit;
        }
        return mask;
    }

    /// <summary>The names of the capabilities set in a mask (bit n = capability n), e.g. CapBnd of /proc/self/status.</summary>
    public static List<string> FromMask(ulong mask) => [.. All.Where((_, bit) => (mask & (1UL << bit)) != 0)];

    /// <summary>
    /// Docker's --cap-add/--cap-drop on top of a base set; "ALL" works in both. "ALL" added means
    /// <paramref name="all"/> (default: every known capability).
    /// </summary>
    public static List<string> Adjust(IEnumerable<string> baseSet, IEnumerable<string> add, IEnumerable<string> drop, IReadOnlyList<string>? all = null)
    {
        var set = new List<string>(baseSet.Select(Normalize));
        var dropAll = drop.Any(d => Normalize(d) == "CAP_ALL");
        if (dropAll) set.Clear();
        foreach (var d in drop.Select(Normalize).Where(d => d != "CAP_ALL"))
        {
            Number(d);
            set.Remove(d);
        }
        foreach (var a in add.Select(Normalize))
        {
            if (a == "CAP_ALL") { set = [.. all ?? All]; continue; }
            Number(a);
            if (!set.Contains(a)) set.Add(a);
        }
        return set;
    }
}
