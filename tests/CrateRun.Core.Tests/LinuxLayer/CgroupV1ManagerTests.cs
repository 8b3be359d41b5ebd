using CrateRun.Core.Config;
using CrateRun.Core.Oci;
using CrateRun.Linux.Cgroups;

namespace CrateRun.Core.Tests.LinuxLayer;

/// <summary>The v1 manager against a fake tree of hierarchies: TMP/{memory,cpu,cpuacct,pids,freezer,cpuset,devices}/...</summary>
public sealed class CgroupV1ManagerTests : IDisposable
{
    private const long Unlimited = 9223372036854771712; // what the kernel shows for "no limit"
    private readonly TempDir _tmp = new();
    private readonly Dictionary<string, string> _paths;
    private readonly CgroupV1Manager _m;

    public CgroupV1ManagerTests()
    {
        var cpu = _tmp.Dir("cpu,cpuacct", "craterun-x");
        _paths = new Dictionary<string, string>
        {
            ["memory"] = _tmp.Dir("memory", "craterun-x"),
            ["cpu"] = cpu,
            ["cpuacct"] = cpu,
            ["pids"] = _tmp.Dir("pids", "craterun-x"),
            ["freezer"] = _tmp.Dir("freezer", "craterun-x"),
            ["devices"] = _tmp.Dir("devices", "craterun-x"),
        };
        Put("memory", "memory.limit_in_bytes", Unlimited + "\n");
        Put("memory", "memory.memsw.limit_in_bytes", Unlimited + "\n");
        _m = new CgroupV1Manager(_paths);
    }

    public void Dispose() => _tmp.Dispose();

    private void Put(string controller, string file, string text) => File.WriteAllText(Path.Combine(_paths[controller], file), text);
    private string Get(string controller, string file) => File.ReadAllText(Path.Combine(_paths[controller], file));
    private bool Has(string controller, string file) => File.Exists(Path.Combine(_paths[controller], file));

    private static LinuxResources Memory(long limit, long? swap = null) => new() { Memory = new LinuxMemory { Limit = limit, Swap = swap } };

    [Fact]
    public void Memory_limit_and_memsw_equal_means_no_swap()
    {
        _m.Apply(Memory(64L << 20, 64L << 20));
        Assert.Equal("67108864", Get("memory", "memory.limit_in_bytes"));
        Assert.Equal("67108864", Get("memory", "memory.memsw.limit_in_bytes"));
    }

    [Fact]
    public void Memsw_is_the_oci_swap_value_as_is_and_defaults_to_the_limit()
    {
        _m.Apply(Memory(64L << 20, 96L << 20));
        Assert.Equal((96L << 20).ToString(), Get("memory", "memory.memsw.limit_in_bytes"));
        _m.Apply(Memory(32L << 20));
        Assert.Equal((32L << 20).ToString(), Get("memory", "memory.memsw.limit_in_bytes"));
        _m.Apply(Memory(32L << 20, -1));
        Assert.Equal("-1", Get("memory", "memory.memsw.limit_in_bytes"));
    }

    [Fact]
    public void Memsw_below_the_limit_is_refused_before_any_write()
    {
        Assert.Contains("below the memory limit", Assert.Throws<UsageException>(() => _m.Apply(Memory(64L << 20, 32L << 20))).Message);
        Assert.Equal(Unlimited + "\n", Get("memory", "memory.limit_in_bytes"));
    }

    [Fact]
    public void Without_swap_accounting_only_the_limit_is_written()
    {
        File.Delete(Path.Combine(_paths["memory"], "memory.memsw.limit_in_bytes"));
        _m.Apply(Memory(64L << 20, 128L << 20));
        Assert.Equal("67108864", Get("memory", "memory.limit_in_bytes"));
        Assert.False(Has("memory", "memory.memsw.limit_in_bytes"));
    }

    // The order is observed by making the memsw write fail (a symlink to /dev/full: ENOSPC, and nothing
    // changes anywhere): what was written before the failure shows which write came first.
    private void MemswFails()
    {
        var memsw = Path.Combine(_paths["memory"], "memory.memsw.limit_in_bytes");
        File.Delete(memsw);
        File.CreateSymbolicLink(memsw, "/dev/full");
    }

    [Fact]
    public void Lowering_the_limit_writes_limit_before_memsw()
    {
        MemswFails();
        var e = Assert.Throws<CrateRunException>(() => _m.Apply(Memory(64L << 20, 64L << 20)));
        Assert.Contains("memory.memsw.limit_in_bytes", e.Message);
        Assert.Equal("67108864", Get("memory", "memory.limit_in_bytes"));
    }

    [Fact]
    public void Raising_the_limit_writes_memsw_before_limit()
    {
        Put("memory", "memory.limit_in_bytes", (32L << 20) + "\n");
        MemswFails();
        var e = Assert.Throws<CrateRunException>(() => _m.Apply(Memory(64L << 20, 64L << 20)));
        Assert.Contains("memory.memsw.limit_in_bytes", e.Message);
        Assert.Equal((32L << 20) + "\n", Get("memory", "memory.limit_in_bytes"));
    }

    [Fact]
    public void Raising_then_lowering_ends_with_both_values()
    {
        Put("memory", "memory.limit_in_bytes", (32L << 20).ToString());
        Put("memory", "memory.memsw.limit_in_bytes", (32L << 20).ToString());
        _m.Apply(Memory(128L << 20, 256L << 20));
        Assert.Equal((128L << 20).ToString(), Get("memory", "memory.limit_in_bytes"));
        Assert.Equal((256L << 20).ToString(), Get("memory", "memory.memsw.limit_in_bytes"));
        _m.Apply(Memory(16L << 20, 16L << 20));
        Assert.Equal((16L << 20).ToString(), Get("memory", "memory.limit_in_bytes"));
        Assert.Equal((16L << 20).ToString(), Get("memory", "memory.memsw.limit_in_bytes"));
    }

    [Fact]
    public void Other_memory_settings()
    {
        _m.Apply(new LinuxResources { Memory = new LinuxMemory { Reservation = 1 << 20, Swappiness = 10, DisableOOMKiller = true } });
        Assert.Equal("1048576", Get("memory", "memory.soft_limit_in_bytes"));
        Assert.Equal("10", Get("memory", "memory.swappiness"));
        Assert.Equal("1", Get("memory", "memory.oom_control"));
        Assert.Equal(Unlimited + "\n", Get("memory", "memory.limit_in_bytes"));
    }

    [Fact]
    public void Cpu_quota_and_period_go_to_cfs_files()
    {
        _m.Apply(new LinuxResources { Cpu = new LinuxCpu { Quota = 50000, Period = 100000, Shares = 512 } });
        Assert.Equal("50000", Get("cpu", "cpu.cfs_quota_us"));
        Assert.Equal("100000", Get("cpu", "cpu.cfs_period_us"));
        Assert.Equal("512", Get("cpu", "cpu.shares"));
    }

    [Fact]
    public void Pids_max()
    {
        _m.Apply(new LinuxResources { Pids = new LinuxPids { Limit = 64 } });
        Assert.Equal("64", Get("pids", "pids.max"));
        _m.Apply(new LinuxResources { Pids = new LinuxPids { Limit = -1 } });
        Assert.Equal("max", Get("pids", "pids.max"));
    }

    [Fact]
    public void SpecBuilder_resources_are_applied_together()
    {
        var spec = SpecBuilder.Build("0123456789abcdef", new RunOptions
        {
            Rootfs = "/r",
            Command = ["true"],
            Memory = 64L << 20,
            Cpu = (50000, 100000),
            Pids = 32,
        });
        _m.Apply(spec.Linux!.Resources);
        Assert.Equal("67108864", Get("memory", "memory.limit_in_bytes"));
        Assert.Equal("67108864", Get("memory", "memory.memsw.limit_in_bytes"));
        Assert.Equal("50000", Get("cpu", "cpu.cfs_quota_us"));
        Assert.Equal("100000", Get("cpu", "cpu.cfs_period_us"));
        Assert.Equal("32", Get("pids", "pids.max"));
    }

    [Fact]
    public void A_missing_hierarchy_is_an_error_naming_the_controller()
    {
        var m = new CgroupV1Manager(new Dictionary<string, string> { ["memory"] = _paths["memory"] });
        Assert.Contains("no cgroup v1 hierarchy for pids ", Assert.Throws<CrateRunException>(() =>
            m.Apply(new LinuxResources { Pids = new LinuxPids { Limit = 1 } })).Message);
        Assert.Contains("no cgroup v1 hierarchy for cpu ", Assert.Throws<CrateRunException>(() =>
            m.Apply(new LinuxResources { Cpu = new LinuxCpu { Quota = 1000 } })).Message);
        Assert.Contains("no cgroup v1 hierarchy for cpuset ", Assert.Throws<CrateRunException>(() =>
            _m.Apply(new LinuxResources { Cpu = new LinuxCpu { Cpus = "0" } })).Message);
        var noMemory = new CgroupV1Manager(new Dictionary<string, string> { ["pids"] = _paths["pids"] });
        Assert.Contains("no cgroup v1 hierarchy for memory ", Assert.Throws<CrateRunException>(() => noMemory.Apply(Memory(1 << 20))).Message);
    }

    [Fact]
    public void Device_rules_go_to_devices_allow_and_deny()
    {
        // plain files keep only the last write: the deny-all rule, and the last of the always-allowed rules
        _m.Apply(new LinuxResources { Devices = [new LinuxDeviceCgroup { Allow = false, Access = "rwm" }] });
        Assert.Equal("a", Get("devices", "devices.deny"));
        Assert.Equal(DeviceRules.AlwaysAllowed[^1].Text, Get("devices", "devices.allow"));
    }

    [Fact]
    public void Device_rules_are_skipped_without_a_devices_hierarchy()
    {
        var m = new CgroupV1Manager(new Dictionary<string, string> { ["memory"] = _paths["memory"] });
        m.Apply(new LinuxResources { Devices = [new LinuxDeviceCgroup { Allow = false, Access = "rwm" }] });
        Assert.False(File.Exists(Path.Combine(_paths["memory"], "devices.deny")));
    }

    [Fact]
    public void OomKilled_reads_oom_kill_from_memory_oom_control()
    {
        Assert.False(_m.OomKilled());
        Put("memory", "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
        Assert.False(_m.OomKilled());
        Put("memory", "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
        Assert.True(_m.OomKilled());
        Assert.False(new CgroupV1Manager(new Dictionary<string, string>()).OomKilled());
    }

    [Fact]
    public void Freezer_state()
    {
        Put("freezer", "freezer.state", "THAWED\n");
        Assert.False(_m.IsFrozen());
        _m.Freeze();
        Assert.Equal("FROZEN", Get("freezer", "freezer.state"));
        Assert.True(_m.IsFrozen());
        _m.Thaw();
        Assert.Equal("THAWED", Get("freezer", "freezer.state"));
        Assert.False(_m.IsFrozen());
        Assert.Contains("freezer", Assert.Throws<CrateRunException>(() => new CgroupV1Manager(new Dictionary<string, string>()).Freeze()).Message);
    }

    [Fact]
    public void Pids_come_from_the_pids_hierarchy_and_add_process_joins_every_hierarchy()
    {
        Put("pids", "cgroup.procs", "7\n8\n");
        Put("memory", "cgroup.procs", "99\n");
        Assert.Equal([7, 8], _m.Pids());
        _m.AddProcess(4242);
        foreach (var dir in _paths.Values.Distinct())
            Assert.Equal("4242", File.ReadAllText(Path.Combine(dir, "cgroup.procs")));
        Assert.Empty(new CgroupV1Manager(new Dictionary<string, string>()).Pids());
    }

    [Fact]
    public void Stats()
    {
        Put("memory", "memory.usage_in_bytes", "1048576\n");
        Put("memory", "memory.limit_in_bytes", "67108864\n");
        Put("memory", "memory.max_usage_in_bytes", "2097152\n");
        Put("memory", "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
        Put("pids", "pids.current", "3\n");
        Put("pids", "pids.max", "max\n");
        Put("cpuacct", "cpuacct.usage", "123456789\n");
        Put("cpu", "cpu.stat", "nr_periods 10\nnr_throttled 4\nthrottled_time 250000\n");
        Assert.Equal(new CgroupStats(1048576, 67108864, 2097152, 3, 0, 123456789, 4, 250000, 2), _m.Stats());
        Put("pids", "pids.max", "100\n");
        Assert.Equal(100UL, _m.Stats().PidsLimit);
        Assert.Equal(new CgroupStats(0, 0, 0, 0, 0, 0, 0, 0, 0), new CgroupV1Manager(new Dictionary<string, string>()).Stats());
    }

    [Fact]
    public void Create_makes_each_directory_once_and_inherits_the_parents_cpuset()
    {
        var parent = _tmp.Dir("cpuset-h", "parent");
        File.WriteAllText(Path.Combine(parent, "cpuset.cpus"), "0-3\n");
        File.WriteAllText(Path.Combine(parent, "cpuset.mems"), "0\n");
        var paths = new Dictionary<string, string>
        {
            ["cpuset"] = Path.Combine(parent, "craterun-x"),
            ["cpu"] = _tmp.Sub("cpu-h", "a", "craterun-x"),
            ["cpuacct"] = _tmp.Sub("cpu-h", "a", "craterun-x"),
        };
        var m = new CgroupV1Manager(paths);
        m.Create();
        Assert.True(Directory.Exists(paths["cpu"]));
        Assert.Equal("0-3", File.ReadAllText(Path.Combine(paths["cpuset"], "cpuset.cpus")));
        Assert.Equal("0", File.ReadAllText(Path.Combine(paths["cpuset"], "cpuset.mems")));

        // an already configured cpuset is left alone
        File.WriteAllText(Path.Combine(paths["cpuset"], "cpuset.cpus"), "1");
        m.Create();
        Assert.Equal("1", File.ReadAllText(Path.Combine(paths["cpuset"], "cpuset.cpus")));

        File.Delete(Path.Combine(paths["cpuset"], "cpuset.cpus"));
        File.Delete(Path.Combine(paths["cpuset"], "cpuset.mems"));
        m.Destroy();
        Assert.False(Directory.Exists(paths["cpuset"]));
        Assert.False(Directory.Exists(paths["cpu"]));
        Assert.True(Directory.Exists(parent));
        m.Destroy();
    }
    // ---- what Docker, runc and Kubernetes send -----------------------------------------

    /// <summary>Docker 20.10's config for a plain `docker run` (moby daemon/oci_linux.go): zeros that mean "not set".</summary>
    private static LinuxResources DockerZeros() => OciJson.ReadResources("""
        {"devices": [{"allow": false, "access": "rwm"}], "memory": {"limit": 0, "reservation": 0, "swap": 0},
         "cpu": {"shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0, "realtimePeriod": 0, "cpus": "", "mems": ""},
         "pids": {"limit": 0}, "blockIO": {"weight": 0, "leafWeight": 0}}
        """, "docker.json");

    [Fact]
    public void Docker_zero_values_mean_unset_and_write_nothing()
    {
        Put("memory", "memory.limit_in_bytes", "12345");
        _m.Apply(DockerZeros()); // no blkio hierarchy here: a zero weight must not need one
        Assert.Equal("12345", Get("memory", "memory.limit_in_bytes"));
        foreach (var f in new[] { "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.rt_runtime_us", "cpu.rt_period_us" })
            Assert.False(Has("cpu", f), f);
        Assert.False(Has("pids", "pids.max"));
        Assert.False(Has("memory", "memory.soft_limit_in_bytes"));
    }

    [Fact]
    public void Unified_on_v1_is_refused_in_one_line_naming_it()
    {
        var e = Assert.Throws<UsageException>(() => _m.Apply(new LinuxResources { Unified = new() { ["memory.high"] = "1G" } }));
        Assert.Contains("unified", e.Message);
        Assert.Contains("v2", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Update_of_memory_swap_alone_to_minus_one_lifts_the_swap_limit()
    {
        Put("memory", "memory.limit_in_bytes", (32L << 20).ToString());
        Put("memory", "memory.memsw.limit_in_bytes", (32L << 20).ToString());
        _m.Apply(new LinuxResources { Memory = new LinuxMemory { Swap = -1 } });
        Assert.Equal("-1", Get("memory", "memory.memsw.limit_in_bytes"));
        Assert.Equal((32L << 20).ToString(), Get("memory", "memory.limit_in_bytes"));
    }

    [Fact]
    public void Memory_minus_one_alone_lifts_memsw_first()
    {
        Put("memory", "memory.limit_in_bytes", (32L << 20).ToString());
        MemswFails(); // the kernel refuses limit > memsw: memsw must go first, so nothing else is written
        Assert.Throws<CrateRunException>(() => _m.Apply(new LinuxResources { Memory = new LinuxMemory { Limit = -1 } }));
        Assert.Equal((32L << 20).ToString(), Get("memory", "memory.limit_in_bytes"));
    }

    [Fact]
    public void Realtime_period_and_runtime_are_written()
    {
        Put("cpu", "cpu.rt_period_us", "1000000");
        Put("cpu", "cpu.rt_runtime_us", "0");
        _m.Apply(new LinuxResources { Cpu = new LinuxCpu { RealtimePeriod = 500000, RealtimeRuntime = 20000 } });
        Assert.Equal("500000", Get("cpu", "cpu.rt_period_us"));
        Assert.Equal("20000", Get("cpu", "cpu.rt_runtime_us"));
    }

    [Fact]
    public void Realtime_without_rt_group_scheduling_is_an_error_not_a_silent_success()
    {
        var e = Assert.Throws<CrateRunException>(() => _m.Apply(new LinuxResources { Cpu = new LinuxCpu { RealtimeRuntime = 20000 } }));
        Assert.Contains("real-time", e.Message);
    }

    [Fact]
    public void A_refused_period_is_written_again_after_the_quota()
    {
        // the kernel refuses a shorter period while the old quota over it exceeds the parent's;
        // here the period file always fails: the quota must still be written before the error
        File.CreateSymbolicLink(Path.Combine(_paths["cpu"], "cpu.cfs_period_us"), "/dev/full");
        var e = Assert.Throws<CrateRunException>(() => _m.Apply(new LinuxResources { Cpu = new LinuxCpu { Period = 10000, Quota = 3000 } }));
        Assert.Contains("cpu.cfs_period_us", e.Message);
        Assert.Equal("3000", Get("cpu", "cpu.cfs_quota_us"));
        // without a quota to make room, the refusal is the error at once
        File.Delete(Path.Combine(_paths["cpu"], "cpu.cfs_quota_us"));
        Assert.Throws<CrateRunException>(() => _m.Apply(new LinuxResources { Cpu = new LinuxCpu { Period = 10000 } }));
        Assert.False(Has("cpu", "cpu.cfs_quota_us"));
    }

    private Dictionary<string, string> WithControllers(params string[] controllers)
    {
        var paths = new Dictionary<string, string>(_paths);
        foreach (var c in controllers) paths[c] = _tmp.Dir(c, "craterun-x");
        return paths;
    }

    [Fact]
    public void BlockIO_weights_and_throttling_go_to_the_blkio_files()
    {
        var paths = WithControllers("blkio");
        var blkio = paths["blkio"];
        File.WriteAllText(Path.Combine(blkio, "blkio.weight"), "500");
        foreach (var f in new[] { "blkio.leaf_weight", "blkio.weight_device", "blkio.leaf_weight_device", "blkio.throttle.read_bps_device",
            "blkio.throttle.write_bps_device", "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device" })
            File.WriteAllText(Path.Combine(blkio, f), "");
        new CgroupV1Manager(paths).Apply(new LinuxResources
        {
            BlockIO = new LinuxBlockIO
            {
                Weight = 300, LeafWeight = 200,
                WeightDevice = [new LinuxWeightDevice { Major = 8, Minor = 0, Weight = 400, LeafWeight = 100 }],
                ThrottleReadBpsDevice = [new LinuxThrottleDevice { Major = 8, Minor = 0, Rate = 1048576 }],
                ThrottleWriteBpsDevice = [new LinuxThrottleDevice { Major = 8, Minor = 0, Rate = 2097152 }],
                ThrottleReadIopsDevice = [new LinuxThrottleDevice { Major = 8, Minor = 16, Rate = 100 }],
                ThrottleWriteIopsDevice = [new LinuxThrottleDevice { Major = 8, Minor = 16, Rate = 50 }],
            },
        });
        string Read(string f) => File.ReadAllText(Path.Combine(blkio, f));
        Assert.Equal("300", Read("blkio.weight"));
        Assert.Equal("200", Read("blkio.leaf_weight"));
        Assert.Equal("8:0 400", Read("blkio.weight_device"));
        Assert.Equal("8:0 100", Read("blkio.leaf_weight_device"));
        Assert.Equal("8:0 1048576", Read("blkio.throttle.read_bps_device"));
        Assert.Equal("8:0 2097152", Read("blkio.throttle.write_bps_device"));
        Assert.Equal("8:16 100", Read("blkio.throttle.read_iops_device"));
        Assert.Equal("8:16 50", Read("blkio.throttle.write_iops_device"));
    }

    [Fact]
    public void BlockIO_weight_uses_bfq_files_without_cfq_and_says_so_without_either()
    {
        var paths = WithControllers("blkio");
        var m = new CgroupV1Manager(paths);
        var e = Assert.Throws<CrateRunException>(() => m.Apply(new LinuxResources { BlockIO = new LinuxBlockIO { Weight = 300 } }));
        Assert.Contains("blkio.bfq.weight", e.Message);
        File.WriteAllText(Path.Combine(paths["blkio"], "blkio.bfq.weight"), "100");
        m.Apply(new LinuxResources { BlockIO = new LinuxBlockIO { Weight = 300 } });
        Assert.Equal("300", File.ReadAllText(Path.Combine(paths["blkio"], "blkio.bfq.weight")));
    }

    [Fact]
    public void Hugetlb_net_cls_net_prio_and_rdma_files()
    {
        var paths = WithControllers("hugetlb", "net_cls", "net_prio", "rdma");
        File.WriteAllText(Path.Combine(paths["hugetlb"], "hugetlb.2MB.limit_in_bytes"), "");
        new CgroupV1Manager(paths).Apply(new LinuxResources
        {
            HugepageLimits = [new LinuxHugepageLimit { PageSize = "2MB", Limit = 4194304 }],
            Network = new LinuxNetwork { ClassId = 0x100001, Priorities = [new LinuxInterfacePriority { Name = "eth0", Priority = 5 }] },
            Rdma = new() { ["mlx5_1"] = new LinuxRdma { HcaHandles = 3, HcaObjects = 10000 } },
        });
        Assert.Equal("4194304", File.ReadAllText(Path.Combine(paths["hugetlb"], "hugetlb.2MB.limit_in_bytes")));
        Assert.Equal("1048577", File.ReadAllText(Path.Combine(paths["net_cls"], "net_cls.classid")));
        Assert.Equal("eth0 5", File.ReadAllText(Path.Combine(paths["net_prio"], "net_prio.ifpriomap")));
        Assert.Equal("mlx5_1 hca_handle=3 hca_object=10000", File.ReadAllText(Path.Combine(paths["rdma"], "rdma.max")));
        var e = Assert.Throws<CrateRunException>(() => new CgroupV1Manager(paths).Apply(new LinuxResources
        {
            HugepageLimits = [new LinuxHugepageLimit { PageSize = "1GB", Limit = 1 << 30 }],
        }));
        Assert.Contains("1GB", e.Message);
    }

    [Fact]
    public void Controllers_the_host_lacks_are_named_in_one_line_before_any_write()
    {
        var e = Assert.Throws<CrateRunException>(() => _m.Apply(new LinuxResources
        {
            Pids = new LinuxPids { Limit = 5 },
            BlockIO = new LinuxBlockIO { ThrottleReadBpsDevice = [new LinuxThrottleDevice { Major = 8, Minor = 0, Rate = 1 }] },
            HugepageLimits = [new LinuxHugepageLimit { PageSize = "2MB", Limit = 1 }],
            Network = new LinuxNetwork { ClassId = 1 },
            Rdma = new() { ["mlx5_1"] = new LinuxRdma { HcaHandles = 1 } },
        }));
        foreach (var c in new[] { "blkio", "hugetlb", "net_cls", "rdma" }) Assert.Contains(c, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(Has("pids", "pids.max"));
    }

    [Fact]
    public void Pids_above_the_kernel_maximum_are_refused_with_a_line()
    {
        var e = Assert.Throws<UsageException>(() => _m.Apply(new LinuxResources { Pids = new LinuxPids { Limit = 99999999999 } }));
        Assert.Contains("4194304", e.Message);
    }

    // ---- what was made, and what goes ---------------------------------------------------

    [Fact]
    public void RemoveCreated_leaves_a_cgroup_that_existed_before()
    {
        // memory existed (a given cgroupsPath); pids did not
        _tmp.Dir("pids2"); // the hierarchy's root
        var paths = new Dictionary<string, string> { ["memory"] = _paths["memory"], ["pids"] = _tmp.Sub("pids2", "parent", "craterun-x") };
        var m = new CgroupV1Manager(paths);
        m.Create();
        Assert.True(Directory.Exists(paths["pids"]));
        File.Delete(Path.Combine(_paths["memory"], "memory.limit_in_bytes"));
        File.Delete(Path.Combine(_paths["memory"], "memory.memsw.limit_in_bytes"));
        m.RemoveCreated();
        Assert.True(Directory.Exists(paths["memory"]));
        Assert.False(Directory.Exists(paths["pids"]));
        Assert.False(Directory.Exists(_tmp.Sub("pids2", "parent")));
        Assert.True(Directory.Exists(_tmp.Sub("pids2")));
    }

    [Fact]
    public void Destroy_removes_the_containers_own_child_cgroups_and_the_parents_it_made()
    {
        _tmp.Dir("mem2"); // the hierarchy's root
        var leaf = _tmp.Sub("mem2", "parent", "craterun-x");
        var m = new CgroupV1Manager(new Dictionary<string, string> { ["memory"] = leaf });
        m.Create();
        Assert.Equal([_tmp.Sub("mem2", "parent")], m.CreatedParents);
        Directory.CreateDirectory(Path.Combine(leaf, "child", "grandchild")); // made by the container
        File.WriteAllText(Path.Combine(leaf, "cgroup.procs"), "");
        File.WriteAllText(Path.Combine(leaf, "child", "cgroup.procs"), "");
        File.WriteAllText(Path.Combine(leaf, "child", "grandchild", "cgroup.procs"), "77\n");
        Assert.Equal([77], new CgroupV1Manager(new Dictionary<string, string> { ["pids"] = leaf }).Pids());
        foreach (var f in Directory.GetFiles(leaf, "*", SearchOption.AllDirectories)) File.Delete(f);
        // as delete sees it later: from the record
        new CgroupV1Manager(new Dictionary<string, string> { ["memory"] = leaf }, m.CreatedParents).Destroy();
        Assert.False(Directory.Exists(_tmp.Sub("mem2", "parent")));
        Assert.True(Directory.Exists(_tmp.Sub("mem2")));
    }
}
