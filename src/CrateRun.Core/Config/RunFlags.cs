using System.Globalization;
using CrateRun.Core.Oci;

namespace CrateRun.Core.Config;

/// <summary>
/// Docker's run flags that map onto the OCI config's process and linux fields: --ulimit,
/// --shm-size, --group-add, --sysctl, --memory-swap, --memory-reservation, --cpu-shares,
/// --cpuset-cpus/-mems, --stop-signal/--stop-timeout, --ipc/--pid/--uts, --oom-score-adj.
/// Each is parsed here in Docker's syntax (bad input: one line naming the flag) and applied to
/// the config by <see cref="ApplyTo"/>; the engine applies the config as it would any client's.
/// </summary>
public static class RunFlags
{
    /// <summary>Docker's --ulimit names (go-units), each the RLIMIT_ of the same name.</summary>
    private static readonly string[] UlimitNames =
        ["as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"];

    /// <summary>
    /// Docker's namespaced sysctls: these belong to the container's IPC namespace (kernel.msg*,
    /// kernel.sem, kernel.shm*, fs.mqueue.*) or its network namespace (net.*). Any other is the
    /// host's own and refused, as Docker refuses it.
    /// </summary>
    private static readonly string[] IpcSysctls =
        ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"];

    /// <summary>RLIM_INFINITY.</summary>
    public const ulong Unlimited = ulong.MaxValue;

    /// <summary>--ulimit NAME=SOFT[:HARD]: the hard limit defaults to the soft one; -1 or "unlimited" is no limit.</summary>
    public static PosixRlimit ParseUlimit(string text)
    {
        var eq = text.IndexOf('=');
        if (eq <= 0) throw new UsageException($"invalid --ulimit '{text}': expected NAME=SOFT[:HARD], e.g. nofile=1024:2048");
        var name = text[..eq].Trim().ToLowerInvariant();
        if (!UlimitNames.Contains(name))
            throw new UsageException($"invalid --ulimit '{text}': unknown limit '{name}' (one of {string.Join(", ", UlimitNames)})");
        var values = text[(eq + 1)..].Split(':');
        if (values.Length > 2) throw new UsageException($"invalid --ulimit '{text}': expected NAME=SOFT[:HARD]");
        var soft = UlimitValue(values[0], text);
        var hard = values.Length == 2 ? UlimitValue(values[1], text) : soft;
        if (soft > hard)
            throw new UsageException($"invalid --ulimit '{text}': the soft limit {values[0]} is above the hard limit {values[1]}");
        return new PosixRlimit { Type = "RLIMIT_" + name.ToUpperInvariant(), Soft = soft, Hard = hard };
    }

    private static ulong UlimitValue(string value, string text)
    {
        if (value is "-1" or "unlimited") return Unlimited;
        return ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n != Unlimited
            ? n
            : throw new UsageException($"invalid --ulimit '{text}': '{value}' is not a number (nor -1 or unlimited)");
    }

    /// <summary>--group-add GROUP: a gid, or a name looked up in the container's own /etc/group.</summary>
    public static List<uint> ResolveGroups(IEnumerable<string> groups, string? groupFile)
    {
        var gids = new List<uint>();
        foreach (var g in groups)
        {
            uint gid;
            if (g.Length > 0 && g.All(char.IsAsciiDigit))
            {
                if (!uint.TryParse(g, NumberStyles.None, CultureInfo.InvariantCulture, out gid))
                    throw new UsageException($"invalid --group-add '{g}': not a valid gid");
            }
            else
            {
                var entry = (groupFile ?? "").Split('\n').Select(l => l.Split(':')).FirstOrDefault(f => f.Length >= 3 && f[0] == g)
                    ?? throw new UsageException($"invalid --group-add '{g}': no group '{g}' in the container's /etc/group");
                if (!uint.TryParse(entry[2], NumberStyles.None, CultureInfo.InvariantCulture, out gid))
                    throw new UsageException($"invalid --group-add '{g}': bad /etc/group entry for '{g}'");
            }
            UserIds.Check(gid, "gid", $"--group-add '{g}'");
            if (!gids.Contains(gid)) gids.Add(gid);
        }
        return gids;
    }

    /// <summary>--sysctl KEY=VALUE: a sysctl of the container's own IPC or network namespace.</summary>
    public static KeyValuePair<string, string> ParseSysctl(string text)
    {
        var eq = text.IndexOf('=');
        if (eq <= 0) throw new UsageException($"invalid --sysctl '{text}': expected KEY=VALUE, e.g. net.ipv4.ip_forward=1");
        var key = text[..eq].Trim();
        if (NamespaceOfSysctl(key) is null)
            throw new UsageException($"invalid --sysctl '{text}': {key} is not namespaced, it would change the host (allowed: net.*, fs.mqueue.*, {string.Join(", ", IpcSysctls)})");
        return new(key, text[(eq + 1)..]);
    }

    /// <summary>"ipc" or "network" for a namespaced sysctl; null for one that is the host's.</summary>
    private static string? NamespaceOfSysctl(string key) =>
        IpcSysctls.Contains(key) || (key.StartsWith("fs.mqueue.", StringComparison.Ordinal) && key.Length > "fs.mqueue.".Length) ? "ipc"
        : key.StartsWith("net.", StringComparison.Ordinal) && key.Length > "net.".Length ? "network"
        : null;

    /// <summary>
    /// --cpuset-cpus/--cpuset-mems: a list like 0-3,5 (cpuset(7)'s list format), each one among
    /// <paramref name="available"/> (the host's online CPUs or memory nodes, in the same format) when known.
    /// </summary>
    public static string ParseCpuset(string text, string flag, string? available = null)
    {
        var list = ParseCpuList(text, flag);
        if (available is not null && list.FirstOrDefault(n => !ParseCpuList(available, flag).Contains(n), -1) is var missing and >= 0)
            throw new UsageException($"invalid {flag} '{text}': {(flag == "--cpuset-mems" ? "memory node" : "CPU")} {missing} is not available (this host has {available})");
        return text;
    }

    private static List<int> ParseCpuList(string text, string flag)
    {
        var list = new List<int>();
        foreach (var part in text.Split(','))
        {
            var range = part.Split('-');
            // at most 5 digits: the kernel's CPU and node numbers stay far below 100000
            if (range.Length is not (1 or 2) || !range.All(r => r.Length is > 0 and <= 5 && r.All(char.IsAsciiDigit)))
                throw new UsageException($"invalid {flag} '{text}': expected a list like 0-3,5");
            var first = int.Parse(range[0], CultureInfo.InvariantCulture);
            var last = int.Parse(range[^1], CultureInfo.InvariantCulture);
            if (first > last) throw new UsageException($"invalid {flag} '{text}': the range {part} goes backwards");
            list.AddRange(Enumerable.Range(first, last - first + 1));
        }
        return list;
    }

    /// <summary>--cpu-shares: a relative weight (the kernel keeps it within 2..262144); 0 means the default.</summary>
    public static ulong? ParseCpuShares(string text) =>
        ulong.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n == 0 ? null : n
            : throw new UsageException($"invalid --cpu-shares '{text}': expected a positive number, e.g. 512 (1024 is the default weight)");

    /// <summary>--memory-swap: memory plus swap (a size), or -1 for unlimited swap.</summary>
    public static long ParseMemorySwap(string text) => text.Trim() == "-1" ? -1 : Quantities.ParseMemory(text, "--memory-swap");

    /// <summary>--oom-score-adj: -1000..1000.</summary>
    public static int ParseOomScoreAdj(string text) =>
        int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n is >= -1000 and <= 1000
            ? n
            : throw new UsageException($"invalid --oom-score-adj '{text}': the range is -1000 to 1000");

    /// <summary>--stop-timeout: seconds between the stop signal and SIGKILL.</summary>
    public static int ParseStopTimeout(string text) =>
        int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new UsageException($"invalid --stop-timeout '{text}': expected a number of seconds");

    /// <summary>Docker's IPC modes of a container of its own: "" is the default, private.</summary>
    public const string IpcPrivate = "private", IpcShareable = "shareable", IpcNone = "none";

    /// <summary>
    /// --ipc, as Docker: private ("" too: its own namespace, no other may join it), shareable (its
    /// own, others may join it with container:), none (its own, no /dev/shm), host, container:NAME|ID.
    /// The mode, and for container: the name or id.
    /// </summary>
    public static (string Mode, string? Container) ParseIpcMode(string text) => text switch
    {
        "" or IpcPrivate => (IpcPrivate, null),
        IpcShareable or IpcNone or "host" => (text, null),
        _ when text.StartsWith("container:", StringComparison.Ordinal) && text.Length > "container:".Length => ("container", text["container:".Length..]),
        _ => throw new UsageException($"invalid --ipc '{text}': expected private, shareable, none, host or container:NAME|ID"),
    };

    /// <summary>Whether a container of this IPC mode lets others join its namespace (Docker: not private, not none).</summary>
    public static bool IpcJoinable(string? mode) => mode is not (null or IpcPrivate or IpcNone);

    /// <summary>--pid/--uts: "host", or "container:ID" (the container's name or id is returned).</summary>
    public static (bool Host, string? Container) ParseNamespaceMode(string text, string flag)
    {
        if (text == "host") return (true, null);
        if (text.StartsWith("container:", StringComparison.Ordinal) && text.Length > "container:".Length) return (false, text["container:".Length..]);
        throw new UsageException($"invalid {flag} '{text}': expected host or container:NAME|ID");
    }

    /// <summary>The flags' fields, on a config <see cref="SpecBuilder.Build"/> made; conflicts between them refused in one line.</summary>
    public static void ApplyTo(Spec spec, RunOptions o)
    {
        var linux = spec.Linux ??= new Linux();
        var resources = linux.Resources ??= new LinuxResources();
        var process = spec.Process!;

        if (o.Ulimits.Count > 0)
        {
            // a later --ulimit of the same name wins, as Docker keeps them by name
            var byType = new Dictionary<string, PosixRlimit>();
            foreach (var u in o.Ulimits) byType[u.Type] = u;
            process.Rlimits = [.. byType.Values];
        }
        if (o.OomScoreAdj is { } adj) process.OomScoreAdj = adj;

        // --ipc none: a namespace of its own and no /dev/shm at all (Docker's)
        if (o.IpcMode == IpcNone) spec.Mounts?.RemoveAll(m => m.Destination == "/dev/shm");
        if (o.ShmSize is { } shm)
            foreach (var m in (spec.Mounts ?? []).Where(m => m.Destination == "/dev/shm" && m.Type == "tmpfs"))
                m.Options = [.. (m.Options ?? []).Where(x => !x.StartsWith("size=", StringComparison.Ordinal)), $"size={shm / 1024}k"];

        // memory: Docker's checks, in Docker's order
        if (o.MemorySwap is { } swap)
        {
            if (o.Memory is not { } limit) throw new UsageException("--memory-swap needs --memory: it is the limit of memory plus swap");
            if (swap != -1 && swap < limit)
                throw new UsageException($"invalid --memory-swap {swap}: it is memory plus swap, so at least --memory ({limit})");
            (resources.Memory ??= new LinuxMemory()).Swap = swap;
        }
        if (o.MemoryReservation is { } reservation)
        {
            if (o.Memory is { } limit && reservation > limit)
                throw new UsageException($"invalid --memory-reservation {reservation}: above --memory ({limit}), a soft limit must be below the hard one");
            (resources.Memory ??= new LinuxMemory()).Reservation = reservation;
        }
        if (o.CpuShares is { } shares) (resources.Cpu ??= new LinuxCpu()).Shares = shares;
        if (o.CpusetCpus is { } cpus) (resources.Cpu ??= new LinuxCpu()).Cpus = cpus;
        if (o.CpusetMems is { } mems) (resources.Cpu ??= new LinuxCpu()).Mems = mems;

        // --ipc/--pid/--uts: the host's namespace (none of its own) or another container's (joined by path)
        foreach (var (type, path) in o.SharedNamespaces)
        {
            linux.Namespaces ??= [];
            linux.Namespaces.RemoveAll(n => n.Type == type);
            if (path is not null) linux.Namespaces.Add(new LinuxNamespace { Type = type, Path = path });
        }
        if (o.SharedNamespaces.ContainsKey("uts"))
        {
            // the hostname belongs to the namespace shared: setting it would rename the host or the other container
            if (!string.IsNullOrEmpty(o.Hostname)) throw new UsageException("conflicting options: --hostname and --uts (the hostname is the shared namespace's)");
            process.Env?.Remove("HOSTNAME=" + spec.Hostname);
            spec.Hostname = null;
        }

        if (o.Sysctls.Count > 0)
        {
            foreach (var key in o.Sysctls.Keys)
            {
                var ns = NamespaceOfSysctl(key);
                var shared = ns == "ipc" ? o.SharedNamespaces.ContainsKey("ipc") : o.Network?.Mode is "host" or "container";
                if (shared) throw new UsageException($"invalid --sysctl {key}: the container shares its {ns} namespace (--{(ns == "ipc" ? "ipc" : "network")}), the sysctl would change that one");
            }
            linux.Sysctl = new Dictionary<string, string>(o.Sysctls);
        }
    }
}
