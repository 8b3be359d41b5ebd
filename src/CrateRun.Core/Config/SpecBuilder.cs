using CrateRun.Core.Oci;
using CrateRun.Core.Security;

namespace CrateRun.Core.Config;

/// <summary>
/// Builds the OCI config that the Docker-like <c>run</c> executes: the same document a
/// client such as podman would hand to <c>craterun-oci create</c>.
/// </summary>
public static class SpecBuilder
{
    /// <summary>run --init: the container's PID 1 is craterun's init (Native/init.c), which runs the process's args.</summary>
    public const string InitAnnotation = "io.craterun.init";

    public const string OciVersion = "1.2.0";
    public const string DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>Docker's masked paths: kernel state a container must not read.</summary>
    public static readonly IReadOnlyList<string> MaskedPaths =
    [
        "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
        "/sys/devices/virtual/powercap",
    ];

    /// <summary>Docker's read-only paths: kernel knobs a container must not write.</summary>
    public static readonly IReadOnlyList<string> ReadonlyPaths =
        ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

    /// <summary>The namespaces a container gets of its own unless a flag shares one.</summary>
    private static readonly string[] DefaultNamespaces = ["pid", "network", "ipc", "uts", "mount", "cgroup"];

    private static readonly string[] ReadOnlyBind = ["rbind", "ro"];

    public static Spec Build(string id, RunOptions o)
    {
        // --privileged and --cap-add ALL: every capability the runtime itself may grant (a host
        // that withholds one from its bounding set, e.g. CAP_SYS_RESOURCE, makes capset fail otherwise)
        List<string> all = o.GrantableCapabilities is { } grantable ? [.. Capabilities.All.Where(grantable.Contains)] : [.. Capabilities.All];
        var caps = o.Privileged ? all : Capabilities.Adjust(Capabilities.DockerDefault, o.CapAdd, o.CapDrop, all);
        if (o.GrantableCapabilities is { } g && caps.FirstOrDefault(c => !g.Contains(c)) is { } missing)
            throw new UsageException($"cannot grant {missing}: this runtime does not hold it (it is not in the bounding set of {(Environment.IsPrivilegedProcess ? "root" : "this user")} here)");
        if (o.Name is { } name && !ContainerId.IsValidContainerName(name))
            throw new UsageException($"invalid container name '{name}': only [a-zA-Z0-9][a-zA-Z0-9_.-]+ is allowed");
        // like Docker, an empty --hostname means the default: the short id
        var hostname = string.IsNullOrEmpty(o.Hostname) ? ContainerId.Short(id) : o.Hostname;
        Hostnames.CheckRfc1123(hostname, "--hostname");
        var env = new List<string> { DefaultPath, "HOSTNAME=" + hostname };
        if (o.Tty) env.Add("TERM=xterm");
        env.Add(o.Uid == 0 ? "HOME=/root" : "HOME=/");
        foreach (var e in o.Env)
        {
            if (e.Length == 0 || e[0] == '=') throw new UsageException($"invalid environment variable '{e}': expected KEY=VALUE");
            var key = e.Split('=')[0];
            env.RemoveAll(x => x.Split('=')[0] == key);
            env.Add(e.Contains('=') ? e : $"{e}={Environment.GetEnvironmentVariable(e) ?? ""}");
        }
        UserIds.Validate(new User { Uid = o.Uid, Gid = o.Gid, AdditionalGids = [.. o.AdditionalGids] }, "--user");
        if (o.Workdir is { } wd && !wd.StartsWith('/'))
            throw new UsageException($"invalid --workdir '{wd}': must be an absolute path");

        var spec = new Spec
        {
            OciVersion = OciVersion,
            Root = new Root { Path = o.Rootfs, Readonly = o.ReadOnlyRoot },
            Hostname = hostname,
            Process = new Process
            {
                Terminal = o.Tty,
                ConsoleSize = o.ConsoleSize is { } cs ? new Box { Height = cs.Rows, Width = cs.Cols } : null,
                Args = [.. o.Command],
                Env = env,
                Cwd = o.Workdir ?? "/",
                User = new User { Uid = o.Uid, Gid = o.Gid, AdditionalGids = o.AdditionalGids.Count > 0 ? [.. o.AdditionalGids] : null },
                Capabilities = new LinuxCapabilities { Bounding = [.. caps], Effective = [.. caps], Permitted = [.. caps] },
                NoNewPrivileges = o.NoNewPrivileges && !o.Privileged,
            },
            Mounts = DefaultMounts(o.Privileged),
            Linux = new Linux
            {
                Namespaces = [.. DefaultNamespaces.Select(t => new LinuxNamespace { Type = t })],
                CgroupsPath = CgroupsPath(id, o.CgroupParent),
                Resources = Resources(o),
                Devices = o.Devices.Count > 0 ? [.. o.Devices.Select(d => d.Device)] : null,
                MaskedPaths = o.Privileged ? null : [.. MaskedPaths],
                ReadonlyPaths = o.Privileged ? null : [.. ReadonlyPaths],
                Seccomp = o.Privileged || o.SeccompUnconfined ? null : o.Seccomp ?? DefaultSeccompProfile.Create(caps.ToHashSet()),
            },
            Annotations = o.Name is null ? null : new() { ["io.craterun.name"] = o.Name },
        };
        if (o.UidMappings is { Count: > 0 } uids && o.GidMappings is { Count: > 0 } gids)
        {
            spec.Linux.Namespaces.Add(new LinuxNamespace { Type = "user" });
            spec.Linux.UidMappings = [.. uids];
            spec.Linux.GidMappings = [.. gids];
            if (o.IdmapRootfs) (spec.Annotations ??= [])["io.craterun.idmap-rootfs"] = "true";
        }
        foreach (var (key, value) in o.Annotations) (spec.Annotations ??= [])[key] = value;
        if (o.Init) (spec.Annotations ??= [])[InitAnnotation] = "true";
        var userMounts = new List<Mount>();
        foreach (var t in o.Tmpfs)
        {
            var parts = t.Split(':', 2);
            if (!parts[0].StartsWith('/')) throw new UsageException($"invalid --tmpfs '{t}': the path must be absolute");
            CheckUserDestination(parts[0], $"--tmpfs '{t}'");
            var opts = new List<string> { "nosuid", "nodev", "noexec" };
            if (parts.Length == 2) opts.AddRange(parts[1].Split(',', StringSplitOptions.RemoveEmptyEntries));
            userMounts.Add(new Mount { Destination = parts[0], Type = "tmpfs", Source = "tmpfs", Options = opts });
        }
        foreach (var v in o.Volumes)
        {
            CheckUserDestination(v.ContainerPath, $"volume '{v.HostPath}:{v.ContainerPath}'");
            userMounts.Add(new Mount
            {
                Destination = v.ContainerPath,
                Type = "bind",
                Source = v.HostPath,
                Options = [.. (v.ReadOnly ? ReadOnlyBind : ["rbind"]), .. v.Propagation is { } pr ? new[] { pr } : []],
            });
        }
        // As Docker: a mount of the user's replaces the default one at the same place, and one
        // on /dev or /sys replaces the defaults below it too (nothing is then made in a host directory).
        var replaced = userMounts.Select(m => CleanPath(m.Destination)).ToHashSet();
        spec.Mounts.RemoveAll(d => replaced.Contains(CleanPath(d.Destination))
            || replaced.Any(r => r is "/dev" or "/sys" && CleanPath(d.Destination).StartsWith(r + "/", StringComparison.Ordinal)));
        spec.Mounts.AddRange(userMounts);
        RunFlags.ApplyTo(spec, o);
        return spec;
    }

    /// <summary>
    /// --userns: "host" (none), "C:H:N" (container ids C.. map to host ids H.., N of them, for
    /// users and groups), or null for the default: none for root; for anyone else its own uid and
    /// gid as root, plus its subordinate ranges (<paramref name="subUids"/>, <paramref name="subGids"/>:
    /// /etc/subuid and /etc/subgid, when newuidmap and newgidmap can write them) as ids 1 and up.
    /// </summary>
    public static (List<LinuxIdMapping> Uids, List<LinuxIdMapping> Gids)? ParseUserns(string? mode, bool privileged, uint uid, uint gid,
        SubordinateRange? subUids = null, SubordinateRange? subGids = null)
    {
        if (mode is null or "" or "auto")
            return privileged && mode != "auto" ? null
                : SubordinateIds.RootlessMaps(uid, gid, privileged ? null : subUids, privileged ? null : subGids);
        if (mode == "host")
        {
            if (!privileged) throw new UsageException("--userns host needs root: an unprivileged user always runs in a user namespace");
            return null;
        }
        var parts = mode.Split(':');
        if (parts.Length != 3 || !uint.TryParse(parts[0], out var c) || !uint.TryParse(parts[1], out var h) || !uint.TryParse(parts[2], out var n) || n == 0)
            throw new UsageException($"invalid --userns '{mode}': expected host, auto, or CONTAINERID:HOSTID:SIZE (e.g. 0:100000:65536)");
        return ([new LinuxIdMapping { ContainerId = c, HostId = h, Size = n }], [new LinuxIdMapping { ContainerId = c, HostId = h, Size = n }]);
    }

    /// <summary>
    /// --device HOST[:CTR][:PERMS], with the host node's type and numbers already read.
    /// </summary>
    public static (LinuxDevice Device, string Access) ParseDevice(string spec, Func<string, (string Type, long Major, long Minor)?> statHost)
    {
        var parts = spec.Split(':');
        if (parts.Length > 3 || parts[0].Length == 0) throw new UsageException($"invalid --device '{spec}': expected HOSTPATH[:CONTAINERPATH][:rwm]");
        var host = parts[0];
        var ctr = parts.Length > 1 && parts[1].StartsWith('/') ? parts[1] : host;
        var access = parts.Length == 3 ? parts[2] : parts.Length == 2 && !parts[1].StartsWith('/') ? parts[1] : "rwm";
        if (access.Length == 0 || access.Any(c => c is not ('r' or 'w' or 'm')))
            throw new UsageException($"invalid --device '{spec}': permissions must be made of r, w, m");
        var node = statHost(host) ?? throw new UsageException($"invalid --device '{spec}': {host} is not a device node");
        if (!ctr.StartsWith("/dev/", StringComparison.Ordinal))
            throw new UsageException($"invalid --device '{spec}': the container path must be under /dev");
        return (new LinuxDevice { Path = ctr, Type = node.Type, Major = node.Major, Minor = node.Minor, FileMode = 0x1B6 /* 0666 */, Uid = 0, Gid = 0 }, access);
    }

    /// <summary>--user NAME[:GROUP] or UID[:GID], names looked up in the rootfs's /etc/passwd and /etc/group.</summary>
    public static (uint Uid, uint Gid) ResolveUser(string text, string? passwd, string? group)
    {
        var parts = text.Split(':');
        if (parts.Length > 2 || parts[0].Length == 0) throw new UsageException($"invalid --user '{text}': expected USER[:GROUP] or UID[:GID]");
        uint uid, gid;
        if (uint.TryParse(parts[0], out uid))
        {
            gid = uid;
            foreach (var line in (passwd ?? "").Split('\n'))
            {
                var f = line.Split(':');
                if (f.Length >= 4 && f[2] == parts[0] && uint.TryParse(f[3], out var g)) gid = g;
            }
        }
        else
        {
            var entry = (passwd ?? "").Split('\n').Select(l => l.Split(':')).FirstOrDefault(f => f.Length >= 4 && f[0] == parts[0])
                ?? throw new UsageException($"invalid --user '{text}': no user '{parts[0]}' in the rootfs's /etc/passwd");
            if (!uint.TryParse(entry[2], out uid) || !uint.TryParse(entry[3], out gid))
                throw new UsageException($"invalid --user '{text}': bad /etc/passwd entry for '{parts[0]}'");
        }
        if (parts.Length == 2 && !uint.TryParse(parts[1], out gid))
        {
            var entry = (group ?? "").Split('\n').Select(l => l.Split(':')).FirstOrDefault(f => f.Length >= 3 && f[0] == parts[1])
                ?? throw new UsageException($"invalid --user '{text}': no group '{parts[1]}' in the rootfs's /etc/group");
            if (!uint.TryParse(entry[2], out gid)) throw new UsageException($"invalid --user '{text}': bad /etc/group entry for '{parts[1]}'");
        }
        UserIds.Check(uid, "uid", $"--user '{text}'");
        UserIds.Check(gid, "gid", $"--user '{text}'");
        return (uid, gid);
    }

    /// <summary>Docker's --security-opt values: seccomp=unconfined|FILE, no-new-privileges[=true|false].</summary>
    public static (bool? NoNewPrivileges, bool Unconfined, string? ProfilePath) ParseSecurityOpts(IEnumerable<string> opts)
    {
        bool? nnp = null;
        var unconfined = false;
        string? profile = null;
        foreach (var o in opts)
        {
            var kv = o.Split(['=', ':'], 2);
            switch (kv[0])
            {
                case "no-new-privileges":
                    nnp = kv.Length == 1 || kv[1] switch
                    {
                        "true" => true,
                        "false" => false,
                        _ => throw new UsageException($"invalid --security-opt '{o}': no-new-privileges takes true or false"),
                    };
                    break;
                case "seccomp" when kv.Length == 2:
                    if (kv[1] == "unconfined") unconfined = true;
                    else profile = kv[1];
                    break;
                default:
                    throw new UsageException($"unsupported --security-opt '{o}': use seccomp=unconfined|PROFILE.json or no-new-privileges=true|false");
            }
        }
        return (nnp, unconfined, profile);
    }

    /// <summary>Below --cgroup-parent if given; else relative, i.e. below the caller's own cgroup.</summary>
    public static string CgroupsPath(string id, string? parent)
    {
        var leaf = "craterun-" + id;
        if (string.IsNullOrEmpty(parent)) return leaf;
        if (parent.Split('/').Any(p => p == ".."))
            throw new UsageException($"invalid --cgroup-parent '{parent}': '..' is not allowed");
        return parent.TrimEnd('/') + "/" + leaf;
    }

    private static LinuxResources Resources(RunOptions o) =>
        new()
        {
            // Only the default devices (and --device ones) may be opened: a container with
            // CAP_MKNOD must not reach the host's disks. --privileged allows every device.
            Devices = o.Privileged
                ? [new LinuxDeviceCgroup { Allow = true, Access = "rwm" }]
                : [new LinuxDeviceCgroup { Allow = false, Access = "rwm" },
                   .. o.Devices.Select(d => new LinuxDeviceCgroup { Allow = true, Type = d.Device.Type, Major = d.Device.Major, Minor = d.Device.Minor, Access = d.Access })],
            // swap == limit: memory plus swap may not exceed the limit, i.e. no swap at all
            Memory = o.Memory is { } m ? new LinuxMemory { Limit = m, Swap = m } : null,
            Pids = o.Pids is { } p ? new LinuxPids { Limit = p } : null,
            Cpu = o.Cpu is { } c ? new LinuxCpu { Quota = c.Quota, Period = c.Period } : null,
        };

    /// <summary>
    /// A mount of the user's may not cover the container's root (it would hide the rootfs, and
    /// nothing could be mounted in it) nor /proc (the container's own procfs; Docker refuses it too).
    /// </summary>
    private static void CheckUserDestination(string destination, string what)
    {
        var clean = CleanPath(destination);
        if (clean == "/")
            throw new UsageException($"invalid {what}: cannot mount over the container's root directory /");
        if (clean == "/proc" || clean.StartsWith("/proc/", StringComparison.Ordinal))
            throw new UsageException($"invalid {what}: cannot mount over /proc or inside it (the container's own procfs)");
    }

    /// <summary>An absolute path without "//", "." and "..": where it lands inside the container's root.</summary>
    public static string CleanPath(string path)
    {
        var parts = new List<string>();
        foreach (var p in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (p == ".") continue;
            if (p == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(p);
        }
        return "/" + string.Join('/', parts);
    }

    public static List<Mount> DefaultMounts(bool privileged) =>
    [
        new() { Destination = "/proc", Type = "proc", Source = "proc", Options = ["nosuid", "noexec", "nodev"] },
        new() { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "strictatime", "mode=755", "size=65536k"] },
        new() { Destination = "/dev/pts", Type = "devpts", Source = "devpts", Options = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
        new() { Destination = "/dev/shm", Type = "tmpfs", Source = "shm", Options = ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
        new() { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Options = ["nosuid", "noexec", "nodev"] },
        new() { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = privileged ? ["nosuid", "noexec", "nodev"] : ["nosuid", "noexec", "nodev", "ro"] },
        new() { Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup", Options = privileged ? ["nosuid", "noexec", "nodev", "relatime"] : ["nosuid", "noexec", "nodev", "relatime", "ro"] },
    ];
}
