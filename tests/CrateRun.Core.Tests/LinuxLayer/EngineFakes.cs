using CrateRun.Core.Oci;
using CrateRun.Linux.Cgroups;
using CrateRun.Linux.Engine;
using CrateRun.Linux.Process;

namespace CrateRun.Core.Tests.LinuxLayer;

/// <summary>Host processes as a table: a pid is alive until it is SIGKILLed or <see cref="Die"/> is called.</summary>
internal sealed class FakeProcesses : IHostProcesses
{
    private readonly Dictionary<int, ulong> _alive = [];
    public List<(int Pid, int Signal)> Signals { get; } = [];
    /// <summary>Called on every IsAlive: lets a test end a process at the moment the engine looks.</summary>
    public Action<int>? OnIsAlive { get; set; }
    /// <summary>Whether a pid sits in a frozen cgroup: SIGKILL ends it only once it is thawed.</summary>
    public Func<int, bool> IsFrozen { get; set; } = _ => false;

    private readonly Dictionary<int, int> _parents = [];
    public void Spawn(int pid, ulong startTime = 1000, int parentPid = 1)
    {
        _alive[pid] = startTime;
        _parents[pid] = parentPid;
    }
    /// <summary>As the kernel does for the children of a process that ended: they go to init (pid 1).</summary>
    public void Die(int pid)
    {
        _alive.Remove(pid);
        foreach (var child in _parents.Where(p => p.Value == pid).Select(p => p.Key).ToList()) _parents[child] = 1;
    }
    public bool Alive(int pid) => _alive.ContainsKey(pid);

    public ulong StartTime(int pid) => _alive.GetValueOrDefault(pid);

    public bool IsAlive(int pid, ulong startTime)
    {
        OnIsAlive?.Invoke(pid);
        return _alive.TryGetValue(pid, out var s) && (startTime == 0 || s == startTime);
    }

    /// <summary>As /proc shows it: a process in a frozen cgroup is in state D (uninterruptible), any other sleeps (S).</summary>
    public LiveProcess? Look(int pid, ulong startTime) =>
        IsAlive(pid, startTime) ? new LiveProcess(IsFrozen(pid) ? 'D' : 'S', _parents.GetValueOrDefault(pid, 1)) : null;

    public bool Signal(int pid, int signal)
    {
        if (!_alive.ContainsKey(pid)) return false;
        Signals.Add((pid, signal));
        if (signal == 9 && !IsFrozen(pid)) Die(pid);
        return true;
    }

    public bool WaitExit(int pid, ulong startTime, int timeoutMs) => !IsAlive(pid, startTime);
}

/// <summary>One container cgroup: what the engine made, wrote and removed.</summary>
internal sealed class FakeCgroup(string dir, FakeProcesses processes) : ICgroupManager
{
    public string Dir { get; } = dir;
    public bool Exists { get; private set; }
    public bool Frozen { get; set; }
    public bool Oom { get; set; }
    public List<int> Members { get; } = [];
    public List<LinuxResources?> Applied { get; } = [];
    /// <summary>Thrown by the next Apply that sets pids (the limit written after the launch).</summary>
    public Exception? FailPidsLimit { get; set; }

    public IReadOnlyDictionary<string, string> Paths => new Dictionary<string, string> { ["unified"] = Dir };
    public IReadOnlyList<string> CreatedParents => [];
    public void Create() => Exists = true;

    public void Apply(LinuxResources? resources)
    {
        if (resources?.Pids is not null && FailPidsLimit is { } e) throw e;
        Applied.Add(resources);
    }

    public void AddProcess(int pid) => Members.Add(pid);
    public IReadOnlyList<int> Pids() => [.. Members.Where(processes.Alive)];
    public bool OomKilled() => Oom;
    public void Freeze() => Frozen = true;
    public void Thaw() => Frozen = false;
    public int FrozenReads { get; private set; }
    public bool IsFrozen()
    {
        FrozenReads++;
        return Exists && Frozen;
    }
    public CgroupStats Stats() => new(0, 0, 0, 0, 0, 0, 0, 0, Oom ? 1UL : 0);
    public void Destroy() => Exists = false;
    public void RemoveCreated() => Exists = false;
}

/// <summary>A v2-shaped (or, with IsV2 false, v1-shaped) cgroup host whose managers are <see cref="FakeCgroup"/>s, one per directory.</summary>
internal sealed class FakeCgroups(FakeProcesses processes) : ICgroupHost
{
    public Dictionary<string, FakeCgroup> ByDir { get; } = [];
    /// <summary>false: a v1-shaped host (only what the engine asks of the layout changes; the managers stay fakes).</summary>
    public bool IsV2 { get; init; } = true;
    public IReadOnlyList<V1Hierarchy> V1 => [];
    public Dictionary<string, string> V1Paths(string cgroupsPath) => throw new InvalidOperationException("a v2 host has no v1 paths");
    public ICgroupManager ManagerFor(string cgroupsPath) => Get("/fake-cgroup/" + cgroupsPath.TrimStart('/'));
    public ICgroupManager ManagerForPaths(IReadOnlyDictionary<string, string> paths, IReadOnlyList<string>? createdParents = null) =>
        Get(paths.GetValueOrDefault("unified", ""));

    public FakeCgroup Get(string dir)
    {
        if (!ByDir.TryGetValue(dir, out var cg)) ByDir[dir] = cg = new FakeCgroup(dir, processes);
        return cg;
    }
}

/// <summary>
/// The C stage's contract without a clone: the child is put in its cgroup, prepared, its
/// prestart hooks run, then it is READY (alive, waiting on exec.fifo); or the launch fails
/// with <see cref="Failure"/> after <see cref="FailAfterClone"/> steps.
/// </summary>
internal sealed class FakeLauncher(FakeProcesses processes) : IProcessLauncher
{
    public int NextPid { get; set; } = 4242;
    public Exception? Failure { get; set; }
    /// <summary>With <see cref="Failure"/>: the child existed (and is killed by the launcher, as the C stage's parent side does).</summary>
    public bool FailAfterClone { get; set; }
    public List<LaunchSpec> Launched { get; } = [];

    public int Launch(LaunchSpec spec, Launcher.Callbacks callbacks)
    {
        var pid = NextPid;
        if (Failure is not null && !FailAfterClone) throw Failure;
        processes.Spawn(pid);
        callbacks.JoinCgroup?.Invoke(pid);
        callbacks.BeforeGo?.Invoke(pid);
        if (Failure is not null)
        {
            processes.Die(pid);
            throw Failure;
        }
        callbacks.RunHooks?.Invoke(pid);
        Launched.Add(spec);
        return pid;
    }
}

/// <summary>Records each hook stage the engine asks for; the hooks themselves do not run.</summary>
internal sealed class FakeHooks : IHookRunner
{
    public List<(string Phase, string Status, int Count)> Ran { get; } = [];

    public void Run(List<Hook>? hooks, string phase, OciState state, Action<string>? warn = null)
    {
        if (hooks is { Count: > 0 }) Ran.Add((phase, state.Status, hooks.Count));
    }
}
