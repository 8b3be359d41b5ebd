using CrateRun.Core.Oci;

namespace CrateRun.Core.Setup;

/// <summary>What the host looks like, for the parts of the plan that depend on it.</summary>
/// <param name="CgroupV2">The host's cgroup hierarchy is unified (v2).</param>
/// <param name="V1Hierarchies">On v1: the controller sets of each hierarchy, e.g. "cpu,cpuacct", "memory".</param>
/// <param name="NoPivot">--no-pivot: move the rootfs onto / and chroot (for a rootfs on ramfs).</param>
/// <param name="IdmapRootfs">Mount the rootfs id-mapped into the container's user namespace.</param>
/// <param name="HostProcSysMounts">--no-pivot: the host's full procfs and sysfs mounts outside the rootfs, to hide.</param>
/// <param name="V1CgroupDirs">On v1: each hierarchy (its controllers, as in V1Hierarchies) to the container's own
/// cgroup directory in it on the host; null when the runtime makes no cgroup.</param>
/// <param name="AppArmor">AppArmor is enabled on the host (process.apparmorProfile can be applied).</param>
/// <param name="Selinux">SELinux is enabled on the host (process.selinuxLabel, linux.mountLabel can be applied).</param>
/// <param name="RootfsOverlay">rootless: the options of an overlayfs the container mounts as its root inside its own
/// user namespace (an unprivileged runtime cannot mount it for the container); null: the rootfs is bound.</param>
/// <param name="SkippableBindTargets">Destinations of bind mounts left out when their mount point is missing and cannot
/// be made (the runtime's own /etc/hosts, resolv.conf, hostname in a rootfs the container's root may not write, as Docker
/// does for a read-only one); every other missing mount point that cannot be made is an error.</param>
public sealed record HostInfo(bool CgroupV2, IReadOnlyList<string> V1Hierarchies, bool NoPivot = false, bool IdmapRootfs = false,
    IReadOnlyList<string>? HostProcSysMounts = null, IReadOnlyDictionary<string, string>? V1CgroupDirs = null,
    bool AppArmor = false, bool Selinux = false, string? RootfsOverlay = null, IReadOnlyCollection<string>? SkippableBindTargets = null);

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
        var rootPropagation = spec.Linux?.RootfsPropagation;

        // A mount namespace joined by path gets the same set-up as a new one (as runc does): the
        // process must see root.path as "/", never the joined namespace's own root.
        if (HasNamespace(spec, "mount", newOnly: false))
        {
            // 1. Propagation first, so nothing we mount leaks back to the host.
            steps.Add(new SetupStep(StepOp.RootPropagation, MountFlags: PropagationBeforePivot(rootPropagation)));
            // 2. The rootfs must be a mount point for pivot_root; every later path resolves inside it.
            //    Under a shared root the mount holding it turns private first: pivot_root refuses
            //    a shared parent, and the bind would otherwise show up on the host.
            var rootfsFlags = (host.IdmapRootfs ? StepOptions.Idmap : StepOptions.None)
                | (IsShared(rootPropagation) ? StepOptions.PrivateParent : StepOptions.None)
                | (host.RootfsOverlay is null ? StepOptions.None : StepOptions.Overlay);
            steps.Add(new SetupStep(StepOp.BindRootfs, Source: rootfs, FsType: host.RootfsOverlay is null ? null : "overlay", Data: host.RootfsOverlay, Flags: rootfsFlags));
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
            //    A bind mount on /dev is someone's directory: nothing is created in it (as runc).
            var devIsBound = mounts.Any(m => IsDev(m) && IsBind(m));
            if (devIsBound) { /* someone's directory: no nodes, no symlinks */ }
            else if (mounts.Any(m => IsDev(m) && m.Type == "tmpfs"))
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
            // 4b. A read-only tmpfs (a read-only /dev too) was mounted writable so that its
            //    mount points and nodes could be made: now it turns read-only (as runc does).
            foreach (var m in mounts.Where(m => m.Type == "tmpfs" && !IsBind(m) && IsReadOnly(ParsedMountOptions.Parse(m.Options))))
                steps.Add(new SetupStep(StepOp.MakeReadonly, Target: m.Destination));
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
                steps.Add(new SetupStep(StepOp.Mask, Target: p, Flags: StepOptions.Optional));
            foreach (var p in spec.Linux?.ReadonlyPaths ?? [])
                steps.Add(new SetupStep(StepOp.MakeReadonly, Target: p, Flags: StepOptions.Optional | StepOptions.Recursive,
                    MountFlags: MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec));
            // 9. Hooks once the container's namespaces and mounts exist, before pivot_root:
            //    prestart and createRuntime in the runtime's namespace, then createContainer in
            //    the container's (the process runs those itself; startContainer ones after start).
            if (new[] { spec.Hooks?.Prestart, spec.Hooks?.CreateRuntime, spec.Hooks?.CreateContainer, spec.Hooks?.StartContainer }.Any(h => h is { Count: > 0 }))
                steps.Add(new SetupStep(StepOp.Hooks));
            // 10. Switch root; the old root is detached and gone from the container's view. Without
            //     pivot_root the host's proc and sysfs mounts stay in our namespace below the
            //     moved root: they go first, or the container could mount a fresh proc.
            if (host.NoPivot)
                foreach (var p in host.HostProcSysMounts ?? [])
                    steps.Add(new SetupStep(StepOp.HideHostFs, Target: p));
            steps.Add(new SetupStep(StepOp.PivotRoot, Flags: host.NoPivot ? StepOptions.NoPivot : StepOptions.None));
            // 10b. The working directory is made when missing (runc and Docker do), as root,
            //      inside the new root, before the root may turn read-only.
            if (spec.Process?.Cwd is { Length: > 1 } cwd && cwd.StartsWith('/'))
                steps.Add(new SetupStep(StepOp.Mkdir, Target: cwd, Mode: 0x1ED /* 0755 */));
            // 11. Only now can / itself change: shared propagation, read-only root.
            if (PropagationAfterPivot(rootPropagation) is var after and not 0)
                steps.Add(new SetupStep(StepOp.SetPropagation, Target: "/", Propagation: after));
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

    private static bool IsBind(Mount m) => m.Type == "bind" || ParsedMountOptions.Parse(m.Options).Bind;

    private static bool IsReadOnly(ParsedMountOptions o) => ((o.Flags | o.RecursiveFlags) & ~o.RecursiveClearFlags & MountFlags.ReadOnly) != 0;

    private static bool IsDev(Mount m) => m.Destination.TrimEnd('/') == "/dev";

    private static bool IsShared(string? rootfsPropagation) => rootfsPropagation is "shared" or "rshared";

    /// <summary>
    /// linux.rootfsPropagation for the whole namespace before pivot_root. Shared keeps the
    /// host's peer groups (bidirectional mounts need them); unbindable waits for the pivot,
    /// because an unbindable rootfs could not be bound onto itself.
    /// </summary>
    private static ulong PropagationBeforePivot(string? p) => p switch
    {
        null or "" or "rslave" or "slave" or "unbindable" or "runbindable" => MountFlags.Slave | MountFlags.Rec,
        "private" or "rprivate" => MountFlags.Private | MountFlags.Rec,
        "shared" or "rshared" => MountFlags.Shared | MountFlags.Rec,
        _ => throw new UsageException($"invalid rootfsPropagation '{p}' (private, rprivate, slave, rslave, shared, rshared, unbindable or runbindable)"),
    };

    /// <summary>What "/" still needs after pivot_root (the rootfs bind was made from a private parent under a shared root); 0 = nothing.</summary>
    private static ulong PropagationAfterPivot(string? p) => p switch
    {
        "shared" or "rshared" => MountFlags.Shared | MountFlags.Rec,
        "unbindable" or "runbindable" => MountFlags.Unbindable | MountFlags.Rec,
        _ => 0,
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
            ? new SetupStep(StepOp.Mknod, Target: d.Path, Source: d.Path, Flags: StepOptions.BindDev)
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
        var idmap = IdmapOf(m, o, spec, bind: o.Bind || type == "bind");
        if (o.Bind || type == "bind")
        {
            if (string.IsNullOrEmpty(m.Source))
                throw new UsageException($"bind mount on {m.Destination} has no source");
            // sync, dirsync, lazytime, iversion, mand belong to the filesystem, which a bind mount shares with its source
            if ((o.Flags & MountFlags.SuperblockFlags) != 0)
            {
                var option = m.Options!.First(x => (ParsedMountOptions.Parse([x]).Flags & MountFlags.SuperblockFlags) != 0);
                throw new UsageException($"mount option '{option}' on the bind mount {m.Destination}: it changes the source's filesystem, not a bind mount (set it where that filesystem is mounted)");
            }
            var flags = StepOptions.Bind | (o.Recursive ? StepOptions.Recursive : 0)
                | (idmap is null ? 0 : StepOptions.IdmapMount | (o.RecursiveIdmap ? StepOptions.IdmapRecursive : 0))
                | (host.SkippableBindTargets?.Contains(m.Destination) == true ? StepOptions.Optional : 0);
            yield return new SetupStep(StepOp.Mount, Target: m.Destination, Source: m.Source, Flags: flags,
                MountFlags: o.Flags & ~MountFlags.Remount, Propagation: o.Propagation)
            {
                ClearFlags = o.ClearFlags, RecursiveSetFlags = o.RecursiveFlags, RecursiveClearFlags = o.RecursiveClearFlags,
                IdmapUids = idmap?.Uids, IdmapGids = idmap?.Gids,
            };
            yield break;
        }
        if (type == "cgroup" || type == "cgroup2")
        {
            foreach (var s in PlanCgroupMount(m, o, host, HasNamespace(spec, "user", newOnly: false), HasNamespace(spec, "cgroup", newOnly: false))) yield return s;
            yield break;
        }
        if (type.Length == 0)
            throw new UsageException($"mount on {m.Destination} has no type");
        var data = o.Data;
        // devpts' gid=5 (tty) must exist in a user namespace, or the mount fails: leave it out there
        if (type == "devpts" && HasNamespace(spec, "user", newOnly: false) && !Maps(spec.Linux?.GidMappings, 5))
            data = string.Join(',', data.Split(',').Where(d => !d.StartsWith("gid=", StringComparison.Ordinal)));
        // a fresh filesystem has no submounts: the recursive options are its own. A read-only
        // tmpfs is mounted writable and turned read-only after the device nodes (step 4b).
        var fsFlags = (o.RecursiveFlags & MountFlags.AtimeModes) != 0 ? o.Flags & ~MountFlags.AtimeModes : o.Flags;
        fsFlags = (fsFlags | o.RecursiveFlags) & ~o.RecursiveClearFlags;
        if (type == "tmpfs") fsFlags &= ~MountFlags.ReadOnly;
        // procfs and sysfs only on a plain directory (no symlink on the way: CVE-2023-27561)
        var stepFlags = type is "proc" or "sysfs" ? StepOptions.PlainDir : StepOptions.None;
        // tmpcopyup: the tmpfs starts with a copy of the directory it covers
        if (o.CopyUp && type == "tmpfs") stepFlags |= StepOptions.CopyUp;
        yield return new SetupStep(StepOp.Mount, Target: m.Destination, Source: m.Source ?? type, FsType: type,
            Data: data, Flags: stepFlags, MountFlags: fsFlags & ~MountFlags.Remount, Propagation: o.Propagation);
    }

    /// <summary>
    /// The id mapping of a mount (runtime-spec config.md, "idmap"/"ridmap" and the mount's
    /// uidMappings/gidMappings), or null for a plain mount. The mount's own mappings win; with
    /// none, "idmap" takes the container's user namespace mappings (the spec's MAY, as runc
    /// 1.2 and crun do); mappings without the option are an idmap too (runc 1.1 configs).
    /// Only a bind can be id-mapped (a new filesystem would be mounted with the option).
    /// </summary>
    internal static (IReadOnlyList<LinuxIdMapping> Uids, IReadOnlyList<LinuxIdMapping> Gids)? IdmapOf(Mount m, ParsedMountOptions o, Spec spec, bool bind)
    {
        var option = o.RecursiveIdmap ? "ridmap" : "idmap";
        bool hasUids = m.UidMappings is { Count: > 0 }, hasGids = m.GidMappings is { Count: > 0 };
        if (!o.Idmap && !hasUids && !hasGids) return null;
        if (!bind)
            throw new UsageException($"mount option '{option}' on {m.Destination}: only a bind mount can be id-mapped (type '{m.Type}')");
        if (hasUids != hasGids)
            throw new UsageException($"mount on {m.Destination}: uidMappings and gidMappings must be given together for an id-mapped mount");
        if (hasUids)
        {
            CheckMapping(m.Destination!, "uidMappings", m.UidMappings!);
            CheckMapping(m.Destination!, "gidMappings", m.GidMappings!);
            return (m.UidMappings!, m.GidMappings!);
        }
        if (HasNamespace(spec, "user") && spec.Linux?.UidMappings is { Count: > 0 } uids && spec.Linux.GidMappings is { Count: > 0 } gids)
            return (uids, gids);
        throw new UsageException($"mount option '{option}' on {m.Destination}: the mount has no uidMappings/gidMappings and the container no user namespace mappings to use instead");
    }

    /// <summary>What the kernel accepts in a uid_map/gid_map: 1 to 340 lines, no empty range, no range past 2^32, no two ranges overlapping on either side.</summary>
    private static void CheckMapping(string destination, string field, List<LinuxIdMapping> maps)
    {
        if (maps.Count > 340)
            throw new UsageException($"mount on {destination}: {field} has {maps.Count} entries (the kernel takes at most 340)");
        for (var i = 0; i < maps.Count; i++)
        {
            var a = maps[i];
            if (a.Size == 0 || (ulong)a.ContainerId + a.Size > 1UL << 32 || (ulong)a.HostId + a.Size > 1UL << 32)
                throw new UsageException($"mount on {destination}: {field} entry {{containerID {a.ContainerId}, hostID {a.HostId}, size {a.Size}}} is empty or runs past 4294967295");
            for (var j = 0; j < i; j++)
            {
                var b = maps[j];
                if (Overlap(a.ContainerId, b.ContainerId, a.Size, b.Size) || Overlap(a.HostId, b.HostId, a.Size, b.Size))
                    throw new UsageException($"mount on {destination}: {field} entries {j} and {i} overlap");
            }
        }
    }

    private static bool Overlap(uint x, uint y, uint xSize, uint ySize) => (ulong)x < (ulong)y + ySize && (ulong)y < (ulong)x + xSize;

    /// <summary>
    /// /sys/fs/cgroup inside the container. On v2 a cgroup2 mount (the cgroup namespace
    /// shows only the container's subtree); on v1 a tmpfs holding one mount per hierarchy:
    /// with a cgroup namespace a mount of the hierarchy (its root is the container's cgroup);
    /// without one, or in a user namespace (where v1 hierarchies cannot be mounted), a bind
    /// of the container's own cgroup directory, as runc does. A plain mount there would show
    /// the root of the host's hierarchy: every host cgroup, and not the container's limits.
    /// </summary>
    private static IEnumerable<SetupStep> PlanCgroupMount(Mount m, ParsedMountOptions o, HostInfo host, bool userns, bool cgroupns)
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
        var bindOwn = host.V1CgroupDirs is not null && (!cgroupns || userns);
        // v1 hierarchies can only be mounted from the initial user namespace: in another one,
        // without the container's own directories to bind, /sys/fs/cgroup stays an empty tmpfs
        foreach (var h in userns && !bindOwn ? [] : host.V1Hierarchies)
        {
            var name = h.StartsWith("name=", StringComparison.Ordinal) ? h["name=".Length..] : h;
            if (!bindOwn)
                yield return new SetupStep(StepOp.Mount, Target: $"{dest}/{name}", Source: "cgroup", FsType: "cgroup", Data: h, MountFlags: flags);
            else if (host.V1CgroupDirs!.TryGetValue(h, out var own))
                yield return new SetupStep(StepOp.Mount, Target: $"{dest}/{name}", Source: own, Flags: StepOptions.Bind, MountFlags: flags);
            else
                continue;
            if (name.Contains(','))
                foreach (var single in name.Split(','))
                    yield return new SetupStep(StepOp.Symlink, Target: $"{dest}/{single}", Source: name);
        }
        if ((o.Flags & MountFlags.ReadOnly) != 0)
            yield return new SetupStep(StepOp.MakeReadonly, Target: dest);
    }
}
