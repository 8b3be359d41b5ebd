namespace CrateRun.Linux.Process;

/// <summary>What `version` and `info` say of the host, read from /proc and /etc.</summary>
public static class HostFacts
{
    /// <summary>The kernel release (uname -r).</summary>
    public static string KernelVersion => ReadTrimmed("/proc/sys/kernel/osrelease") ?? "unknown";

    /// <summary>PRETTY_NAME of /etc/os-release (Docker's "Operating System").</summary>
    public static string OperatingSystem =>
        (ReadTrimmed("/etc/os-release") ?? "").Split('\n').FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal)) is { } line
            ? line["PRETTY_NAME=".Length..].Trim('"') : "Linux";

    /// <summary>The kernel filters system calls with seccomp (a "Seccomp:" line in /proc/self/status).</summary>
    public static bool Seccomp => (ReadTrimmed("/proc/self/status") ?? "").Contains("\nSeccomp:", StringComparison.Ordinal);

    /// <summary>User namespaces can be made (max_user_namespaces above zero).</summary>
    public static bool UserNamespaces => long.TryParse(ReadTrimmed("/proc/sys/user/max_user_namespaces"), out var n) && n > 0;

    /// <summary>The kernel keeps no_new_privs (a "NoNewPrivs:" line in /proc/self/status, Linux 4.10 and later).</summary>
    public static bool NoNewPrivileges => (ReadTrimmed("/proc/self/status") ?? "").Contains("\nNoNewPrivs:", StringComparison.Ordinal);

    /// <summary>A cgroup2 tree is mounted (on a v1 host: the hybrid layout, systemd's "unified" tree).</summary>
    public static bool Cgroup2Mounted => (ReadTrimmed("/proc/self/mountinfo") ?? "").Contains(" - cgroup2 ", StringComparison.Ordinal);

    /// <summary>The CPUs online, in cpuset(7)'s list format (0-1), or null when unknown.</summary>
    public static string? OnlineCpus => ReadTrimmed("/sys/devices/system/cpu/online");

    /// <summary>The memory nodes online (0 on a machine without NUMA nodes listed), or null when unknown.</summary>
    public static string? OnlineMemoryNodes => ReadTrimmed("/sys/devices/system/node/online") ?? (Directory.Exists("/sys/devices/system/cpu") ? "0" : null);

    private static string? ReadTrimmed(string path)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
