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
        Assert.Contains("pids cgroup controller", Assert.Throws<CrateRunException>(() =>
            m.Apply(new LinuxResources { Pids = new LinuxPids { Limit = 1 } })).Message);
        Assert.Contains("cpu cgroup controller", Assert.Throws<CrateRunException>(() =>
            m.Apply(new LinuxResources { Cpu = new LinuxCpu { Quota = 1000 } })).Message);
        Assert.Contains("cpuset cgroup controller", Assert.Throws<CrateRunException>(() =>
            _m.Apply(new LinuxResources { Cpu = new LinuxCpu { Cpus = "0" } })).Message);
        var noMemory = new CgroupV1Manager(new Dictionary<string, string> { ["pids"] = _paths["pids"] });
        Assert.Contains("memory cgroup controller", Assert.Throws<CrateRunException>(() => noMemory.Apply(Memory(1 << 20))).Message);
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
}
