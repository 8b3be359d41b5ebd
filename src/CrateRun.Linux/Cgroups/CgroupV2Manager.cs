using CrateRun.Core.Oci;

namespace CrateRun.Linux.Cgroups;

/// <summary>cgroup v2: one directory in the unified hierarchy.</summary>
/// <param name="path">The container's directory.</param>
/// <param name="createdParents">Ancestors an earlier Create made (from the container's record), removed with it.</param>
/// <param name="mountRoot">Where the unified hierarchy is mounted: <paramref name="path"/> lies below it (a test gives a plain directory).</param>
public sealed class CgroupV2Manager(string path, IReadOnlyList<string>? createdParents = null, string mountRoot = CgroupLayout.Base) : ICgroupManager
{
    private static readonly string[] Wanted = ["cpu", "cpuset", "memory", "pids", "io", "hugetlb", "rdma"];

    public string Dir { get; } = path;
    public IReadOnlyDictionary<string, string> Paths => new Dictionary<string, string> { ["unified"] = Dir };

    private readonly List<string> _made = [];
    private readonly IReadOnlyList<string> _recordedParents = createdParents ?? [];
    public IReadOnlyList<string> CreatedParents => [.. _recordedParents, .. _made.Where(d => d != Dir)];

    public void Create()
    {
        // Controllers must be enabled in every ancestor's subtree_control, from the top down.
        var root = mountRoot.TrimEnd('/');
        var rel = Dir.StartsWith(root + "/", StringComparison.Ordinal) ? Dir[(root.Length + 1)..] : throw new Core.CrateRunException($"cgroup path {Dir} is outside {root}");
        var current = root;
        foreach (var part in rel.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            EnableControllers(current);
            current = Path.Combine(current, part);
            CgroupFiles.MakeDirs(current, _made);
        }
    }

    private static void EnableControllers(string dir)
    {
        var available = (CgroupFiles.Read(dir, "cgroup.controllers") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var enabled = (CgroupFiles.Read(dir, "cgroup.subtree_control") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var missing = Wanted.Where(c => available.Contains(c) && !enabled.Contains(c)).ToList();
        if (missing.Count == 0) return;
        try
        {
            CgroupFiles.Write(dir, "cgroup.subtree_control", string.Join(' ', missing.Select(c => "+" + c)));
        }
        catch (Core.CrateRunException)
        {
            // a cgroup with processes of its own cannot delegate (no internal processes); say so later, when a limit needs it
        }
    }

    /// <summary>Every controller the settings need, checked before anything is written; all missing ones in one line.</summary>
    private void RequireControllers(LinuxResources r)
    {
        var enabled = (CgroupFiles.Read(Dir, "cgroup.controllers") ?? "").Split(' ');
        var missing = new List<(string Controller, string Field)>();
        void Need(bool wanted, string controller, string field)
        {
            if (wanted && !enabled.Contains(controller) && !missing.Any(x => x.Controller == controller))
                missing.Add((controller, field));
        }
        var m = r.Memory;
        Need(m is not null && (ResourceRules.Set(m.Limit) ?? ResourceRules.Set(m.Swap) ?? ResourceRules.Set(m.Reservation)) is not null, "memory", "memory");
        var c = r.Cpu;
        Need(c is not null && (ResourceRules.Set(c.Shares) is not null || ResourceRules.Set(c.Quota) is not null || ResourceRules.Set(c.Period) is not null), "cpu", "cpu");
        Need(ResourceRules.Set(c?.Cpus) is not null || ResourceRules.Set(c?.Mems) is not null, "cpuset", "cpu.cpus/mems");
        Need(ResourceRules.Set(r.Pids?.Limit) is not null, "pids", "pids");
        Need(ResourceRules.HasBlockIO(r.BlockIO), "io", "blockIO");
        Need(r.HugepageLimits is { Count: > 0 }, "hugetlb", "hugepageLimits");
        Need(r.Rdma is { Count: > 0 }, "rdma", "rdma");
        if (missing.Count > 0)
            throw new Core.CrateRunException($"the {string.Join(", ", missing.Select(x => x.Controller))} controller{(missing.Count > 1 ? "s are" : " is")} not available for {Dir} "
                + $"(this host lacks {(missing.Count > 1 ? "them" : "it")}, or {(missing.Count > 1 ? "they are" : "it is")} not delegated to this cgroup); "
                + $"needed for {string.Join(", ", missing.Select(x => "linux.resources." + x.Field))}");
    }

    public void Apply(LinuxResources? r)
    {
        if (r is null) return;
        ResourceRules.Validate(r);
        if (ResourceRules.HasNetwork(r.Network))
            throw new Core.UsageException("linux.resources.network (net_cls/net_prio) exists only on cgroup v1, and this host's cgroups are v2");
        if (r.Cpu is { } rt && (ResourceRules.Set(rt.RealtimeRuntime) ?? (long?)ResourceRules.Set(rt.RealtimePeriod)) is not null)
            throw new Core.UsageException("real-time cpu limits (realtimeRuntime/realtimePeriod) exist only on cgroup v1, and this host's cgroups are v2");
        if (r.BlockIO is { } leaf && (ResourceRules.Set(leaf.LeafWeight) is not null || leaf.WeightDevice?.Any(d => ResourceRules.Set(d.LeafWeight) is not null) == true))
            throw new Core.UsageException("blockIO leafWeight exists only on cgroup v1 (CFQ), and this host's cgroups are v2");
        RequireControllers(r);
        if (r.Memory is { } m) ApplyMemory(m);
        if (r.Cpu is { } c)
        {
            var quota = ResourceRules.Set(c.Quota);
            var period = ResourceRules.Set(c.Period);
            if (quota is not null || period is not null)
            {
                // "QUOTA PERIOD"; a value not given keeps the current one
                var current = (CgroupFiles.Read(Dir, "cpu.max") ?? "max 100000").Split(' ');
                var q = quota is { } qq ? (qq > 0 ? qq.ToString() : "max") : current[0];
                var p = period is { } pp ? pp.ToString() : current.ElementAtOrDefault(1) ?? "100000";
                CgroupFiles.Write(Dir, "cpu.max", $"{q} {p}");
            }
            if (ResourceRules.Set(c.Shares) is { } sh)
                CgroupFiles.Write(Dir, "cpu.weight", (1 + ((Math.Clamp(sh, 2UL, 262144UL) - 2) * 9999 / 262142)).ToString());
            // burst after cpu.max, whose quota it may not exceed; 0 (the default) is no error where the kernel has no burst (runc)
            if (c.Burst is { } burst && (burst != 0 || File.Exists(Path.Combine(Dir, "cpu.max.burst"))))
                WriteV2(Dir, "cpu.max.burst", burst.ToString(), "linux.resources.cpu.burst needs kernel 5.14 or later (no cpu.max.burst here)");
            // idle after the weight: a SCHED_IDLE group has no weight of its own
            if (c.Idle is { } idle && (idle != 0 || File.Exists(Path.Combine(Dir, "cpu.idle"))))
                WriteV2(Dir, "cpu.idle", idle.ToString(), "linux.resources.cpu.idle needs kernel 5.15 or later (no cpu.idle here)");
            if (ResourceRules.Set(c.Cpus) is { } cpus) CgroupFiles.Write(Dir, "cpuset.cpus", cpus);
            if (ResourceRules.Set(c.Mems) is { } mems) CgroupFiles.Write(Dir, "cpuset.mems", mems);
        }
        if (r.Pids is { } pids && ResourceRules.Set(pids.Limit) is { } limit)
            CgroupFiles.Write(Dir, "pids.max", limit < 0 ? "max" : limit.ToString());
        // No devices controller on v2: an eBPF program decides, built from the same rules
        // (plus the devices every container may use, as on v1).
        if (r.Devices is { Count: > 0 } devices)
            DeviceFilter.Attach(Dir, [.. devices, .. DeviceRules.AlwaysAllowedOci]);
        if (ResourceRules.HasBlockIO(r.BlockIO)) ApplyIo(r.BlockIO!);
        foreach (var h in r.HugepageLimits ?? [])
        {
            var file = $"hugetlb.{h.PageSize}.max";
            if (!File.Exists(Path.Combine(Dir, file))) throw new Core.CrateRunException($"hugepage size {h.PageSize} is not supported by this host (no {file})");
            CgroupFiles.Write(Dir, file, h.Limit.ToString());
            // the reservation limit too, where the kernel has one (5.7+), as runc does
            if (File.Exists(Path.Combine(Dir, $"hugetlb.{h.PageSize}.rsvd.max"))) CgroupFiles.Write(Dir, $"hugetlb.{h.PageSize}.rsvd.max", h.Limit.ToString());
        }
        foreach (var (device, rdma) in r.Rdma ?? [])
            if (ResourceRules.RdmaLine(device, rdma) is { } line)
                CgroupFiles.Write(Dir, "rdma.max", line);
        foreach (var (k, v) in r.Unified ?? [])
        {
            if (k.Contains('/') || k.StartsWith('.')) throw new Core.UsageException($"invalid unified cgroup key '{k}'");
            CgroupFiles.Write(Dir, k, v);
        }
    }

    private static void WriteV2(string dir, string file, string value, string whenMissing)
    {
        if (!File.Exists(Path.Combine(dir, file))) throw new Core.CrateRunException(whenMissing);
        CgroupFiles.Write(dir, file, value);
    }

    private void ApplyMemory(LinuxMemory m)
    {
        // v2 has no separate kernel memory limits (kernel memory counts in memory.max): runc's warning
        if (m.Kernel is not null || m.KernelTCP is not null) CgroupFiles.WarnIgnored("linux.resources.memory.kernel/kernelTCP");
        var limit = ResourceRules.Set(m.Limit);
        var swap = ResourceRules.Set(m.Swap);
        if (limit is null or -1 && swap is > 0)
            throw new Core.UsageException("a swap limit needs a memory limit (cgroup v2 limits swap on its own)");
        if (limit is { } l)
            CgroupFiles.Write(Dir, "memory.max", l < 0 ? "max" : l.ToString());
        // OCI swap is memory+swap; v2's swap.max is swap alone. A limit alone means no swap.
        if (File.Exists(Path.Combine(Dir, "memory.swap.max")) && (swap ?? limit) is { } total)
        {
            if (total != -1 && limit is > 0 && total < limit)
                throw new Core.UsageException($"memory swap limit {total} is below the memory limit {limit}");
            var text = total == -1 || limit is -1 ? "max" : (total - limit!.Value).ToString();
            CgroupFiles.Write(Dir, "memory.swap.max", text);
        }
        if (ResourceRules.Set(m.Reservation) is { } res) CgroupFiles.Write(Dir, "memory.low", res.ToString());
    }

    /// <summary>io: BFQ's weights where the scheduler offers them, else io.weight (scaled from 10-1000 to 1-10000, as runc); io.max limits.</summary>
    private void ApplyIo(LinuxBlockIO b)
    {
        var bfq = File.Exists(Path.Combine(Dir, "io.bfq.weight"));
        if (ResourceRules.Set(b.Weight) is { } w)
        {
            if (bfq) CgroupFiles.Write(Dir, "io.bfq.weight", w.ToString());
            else WriteIoWeight($"default {IoWeight(w)}");
        }
        foreach (var d in b.WeightDevice ?? [])
            if (ResourceRules.Set(d.Weight) is { } dw)
            {
                if (bfq) CgroupFiles.Write(Dir, "io.bfq.weight", $"{d.Major}:{d.Minor} {dw}");
                else WriteIoWeight($"{d.Major}:{d.Minor} {IoWeight(dw)}");
            }
        void Max(string key, List<LinuxThrottleDevice>? devices)
        {
            foreach (var d in devices ?? [])
                CgroupFiles.Write(Dir, "io.max", $"{d.Major}:{d.Minor} {key}={d.Rate}");
        }
        Max("rbps", b.ThrottleReadBpsDevice);
        Max("wbps", b.ThrottleWriteBpsDevice);
        Max("riops", b.ThrottleReadIopsDevice);
        Max("wiops", b.ThrottleWriteIopsDevice);
    }

    private void WriteIoWeight(string line)
    {
        if (!File.Exists(Path.Combine(Dir, "io.weight")))
            throw new Core.CrateRunException("blockIO weights need a proportional-weight I/O scheduler (BFQ) or io.weight (the io.cost controller), and this host has neither");
        CgroupFiles.Write(Dir, "io.weight", line);
    }

    private static ulong IoWeight(ushort blkioWeight) => 1 + ((ulong)blkioWeight - 10) * 9999 / 990;

    public void AddProcess(int pid) => CgroupFiles.Write(Dir, "cgroup.procs", pid.ToString());
    public IReadOnlyList<int> Pids() => CgroupFiles.ProcsRecursive(Dir);
    public bool OomKilled() => CgroupFiles.KeyedValue(Dir, "memory.events", "oom_kill") > 0;

    public void Freeze() => SetFrozen(true);
    public void Thaw() => SetFrozen(false);
    public bool IsFrozen() => CgroupFiles.KeyedValue(Dir, "cgroup.events", "frozen") == 1;

    private void SetFrozen(bool frozen)
    {
        CgroupFiles.Write(Dir, "cgroup.freeze", frozen ? "1" : "0");
        for (var i = 0; i < 2000; i++)
        {
            if (IsFrozen() == frozen) return;
            Thread.Sleep(1);
        }
        throw new Core.CrateRunException($"cgroup: {Dir} did not {(frozen ? "freeze" : "thaw")}");
    }

    public CgroupStats Stats() => new(
        CgroupFiles.Number(Dir, "memory.current"),
        ulong.TryParse(CgroupFiles.Read(Dir, "memory.max"), out var max) ? max : 0,
        CgroupFiles.Number(Dir, "memory.peak"),
        CgroupFiles.Number(Dir, "pids.current"),
        ulong.TryParse(CgroupFiles.Read(Dir, "pids.max"), out var pm) ? pm : 0,
        CgroupFiles.KeyedValue(Dir, "cpu.stat", "usage_usec") * 1000,
        CgroupFiles.KeyedValue(Dir, "cpu.stat", "nr_throttled"),
        CgroupFiles.KeyedValue(Dir, "cpu.stat", "throttled_usec") * 1000,
        CgroupFiles.KeyedValue(Dir, "memory.events", "oom_kill"));

    public void Destroy()
    {
        if (Directory.Exists(Dir) && File.Exists(Path.Combine(Dir, "cgroup.kill")) && Pids().Count > 0)
            CgroupFiles.Write(Dir, "cgroup.kill", "1");
        CgroupFiles.RemoveTree(Dir);
        foreach (var parent in CreatedParents.Reverse())
            CgroupFiles.RemoveIfUnused(parent);
    }

    public void RemoveCreated()
    {
        if (_made.Contains(Dir)) CgroupFiles.RemoveTree(Dir);
        foreach (var parent in CreatedParents.Reverse())
            CgroupFiles.RemoveIfUnused(parent);
    }
}
