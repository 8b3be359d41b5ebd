using CrateRun.Core.Oci;

namespace CrateRun.Linux.Cgroups;

/// <summary>cgroup v1: one directory per controller hierarchy.</summary>
public sealed class CgroupV1Manager(IReadOnlyDictionary<string, string> paths) : ICgroupManager
{
    public IReadOnlyDictionary<string, string> Paths { get; } = paths;

    private string? Dir(string controller) => Paths.TryGetValue(controller, out var d) ? d : null;
    private IEnumerable<string> Dirs => Paths.Values.Distinct();

    public void Create()
    {
        foreach (var dir in Dirs)
            Directory.CreateDirectory(dir);
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
        UnsupportedResources.Check(r);
        if (r.Memory is { } m)
        {
            var dir = Dir("memory") ?? throw Missing("memory");
            if (m.Limit is { } limit)
            {
                // memsw must stay >= limit: when lowering, the limit goes first; when raising, memsw first.
                var hasSwapFile = File.Exists(Path.Combine(dir, "memory.memsw.limit_in_bytes"));
                var swap = m.Swap ?? (hasSwapFile ? limit : (long?)null);
                if (swap is { } sw && hasSwapFile && sw != -1 && sw < limit)
                    throw new Core.UsageException($"memory swap limit {sw} is below the memory limit {limit}");
                if (swap is { } s && hasSwapFile)
                {
                    TryWriteOrdered(dir, limit, s);
                }
                else
                {
                    CgroupFiles.Write(dir, "memory.limit_in_bytes", limit.ToString());
                }
            }
            if (m.Reservation is { } res) CgroupFiles.Write(dir, "memory.soft_limit_in_bytes", res.ToString());
            if (m.Swappiness is { } swp && swp <= 100) CgroupFiles.Write(dir, "memory.swappiness", swp.ToString());
            if (m.DisableOOMKiller == true) CgroupFiles.Write(dir, "memory.oom_control", "1");
        }
        if (r.Cpu is { } c)
        {
            var dir = Dir("cpu") ?? throw Missing("cpu");
            if (c.Shares is { } sh) CgroupFiles.Write(dir, "cpu.shares", sh.ToString());
            if (c.Period is { } p) CgroupFiles.Write(dir, "cpu.cfs_period_us", p.ToString());
            if (c.Quota is { } q) CgroupFiles.Write(dir, "cpu.cfs_quota_us", q.ToString());
            if (c.Cpus is { Length: > 0 } cpus) CgroupFiles.Write(Dir("cpuset") ?? throw Missing("cpuset"), "cpuset.cpus", cpus);
            if (c.Mems is { Length: > 0 } mems) CgroupFiles.Write(Dir("cpuset") ?? throw Missing("cpuset"), "cpuset.mems", mems);
        }
        if (r.Pids is { } pids)
            CgroupFiles.Write(Dir("pids") ?? throw Missing("pids"), "pids.max", pids.Limit <= 0 ? "max" : pids.Limit.ToString());
        if (r.Devices is { Count: > 0 } devices && Dir("devices") is { } dd)
            foreach (var rule in DeviceRules.V1(devices))
                CgroupFiles.Write(dd, rule.Allow ? "devices.allow" : "devices.deny", rule.Text);
    }

    private static void TryWriteOrdered(string dir, long limit, long swap)
    {
        var current = (long)CgroupFiles.Number(dir, "memory.limit_in_bytes");
        if (limit <= current || current == 0)
        {
            CgroupFiles.Write(dir, "memory.limit_in_bytes", limit.ToString());
            CgroupFiles.Write(dir, "memory.memsw.limit_in_bytes", swap.ToString());
        }
        else
        {
            CgroupFiles.Write(dir, "memory.memsw.limit_in_bytes", swap.ToString());
            CgroupFiles.Write(dir, "memory.limit_in_bytes", limit.ToString());
        }
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
        return dir is null ? [] : CgroupFiles.Procs(dir);
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
            CgroupFiles.Remove(dir);
    }
}
