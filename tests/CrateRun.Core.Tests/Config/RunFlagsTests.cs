using CrateRun.Core.Config;
using CrateRun.Core.Oci;

namespace CrateRun.Core.Tests.Config;

/// <summary>Docker's run flags of issue 11 as they land in the OCI config (runtime-spec field names).</summary>
public sealed class RunFlagsTests
{
    private static RunOptions Options(Action<RunOptionsInit>? edit = null)
    {
        var i = new RunOptionsInit();
        edit?.Invoke(i);
        return new RunOptions
        {
            Rootfs = "/r", Command = ["/bin/true"], Memory = i.Memory, Hostname = i.Hostname, Network = i.Network,
            Ulimits = i.Ulimits, ShmSize = i.ShmSize, Sysctls = i.Sysctls, MemorySwap = i.MemorySwap, MemoryReservation = i.MemoryReservation,
            CpuShares = i.CpuShares, CpusetCpus = i.CpusetCpus, OomScoreAdj = i.OomScoreAdj, SharedNamespaces = i.Shared,
        };
    }

    private sealed class RunOptionsInit
    {
        public long? Memory, ShmSize, MemorySwap, MemoryReservation;
        public string? Hostname, CpusetCpus;
        public ulong? CpuShares;
        public int? OomScoreAdj;
        public Core.Network.NetworkSettings? Network;
        public List<PosixRlimit> Ulimits = [];
        public Dictionary<string, string> Sysctls = [];
        public Dictionary<string, string?> Shared = [];
    }

    [Theory]
    [InlineData("nofile=1024:2048", "RLIMIT_NOFILE", 1024UL, 2048UL)]
    [InlineData("nproc=50", "RLIMIT_NPROC", 50UL, 50UL)]
    [InlineData("core=-1", "RLIMIT_CORE", ulong.MaxValue, ulong.MaxValue)]
    [InlineData("memlock=64:unlimited", "RLIMIT_MEMLOCK", 64UL, ulong.MaxValue)]
    [InlineData("AS=1:2", "RLIMIT_AS", 1UL, 2UL)]
    public void Ulimit_is_an_rlimit_of_the_process(string text, string type, ulong soft, ulong hard)
    {
        var r = RunFlags.ParseUlimit(text);
        Assert.Equal((type, soft, hard), (r.Type, r.Soft, r.Hard));
    }

    [Theory]
    [InlineData("nofile")]
    [InlineData("files=1")]
    [InlineData("nofile=2:1")]
    [InlineData("nofile=-2")]
    [InlineData("nofile=1:2:3")]
    [InlineData("=5")]
    public void Bad_ulimits_are_refused_naming_the_flag(string text) =>
        Assert.Contains("--ulimit", Assert.Throws<UsageException>(() => RunFlags.ParseUlimit(text)).Message);

    [Fact]
    public void A_later_ulimit_of_the_same_name_wins()
    {
        var spec = SpecBuilder.Build("0123456789abcdef", Options(o => o.Ulimits = [RunFlags.ParseUlimit("nofile=1"), RunFlags.ParseUlimit("nofile=2")]));
        Assert.Equal(2UL, Assert.Single(spec.Process!.Rlimits!).Soft);
    }

    [Fact]
    public void GroupAdd_takes_gids_and_names_of_the_containers_group_file()
    {
        Assert.Equal([5u, 1234u], RunFlags.ResolveGroups(["tty", "1234", "5"], "root:x:0:\ntty:x:5:\n"));
        Assert.Contains("wheel", Assert.Throws<UsageException>(() => RunFlags.ResolveGroups(["wheel"], "root:x:0:\n")).Message);
    }

    [Theory]
    [InlineData("net.ipv4.ip_forward=1", true)]
    [InlineData("fs.mqueue.msg_max=20", true)]
    [InlineData("kernel.shmmax=1000", true)]
    [InlineData("kernel.sem=250 32000 32 128", true)]
    [InlineData("vm.swappiness=1", false)]
    [InlineData("kernel.hostname=x", false)]
    [InlineData("kernel.shm=1", false)]
    [InlineData("net.=1", false)]
    public void Only_namespaced_sysctls_are_accepted(string text, bool ok)
    {
        if (ok) Assert.Equal(text[(text.IndexOf('=') + 1)..], RunFlags.ParseSysctl(text).Value);
        else Assert.Contains("not namespaced", Assert.Throws<UsageException>(() => RunFlags.ParseSysctl(text)).Message);
    }

    [Fact]
    public void Sysctls_of_a_shared_namespace_are_refused()
    {
        Assert.Throws<UsageException>(() => SpecBuilder.Build("0123456789abcdef", Options(o => { o.Sysctls["kernel.shmmax"] = "1"; o.Shared["ipc"] = null; })));
        Assert.Throws<UsageException>(() => SpecBuilder.Build("0123456789abcdef", Options(o => { o.Sysctls["net.ipv4.ip_forward"] = "1"; o.Network = new Core.Network.NetworkSettings { Mode = "host" }; })));
        var spec = SpecBuilder.Build("0123456789abcdef", Options(o => o.Sysctls["net.ipv4.ip_forward"] = "1"));
        Assert.Equal("1", spec.Linux!.Sysctl!["net.ipv4.ip_forward"]);
    }

    [Fact]
    public void Memory_swap_and_reservation_follow_Dockers_rules()
    {
        var spec = SpecBuilder.Build("0123456789abcdef", Options(o => { o.Memory = 32 << 20; o.MemorySwap = 64 << 20; o.MemoryReservation = 16 << 20; }));
        Assert.Equal((32L << 20, 64L << 20, 16L << 20), (spec.Linux!.Resources!.Memory!.Limit, spec.Linux.Resources.Memory.Swap, spec.Linux.Resources.Memory.Reservation));
        Assert.Throws<UsageException>(() => SpecBuilder.Build("0123456789abcdef", Options(o => o.MemorySwap = 64 << 20)));
        Assert.Throws<UsageException>(() => SpecBuilder.Build("0123456789abcdef", Options(o => { o.Memory = 64 << 20; o.MemorySwap = 32 << 20; })));
        Assert.Throws<UsageException>(() => SpecBuilder.Build("0123456789abcdef", Options(o => { o.Memory = 32 << 20; o.MemoryReservation = 64 << 20; })));
        Assert.Equal(-1, SpecBuilder.Build("0123456789abcdef", Options(o => { o.Memory = 32 << 20; o.MemorySwap = RunFlags.ParseMemorySwap("-1"); })).Linux!.Resources!.Memory!.Swap);
    }

    [Fact]
    public void ShmSize_replaces_the_size_of_the_dev_shm_tmpfs()
    {
        var shm = SpecBuilder.Build("0123456789abcdef", Options(o => o.ShmSize = 8 << 20)).Mounts!.Single(m => m.Destination == "/dev/shm");
        Assert.Equal(["nosuid", "noexec", "nodev", "mode=1777", "size=8192k"], shm.Options);
    }

    [Theory]
    [InlineData("0-1", true)]
    [InlineData("0,2-3,5", true)]
    [InlineData("1-0", false)]
    [InlineData("a", false)]
    [InlineData("", false)]
    [InlineData("1,", false)]
    [InlineData("-1", false)]
    public void Cpuset_lists(string text, bool ok)
    {
        if (ok) Assert.Equal(text, RunFlags.ParseCpuset(text, "--cpuset-cpus"));
        else Assert.Throws<UsageException>(() => RunFlags.ParseCpuset(text, "--cpuset-cpus"));
    }

    [Fact]
    public void Cpuset_outside_the_hosts_list_is_refused()
    {
        Assert.Equal("1", RunFlags.ParseCpuset("1", "--cpuset-cpus", "0-1"));
        Assert.Equal("0,2-3", RunFlags.ParseCpuset("0,2-3", "--cpuset-cpus", "0-3"));
        Assert.Contains("CPU 63 is not available", Assert.Throws<UsageException>(() => RunFlags.ParseCpuset("0,63", "--cpuset-cpus", "0-1")).Message);
        Assert.Contains("memory node 1", Assert.Throws<UsageException>(() => RunFlags.ParseCpuset("1", "--cpuset-mems", "0")).Message);
    }

    [Fact]
    public void Shared_namespaces_are_left_out_or_joined_by_path_and_uts_drops_the_hostname()
    {
        var spec = SpecBuilder.Build("0123456789abcdef", Options(o => { o.Shared["pid"] = null; o.Shared["ipc"] = "/proc/42/ns/ipc"; o.Shared["uts"] = "/proc/42/ns/uts"; }));
        var ns = spec.Linux!.Namespaces!;
        Assert.DoesNotContain(ns, n => n.Type == "pid");
        Assert.Equal("/proc/42/ns/ipc", ns.Single(n => n.Type == "ipc").Path);
        Assert.Equal("/proc/42/ns/uts", ns.Single(n => n.Type == "uts").Path);
        Assert.Null(spec.Hostname);
        Assert.DoesNotContain(spec.Process!.Env!, e => e.StartsWith("HOSTNAME=", StringComparison.Ordinal));
        Assert.Throws<UsageException>(() => SpecBuilder.Build("0123456789abcdef", Options(o => { o.Shared["uts"] = null; o.Hostname = "box"; })));
    }

    [Fact]
    public void Cpu_shares_cpuset_and_oom_score_adj_land_in_their_fields()
    {
        var spec = SpecBuilder.Build("0123456789abcdef", Options(o => { o.CpuShares = 512; o.CpusetCpus = "1"; o.OomScoreAdj = 500; }));
        Assert.Equal((512UL, "1"), (spec.Linux!.Resources!.Cpu!.Shares!.Value, spec.Linux.Resources.Cpu.Cpus));
        Assert.Equal(500, spec.Process!.OomScoreAdj);
        Assert.Null(RunFlags.ParseCpuShares("0")); // Docker: 0 is the default weight
    }

    [Theory]
    [InlineData("1001")]
    [InlineData("-1001")]
    [InlineData("x")]
    public void OomScoreAdj_is_minus_1000_to_1000(string text) =>
        Assert.Throws<UsageException>(() => RunFlags.ParseOomScoreAdj(text));
}
