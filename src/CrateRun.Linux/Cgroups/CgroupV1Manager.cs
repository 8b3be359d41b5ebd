using CrateRun.Core.Oci;

namespace CrateRun.Linux.Cgroups;

/// <summary>cgroup v1: one directory per controller hierarchy.</summary>
/// <param name="paths">Controller to the container's directory in its hierarchy.</param>
/// <param name="createdParents">Ancestors an earlier Create made (from the container's record), removed with it.</param>
public sealed class CgroupV1Manager(IReadOnlyDictionary<string, string> paths, IReadOnlyList<string>? createdParents = null) : ICgroupManager
{
    public IReadOnlyDictionary<string, string> Paths { get; } = paths;

    private readonly List<string> _made = [];
    private readonly IReadOnlyList<string> _recordedParents = createdParents ?? [];

    public IReadOnlyList<string> CreatedParents => [.. _recordedParents, .. _made.Where(d => !Dirs.Contains(d))];

    private string? Dir(string controller) => Paths.TryGetValue(controller, out var d) ? d : null;
    private IEnumerable<string> Dirs => Paths.Values.Distinct();

    public void Create()
    {
        foreach (var dir in Dirs)
            CgroupFiles.MakeDirs(dir, _made);
        // A new cpuset starts with no cpus and no mems: no task could join it. Inherit the parent's.
        if (Dir("cpuset") is { } cs)
            InitCpuset(cs);
    }

    private static void InitCpuset(string dir)
    {
        var parent = Path.GetDirectoryName(dir)!;
        foreach (var f in new[] { "cpuset.cpus", "cpuset.mems" })
        {
            if (!string.IsNullOrEmpty(CgroupFiles.Read(dir, f))) continue;
            if (string.IsNullOrEmpty(CgroupFiles.Read(parent, f))) InitCpuset(parent);
            CgroupFiles.Write(dir, f, CgroupFiles.Read(parent, f) ?? "");
        }
    }

    public void Apply(LinuxResources? r)
    {
        if (r is null) return;
        if (r.Unified is { Count: > 0 })
            throw new Core.UsageException($"linux.resources.unified ({string.Join(", ", r.Unified.Keys)}) needs cgroup v2, and this host's cgroups are v1");
        ResourceRules.Validate(r);
        RequireControllers(r);
        if (r.Memory is { } m) ApplyMemory(Dir("memory")!, m);
        if (r.Cpu is { } c) ApplyCpu(c);
        if (r.Pids is { } pids && ResourceRules.Set(pids.Limit) is { } maxPids)
            CgroupFiles.Write(Dir("pids")!, "pids.max", maxPids < 0 ? "max" : maxPids.ToString());
        if (r.Devices is { Count: > 0 } devices && Dir("devices") is { } dd)
            foreach (var rule in DeviceRules.V1(devices))
                CgroupFiles.Write(dd, rule.Allow ? "devices.allow" : "devices.deny", rule.Text);
        if (ResourceRules.HasBlockIO(r.BlockIO)) ApplyBlockIO(Dir("blkio")!, r.BlockIO!);
        foreach (var h in r.HugepageLimits ?? [])
            WriteExisting(Dir("hugetlb")!, $"hugetlb.{h.PageSize}.limit_in_bytes", h.Limit.ToString(), $"hugepage size {h.PageSize} is not supported by this host");
        if (r.Network is { } n)
        {
            if (ResourceRules.Set(n.ClassId) is { } classId) CgroupFiles.Write(Dir("net_cls")!, "net_cls.classid", classId.ToString());
            foreach (var p in n.Priorities ?? [])
                CgroupFiles.Write(Dir("net_prio")!, "net_prio.ifpriomap", $"{p.Name} {p.Priority}");
        }
        foreach (var (device, rdma) in r.Rdma ?? [])
            if (ResourceRules.RdmaLine(device, rdma) is { } line)
                CgroupFiles.Write(Dir("rdma")!, "rdma.max", line);
    }

    /// <summary>Every controller the settings need, checked before anything is written; all missing ones in one line.</summary>
    private void RequireControllers(LinuxResources r)
    {
        var missing = new List<string>();
        void Need(bool wanted, string controller, string field)
        {
            if (wanted && Dir(controller) is null) missing.Add($"{controller} (for linux.resources.{field})");
        }
        var m = r.Memory;
        Need(m is not null && (ResourceRules.Set(m.Limit) ?? ResourceRules.Set(m.Swap) ?? ResourceRules.Set(m.Reservation) ?? ResourceRules.Set(m.KernelTCP)) is not null
            || m?.Swappiness is not null || m?.DisableOOMKiller == true, "memory", "memory");
        var c = r.Cpu;
        Need(c is not null && (ResourceRules.Set(c.Shares) is not null || ResourceRules.Set(c.Quota) is not null || ResourceRules.Set(c.Period) is not null
            || ResourceRules.Set(c.RealtimeRuntime) is not null || ResourceRules.Set(c.RealtimePeriod) is not null
            || ResourceRules.Set(c.Burst) is not null || ResourceRules.Set(c.Idle) is not null), "cpu", "cpu");
        Need(ResourceRules.Set(c?.Cpus) is not null || ResourceRules.Set(c?.Mems) is not null, "cpuset", "cpu.cpus/mems");
        Need(ResourceRules.Set(r.Pids?.Limit) is not null, "pids", "pids");
        Need(ResourceRules.HasBlockIO(r.BlockIO), "blkio", "blockIO");
        Need(r.HugepageLimits is { Count: > 0 }, "hugetlb", "hugepageLimits");
        Need(ResourceRules.Set(r.Network?.ClassId) is not null, "net_cls", "network.classID");
        Need(r.Network?.Priorities is { Count: > 0 }, "net_prio", "network.priorities");
        Need(r.Rdma is { Count: > 0 }, "rdma", "rdma");
        if (missing.Count > 0)
            throw new Core.CrateRunException($"this host has no cgroup v1 hierarchy for {string.Join(", ", missing)}");
    }

    /// <summary>
    /// memory.limit_in_bytes and memory.memsw.limit_in_bytes (OCI swap is memory plus swap, as
    /// memsw). The kernel keeps memsw >= limit at every step, so the order depends on the values.
    /// </summary>
    private static void ApplyMemory(string dir, LinuxMemory m)
    {
        var limit = ResourceRules.Set(m.Limit);
        var swap = ResourceRules.Set(m.Swap);
        var hasSwapFile = File.Exists(Path.Combine(dir, "memory.memsw.limit_in_bytes"));
        if (!hasSwapFile) swap = null;                 // no swap accounting: nothing to limit
        else if (swap is null && limit is { } l) swap = l; // a limit alone means no swap (-1: none at all, as runc)
        if (limit is { } lim && swap is { } sw && sw != -1 && lim != -1 && sw < lim)
            throw new Core.UsageException($"memory swap limit {sw} is below the memory limit {lim}");
        if (limit is { } a && swap is { } b)
        {
            // raising memsw past the current limit: memsw first; else the limit first (runc's rule)
            var current = CgroupFiles.Number(dir, "memory.limit_in_bytes");
            if (b == -1 || current < (ulong)b)
            {
                CgroupFiles.Write(dir, "memory.memsw.limit_in_bytes", b.ToString());
                CgroupFiles.Write(dir, "memory.limit_in_bytes", a.ToString());
            }
            else
            {
                CgroupFiles.Write(dir, "memory.limit_in_bytes", a.ToString());
                CgroupFiles.Write(dir, "memory.memsw.limit_in_bytes", b.ToString());
            }
        }
        else if (limit is { } onlyLimit)
            CgroupFiles.Write(dir, "memory.limit_in_bytes", onlyLimit.ToString());
        else if (swap is { } onlySwap)
            CgroupFiles.Write(dir, "memory.memsw.limit_in_bytes", onlySwap.ToString());
        if (ResourceRules.Set(m.Reservation) is { } res) CgroupFiles.Write(dir, "memory.soft_limit_in_bytes", res.ToString());
        // kernelTCP: v1 still enforces memory.kmem.tcp.limit_in_bytes. kernel: kernels since
        // 6.1 accept a write of memory.kmem.limit_in_bytes and change nothing (measured on
        // 6.18), so it is ignored with runc's warning rather than written
        if (ResourceRules.Set(m.KernelTCP) is { } tcp)
            WriteExisting(dir, "memory.kmem.tcp.limit_in_bytes", tcp.ToString(), "linux.resources.memory.kernelTCP needs kernel memory accounting (no memory.kmem.tcp.limit_in_bytes on this host)");
        if (m.Kernel is not null) CgroupFiles.WarnIgnored("linux.resources.memory.kernel");
        if (m.Swappiness is { } swp && swp <= 100) CgroupFiles.Write(dir, "memory.swappiness", swp.ToString());
        if (m.DisableOOMKiller == true) CgroupFiles.Write(dir, "memory.oom_control", "1");
    }

    private void ApplyCpu(LinuxCpu c)
    {
        if (Dir("cpu") is { } dir)
        {
            if (ResourceRules.Set(c.Shares) is { } sh) CgroupFiles.Write(dir, "cpu.shares", sh.ToString());
            var period = ResourceRules.Set(c.Period);
            var quota = ResourceRules.Set(c.Quota);
            // Below a parent with a quota, a shorter period can make the current quota exceed what the
            // parent allows (EINVAL); with the new quota written first it fits. So: period first
            // unless the kernel refuses it, then the quota, then the period again if it was refused.
            var periodPending = false;
            if (period is { } p)
            {
                try { CgroupFiles.Write(dir, "cpu.cfs_period_us", p.ToString()); }
                catch (Core.CrateRunException) when (quota is not null) { periodPending = true; }
            }
            if (quota is { } q)
            {
                CgroupFiles.Write(dir, "cpu.cfs_quota_us", q.ToString());
                if (periodPending) CgroupFiles.Write(dir, "cpu.cfs_period_us", period!.Value.ToString());
            }
            // burst after the quota it may not exceed; 0 (the default) is no error where the kernel has no burst (runc)
            if (c.Burst is { } burst && (burst != 0 || File.Exists(Path.Combine(dir, "cpu.cfs_burst_us"))))
                WriteExisting(dir, "cpu.cfs_burst_us", burst.ToString(), "linux.resources.cpu.burst needs kernel 5.14 or later (no cpu.cfs_burst_us on this host)");
            if (c.Idle is { } idle && (idle != 0 || File.Exists(Path.Combine(dir, "cpu.idle"))))
                WriteExisting(dir, "cpu.idle", idle.ToString(), "linux.resources.cpu.idle needs kernel 5.15 or later (no cpu.idle on this host)");
            // real-time budget: the period first, so that a runtime up to the new period fits
            if (ResourceRules.Set(c.RealtimePeriod) is { } rtp) WriteExisting(dir, "cpu.rt_period_us", rtp.ToString(), RtMissing);
            if (ResourceRules.Set(c.RealtimeRuntime) is { } rtr) WriteExisting(dir, "cpu.rt_runtime_us", rtr.ToString(), RtMissing);
        }
        if (ResourceRules.Set(c.Cpus) is { } cpus) CgroupFiles.Write(Dir("cpuset")!, "cpuset.cpus", cpus);
        if (ResourceRules.Set(c.Mems) is { } mems) CgroupFiles.Write(Dir("cpuset")!, "cpuset.mems", mems);
    }

    private const string RtMissing = "real-time cpu limits (realtimeRuntime/realtimePeriod) are not available: this host's kernel has no real-time group scheduling (CONFIG_RT_GROUP_SCHED)";

    /// <summary>blkio: weights (the CFQ files, else BFQ's, as runc picks them) and throttling.</summary>
    private static void ApplyBlockIO(string dir, LinuxBlockIO b)
    {
        var weightFile = File.Exists(Path.Combine(dir, "blkio.weight")) ? "blkio.weight" : "blkio.bfq.weight";
        var weightDeviceFile = weightFile == "blkio.weight" ? "blkio.weight_device" : "blkio.bfq.weight_device";
        const string noWeights = "blockIO weights need a proportional-weight I/O scheduler (BFQ) on this host";
        if (ResourceRules.Set(b.Weight) is { } w) WriteExisting(dir, weightFile, w.ToString(), noWeights + $" (no {weightFile})");
        if (ResourceRules.Set(b.LeafWeight) is { } lw) WriteExisting(dir, "blkio.leaf_weight", lw.ToString(), "blockIO.leafWeight needs the CFQ I/O scheduler (no blkio.leaf_weight on this host)");
        foreach (var d in b.WeightDevice ?? [])
        {
            if (ResourceRules.Set(d.Weight) is { } dw) WriteExisting(dir, weightDeviceFile, $"{d.Major}:{d.Minor} {dw}", noWeights + $" (no {weightDeviceFile})");
            if (ResourceRules.Set(d.LeafWeight) is { } dlw) WriteExisting(dir, "blkio.leaf_weight_device", $"{d.Major}:{d.Minor} {dlw}", "blockIO.weightDevice leafWeight needs the CFQ I/O scheduler (no blkio.leaf_weight_device on this host)");
        }
        Throttle(dir, "blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice);
        Throttle(dir, "blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice);
        Throttle(dir, "blkio.throttle.read_iops_device", b.ThrottleReadIopsDevice);
        Throttle(dir, "blkio.throttle.write_iops_device", b.ThrottleWriteIopsDevice);
    }

    private static void Throttle(string dir, string file, List<LinuxThrottleDevice>? devices)
    {
        foreach (var d in devices ?? [])
            WriteExisting(dir, file, $"{d.Major}:{d.Minor} {d.Rate}", "blockIO throttling is not available: this host's kernel has no block I/O throttling (CONFIG_BLK_DEV_THROTTLING)");
    }

    /// <summary>A write to a file the kernel may not offer: its absence is a clear error, not ENOENT.</summary>
    private static void WriteExisting(string dir, string file, string value, string whenMissing)
    {
        if (!File.Exists(Path.Combine(dir, file))) throw new Core.CrateRunException(whenMissing);
        CgroupFiles.Write(dir, file, value);
    }

    private static Core.CrateRunException Missing(string controller) =>
        new($"the {controller} cgroup controller is not available on this host");

    public void AddProcess(int pid)
    {
        foreach (var dir in Dirs)
            CgroupFiles.Write(dir, "cgroup.procs", pid.ToString());
    }

    public IReadOnlyList<int> Pids()
    {
        var dir = Dir("pids") ?? Dir("memory") ?? Dirs.FirstOrDefault();
        return dir is null ? [] : CgroupFiles.ProcsRecursive(dir);
    }

    /// <summary>memory.oom_control counts kills in "oom_kill N" (kernel 4.13+).</summary>
    public bool OomKilled() => Dir("memory") is { } d && CgroupFiles.KeyedValue(d, "memory.oom_control", "oom_kill") > 0;

    public void Freeze() => SetFreezer("FROZEN");
    public void Thaw() => SetFreezer("THAWED");
    public bool IsFrozen() => Dir("freezer") is { } d && CgroupFiles.Read(d, "freezer.state") == "FROZEN";

    private void SetFreezer(string state)
    {
        var dir = Dir("freezer") ?? throw Missing("freezer");
        for (var i = 0; i < 1000; i++)
        {
            CgroupFiles.Write(dir, "freezer.state", state);
            if (CgroupFiles.Read(dir, "freezer.state") == state) return;
            Thread.Sleep(1);
        }
        throw new Core.CrateRunException($"cgroup: freezer did not reach {state} in {dir}");
    }

    public CgroupStats Stats()
    {
        var mem = Dir("memory");
        var cpu = Dir("cpu");
        var acct = Dir("cpuacct");
        var pids = Dir("pids");
        return new CgroupStats(
            mem is null ? 0 : CgroupFiles.Number(mem, "memory.usage_in_bytes"),
            mem is null ? 0 : CgroupFiles.Number(mem, "memory.limit_in_bytes"),
            mem is null ? 0 : CgroupFiles.Number(mem, "memory.max_usage_in_bytes"),
            pids is null ? 0 : CgroupFiles.Number(pids, "pids.current"),
            pids is null ? 0 : (ulong.TryParse(CgroupFiles.Read(pids, "pids.max"), out var pm) ? pm : 0),
            acct is null ? 0 : CgroupFiles.Number(acct, "cpuacct.usage"),
            cpu is null ? 0 : CgroupFiles.KeyedValue(cpu, "cpu.stat", "nr_throttled"),
            cpu is null ? 0 : CgroupFiles.KeyedValue(cpu, "cpu.stat", "throttled_time"),
            mem is null ? 0 : CgroupFiles.KeyedValue(mem, "memory.oom_control", "oom_kill"));
    }

    public void Destroy()
    {
        foreach (var dir in Dirs)
            CgroupFiles.RemoveTree(dir);
        foreach (var parent in CreatedParents.Reverse())
            CgroupFiles.RemoveIfUnused(parent);
    }

    public void RemoveCreated()
    {
        foreach (var dir in Dirs.Where(_made.Contains))
            CgroupFiles.RemoveTree(dir);
        foreach (var parent in CreatedParents.Reverse())
            CgroupFiles.RemoveIfUnused(parent);
    }
}
