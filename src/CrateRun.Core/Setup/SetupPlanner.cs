using CrateRun.Core.Oci;

namespace CrateRun.Core.Setup;

/// <summary>What the host looks like, for the parts of the plan that depend on it.</summary>
/// <param name="CgroupV2">The host's cgroup hierarchy is unified (v2).</param>
/// <param name="V1Hierarchies">On v1: the controller sets of each hierarchy, e.g. "cpu,cpuacct", "memory".</param>
/// <param name="NoPivot">--no-pivot: move the rootfs onto / and chroot (for a rootfs on ramfs).</param>
/// <param name="IdmapRootfs">Mount the rootfs id-mapped into the container's user namespace.</param>
/// <param name="AppArmor">AppArmor is enabled on the host (process.apparmorProfile can be applied).</param>
/// <param name="Selinux">SELinux is enabled on the host (process.selinuxLabel, linux.mountLabel can be applied).</param>
public sealed record HostInfo(bool CgroupV2, IReadOnlyList<string> V1Hierarchies, bool NoPivot = false, bool IdmapRootfs = false,
    bool AppArmor = false, bool Selinux = false);

/// <summary>
/// Turns an OCI config into the ordered list of setup steps that the C stage runs inside
/// the container's new mount namespace. Pure: no syscalls, so it is unit-tested as data.
/// </summary>
public static class SetupPlanner
{
    /// <summary>The device nodes every container gets (runtime-spec config-linux.md "Default Devices").</summary>
    public static readonly IReadOnlyList<LinuxDevice> DefaultDevices =
    [
        Char("/dev/null", 1, 3), Char("/dev/zero", 1, 5), Char("/dev/full", 1, 7),
        Char("/dev/random", 1, 8), Char("/dev/urandom", 1, 9), Char("/dev/tty", 5, 0),
    ];

    private static LinuxDevice Char(string path, long major, long minor) =>
        new() { Path = path, Type = "c", Major = major, Minor = minor, FileMode = 0x1B6 /* 0666 */, Uid = 0, Gid = 0 };

    public static bool HasNamespace(Spec spec, string type, bool newOnly = true) =>
        spec.Linux?.Namespaces?.Any(n => n.Type == type && (!newOnly || string.IsNullOrEmpty(n.Path))) == true;

    /// <summary>The steps, in the order the kernel needs them.</summary>
    public static List<SetupStep> Plan(Spec spec, string rootfs, HostInfo host)
    {
        var steps = new List<SetupStep>();
        // Without a mount namespace of its own the container would inherit the runtime's, and
        // setting up root.path (mounts, pivot_root) there changes the host's mounts: runc does
        // that (or refuses when maskedPaths are set); we refuse. Every other type may be left out
        // (the container then shares the runtime's network, pids, ipc, uts...).
        if (!HasNamespace(spec, "mount", newOnly: false))
            throw new UsageException("linux.namespaces has no mount namespace: setting up root.path would change the host's own mounts; add {\"type\": \"mount\"}");
        Hostnames.CheckLength(spec.Hostname, "hostname");
        Hostnames.CheckLength(spec.Domainname, "domainname");
        CheckSecurityLabels(spec, spec.Process, host);
        bool userns = HasNamespace(spec, "user", newOnly: false);
        var mounts = spec.Mounts ?? [];
        var deferCgroup = false;

        // A mount namespace joined by path gets the same set-up as a new one (as runc does): the
        // process must see root.path as "/", never the joined namespace's own root.
        if (HasNamespace(spec, "mount", newOnly: false))
        {
            // 1. Propagation first, so nothing we mount leaks back to the host.
            steps.Add(new SetupStep(StepOp.RootPropagation, MountFlags: RootPropagation(spec.Linux?.RootfsPropagation)));
            // 2. The rootfs must be a mount point for pivot_root; every later path resolves inside it.
            steps.Add(new SetupStep(StepOp.BindRootfs, Source: rootfs, Flags: host.IdmapRootfs ? StepFlags.Idmap : StepFlags.None));
            // 3. The config's mounts, in order (a later mount may sit on an earlier one). cgroup
            //    mounts wait for the cgroup (step 6), unless something is mounted beneath them.
            deferCgroup = mounts.Where(IsCgroupMount).All(c => !mounts.Any(o => !IsCgroupMount(o) && IsBelow(o.Destination, c.Destination)));
            foreach (var m in mounts)
            {
                if (IsCgroupMount(m) && deferCgroup) continue;
                if (IsCgroupMount(m) && !steps.Any(s => s.Op == StepOp.EnterCgroup)) steps.Add(new SetupStep(StepOp.EnterCgroup));
                steps.AddRange(PlanMount(m, host, spec));
            }
            // 4. Device nodes on the fresh /dev (bound from the host in a user namespace, where mknod is denied).
            if (spec.Mounts?.Any(m => m.Destination.TrimEnd('/') == "/dev" && m.Type == "tmpfs") == true)
            {
                // the defaults first, where the config's own entry for one (another mode or owner) wins; then the config's others
                var configured = (spec.Linux?.Devices ?? []).DistinctBy(d => d.Path).ToDictionary(d => d.Path);
                foreach (var d in DefaultDevices.Select(d => configured.GetValueOrDefault(d.Path, d)).Concat(configured.Values).DistinctBy(d => d.Path))
                    steps.Add(PlanDevice(d, userns));
                steps.AddRange(DevSymlinks());
            }
            else
            {
                foreach (var d in spec.Linux?.Devices ?? [])
                    steps.Add(PlanDevice(d, userns));
            }
        }

        // 5. Names and network: these belong to the UTS and network namespaces, set before the
        //    mount setup is sealed.
        //    A UTS namespace joined by path gets them too (runc does the same).
        if (HasNamespace(spec, "uts", newOnly: false))
        {
            if (!string.IsNullOrEmpty(spec.Hostname)) steps.Add(new SetupStep(StepOp.SetHostname, Source: spec.Hostname));
            if (!string.IsNullOrEmpty(spec.Domainname)) steps.Add(new SetupStep(StepOp.SetDomainname, Source: spec.Domainname));
        }
        else if (!string.IsNullOrEmpty(spec.Hostname))
            throw new UsageException("a hostname is set but the config has no UTS namespace: it would rename the host");
        if (HasNamespace(spec, "network"))
            steps.Add(new SetupStep(StepOp.LoopbackUp));

        if (HasNamespace(spec, "mount", newOnly: false))
        {
            // 6. The runtime moves us into our cgroup while the mounts above are made; wait
            //    for it here, so that /sys/fs/cgroup shows our cgroup as its root.
            if (!steps.Any(s => s.Op == StepOp.EnterCgroup)) steps.Add(new SetupStep(StepOp.EnterCgroup));
            if (deferCgroup)
                foreach (var m in mounts.Where(IsCgroupMount))
                    steps.AddRange(PlanMount(m, host, spec));
            // 7. sysctls need the container's /proc and must be written before /proc/sys turns read-only.
            foreach (var (key, value) in spec.Linux?.Sysctl ?? [])
                steps.Add(new SetupStep(StepOp.WriteFile, Target: "/proc/sys/" + ValidateSysctl(key).Replace('.', '/'), Source: value));
            // 8. Hide and freeze the sensitive parts of /proc and /sys.
            foreach (var p in spec.Linux?.MaskedPaths ?? [])
                steps.Add(new SetupStep(StepOp.Mask, Target: p, Flags: StepFlags.Optional));
            foreach (var p in spec.Linux?.ReadonlyPaths ?? [])
                steps.Add(new SetupStep(StepOp.MakeReadonly, Target: p, Flags: StepFlags.Optional | StepFlags.Recursive,
                    MountFlags: MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec));
            // 9. Hooks once the container's namespaces and mounts exist, before pivot_root:
            //    prestart and createRuntime in the runtime's namespace, then createContainer in
            //    the container's (the process runs those itself; startContainer ones after start).
            if (new[] { spec.Hooks?.Prestart, spec.Hooks?.CreateRuntime, spec.Hooks?.CreateContainer, spec.Hooks?.StartContainer }.Any(h => h is { Count: > 0 }))
                steps.Add(new SetupStep(StepOp.Hooks));
            // 10. Switch root; the old root is detached and gone from the container's view.
            steps.Add(new SetupStep(StepOp.PivotRoot, Flags: host.NoPivot ? StepFlags.NoPivot : StepFlags.None));
            // 10b. The working directory is made when missing (runc and Docker do), as root,
            //      inside the new root, before the root may turn read-only.
            if (spec.Process?.Cwd is { Length: > 1 } cwd && cwd.StartsWith('/'))
                steps.Add(new SetupStep(StepOp.Mkdir, Target: cwd, Mode: 0x1ED /* 0755 */));
            // 11. Only now can / itself change: shared propagation, read-only root.
            var prop = spec.Linux?.RootfsPropagation;
            if (prop is "shared" or "rshared" or "unbindable" or "runbindable")
                steps.Add(new SetupStep(StepOp.SetPropagation, Target: "/", Propagation: RootPropagation(prop)));
            if (spec.Root?.Readonly == true)
                steps.Add(new SetupStep(StepOp.MakeReadonly, Target: "/"));
        }
        return steps;
    }

    /// <summary>
    /// process.apparmorProfile, process.selinuxLabel and linux.mountLabel are applied when the
    /// host has that LSM enabled; otherwise the container is refused rather than run unconfined.
    /// </summary>
    public static void CheckSecurityLabels(Spec spec, Process? process, HostInfo host)
    {
        if (!string.IsNullOrEmpty(process?.ApparmorProfile) && !host.AppArmor)
            throw new UsageException($"process.apparmorProfile '{process.ApparmorProfile}' is set but AppArmor is not enabled on this host");
        if (!string.IsNullOrEmpty(process?.SelinuxLabel) && !host.Selinux)
            throw new UsageException($"process.selinuxLabel '{process.SelinuxLabel}' is set but SELinux is not enabled on this host");
        if (!string.IsNullOrEmpty(spec.Linux?.MountLabel) && !host.Selinux)
            throw new UsageException($"linux.mountLabel '{spec.Linux.MountLabel}' is set but SELinux is not enabled on this host");
    }

    /// <summary>Whether a container id is mapped by these mappings.</summary>
    public static bool Maps(List<LinuxIdMapping>? mappings, uint id) =>
        mappings?.Any(m => id >= m.ContainerId && id - m.ContainerId < m.Size) == true;

    private static bool IsCgroupMount(Mount m) => m.Type is "cgroup" or "cgroup2";

    private static bool IsBelow(string path, string dir) =>
        path.TrimEnd('/').StartsWith(dir.TrimEnd('/') + "/", StringComparison.Ordinal);

    private static ulong RootPropagation(string? p) => p switch
    {
        null or "" or "rslave" or "slave" => MountFlags.Slave | MountFlags.Rec,
        "private" or "rprivate" => MountFlags.Private | MountFlags.Rec,
        "shared" or "rshared" => MountFlags.Shared | MountFlags.Rec,
        "unbindable" or "runbindable" => MountFlags.Unbindable | MountFlags.Rec,
        _ => throw new UsageException($"invalid rootfsPropagation '{p}'"),
    };

    private static string ValidateSysctl(string key)
    {
        if (key.Length == 0 || key.Contains("..") || key.Contains('/') || key.StartsWith('.'))
            throw new UsageException($"invalid sysctl '{key}'");
        return key;
    }

    private static IEnumerable<SetupStep> DevSymlinks()
    {
        yield return new SetupStep(StepOp.Symlink, Target: "/dev/fd", Source: "/proc/self/fd");
        yield return new SetupStep(StepOp.Symlink, Target: "/dev/stdin", Source: "/proc/self/fd/0");
        yield return new SetupStep(StepOp.Symlink, Target: "/dev/stdout", Source: "/proc/self/fd/1");
        yield return new SetupStep(StepOp.Symlink, Target: "/dev/stderr", Source: "/proc/self/fd/2");
        yield return new SetupStep(StepOp.Symlink, Target: "/dev/ptmx", Source: "pts/ptmx");
    }

    private static SetupStep PlanDevice(LinuxDevice d, bool userns)
    {
        if (!d.Path.StartsWith("/dev/", StringComparison.Ordinal))
            throw new UsageException($"device {d.Path}: devices must be under /dev");
        uint type = d.Type switch
        {
            "c" or "u" => 0x2000, // S_IFCHR
            "b" => 0x6000,        // S_IFBLK
            "p" => 0x1000,        // S_IFIFO
            _ => throw new UsageException($"device {d.Path}: unknown type '{d.Type}' (c, u, b or p)"),
        };
        uint mode = type | ((d.FileMode ?? 0x1B6 /* 0666 */) & 0xFFF /* 07777 */);
        ulong dev = MakeDev((ulong)d.Major, (ulong)d.Minor);
        return userns
            ? new SetupStep(StepOp.Mknod, Target: d.Path, Source: d.Path, Flags: StepFlags.BindDev)
            : new SetupStep(StepOp.Mknod, Target: d.Path, Mode: mode, Dev: dev, Uid: d.Uid ?? 0, Gid: d.Gid ?? 0);
    }

    /// <summary>glibc's makedev().</summary>
    public static ulong MakeDev(ulong major, ulong minor) =>
        ((major & 0xfffff000UL) << 32) | ((major & 0xfffUL) << 8) | ((minor & 0xffffff00UL) << 12) | (minor & 0xffUL);

    private static IEnumerable<SetupStep> PlanMount(Mount m, HostInfo host, Spec spec)
    {
        if (string.IsNullOrEmpty(m.Destination) || !m.Destination.StartsWith('/'))
            throw new UsageException($"mount destination '{m.Destination}' must be an absolute path");
        var o = ParsedMountOptions.Parse(m.Options);
        var type = m.Type ?? "";
        if (o.Bind || type == "bind")
        {
            if (string.IsNullOrEmpty(m.Source))
                throw new UsageException($"bind mount on {m.Destination} has no source");
            var flags = StepFlags.Bind | (o.Recursive ? StepFlags.Recursive : 0) | (o.RecursiveReadonly ? StepFlags.Readonly : 0);
            yield return new SetupStep(StepOp.Mount, Target: m.Destination, Source: m.Source, Flags: flags,
                MountFlags: o.Flags, Propagation: o.Propagation);
            yield break;
        }
        if (type == "cgroup" || type == "cgroup2")
        {
            foreach (var s in PlanCgroupMount(m, o, host, HasNamespace(spec, "user", newOnly: false))) yield return s;
            yield break;
        }
        if (type.Length == 0)
            throw new UsageException($"mount on {m.Destination} has no type");
        var data = o.Data;
        // devpts' gid=5 (tty) must exist in a user namespace, or the mount fails: leave it out there
        if (type == "devpts" && HasNamespace(spec, "user", newOnly: false) && !Maps(spec.Linux?.GidMappings, 5))
            data = string.Join(',', data.Split(',').Where(d => !d.StartsWith("gid=", StringComparison.Ordinal)));
        yield return new SetupStep(StepOp.Mount, Target: m.Destination, Source: m.Source ?? type, FsType: type,
            Data: data, MountFlags: o.Flags, Propagation: o.Propagation);
    }

    /// <summary>
    /// /sys/fs/cgroup inside the container. On v2 a cgroup2 mount (the cgroup namespace
    /// shows only the container's subtree); on v1 a tmpfs holding one mount per hierarchy.
    /// </summary>
    private static IEnumerable<SetupStep> PlanCgroupMount(Mount m, ParsedMountOptions o, HostInfo host, bool userns)
    {
        var flags = o.Flags | MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec;
        if (host.CgroupV2)
        {
            yield return new SetupStep(StepOp.Mount, Target: m.Destination, Source: "cgroup2", FsType: "cgroup2", MountFlags: flags);
            yield break;
        }
        var dest = m.Destination.TrimEnd('/');
        yield return new SetupStep(StepOp.Mount, Target: dest, Source: "tmpfs", FsType: "tmpfs", Data: "mode=755",
            MountFlags: MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec);
        // v1 hierarchies can only be mounted from the initial user namespace: in another one
        // /sys/fs/cgroup stays an empty tmpfs
        foreach (var h in userns ? [] : host.V1Hierarchies)
        {
            var name = h.StartsWith("name=", StringComparison.Ordinal) ? h["name=".Length..] : h;
            yield return new SetupStep(StepOp.Mount, Target: $"{dest}/{name}", Source: "cgroup", FsType: "cgroup", Data: h, MountFlags: flags);
            if (name.Contains(','))
                foreach (var single in name.Split(','))
                    yield return new SetupStep(StepOp.Symlink, Target: $"{dest}/{single}", Source: name);
        }
        if ((o.Flags & MountFlags.ReadOnly) != 0)
            yield return new SetupStep(StepOp.MakeReadonly, Target: dest);
    }
}
