using System.Text;
using CrateRun.Core.Config;
using CrateRun.Core.Oci;
using CrateRun.Core.State;
using CrateRun.Linux.Cgroups;

namespace CrateRun.Core.Tests.LinuxLayer;

/// <summary>The v2 manager against a fake cgroupfs directory: control files are plain files.</summary>
public sealed class CgroupV2ManagerTests : IDisposable
{
    private readonly TempDir _tmp = new();
    private readonly string _dir;
    private readonly CgroupV2Manager _m;

    public CgroupV2ManagerTests()
    {
        _dir = _tmp.Dir("craterun-0123456789abcdef");
        Put("cgroup.controllers", "cpu memory pids\n");
        Put("cgroup.subtree_control", "");
        Put("memory.max", "max\n");
        Put("memory.swap.max", "max\n");
        Put("cpu.max", "max 100000\n");
        Put("pids.max", "max\n");
        _m = new CgroupV2Manager(_dir);
    }

    public void Dispose() => _tmp.Dispose();

    private void Put(string file, string text) => File.WriteAllText(Path.Combine(_dir, file), text);
    private string Get(string file) => File.ReadAllText(Path.Combine(_dir, file));

    private static LinuxResources Memory(long limit, long? swap = null) => new() { Memory = new LinuxMemory { Limit = limit, Swap = swap } };

    [Fact]
    public void Paths_is_the_unified_directory()
    {
        Assert.Equal(_dir, _m.Dir);
        Assert.Equal(new Dictionary<string, string> { ["unified"] = _dir }, _m.Paths);
    }

    [Fact]
    public void Memory_limit_with_equal_swap_means_no_swap()
    {
        _m.Apply(Memory(64L << 20, 64L << 20));
        Assert.Equal("67108864", Get("memory.max"));
        Assert.Equal("0", Get("memory.swap.max"));
    }

    [Fact]
    public void Swap_max_is_the_oci_memory_plus_swap_minus_the_limit()
    {
        _m.Apply(Memory(64L << 20, 96L << 20));
        Assert.Equal("67108864", Get("memory.max"));
        Assert.Equal((32L << 20).ToString(), Get("memory.swap.max"));
    }

    [Fact]
    public void Swap_defaults_to_the_limit_and_minus_one_is_unlimited()
    {
        _m.Apply(Memory(64L << 20));
        Assert.Equal("0", Get("memory.swap.max"));
        _m.Apply(Memory(64L << 20, -1));
        Assert.Equal("max", Get("memory.swap.max"));
    }

    [Fact]
    public void Swap_below_the_limit_is_refused()
    {
        var e = Assert.Throws<UsageException>(() => _m.Apply(Memory(64L << 20, 32L << 20)));
        Assert.Contains("below the memory limit", e.Message);
    }

    [Fact]
    public void Swap_limit_with_unlimited_memory_is_refused()
    {
        Assert.Throws<UsageException>(() => _m.Apply(Memory(-1, 128L << 20)));
        Assert.NotEqual(((128L << 20) + 1).ToString(), Get("memory.swap.max"));
    }

    [Fact]
    public void Without_swap_accounting_only_memory_max_is_written()
    {
        File.Delete(Path.Combine(_dir, "memory.swap.max"));
        _m.Apply(Memory(64L << 20, 128L << 20));
        Assert.Equal("67108864", Get("memory.max"));
        Assert.False(File.Exists(Path.Combine(_dir, "memory.swap.max")));
    }

    [Fact]
    public void Zero_or_negative_limit_is_max_and_reservation_is_memory_low()
    {
        _m.Apply(new LinuxResources { Memory = new LinuxMemory { Limit = -1, Swap = -1, Reservation = 1 << 20 } });
        Assert.Equal("max", Get("memory.max"));
        Assert.Equal("1048576", Get("memory.low"));
    }

    [Fact]
    public void Cpu_quota_and_period_are_cpu_max()
    {
        _m.Apply(new LinuxResources { Cpu = new LinuxCpu { Quota = 50000, Period = 100000 } });
        Assert.Equal("50000 100000", Get("cpu.max"));
        _m.Apply(new LinuxResources { Cpu = new LinuxCpu { Quota = 20000 } });
        Assert.Equal("20000 100000", Get("cpu.max"));
        _m.Apply(new LinuxResources { Cpu = new LinuxCpu { Quota = -1, Period = 50000 } });
        Assert.Equal("max 50000", Get("cpu.max"));
    }

    [Theory]
    [InlineData(2UL, "1")]
    [InlineData(1024UL, "39")]
    [InlineData(262144UL, "10000")]
    [InlineData(1UL, "1")]
    [InlineData(1000000UL, "10000")]
    public void Cpu_shares_convert_to_weight_as_runc_does(ulong shares, string weight)
    {
        _m.Apply(new LinuxResources { Cpu = new LinuxCpu { Shares = shares } });
        Assert.Equal(weight, Get("cpu.weight"));
    }

    [Fact]
    public void Pids_limit_and_unlimited()
    {
        _m.Apply(new LinuxResources { Pids = new LinuxPids { Limit = 100 } });
        Assert.Equal("100", Get("pids.max"));
        _m.Apply(new LinuxResources { Pids = new LinuxPids { Limit = -1 } });
        Assert.Equal("max", Get("pids.max"));
        _m.Apply(new LinuxResources { Pids = new LinuxPids { Limit = 0 } });
        Assert.Equal("max", Get("pids.max"));
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
        // the device rules become an eBPF program attached to the cgroup: a real kernel job,
        // proven in the cgroup v2 VM (tests/vm/cgroup-suite.sh); this fake tree is no cgroup
        spec.Linux!.Resources!.Devices = null;
        _m.Apply(spec.Linux.Resources);
        Assert.Equal("67108864", Get("memory.max"));
        Assert.Equal("0", Get("memory.swap.max"));
        Assert.Equal("50000 100000", Get("cpu.max"));
        Assert.Equal("32", Get("pids.max"));
    }

    [Fact]
    public void Null_resources_write_nothing()
    {
        _m.Apply(null);
        _m.Apply(new LinuxResources());
        Assert.Equal("max\n", Get("memory.max"));
        Assert.Equal("max\n", Get("pids.max"));
    }

    [Fact]
    public void A_controller_not_delegated_is_an_error_naming_it()
    {
        Put("cgroup.controllers", "memory\n");
        var e = Assert.Throws<CrateRunException>(() => _m.Apply(new LinuxResources { Pids = new LinuxPids { Limit = 10 } }));
        Assert.Contains("pids controller", e.Message);
        Assert.Equal("max\n", Get("pids.max"));
        Assert.Contains("cpu controller", Assert.Throws<CrateRunException>(() =>
            _m.Apply(new LinuxResources { Cpu = new LinuxCpu { Quota = 1000 } })).Message);
        Assert.Contains("cpuset controller", Assert.Throws<CrateRunException>(() =>
            _m.Apply(new LinuxResources { Cpu = new LinuxCpu { Cpus = "0-1" } })).Message);
    }

    [Fact]
    public void Cpuset_when_delegated()
    {
        Put("cgroup.controllers", "cpuset cpu memory pids");
        _m.Apply(new LinuxResources { Cpu = new LinuxCpu { Cpus = "0-1", Mems = "0" } });
        Assert.Equal("0-1", Get("cpuset.cpus"));
        Assert.Equal("0", Get("cpuset.mems"));
    }

    [Fact]
    public void Unified_keys_are_written_as_files_but_may_not_climb()
    {
        _m.Apply(new LinuxResources { Unified = new() { ["memory.high"] = "50000000" } });
        Assert.Equal("50000000", Get("memory.high"));
        Assert.Throws<UsageException>(() => _m.Apply(new LinuxResources { Unified = new() { ["../escape"] = "1" } }));
        Assert.Throws<UsageException>(() => _m.Apply(new LinuxResources { Unified = new() { [".."] = "1" } }));
        Assert.False(File.Exists(Path.Combine(_tmp.Path, "escape")));
    }

    [Fact]
    public void A_failing_write_names_the_file()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "memory.low")); // writing to a directory fails
        var e = Assert.Throws<CrateRunException>(() => _m.Apply(new LinuxResources { Memory = new LinuxMemory { Reservation = 1 } }));
        Assert.Contains(Path.Combine(_dir, "memory.low"), e.Message);
    }

    [Fact]
    public void OomKilled_reads_oom_kill_from_memory_events()
    {
        Assert.False(_m.OomKilled()); // no memory.events at all
        Put("memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\noom_group_kill 0\n");
        Assert.False(_m.OomKilled());
        Put("memory.events", "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n");
        Assert.True(_m.OomKilled());
    }

    [Fact]
    public void Pids_and_add_process_use_cgroup_procs()
    {
        Assert.Empty(_m.Pids());
        Put("cgroup.procs", "12\n345\n\n6789\n");
        Assert.Equal([12, 345, 6789], _m.Pids());
        _m.AddProcess(4242);
        Assert.Equal("4242", Get("cgroup.procs"));
    }

    [Fact]
    public void Stats_read_memory_pids_and_cpu()
    {
        Put("memory.current", "1048576\n");
        Put("memory.max", "67108864\n");
        Put("memory.peak", "2097152\n");
        Put("pids.current", "3\n");
        Put("pids.max", "max\n");
        Put("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 4\nthrottled_usec 250\n");
        Put("memory.events", "oom 1\noom_kill 1\n");
        Assert.Equal(new CgroupStats(1048576, 67108864, 2097152, 3, 0, 1_500_000, 4, 250_000, 1), _m.Stats());
    }

    [Fact]
    public void Stats_of_an_empty_directory_are_zero() =>
        Assert.Equal(new CgroupStats(0, 0, 0, 0, 0, 0, 0, 0, 0), new CgroupV2Manager(_tmp.Dir("empty")).Stats());

    [Fact]
    public void Freeze_writes_cgroup_freeze_and_waits_for_the_frozen_event()
    {
        Put("cgroup.events", "populated 1\nfrozen 0\n");
        Assert.False(_m.IsFrozen());
        // play the kernel on a thread of its own (a pool thread can be starved by the other test classes
        // for longer than Freeze waits): once cgroup.freeze says 1, report the cgroup frozen
        var reported = false;
        var kernel = new Thread(() =>
        {
            var path = Path.Combine(_dir, "cgroup.freeze");
            for (var i = 0; i < 5000 && !reported; i++)
            {
                if (File.Exists(path) && File.ReadAllText(path) == "1")
                {
                    Thread.Sleep(20);
                    ContainerStore.WriteAtomic(Path.Combine(_dir, "cgroup.events"), Encoding.ASCII.GetBytes("populated 1\nfrozen 1\n"));
                    reported = true;
                }
                else Thread.Sleep(1);
            }
        })
        { IsBackground = true };
        kernel.Start();
        _m.Freeze();
        kernel.Join();
        Assert.True(reported);
        Assert.Equal("1", Get("cgroup.freeze"));
        Assert.True(_m.IsFrozen());

        Put("cgroup.events", "populated 1\nfrozen 0\n");
        _m.Thaw();
        Assert.Equal("0", Get("cgroup.freeze"));
        Assert.False(_m.IsFrozen());
    }

    [Fact]
    public void Freeze_that_never_takes_effect_is_an_error()
    {
        Put("cgroup.events", "populated 1\nfrozen 0\n");
        var e = Assert.Throws<CrateRunException>(() => _m.Freeze());
        Assert.Contains("did not freeze", e.Message);
    }

    [Fact]
    public void Create_refuses_a_path_outside_sys_fs_cgroup()
    {
        var m = new CgroupV2Manager(_tmp.Sub("new"));
        Assert.Contains("outside /sys/fs/cgroup", Assert.Throws<CrateRunException>(() => m.Create()).Message);
        Assert.False(Directory.Exists(_tmp.Sub("new")));
        Assert.Throws<CrateRunException>(() => new CgroupV2Manager("/sys/fs/cgroupx/a").Create());
    }

    [Fact]
    public void Destroy_removes_an_empty_cgroup_and_tolerates_a_missing_one()
    {
        var empty = _tmp.Dir("gone");
        var m = new CgroupV2Manager(empty);
        m.Destroy();
        Assert.False(Directory.Exists(empty));
        m.Destroy();
    }

    // ---- what Docker, runc and Kubernetes send; io, hugetlb, rdma ------------------------

    [Fact]
    public void Docker_zero_values_mean_unset_and_write_nothing()
    {
        _m.Apply(OciJson.ReadResources("""
            {"memory": {"limit": 0, "reservation": 0, "swap": 0}, "cpu": {"shares": 0, "quota": 0, "period": 0, "cpus": "", "mems": ""},
             "pids": {"limit": 0}, "blockIO": {"weight": 0, "leafWeight": 0}}
            """, "docker.json")); // cgroup.controllers has no io here: a zero weight must not need it
        Assert.Equal("max\n", Get("memory.max"));
        Assert.Equal("max 100000\n", Get("cpu.max"));
        Assert.Equal("max\n", Get("pids.max"));
        Assert.False(File.Exists(Path.Combine(_dir, "cpu.weight")));
        Assert.False(File.Exists(Path.Combine(_dir, "io.weight")));
    }

    [Fact]
    public void Update_of_memory_swap_alone_to_minus_one_is_swap_max_max()
    {
        Put("memory.swap.max", "0\n");
        _m.Apply(new LinuxResources { Memory = new LinuxMemory { Swap = -1 } });
        Assert.Equal("max", Get("memory.swap.max"));
        Assert.Equal("max\n", Get("memory.max"));
    }

    [Fact]
    public void Cpu_period_alone_keeps_the_quota()
    {
        Put("cpu.max", "30000 100000\n");
        _m.Apply(new LinuxResources { Cpu = new LinuxCpu { Period = 50000 } });
        Assert.Equal("30000 50000", Get("cpu.max"));
    }

    [Fact]
    public void Io_weight_scaled_as_runc_without_bfq_and_as_is_with_bfq_and_io_max_limits()
    {
        Put("cgroup.controllers", "cpu memory pids io\n");
        Put("io.weight", "default 100\n");
        _m.Apply(new LinuxResources
        {
            BlockIO = new LinuxBlockIO
            {
                Weight = 500,
                ThrottleReadBpsDevice = [new LinuxThrottleDevice { Major = 8, Minor = 0, Rate = 1048576 }],
            },
        });
        Assert.Equal("default 4950", Get("io.weight")); // 1 + (500 - 10) * 9999 / 990
        Assert.Equal("8:0 rbps=1048576", Get("io.max"));
        foreach (var (key, set) in new (string, Action<LinuxBlockIO, List<LinuxThrottleDevice>>)[]
        {
            ("wbps", (b, d) => b.ThrottleWriteBpsDevice = d), ("riops", (b, d) => b.ThrottleReadIopsDevice = d), ("wiops", (b, d) => b.ThrottleWriteIopsDevice = d),
        })
        {
            var b = new LinuxBlockIO();
            set(b, [new LinuxThrottleDevice { Major = 259, Minor = 1, Rate = 42 }]);
            _m.Apply(new LinuxResources { BlockIO = b });
            Assert.Equal($"259:1 {key}=42", Get("io.max"));
        }
        Put("io.bfq.weight", "default 100\n");
        _m.Apply(new LinuxResources { BlockIO = new LinuxBlockIO { Weight = 300, WeightDevice = [new LinuxWeightDevice { Major = 8, Minor = 0, Weight = 700 }] } });
        Assert.Equal("8:0 700", Get("io.bfq.weight")); // the device line last; the default before it
    }

    [Fact]
    public void Hugetlb_and_rdma_files()
    {
        Put("cgroup.controllers", "cpu memory pids hugetlb rdma\n");
        Put("hugetlb.2MB.max", "max\n");
        Put("hugetlb.2MB.rsvd.max", "max\n");
        _m.Apply(new LinuxResources
        {
            HugepageLimits = [new LinuxHugepageLimit { PageSize = "2MB", Limit = 8388608 }],
            Rdma = new() { ["mlx4_0"] = new LinuxRdma { HcaHandles = 2, HcaObjects = 2000 } },
        });
        Assert.Equal("8388608", Get("hugetlb.2MB.max"));
        Assert.Equal("8388608", Get("hugetlb.2MB.rsvd.max"));
        Assert.Equal("mlx4_0 hca_handle=2 hca_object=2000", Get("rdma.max"));
        Assert.Contains("1GB", Assert.Throws<CrateRunException>(() =>
            _m.Apply(new LinuxResources { HugepageLimits = [new LinuxHugepageLimit { PageSize = "1GB", Limit = 1 }] })).Message);
    }

    [Fact]
    public void Missing_controllers_are_named_in_one_line_before_any_write()
    {
        var e = Assert.Throws<CrateRunException>(() => _m.Apply(new LinuxResources
        {
            Pids = new LinuxPids { Limit = 7 },
            BlockIO = new LinuxBlockIO { Weight = 100 },
            HugepageLimits = [new LinuxHugepageLimit { PageSize = "2MB", Limit = 1 }],
            Rdma = new() { ["mlx4_0"] = new LinuxRdma { HcaHandles = 1 } },
        }));
        Assert.Contains("io, hugetlb, rdma controllers", e.Message);
        Assert.Equal("max\n", Get("pids.max"));
    }

    [Fact]
    public void V1_only_settings_are_refused_by_name()
    {
        Assert.Contains("network", Assert.Throws<UsageException>(() => _m.Apply(new LinuxResources { Network = new LinuxNetwork { ClassId = 1 } })).Message);
        Assert.Contains("real-time", Assert.Throws<UsageException>(() => _m.Apply(new LinuxResources { Cpu = new LinuxCpu { RealtimeRuntime = 1000 } })).Message);
        Assert.Contains("leafWeight", Assert.Throws<UsageException>(() => _m.Apply(new LinuxResources { BlockIO = new LinuxBlockIO { LeafWeight = 100 } })).Message);
    }

    [Fact]
    public void Destroy_removes_child_cgroups_first_and_RemoveCreated_spares_an_existing_one()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "child", "grandchild"));
        File.WriteAllText(Path.Combine(_dir, "child", "cgroup.procs"), "55\n");
        Put("cgroup.procs", "54\n");
        Assert.Equal([54, 55], _m.Pids().Order());
        _m.RemoveCreated(); // it did not make _dir
        Assert.True(Directory.Exists(Path.Combine(_dir, "child")));
        foreach (var f in Directory.GetFiles(_dir, "*", SearchOption.AllDirectories)) File.Delete(f);
        _m.Destroy();
        Assert.False(Directory.Exists(_dir));
    }
}
