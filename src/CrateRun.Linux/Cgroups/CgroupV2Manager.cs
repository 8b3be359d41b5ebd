using CrateRun.Core.Oci;

namespace CrateRun.Linux.Cgroups;

/// <summary>cgroup v2: one directory in the unified hierarchy.</summary>
public sealed class CgroupV2Manager(string path) : ICgroupManager
{
    private static readonly string[] Wanted = ["cpu", "cpuset", "memory", "pids", "io"];

    public string Dir { get; } = path;
    public IReadOnlyDictionary<string, string> Paths => new Dictionary<string, string> { ["unified"] = Dir };

    public void Create()
    {
        // Controllers must be enabled in every ancestor's subtree_control, from the top down.
        var root = CgroupLayout.Base;
        var rel = Dir.StartsWith(root + "/", StringComparison.Ordinal) ? Dir[(root.Length + 1)..] : throw new Core.CrateRunException($"cgroup path {Dir} is outside {root}");
        var current = root;
        foreach (var part in rel.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            EnableControllers(current);
            current = Path.Combine(current, part);
            Directory.CreateDirectory(current);
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

    private void Require(string controller)
    {
        var enabled = (CgroupFiles.Read(Dir, "cgroup.controllers") ?? "").Split(' ');
        if (!enabled.Contains(controller))
            throw new Core.CrateRunException($"the {controller} controller is not enabled for {Dir} (not delegated to this cgroup)");
    }

    public void Apply(LinuxResources? r)
    {
        if (r is null) return;
        UnsupportedResources.Check(r);
        if (r.Memory is { } m)
        {
            Require("memory");
            if (m.Limit is not { } l || l <= 0)
            {
                if (m.Swap is { } sw && sw > 0)
                    throw new Core.UsageException("a swap limit needs a memory limit (cgroup v2 limits swap on its own)");
            }
            if (m.Limit is { } limit)
            {
                CgroupFiles.Write(Dir, "memory.max", limit <= 0 ? "max" : limit.ToString());
                // OCI swap is memory+swap; v2's swap.max is swap alone.
                if (File.Exists(Path.Combine(Dir, "memory.swap.max")))
                {
                    var swap = m.Swap ?? limit;
                    if (swap != -1 && swap < limit) throw new Core.UsageException($"memory swap limit {swap} is below the memory limit {limit}");
                    CgroupFiles.Write(Dir, "memory.swap.max", swap == -1 ? "max" : (swap - limit).ToString());
                }
            }
            if (m.Reservation is { } res) CgroupFiles.Write(Dir, "memory.low", res.ToString());
        }
        if (r.Cpu is { } c)
        {
            if (c.Quota is not null || c.Period is not null || c.Shares is not null) Require("cpu");
            if (c.Quota is not null || c.Period is not null)
            {
                var quota = c.Quota is { } q && q > 0 ? q.ToString() : "max";
                CgroupFiles.Write(Dir, "cpu.max", $"{quota} {c.Period ?? 100000}");
            }
            if (c.Shares is { } sh and > 0)
                CgroupFiles.Write(Dir, "cpu.weight", (1 + ((Math.Clamp(sh, 2UL, 262144UL) - 2) * 9999 / 262142)).ToString());
            if (c.Cpus is { Length: > 0 } cpus) { Require("cpuset"); CgroupFiles.Write(Dir, "cpuset.cpus", cpus); }
            if (c.Mems is { Length: > 0 } mems) { Require("cpuset"); CgroupFiles.Write(Dir, "cpuset.mems", mems); }
        }
        if (r.Pids is { } pids)
        {
            Require("pids");
            CgroupFiles.Write(Dir, "pids.max", pids.Limit <= 0 ? "max" : pids.Limit.ToString());
        }
        // No devices controller on v2: an eBPF program decides, built from the same rules
        // (plus the devices every container may use, as on v1).
        if (r.Devices is { Count: > 0 } devices)
            DeviceFilter.Attach(Dir, [.. devices, .. DeviceRules.AlwaysAllowedOci]);
        foreach (var (k, v) in r.Unified ?? [])
        {
            if (k.Contains('/') || k.StartsWith('.')) throw new Core.UsageException($"invalid unified cgroup key '{k}'");
            CgroupFiles.Write(Dir, k, v);
        }
    }

    public void AddProcess(int pid) => CgroupFiles.Write(Dir, "cgroup.procs", pid.ToString());
    public IReadOnlyList<int> Pids() => CgroupFiles.Procs(Dir);
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
        CgroupFiles.Remove(Dir);
    }
}
