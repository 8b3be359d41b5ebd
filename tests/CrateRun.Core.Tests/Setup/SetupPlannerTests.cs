using CrateRun.Core.Config;
using CrateRun.Core.Oci;
using CrateRun.Core.Setup;
using OciLinux = CrateRun.Core.Oci.Linux;

namespace CrateRun.Core.Tests.Setup;

public class SetupPlannerTests
{
    private const string Id = "0123456789abcdef";
    private const string Rootfs = "/run/craterun/bundle/rootfs";
    private static readonly HostInfo V2 = new(true, []);
    private static readonly HostInfo V1 = new(false, ["cpu,cpuacct", "memory", "pids", "name=systemd"]);
    private const ulong NoSuidDevExec = MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec;

    private static Spec Docker(bool privileged = false, bool readOnly = false, string? hostname = null) =>
        SpecBuilder.Build(Id, new RunOptions
        {
            Rootfs = Rootfs,
            Command = ["sh"],
            Privileged = privileged,
            ReadOnlyRoot = readOnly,
            Hostname = hostname,
            Tmpfs = ["/run:size=1m"],
            Volumes = [new Volume("/srv/data", "/data", true)],
        });

    private static List<SetupStep> Plan(Spec s, HostInfo? host = null) => SetupPlanner.Plan(s, Rootfs, host ?? V2);

    private static Spec Minimal(params string[] namespaces) => new()
    {
        OciVersion = "1.2.0",
        Root = new Root { Path = "rootfs" },
        Linux = new OciLinux { Namespaces = [.. namespaces.Select(t => new LinuxNamespace { Type = t })] },
    };

    [Fact]
    public void A_rootless_image_root_is_an_overlay_the_container_mounts_in_place_of_the_bind()
    {
        const string options = "lowerdir+=/h/.craterun/images/snapshots/b,lowerdir+=/h/.craterun/images/snapshots/a,upperdir=/h/u,workdir=/h/w,userxattr";
        var steps = Plan(Docker(), V2 with { RootfsOverlay = options });
        var root = Assert.Single(steps, s => s.Op == StepOp.BindRootfs);
        Assert.Equal(steps[1], root); // still right after the propagation: every later path resolves inside it
        Assert.True(root.Flags.HasFlag(StepOptions.Overlay));
        Assert.Equal(("overlay", options, Rootfs), (root.FsType, root.Data, root.Source));
        Assert.False(Plan(Docker()).Single(s => s.Op == StepOp.BindRootfs).Flags.HasFlag(StepOptions.Overlay));
    }

    [Fact]
    public void Docker_run_plan_has_the_kernels_order()
    {
        var steps = Plan(Docker());
        var ops = steps.Select(s => s.Op).ToList();

        Assert.Equal(StepOp.RootPropagation, ops[0]);
        Assert.Equal(MountFlags.Slave | MountFlags.Rec, steps[0].MountFlags);
        Assert.Equal(new SetupStep(StepOp.BindRootfs, Source: Rootfs), steps[1]);

        // mounts, in config order; the cgroup mount waits for the cgroup (below)
        var mounts = steps.Skip(2).TakeWhile(s => s.Op == StepOp.Mount).ToList();
        Assert.Equal(["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/run", "/data"],
            mounts.Select(m => m.Target));
        var i = 2 + mounts.Count;

        // the six default devices, then the /dev symlinks
        Assert.Equal(["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"],
            steps.Skip(i).TakeWhile(s => s.Op == StepOp.Mknod).Select(s => s.Target));
        i += 6;
        Assert.Equal(["/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/ptmx"],
            steps.Skip(i).TakeWhile(s => s.Op == StepOp.Symlink).Select(s => s.Target));
        i += 5;

        Assert.Equal(new SetupStep(StepOp.SetHostname, Source: "0123456789ab"), steps[i++]);
        Assert.Equal(new SetupStep(StepOp.LoopbackUp), steps[i++]);

        // in the cgroup (and its namespace) before /sys/fs/cgroup is mounted, so it shows the container's own cgroup
        Assert.Equal(new SetupStep(StepOp.EnterCgroup), steps[i++]);
        Assert.Equal("/sys/fs/cgroup", steps[i].Target);
        Assert.Equal("cgroup2", steps[i++].FsType);

        var masks = steps.Skip(i).TakeWhile(s => s.Op == StepOp.Mask).ToList();
        Assert.Equal(SpecBuilder.MaskedPaths, masks.Select(s => s.Target));
        Assert.All(masks, s => Assert.Equal(StepOptions.Optional, s.Flags));
        i += masks.Count;
        var ro = steps.Skip(i).TakeWhile(s => s.Op == StepOp.MakeReadonly).ToList();
        Assert.Equal(SpecBuilder.ReadonlyPaths, ro.Select(s => s.Target));
        Assert.All(ro, s =>
        {
            Assert.Equal(StepOptions.Optional | StepOptions.Recursive, s.Flags);
            Assert.Equal(NoSuidDevExec, s.MountFlags);
        });
        i += ro.Count;

        Assert.Equal(new SetupStep(StepOp.PivotRoot), steps[i++]);
        Assert.Equal(steps.Count, i);
    }

    [Fact]
    public void Default_mounts_are_translated_into_fs_mounts()
    {
        var steps = Plan(Docker());
        SetupStep M(string target) => steps.Single(s => s.Op == StepOp.Mount && s.Target == target);

        Assert.Equal(new SetupStep(StepOp.Mount, "/proc", "proc", "proc", "", StepOptions.PlainDir, MountFlags: NoSuidDevExec), M("/proc"));
        Assert.Equal(new SetupStep(StepOp.Mount, "/dev", "tmpfs", "tmpfs", "mode=755,size=65536k",
            MountFlags: MountFlags.NoSuid | MountFlags.StrictAtime), M("/dev"));
        Assert.Equal(new SetupStep(StepOp.Mount, "/dev/pts", "devpts", "devpts", "newinstance,ptmxmode=0666,mode=0620,gid=5",
            MountFlags: MountFlags.NoSuid | MountFlags.NoExec), M("/dev/pts"));
        Assert.Equal(new SetupStep(StepOp.Mount, "/dev/shm", "shm", "tmpfs", "mode=1777,size=65536k", MountFlags: NoSuidDevExec), M("/dev/shm"));
        Assert.Equal(new SetupStep(StepOp.Mount, "/sys", "sysfs", "sysfs", "", StepOptions.PlainDir, MountFlags: NoSuidDevExec | MountFlags.ReadOnly), M("/sys"));
        Assert.Equal(new SetupStep(StepOp.Mount, "/run", "tmpfs", "tmpfs", "size=1m", MountFlags: NoSuidDevExec), M("/run"));
        Assert.Equal(new SetupStep(StepOp.Mount, "/data", "/srv/data", Flags: StepOptions.Bind | StepOptions.Recursive,
            MountFlags: MountFlags.ReadOnly), M("/data"));
    }

    [Fact]
    public void Default_devices_are_char_nodes_with_the_right_numbers()
    {
        var devices = Plan(Docker()).Where(s => s.Op == StepOp.Mknod).ToList();
        (string Path, ulong Major, ulong Minor)[] expected =
            [("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7), ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0)];
        Assert.Equal(expected.Length, devices.Count);
        foreach (var ((path, major, minor), step) in expected.Zip(devices))
        {
            Assert.Equal(path, step.Target);
            Assert.Equal(SetupPlanner.MakeDev(major, minor), step.Dev);
            Assert.Equal(0x2000u | 0x1B6u, step.Mode); // S_IFCHR | 0666
            Assert.Equal(0u, step.Uid);
            Assert.Equal(0u, step.Gid);
            Assert.Equal(StepOptions.None, step.Flags);
        }
        Assert.Equal(0x103UL, devices[0].Dev);
        Assert.Equal(0x500UL, devices[5].Dev);
    }

    [Theory]
    [InlineData(1UL, 3UL, 0x103UL)]
    [InlineData(5UL, 0UL, 0x500UL)]
    [InlineData(10UL, 229UL, 0xAE5UL)]
    [InlineData(259UL, 0x12345UL, 0x1231_0345UL)]
    [InlineData(0x1234UL, 0x56789UL, 0x0000_1000_5672_3489UL)]
    public void MakeDev_is_glibcs(ulong major, ulong minor, ulong expected) =>
        // gnu_dev_makedev: minor's low 8 bits, major's low 12 bits, the rest of minor, the rest of major
        Assert.Equal(expected, SetupPlanner.MakeDev(major, minor));

    [Fact]
    public void MakeDev_round_trips_through_major_and_minor()
    {
        static ulong Major(ulong d) => ((d >> 8) & 0xfff) | ((d >> 32) & 0xfffff000);
        static ulong Minor(ulong d) => (d & 0xff) | ((d >> 12) & 0xffffff00);
        foreach (var (ma, mi) in new (ulong, ulong)[] { (1, 3), (5, 0), (136, 1), (4095, 255), (4096, 256), (0xfffff, 0xfffff), (259, 1048575) })
        {
            var d = SetupPlanner.MakeDev(ma, mi);
            Assert.Equal(ma, Major(d));
            Assert.Equal(mi, Minor(d));
        }
    }

    [Fact]
    public void Config_devices_are_added_after_the_defaults()
    {
        var s = Docker();
        s.Linux!.Devices =
        [
            new LinuxDevice { Path = "/dev/fuse", Type = "c", Major = 10, Minor = 229, FileMode = 0x180 /* 0600 */, Uid = 1, Gid = 2 },
            new LinuxDevice { Path = "/dev/sda", Type = "b", Major = 8, Minor = 0 },
            new LinuxDevice { Path = "/dev/fifo", Type = "p" },
        ];
        var devices = Plan(s).Where(x => x.Op == StepOp.Mknod).ToList();
        Assert.Equal(9, devices.Count);
        Assert.Equal(new SetupStep(StepOp.Mknod, "/dev/fuse", Mode: 0x2000u | 0x180u, Dev: SetupPlanner.MakeDev(10, 229), Uid: 1, Gid: 2), devices[6]);
        Assert.Equal(new SetupStep(StepOp.Mknod, "/dev/sda", Mode: 0x6000u | 0x1B6u, Dev: SetupPlanner.MakeDev(8, 0)), devices[7]);
        Assert.Equal(new SetupStep(StepOp.Mknod, "/dev/fifo", Mode: 0x1000u | 0x1B6u), devices[8]);
    }

    [Fact]
    public void A_config_device_overrides_the_default_with_the_same_path()
    {
        var s = Docker();
        s.Linux!.Devices = [new LinuxDevice { Path = "/dev/null", Type = "c", Major = 1, Minor = 3, FileMode = 0x180, Uid = 1000, Gid = 1000 }];
        var devnull = Plan(s).Single(x => x.Op == StepOp.Mknod && x.Target == "/dev/null");
        Assert.Equal(0x2000u | 0x180u, devnull.Mode);
        Assert.Equal(1000u, devnull.Uid);
    }

    [Fact]
    public void Tmpfs_options_from_the_command_line_override_the_defaults()
    {
        var s = SpecBuilder.Build(Id, new RunOptions { Rootfs = Rootfs, Command = ["sh"], Tmpfs = ["/scratch:exec,suid,size=8m"] });
        var m = Plan(s).Single(x => x.Target == "/scratch");
        Assert.Equal(MountFlags.NoDev, m.MountFlags);
        Assert.Equal("size=8m", m.Data);
    }

    [Fact]
    public void Devices_outside_dev_or_of_unknown_type_are_refused()
    {
        var s = Docker();
        s.Linux!.Devices = [new LinuxDevice { Path = "/etc/null", Type = "c", Major = 1, Minor = 3 }];
        Assert.Contains("under /dev", Assert.Throws<UsageException>(() => Plan(s)).Message);
        s.Linux.Devices = [new LinuxDevice { Path = "/dev/x", Type = "z", Major = 1, Minor = 3 }];
        Assert.Contains("unknown type", Assert.Throws<UsageException>(() => Plan(s)).Message);
    }

    [Fact]
    public void Without_a_dev_tmpfs_only_the_configs_devices_are_made_and_no_symlinks()
    {
        var s = Minimal("mount");
        s.Mounts = [new Mount { Destination = "/proc", Type = "proc", Source = "proc" }];
        s.Linux!.Devices = [new LinuxDevice { Path = "/dev/fuse", Type = "c", Major = 10, Minor = 229 }];
        var steps = Plan(s);
        Assert.Equal(["/dev/fuse"], steps.Where(x => x.Op == StepOp.Mknod).Select(x => x.Target));
        Assert.DoesNotContain(steps, x => x.Op == StepOp.Symlink);
    }

    [Fact]
    public void Dev_symlinks_point_into_proc_and_pts()
    {
        var links = Plan(Docker()).Where(s => s.Op == StepOp.Symlink).Select(s => (s.Target, s.Source)).ToList();
        Assert.Equal(
            [("/dev/fd", "/proc/self/fd"), ("/dev/stdin", "/proc/self/fd/0"), ("/dev/stdout", "/proc/self/fd/1"),
             ("/dev/stderr", "/proc/self/fd/2"), ("/dev/ptmx", "pts/ptmx")],
            links);
    }

    [Fact]
    public void A_user_namespace_binds_the_host_devices_instead_of_mknod()
    {
        var s = Docker();
        s.Linux!.Namespaces!.Add(new LinuxNamespace { Type = "user" });
        s.Linux.Devices = [new LinuxDevice { Path = "/dev/fuse", Type = "c", Major = 10, Minor = 229 }];
        var devices = Plan(s).Where(x => x.Op == StepOp.Mknod).ToList();
        Assert.Equal(7, devices.Count);
        Assert.All(devices, d =>
        {
            Assert.Equal(StepOptions.BindDev, d.Flags);
            Assert.Equal(d.Target, d.Source);
            Assert.Equal(0UL, d.Dev);
            Assert.Equal(0u, d.Mode);
        });
        Assert.Equal("bind device /dev/null on /dev/null", devices[0].Describe());
    }

    [Fact]
    public void Cgroup_mount_on_v2_is_one_cgroup2_mount()
    {
        var cg = Plan(Docker(), V2).Where(s => s.Target?.StartsWith("/sys/fs/cgroup", StringComparison.Ordinal) == true).ToList();
        var m = Assert.Single(cg);
        Assert.Equal(new SetupStep(StepOp.Mount, "/sys/fs/cgroup", "cgroup2", "cgroup2",
            MountFlags: NoSuidDevExec | MountFlags.RelAtime | MountFlags.ReadOnly), m);
    }

    [Fact]
    public void Cgroup_mount_on_v1_is_a_tmpfs_with_one_mount_per_hierarchy()
    {
        var steps = Plan(Docker(), V1);
        var start = steps.FindIndex(s => s.Target == "/sys/fs/cgroup");
        var cg = steps.Skip(start).TakeWhile(s => s.Target?.StartsWith("/sys/fs/cgroup", StringComparison.Ordinal) == true).ToList();
        const ulong flags = NoSuidDevExec | MountFlags.RelAtime | MountFlags.ReadOnly;
        Assert.Equal(
            [
                new SetupStep(StepOp.Mount, "/sys/fs/cgroup", "tmpfs", "tmpfs", "mode=755", MountFlags: NoSuidDevExec),
                new SetupStep(StepOp.Mount, "/sys/fs/cgroup/cpu,cpuacct", "cgroup", "cgroup", "cpu,cpuacct", MountFlags: flags),
                new SetupStep(StepOp.Symlink, "/sys/fs/cgroup/cpu", "cpu,cpuacct"),
                new SetupStep(StepOp.Symlink, "/sys/fs/cgroup/cpuacct", "cpu,cpuacct"),
                new SetupStep(StepOp.Mount, "/sys/fs/cgroup/memory", "cgroup", "cgroup", "memory", MountFlags: flags),
                new SetupStep(StepOp.Mount, "/sys/fs/cgroup/pids", "cgroup", "cgroup", "pids", MountFlags: flags),
                new SetupStep(StepOp.Mount, "/sys/fs/cgroup/systemd", "cgroup", "cgroup", "name=systemd", MountFlags: flags),
                new SetupStep(StepOp.MakeReadonly, "/sys/fs/cgroup"),
            ],
            cg);
        // deferred: after entering the cgroup, before the masked paths
        Assert.Equal(StepOp.EnterCgroup, steps[start - 1].Op);
        Assert.Equal(StepOp.Mask, steps[start + cg.Count].Op);
    }

    [Fact]
    public void Cgroup_mount_stays_in_config_order_when_something_is_mounted_beneath_it()
    {
        var s = Docker();
        s.Mounts!.Add(new Mount { Destination = "/sys/fs/cgroup/extra", Type = "tmpfs", Source = "tmpfs" });
        var steps = Plan(s);
        var enter = steps.FindIndex(x => x.Op == StepOp.EnterCgroup);
        var cgroup = steps.FindIndex(x => x.Target == "/sys/fs/cgroup");
        var beneath = steps.FindIndex(x => x.Target == "/sys/fs/cgroup/extra");
        Assert.Equal(enter + 1, cgroup);
        Assert.True(steps.FindIndex(x => x.Target == "/sys") < enter);
        Assert.True(cgroup < steps.FindIndex(x => x.Target == "/run"));
        Assert.True(cgroup < beneath);
        Assert.True(beneath < steps.FindIndex(x => x.Op == StepOp.Mknod));
        Assert.Single(steps, x => x.Op == StepOp.EnterCgroup);
    }

    [Fact]
    public void Enter_cgroup_is_planned_once_even_without_a_cgroup_mount()
    {
        var s = Docker();
        s.Mounts!.RemoveAll(m => m.Type == "cgroup");
        var steps = Plan(s);
        var enter = Assert.Single(steps, x => x.Op == StepOp.EnterCgroup);
        Assert.Equal(StepOp.LoopbackUp, steps[steps.IndexOf(enter) - 1].Op);
        Assert.Equal(StepOp.Mask, steps[steps.IndexOf(enter) + 1].Op);
        Assert.Single(Plan(Docker(), V1), x => x.Op == StepOp.EnterCgroup);
        Assert.Single(Plan(Minimal("mount")), x => x.Op == StepOp.EnterCgroup);
    }

    private static readonly HostInfo V1WithOwnDirs = V1 with
    {
        V1CgroupDirs = new Dictionary<string, string>
        {
            ["cpu,cpuacct"] = "/sys/fs/cgroup/cpu,cpuacct/ctr",
            ["memory"] = "/sys/fs/cgroup/memory/process_api/x/ctr",
            ["pids"] = "/sys/fs/cgroup/pids/ctr",
        },
    };

    private static List<SetupStep> CgroupSteps(List<SetupStep> steps)
    {
        var start = steps.FindIndex(s => s.Target == "/sys/fs/cgroup");
        return [.. steps.Skip(start).TakeWhile(s => s.Target?.StartsWith("/sys/fs/cgroup", StringComparison.Ordinal) == true)];
    }

    [Fact]
    public void Cgroup_mount_on_v1_without_a_cgroup_namespace_binds_the_containers_own_cgroups_as_runc()
    {
        // runc's default config has no cgroup namespace: a mount of each hierarchy there would show
        // the host's root (every host cgroup) and not the container's own limits
        var s = Docker();
        s.Linux!.Namespaces!.RemoveAll(n => n.Type == "cgroup");
        const ulong flags = NoSuidDevExec | MountFlags.RelAtime | MountFlags.ReadOnly;
        Assert.Equal(
            [
                new SetupStep(StepOp.Mount, "/sys/fs/cgroup", "tmpfs", "tmpfs", "mode=755", MountFlags: NoSuidDevExec),
                new SetupStep(StepOp.Mount, "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/ctr", Flags: StepOptions.Bind, MountFlags: flags),
                new SetupStep(StepOp.Symlink, "/sys/fs/cgroup/cpu", "cpu,cpuacct"),
                new SetupStep(StepOp.Symlink, "/sys/fs/cgroup/cpuacct", "cpu,cpuacct"),
                new SetupStep(StepOp.Mount, "/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory/process_api/x/ctr", Flags: StepOptions.Bind, MountFlags: flags),
                new SetupStep(StepOp.Mount, "/sys/fs/cgroup/pids", "/sys/fs/cgroup/pids/ctr", Flags: StepOptions.Bind, MountFlags: flags),
                new SetupStep(StepOp.MakeReadonly, "/sys/fs/cgroup"),
            ],
            CgroupSteps(Plan(s, V1WithOwnDirs)));
        // the binds need the directories: after the runtime made them and moved the process in
        var steps = Plan(s, V1WithOwnDirs);
        Assert.True(steps.FindIndex(x => x.Op == StepOp.EnterCgroup) < steps.FindIndex(x => x.Target == "/sys/fs/cgroup/memory"));
    }

    [Fact]
    public void Cgroup_mount_on_v1_in_a_user_namespace_binds_too_and_with_a_cgroup_namespace_mounts()
    {
        var userns = Docker();
        userns.Linux!.Namespaces!.Add(new LinuxNamespace { Type = "user" });
        userns.Linux.UidMappings = [new LinuxIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
        userns.Linux.GidMappings = [new LinuxIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
        var binds = CgroupSteps(Plan(userns, V1WithOwnDirs)).Where(x => x.Op == StepOp.Mount && x.Target != "/sys/fs/cgroup").ToList();
        Assert.Equal(3, binds.Count);
        Assert.All(binds, b => Assert.Equal(StepOptions.Bind, b.Flags));
        var ns = CgroupSteps(Plan(Docker(), V1WithOwnDirs)).Where(x => x.Op == StepOp.Mount && x.Target != "/sys/fs/cgroup").ToList();
        Assert.All(ns, m => Assert.Equal("cgroup", m.FsType));
    }

    [Fact]
    public void Privileged_cgroup_mount_on_v1_stays_writable()
    {
        var steps = Plan(Docker(privileged: true), V1);
        Assert.DoesNotContain(steps, s => s.Op == StepOp.MakeReadonly && s.Target == "/sys/fs/cgroup");
        Assert.All(steps.Where(s => s.FsType == "cgroup"), s => Assert.Equal(0UL, s.MountFlags & MountFlags.ReadOnly));
        Assert.DoesNotContain(steps, s => s.Op == StepOp.Mask);
        Assert.DoesNotContain(steps, s => s.Op == StepOp.MakeReadonly);
    }

    [Fact]
    public void Sysctls_come_after_loopback_and_before_masked_and_readonly_paths()
    {
        var s = Docker();
        s.Linux!.Sysctl = new() { ["net.ipv4.ip_forward"] = "1", ["kernel.shm_rmid_forced"] = "1" };
        var steps = Plan(s);
        var writes = steps.Select((x, i) => (x, i)).Where(p => p.x.Op == StepOp.WriteFile).ToList();
        Assert.Equal(2, writes.Count);
        Assert.Contains(writes, w => w.x == new SetupStep(StepOp.WriteFile, "/proc/sys/net/ipv4/ip_forward", "1"));
        Assert.Contains(writes, w => w.x == new SetupStep(StepOp.WriteFile, "/proc/sys/kernel/shm_rmid_forced", "1"));
        var loopback = steps.FindIndex(x => x.Op == StepOp.LoopbackUp);
        var firstMask = steps.FindIndex(x => x.Op == StepOp.Mask);
        var procSysRo = steps.FindIndex(x => x.Op == StepOp.MakeReadonly && x.Target == "/proc/sys");
        Assert.All(writes, w => Assert.InRange(w.i, loopback + 1, Math.Min(firstMask, procSysRo) - 1));
    }

    [Theory]
    [InlineData("../../etc/shadow")]
    [InlineData("net/ipv4/ip_forward")]
    [InlineData(".net")]
    [InlineData("")]
    [InlineData("kernel..x")]
    public void Bad_sysctl_keys_are_refused(string key)
    {
        var s = Docker();
        s.Linux!.Sysctl = new() { [key] = "1" };
        Assert.Contains("invalid sysctl", Assert.Throws<UsageException>(() => Plan(s)).Message);
    }

    [Fact]
    public void Read_only_root_comes_after_pivot()
    {
        var steps = Plan(Docker(readOnly: true));
        Assert.Equal(new SetupStep(StepOp.PivotRoot), steps[^2]);
        Assert.Equal(new SetupStep(StepOp.MakeReadonly, "/"), steps[^1]);
    }

    [Fact]
    public void No_pivot_is_a_flag_on_the_pivot_step()
    {
        var pivot = Plan(Docker(), V2 with { NoPivot = true }).Single(s => s.Op == StepOp.PivotRoot);
        Assert.Equal(StepOptions.NoPivot, pivot.Flags);
        Assert.Equal("move the rootfs to / (no pivot)", pivot.Describe());
    }

    [Theory]
    [InlineData(null, MountFlags.Slave | MountFlags.Rec, 0UL)]
    [InlineData("slave", MountFlags.Slave | MountFlags.Rec, 0UL)]
    [InlineData("rslave", MountFlags.Slave | MountFlags.Rec, 0UL)]
    [InlineData("private", MountFlags.Private | MountFlags.Rec, 0UL)]
    [InlineData("rprivate", MountFlags.Private | MountFlags.Rec, 0UL)]
    [InlineData("shared", MountFlags.Shared | MountFlags.Rec, MountFlags.Shared | MountFlags.Rec)]
    [InlineData("rshared", MountFlags.Shared | MountFlags.Rec, MountFlags.Shared | MountFlags.Rec)]
    // an unbindable rootfs could not be bound onto itself: slave until the pivot, then unbindable
    [InlineData("unbindable", MountFlags.Slave | MountFlags.Rec, MountFlags.Unbindable | MountFlags.Rec)]
    [InlineData("runbindable", MountFlags.Slave | MountFlags.Rec, MountFlags.Unbindable | MountFlags.Rec)]
    public void Rootfs_propagation(string? prop, ulong first, ulong afterPivot)
    {
        var s = Docker();
        s.Linux!.RootfsPropagation = prop;
        var steps = Plan(s);
        Assert.Equal(new SetupStep(StepOp.RootPropagation, MountFlags: first), steps[0]);
        // under a shared root the mount holding the rootfs turns private before the bind (pivot_root refuses a shared parent)
        Assert.Equal(prop is "shared" or "rshared", steps[1].Flags.HasFlag(StepOptions.PrivateParent));
        var pivot = steps.FindIndex(x => x.Op == StepOp.PivotRoot);
        if (afterPivot == 0)
            Assert.Equal(steps.Count - 1, pivot);
        else
            Assert.Equal(new SetupStep(StepOp.SetPropagation, "/", Propagation: afterPivot), steps[pivot + 1]);
    }

    [Fact]
    public void Invalid_rootfs_propagation_is_refused()
    {
        var s = Docker();
        s.Linux!.RootfsPropagation = "sideways";
        Assert.Contains("rootfsPropagation", Assert.Throws<UsageException>(() => Plan(s)).Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("proc")]
    [InlineData("dev/shm")]
    public void A_mount_without_an_absolute_destination_is_refused(string destination)
    {
        var s = Docker();
        s.Mounts!.Add(new Mount { Destination = destination, Type = "tmpfs", Source = "tmpfs" });
        Assert.Contains("must be an absolute path", Assert.Throws<UsageException>(() => Plan(s)).Message);
    }

    [Fact]
    public void A_bind_without_source_or_a_mount_without_type_is_refused()
    {
        var s = Minimal("mount");
        s.Mounts = [new Mount { Destination = "/x", Options = ["rbind"] }];
        Assert.Contains("no source", Assert.Throws<UsageException>(() => Plan(s)).Message);
        s.Mounts = [new Mount { Destination = "/x", Source = "none" }];
        Assert.Contains("no type", Assert.Throws<UsageException>(() => Plan(s)).Message);
    }

    [Fact]
    public void Bind_type_or_option_both_bind()
    {
        var s = Minimal("mount");
        s.Mounts =
        [
            new Mount { Destination = "/a", Type = "bind", Source = "/host/a" },
            new Mount { Destination = "/b", Type = "none", Source = "/host/b", Options = ["bind", "ro", "rslave"] },
            new Mount { Destination = "/c", Source = "/host/c", Options = ["rbind", "rro"] },
        ];
        var m = Plan(s).Where(x => x.Op == StepOp.Mount).ToList();
        Assert.Equal(new SetupStep(StepOp.Mount, "/a", "/host/a", Flags: StepOptions.Bind), m[0]);
        Assert.Equal(new SetupStep(StepOp.Mount, "/b", "/host/b", Flags: StepOptions.Bind, MountFlags: MountFlags.ReadOnly,
            Propagation: MountFlags.Slave | MountFlags.Rec), m[1]);
        Assert.Equal(new SetupStep(StepOp.Mount, "/c", "/host/c", Flags: StepOptions.Bind | StepOptions.Recursive)
        { RecursiveSetFlags = MountFlags.ReadOnly }, m[2]);
        Assert.Equal("bind /host/a on /a", m[0].Describe());
    }

    [Fact]
    public void The_runtimes_etc_binds_may_be_left_out_where_named_every_other_bind_stays_required()
    {
        var s = Minimal("mount");
        s.Mounts =
        [
            new Mount { Destination = "/etc/hosts", Type = "bind", Source = "/state/id/hosts", Options = ["rbind", "rprivate"] },
            new Mount { Destination = "/data", Type = "bind", Source = "/srv/data" },
        ];
        var m = Plan(s, V2 with { SkippableBindTargets = ["/etc/hosts", "/etc/resolv.conf", "/etc/hostname"] }).Where(x => x.Op == StepOp.Mount).ToList();
        Assert.True(m[0].Flags.HasFlag(StepOptions.Optional));
        Assert.False(m[1].Flags.HasFlag(StepOptions.Optional));
        // an OCI client's config (no such list) keeps every bind required
        Assert.DoesNotContain(Plan(s).Where(x => x.Op == StepOp.Mount), x => x.Flags.HasFlag(StepOptions.Optional));
    }

    [Fact]
    public void A_config_without_a_mount_namespace_is_refused() =>
        Assert.Contains("has no mount namespace", Assert.Throws<UsageException>(() => Plan(Minimal("pid", "uts"))).Message);

    [Fact]
    public void A_mount_namespace_joined_by_path_gets_the_same_rootfs_setup_as_a_new_one()
    {
        // the process must see root.path as "/", never the joined namespace's root (runc sets it up there too)
        var fresh = Plan(Docker());
        var s = Docker();
        s.Linux!.Namespaces!.Single(n => n.Type == "mount").Path = "/proc/1234/ns/mnt";
        Assert.Equal(fresh, Plan(s));
        Assert.Contains(Plan(s), x => x.Op == StepOp.PivotRoot);
    }

    [Fact]
    public void Hostname_is_set_in_a_uts_namespace_joined_by_path()
    {
        var s = Docker(hostname: "web");
        s.Linux!.Namespaces!.Single(n => n.Type == "uts").Path = "/proc/1234/ns/uts";
        Assert.Contains(new SetupStep(StepOp.SetHostname, Source: "web"), Plan(s));
    }

    [Theory]
    [InlineData("network")]
    [InlineData("pid")]
    [InlineData("ipc")]
    public void Other_namespace_types_may_be_left_out(string type)
    {
        var s = Docker();
        s.Linux!.Namespaces!.RemoveAll(n => n.Type == type);
        Assert.Contains(Plan(s), x => x.Op == StepOp.PivotRoot);
    }

    [Fact]
    public void A_hostname_longer_than_64_bytes_is_refused()
    {
        var s = Docker();
        s.Hostname = new string('h', 65);
        Assert.Contains("at most 64", Assert.Throws<UsageException>(() => Plan(s)).Message);
        s.Hostname = new string('h', 64);
        Assert.Contains(new SetupStep(StepOp.SetHostname, Source: s.Hostname), Plan(s));
    }

    [Fact]
    public void A_missing_cwd_is_made_after_pivot_root_and_before_the_root_turns_read_only()
    {
        var s = Docker(readOnly: true);
        s.Process!.Cwd = "/work/dir";
        var ops = Plan(s);
        var mkdir = ops.FindIndex(x => x.Op == StepOp.Mkdir && x.Target == "/work/dir");
        Assert.True(mkdir > ops.FindIndex(x => x.Op == StepOp.PivotRoot));
        Assert.True(mkdir < ops.FindIndex(x => x.Op == StepOp.MakeReadonly && x.Target == "/"));
        s.Process.Cwd = "/";
        Assert.DoesNotContain(Plan(s), x => x.Op == StepOp.Mkdir);
    }

    [Theory]
    [InlineData("apparmor", "process.apparmorProfile")]
    [InlineData("selinux", "process.selinuxLabel")]
    [InlineData("mountlabel", "linux.mountLabel")]
    public void An_LSM_label_is_refused_where_the_LSM_is_not_enabled(string what, string field)
    {
        var s = Docker();
        if (what == "apparmor") s.Process!.ApparmorProfile = "crate-default";
        if (what == "selinux") s.Process!.SelinuxLabel = "system_u:system_r:container_t:s0";
        if (what == "mountlabel") s.Linux!.MountLabel = "system_u:object_r:container_file_t:s0";
        Assert.Contains(field, Assert.Throws<UsageException>(() => Plan(s)).Message);
        Assert.NotEmpty(Plan(s, V2 with { AppArmor = true, Selinux = true }));
    }

    [Fact]
    public void Joined_network_namespace_is_not_brought_up()
    {
        var s = Docker();
        s.Linux!.Namespaces!.Single(n => n.Type == "network").Path = "/var/run/netns/x";
        Assert.DoesNotContain(Plan(s), x => x.Op == StepOp.LoopbackUp);
    }

    [Fact]
    public void Hostname_needs_a_new_uts_namespace()
    {
        var s = Docker();
        s.Linux!.Namespaces!.RemoveAll(n => n.Type == "uts");
        Assert.Contains("UTS", Assert.Throws<UsageException>(() => Plan(s)).Message);
        s.Hostname = null;
        Assert.DoesNotContain(Plan(s), x => x.Op == StepOp.SetHostname);
    }

    [Fact]
    public void Domainname_follows_hostname()
    {
        var s = Docker(hostname: "web");
        s.Domainname = "example.org";
        var steps = Plan(s);
        var h = steps.FindIndex(x => x.Op == StepOp.SetHostname);
        Assert.Equal(new SetupStep(StepOp.SetHostname, Source: "web"), steps[h]);
        Assert.Equal(new SetupStep(StepOp.SetDomainname, Source: "example.org"), steps[h + 1]);
    }

    [Fact]
    public void HasNamespace_tells_new_from_joined()
    {
        var s = Minimal("mount", "pid");
        s.Linux!.Namespaces![1].Path = "/proc/1/ns/pid";
        Assert.True(SetupPlanner.HasNamespace(s, "mount"));
        Assert.False(SetupPlanner.HasNamespace(s, "pid"));
        Assert.True(SetupPlanner.HasNamespace(s, "pid", newOnly: false));
        Assert.False(SetupPlanner.HasNamespace(s, "user", newOnly: false));
        Assert.False(SetupPlanner.HasNamespace(new Spec(), "mount", newOnly: false));
    }

    [Fact]
    public void Every_step_describes_itself()
    {
        var s = Docker(readOnly: true, hostname: "h");
        s.Domainname = "d";
        s.Linux!.Sysctl = new() { ["net.core.somaxconn"] = "1024" };
        s.Linux.RootfsPropagation = "shared";
        foreach (var step in Plan(s, V1))
        {
            var text = step.Describe();
            Assert.False(string.IsNullOrWhiteSpace(text));
            Assert.NotEqual(step.Op.ToString(), text);
        }
    }

    [Fact]
    public void Ro_on_an_rbind_is_the_top_mount_only_and_rro_the_whole_tree()
    {
        var s = Minimal("mount");
        s.Mounts =
        [
            new Mount { Destination = "/top", Type = "bind", Source = "/h", Options = ["rbind", "ro", "nosuid"] },
            new Mount { Destination = "/all", Type = "bind", Source = "/h", Options = ["rbind", "rro", "rnosuid", "suid"] },
        ];
        var m = Plan(s).Where(x => x.Op == StepOp.Mount).ToList();
        Assert.Equal(MountFlags.ReadOnly | MountFlags.NoSuid, m[0].MountFlags);
        Assert.Equal(0UL, m[0].RecursiveSetFlags);
        Assert.Equal(0UL, m[1].MountFlags & MountFlags.ReadOnly);
        Assert.Equal(MountFlags.ReadOnly | MountFlags.NoSuid, m[1].RecursiveSetFlags);
        Assert.Equal(MountFlags.NoSuid, m[1].ClearFlags);
    }

    [Theory]
    [InlineData("sync")]
    [InlineData("dirsync")]
    [InlineData("lazytime")]
    [InlineData("iversion")]
    [InlineData("mand")]
    public void Filesystem_options_on_a_bind_mount_are_refused_naming_the_option(string option)
    {
        var s = Minimal("mount");
        s.Mounts = [new Mount { Destination = "/b", Type = "bind", Source = "/h", Options = ["rbind", option] }];
        var e = Assert.Throws<UsageException>(() => Plan(s));
        Assert.Contains($"'{option}'", e.Message);
        Assert.Contains("/b", e.Message);
        // on a filesystem of its own they are fine
        s.Mounts = [new Mount { Destination = "/t", Type = "tmpfs", Source = "tmpfs", Options = [option] }];
        Assert.Single(Plan(s), x => x.Op == StepOp.Mount);
    }

    [Fact]
    public void A_bind_mount_on_dev_gets_no_device_nodes_nor_symlinks()
    {
        var s = Minimal("mount");
        s.Mounts =
        [
            new Mount { Destination = "/dev", Type = "tmpfs", Source = "tmpfs" },
            new Mount { Destination = "/dev", Type = "bind", Source = "/srv/mydev", Options = ["rbind"] },
        ];
        s.Linux!.Devices = [new LinuxDevice { Path = "/dev/fuse", Type = "c", Major = 10, Minor = 229 }];
        var steps = Plan(s);
        Assert.DoesNotContain(steps, x => x.Op is StepOp.Mknod or StepOp.Symlink);
    }

    [Fact]
    public void A_read_only_dev_is_mounted_writable_and_turned_read_only_after_its_nodes()
    {
        var s = Minimal("mount");
        s.Mounts =
        [
            new Mount { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "ro", "mode=755"] },
            new Mount { Destination = "/dev/pts", Type = "devpts", Source = "devpts" },
        ];
        var steps = Plan(s);
        var dev = steps.Single(x => x.Op == StepOp.Mount && x.Target == "/dev");
        Assert.Equal(MountFlags.NoSuid, dev.MountFlags);
        var ro = steps.FindIndex(x => x.Op == StepOp.MakeReadonly && x.Target == "/dev");
        Assert.True(ro > steps.FindLastIndex(x => x.Op is StepOp.Mknod or StepOp.Symlink), "ro before the nodes");
        Assert.True(ro > steps.FindIndex(x => x.Target == "/dev/pts"));
        Assert.Equal(StepOptions.None, steps[ro].Flags); // /dev itself, not /dev/pts below it
    }

    [Theory]
    [InlineData("proc", true)]
    [InlineData("sysfs", true)]
    [InlineData("tmpfs", false)]
    public void Procfs_and_sysfs_need_a_plain_directory(string type, bool plain)
    {
        var s = Minimal("mount");
        s.Mounts = [new Mount { Destination = "/x", Type = type, Source = type }];
        Assert.Equal(plain, Plan(s).Single(x => x.Op == StepOp.Mount).Flags.HasFlag(StepOptions.PlainDir));
    }

    [Fact]
    public void No_pivot_hides_the_hosts_proc_and_sysfs_before_the_move()
    {
        var steps = Plan(Docker(), V2 with { NoPivot = true, HostProcSysMounts = ["/proc", "/sys"] });
        var pivot = steps.FindIndex(x => x.Op == StepOp.PivotRoot);
        Assert.Equal([new SetupStep(StepOp.HideHostFs, "/proc"), new SetupStep(StepOp.HideHostFs, "/sys")], steps[(pivot - 2)..pivot]);
        Assert.DoesNotContain(Plan(Docker(), V2 with { HostProcSysMounts = ["/proc"] }), x => x.Op == StepOp.HideHostFs);
    }
}
