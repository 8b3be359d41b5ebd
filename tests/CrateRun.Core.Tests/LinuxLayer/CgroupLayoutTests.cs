using CrateRun.Linux.Cgroups;

namespace CrateRun.Core.Tests.LinuxLayer;

public class CgroupLayoutTests
{
    // This machine's /proc/self/mountinfo and /proc/self/cgroup: a tmpfs on /sys/fs/cgroup holding
    // one v1 hierarchy per controller, a named systemd hierarchy and an (unused) cgroup2 at "unified".
    private const string HybridMountinfo = """
        22 27 0:21 / /proc rw,relatime - proc proc rw
        23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
        24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334492k,nr_inodes=3083623,mode=755
        25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684092k
        26 24 0:24 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
        27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
        37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
        38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """;

    private const string HybridProcCgroup = """
        9:name=systemd:/
        8:pids:/
        7:blkio:/
        6:freezer:/
        5:devices:/
        4:memory:/process_api/b0f9b714129c57359e17896592287858
        3:cpuset:/
        2:cpuacct:/
        1:cpu:/
        0::/
        """;

    // A systemd host on cgroup v1 (e.g. CentOS 7): co-mounted controllers, optional fields, mount flags.
    private const string SystemdV1Mountinfo = """
        24 62 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
        25 24 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
        26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
        29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
        30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,memory
        31 25 0:28 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,net_cls,net_prio
        32 25 0:29 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpuset,clone_children
        33 25 0:30 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,pids
        """;

    private const string SystemdV1ProcCgroup = """
        11:pids:/user.slice/user-1000.slice
        10:cpuset:/
        9:net_cls,net_prio:/
        8:memory:/user.slice/user-1000.slice
        7:cpu,cpuacct:/user.slice/user-1000.slice
        1:name=systemd:/user.slice/user-1000.slice/session-3.scope
        """;

    private const string V2Mountinfo = """
        24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
        35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
        """;

    // Docker with --cgroupns=host on a v1 host: the hierarchies are bind mounts of the container's own subtree.
    private const string NestedMountinfo = """
        600 599 0:57 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=755
        601 600 0:29 /docker/4f2a /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime master:11 - cgroup cgroup rw,memory
        602 600 0:26 /docker/4f2a /sys/fs/cgroup/cpu,cpuacct ro,nosuid,nodev,noexec,relatime master:10 - cgroup cgroup rw,cpu,cpuacct
        603 600 0:30 /docker/4f2a /sys/fs/cgroup/pids ro,nosuid,nodev,noexec,relatime master:14 - cgroup cgroup rw,pids
        """;

    private const string NestedProcCgroup = """
        12:pids:/docker/4f2a
        8:memory:/docker/4f2a
        7:cpu,cpuacct:/docker/4f2a
        """;

    private static CgroupLayout Hybrid() =>
        CgroupLayout.Detect(CgroupLayout.Base, HybridMountinfo, HybridProcCgroup, CgroupLayout.TmpfsMagic);

    [Fact]
    public void Magic_numbers_are_the_kernels()
    {
        Assert.Equal(0x63677270, CgroupLayout.Cgroup2Magic);
        Assert.Equal(0x01021994, CgroupLayout.TmpfsMagic);
        Assert.Equal(0x27e0eb, CgroupLayout.CgroupV1Magic);
    }

    [Fact]
    public void ParseProcCgroup_maps_each_controller_and_the_unified_entry()
    {
        var map = CgroupLayout.ParseProcCgroup(SystemdV1ProcCgroup + "\n0::/init.scope\nbogus line\n");
        Assert.Equal("/user.slice/user-1000.slice", map["cpu"]);
        Assert.Equal("/user.slice/user-1000.slice", map["cpuacct"]);
        Assert.Equal("/", map["net_prio"]);
        Assert.Equal("/user.slice/user-1000.slice/session-3.scope", map["name=systemd"]);
        Assert.Equal("/init.scope", map[""]);
        Assert.Equal(9, map.Count);
    }

    [Fact]
    public void ParseProcCgroup_keeps_colons_in_paths() =>
        Assert.Equal("/a:b", CgroupLayout.ParseProcCgroup("0::/a:b")[""]);

    [Fact]
    public void This_machines_hybrid_layout_is_v1_with_one_hierarchy_per_controller()
    {
        var l = Hybrid();
        Assert.False(l.IsV2);
        Assert.Equal(
            ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"],
            l.V1.Select(h => h.Controllers));
        Assert.All(l.V1, h =>
        {
            Assert.Equal("/sys/fs/cgroup/" + h.Controllers, h.MountPoint);
            Assert.Equal("/", h.MountRoot);
        });
        Assert.Equal("/process_api/b0f9b714129c57359e17896592287858", l.V1.Single(h => h.Controllers == "memory").OwnPath);
        Assert.Equal("/", l.V1.Single(h => h.Controllers == "cpu").OwnPath);
    }

    [Fact]
    public void Hybrid_relative_path_is_below_our_own_cgroup_in_each_hierarchy()
    {
        var p = Hybrid().V1Paths("craterun-0123456789abcdef");
        Assert.Equal(8, p.Count);
        Assert.Equal("/sys/fs/cgroup/memory/process_api/b0f9b714129c57359e17896592287858/craterun-0123456789abcdef", p["memory"]);
        Assert.Equal("/sys/fs/cgroup/cpu/craterun-0123456789abcdef", p["cpu"]);
        Assert.Equal("/sys/fs/cgroup/pids/craterun-0123456789abcdef", p["pids"]);
        Assert.Equal("/sys/fs/cgroup/freezer/craterun-0123456789abcdef", p["freezer"]);
        Assert.False(p.ContainsKey("systemd"));
        Assert.False(p.ContainsKey("name=systemd"));
        Assert.False(p.ContainsKey("unified"));
    }

    [Fact]
    public void Hybrid_absolute_path_is_from_the_hierarchy_root()
    {
        var p = Hybrid().V1Paths("/craterun/0123456789abcdef");
        Assert.Equal("/sys/fs/cgroup/memory/craterun/0123456789abcdef", p["memory"]);
        Assert.Equal("/sys/fs/cgroup/cpuset/craterun/0123456789abcdef", p["cpuset"]);
    }

    [Fact]
    public void Hybrid_manager_is_v1_with_those_paths()
    {
        var l = Hybrid();
        var m = Assert.IsType<CgroupV1Manager>(l.ManagerFor("x"));
        Assert.Equal(l.V1Paths("x"), m.Paths);
        var recorded = new Dictionary<string, string> { ["memory"] = "/sys/fs/cgroup/memory/x" };
        Assert.Equal(recorded, Assert.IsType<CgroupV1Manager>(l.ManagerForPaths(recorded)).Paths);
    }

    [Fact]
    public void A_cgroup_v1_base_magic_is_accepted_like_tmpfs() =>
        Assert.False(CgroupLayout.Detect(CgroupLayout.Base, HybridMountinfo, HybridProcCgroup, CgroupLayout.CgroupV1Magic).IsV2);

    [Fact]
    public void Systemd_v1_host_co_mounted_controllers_share_a_directory()
    {
        var l = CgroupLayout.Detect(CgroupLayout.Base, SystemdV1Mountinfo, SystemdV1ProcCgroup, CgroupLayout.TmpfsMagic);
        Assert.Equal(["cpu,cpuacct", "memory", "net_cls,net_prio", "cpuset", "pids"], l.V1.Select(h => h.Controllers));
        var p = l.V1Paths("craterun-x");
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct/user.slice/user-1000.slice/craterun-x", p["cpu"]);
        Assert.Equal(p["cpu"], p["cpuacct"]);
        Assert.Equal("/sys/fs/cgroup/memory/user.slice/user-1000.slice/craterun-x", p["memory"]);
        Assert.Equal("/sys/fs/cgroup/net_cls,net_prio/craterun-x", p["net_prio"]);
        Assert.Equal("/sys/fs/cgroup/cpuset/craterun-x", p["cpuset"]);
        Assert.Equal(7, p.Count);
        Assert.Equal(5, new CgroupV1Manager(p).Paths.Values.Distinct().Count());
    }

    [Fact]
    public void A_v1_mount_whose_root_is_not_slash_maps_paths_into_the_visible_part()
    {
        var l = CgroupLayout.Detect(CgroupLayout.Base, NestedMountinfo, NestedProcCgroup, CgroupLayout.TmpfsMagic);
        Assert.All(l.V1, h =>
        {
            Assert.Equal("/docker/4f2a", h.MountRoot);
            Assert.Equal("/docker/4f2a", h.OwnPath);
        });
        var rel = l.V1Paths("craterun-x");
        Assert.Equal("/sys/fs/cgroup/memory/craterun-x", rel["memory"]);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct/craterun-x", rel["cpu"]);
        Assert.Equal("/sys/fs/cgroup/pids/craterun-x", rel["pids"]);
        var abs = l.V1Paths("/docker/4f2a/sub/craterun-x");
        Assert.Equal("/sys/fs/cgroup/memory/sub/craterun-x", abs["memory"]);
    }

    [Fact]
    public void Mount_root_is_only_stripped_on_a_path_boundary()
    {
        var l = CgroupLayout.Detect(CgroupLayout.Base, NestedMountinfo, NestedProcCgroup, CgroupLayout.TmpfsMagic);
        Assert.NotEqual("/sys/fs/cgroup/memory/bc/x", l.V1Paths("/docker/4f2abc/x")["memory"]);
    }

    [Fact]
    public void Escaped_mount_points_are_unescaped()
    {
        const string mountinfo = "40 31 0:37 / /sys/fs/cgroup/my\\040memory rw,relatime - cgroup cgroup rw,memory";
        var l = CgroupLayout.Detect(CgroupLayout.Base, mountinfo, "4:memory:/", CgroupLayout.TmpfsMagic);
        Assert.Equal("/sys/fs/cgroup/my memory", l.V1.Single().MountPoint);
    }

    [Fact]
    public void Cgroup_mounts_outside_the_base_are_ignored()
    {
        var mountinfo = HybridMountinfo + "\n90 27 0:39 / /mnt/other-memory rw,relatime - cgroup cgroup rw,memory\n";
        Assert.DoesNotContain(Hybrid().V1, h => h.MountPoint.StartsWith("/mnt", StringComparison.Ordinal));
        Assert.Equal(8, CgroupLayout.Detect(CgroupLayout.Base, mountinfo, HybridProcCgroup, CgroupLayout.TmpfsMagic).V1.Count);
    }

    [Fact]
    public void A_fake_base_path_finds_the_hierarchies_below_it()
    {
        var mountinfo = HybridMountinfo.Replace("/sys/fs/cgroup", "/tmp/fakecg");
        var l = CgroupLayout.Detect("/tmp/fakecg", mountinfo, HybridProcCgroup, CgroupLayout.TmpfsMagic);
        Assert.Equal("/tmp/fakecg/pids/craterun-x", l.V1Paths("craterun-x")["pids"]);
    }

    [Fact]
    public void Pure_v2_uses_our_unified_cgroup()
    {
        var l = CgroupLayout.Detect(CgroupLayout.Base, V2Mountinfo, "0::/user.slice/user-1000.slice/session-3.scope\n", CgroupLayout.Cgroup2Magic);
        Assert.True(l.IsV2);
        Assert.Empty(l.V1);
        Assert.Equal("/sys/fs/cgroup", l.V2Mount);
        Assert.Equal("/user.slice/user-1000.slice/session-3.scope", l.V2OwnPath);
        // a systemd scope holds our own process: like runc, relative paths go below its parent (the slice)
        Assert.Equal("/sys/fs/cgroup/user.slice/user-1000.slice/craterun-x", l.V2Path("craterun-x"));
        Assert.Equal("/sys/fs/cgroup/user.slice/user-1000.slice/a/b", l.V2Path("a/b"));
        Assert.Equal("/sys/fs/cgroup/craterun/x", l.V2Path("/craterun/x"));
        var m = Assert.IsType<CgroupV2Manager>(l.ManagerFor("/craterun/x"));
        Assert.Equal("/sys/fs/cgroup/craterun/x", m.Dir);
        Assert.Equal(new Dictionary<string, string> { ["unified"] = "/sys/fs/cgroup/craterun/x" }, m.Paths);
        Assert.Equal("/sys/fs/cgroup/y",
            Assert.IsType<CgroupV2Manager>(l.ManagerForPaths(new Dictionary<string, string> { ["unified"] = "/sys/fs/cgroup/y" })).Dir);
    }

    [Fact]
    public void Pure_v2_in_the_root_cgroup()
    {
        var l = CgroupLayout.Detect(CgroupLayout.Base, V2Mountinfo, "0::/\n", CgroupLayout.Cgroup2Magic);
        Assert.Equal("/", l.V2OwnPath);
        Assert.Equal("/sys/fs/cgroup/craterun-x", l.V2Path("craterun-x"));
    }

    [Fact]
    public void Pure_v2_without_a_unified_line_defaults_to_the_root() =>
        Assert.Equal("/", CgroupLayout.Detect(CgroupLayout.Base, V2Mountinfo, "", CgroupLayout.Cgroup2Magic).V2OwnPath);

    [Theory]
    [InlineData("..")]
    [InlineData("../escape")]
    [InlineData("a/../../b")]
    [InlineData("/a/..")]
    [InlineData("./x")]
    [InlineData("/a/./b")]
    public void Dot_and_dotdot_are_refused(string path)
    {
        var v2 = CgroupLayout.Detect(CgroupLayout.Base, V2Mountinfo, "0::/", CgroupLayout.Cgroup2Magic);
        Assert.Contains("not allowed", Assert.Throws<UsageException>(() => v2.V2Path(path)).Message);
        Assert.Throws<UsageException>(() => Hybrid().V1Paths(path));
        Assert.Throws<UsageException>(() => Hybrid().ManagerFor(path));
    }

    [Theory]
    [InlineData("system.slice:craterun:0123456789abcdef")]
    [InlineData("machine.slice:libpod:abc")]
    [InlineData(":craterun:x")]
    public void Systemd_slice_prefix_name_paths_are_refused(string path)
    {
        var v2 = CgroupLayout.Detect(CgroupLayout.Base, V2Mountinfo, "0::/", CgroupLayout.Cgroup2Magic);
        Assert.Contains("systemd", Assert.Throws<UsageException>(() => v2.V2Path(path)).Message);
        Assert.Contains("systemd", Assert.Throws<UsageException>(() => Hybrid().V1Paths(path)).Message);
    }

    [Fact]
    public void Dots_inside_names_are_fine()
    {
        var v2 = CgroupLayout.Detect(CgroupLayout.Base, V2Mountinfo, "0::/", CgroupLayout.Cgroup2Magic);
        Assert.Equal("/sys/fs/cgroup/my.slice/..x/craterun-x", v2.V2Path("/my.slice/..x/craterun-x"));
    }

    [Fact]
    public void Unknown_filesystem_at_the_base_is_an_error()
    {
        var e = Assert.Throws<CrateRunException>(() => CgroupLayout.Detect(CgroupLayout.Base, HybridMountinfo, HybridProcCgroup, 0xEF53));
        Assert.Contains("0xef53", e.Message);
    }

    [Fact]
    public void A_tmpfs_without_v1_controllers_is_an_error()
    {
        const string onlyNamed = """
            31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
            40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
            41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
            """;
        Assert.Contains("no cgroup v1 controllers", Assert.Throws<CrateRunException>(() =>
            CgroupLayout.Detect(CgroupLayout.Base, onlyNamed, "0::/", CgroupLayout.TmpfsMagic)).Message);
    }

    [Fact]
    public void The_real_detection_on_this_machine_agrees_with_its_filesystem()
    {
        // read-only: statfs and two /proc files
        if (!Directory.Exists(CgroupLayout.Base)) return;
        var l = CgroupLayout.Detect();
        var magic = CgroupLayout.FsMagic(CgroupLayout.Base);
        Assert.Equal(magic == CgroupLayout.Cgroup2Magic, l.IsV2);
        if (!l.IsV2) Assert.NotEmpty(l.V1);
    }
}
