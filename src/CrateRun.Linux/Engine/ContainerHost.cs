using CrateRun.Core.Oci;
using CrateRun.Linux.Cgroups;
using CrateRun.Linux.Process;

namespace CrateRun.Linux.Engine;

/// <summary>The host's processes, as the engine's lifecycle sees them (the real ones: <see cref="Process.Processes"/>).</summary>
public interface IHostProcesses
{
    /// <summary>Start time in clock ticks (0 when gone), recorded so a reused pid is not taken for the container's.</summary>
    ulong StartTime(int pid);
    /// <summary>Exists, is not a zombie, and has <paramref name="startTime"/> (0: any).</summary>
    bool IsAlive(int pid, ulong startTime);
    /// <summary><see cref="IsAlive"/>, with the live process's state letter and parent ('?' and 0: not known); null when not alive.</summary>
    LiveProcess? Look(int pid, ulong startTime) => IsAlive(pid, startTime) ? new LiveProcess('?', 0) : null;
    /// <summary>Sends a signal; false when the process is gone.</summary>
    bool Signal(int pid, int signal);
    /// <summary>Waits for a process (not necessarily a child) to end; false on timeout.</summary>
    bool WaitExit(int pid, ulong startTime, int timeoutMs);
}

/// <summary>Starts a planned process (the real one: <see cref="Process.Launcher"/>, the C stage); returns its pid once READY.</summary>
public interface IProcessLauncher
{
    int Launch(LaunchSpec spec, Launcher.Callbacks callbacks);
}

/// <summary>Runs one stage's OCI hooks (the real one: <see cref="Engine.Hooks"/>); with a warn, failures only warn.</summary>
public interface IHookRunner
{
    void Run(List<Hook>? hooks, string phase, OciState state, Action<string>? warn = null);
}

/// <summary>
/// What the engine's lifecycle asks of the host, in one place, so that the lifecycle rules
/// (rollback, delete, start, exit) run in unit tests against fakes. <see cref="Real"/> is the host.
/// </summary>
public sealed record ContainerHost
{
    public IHostProcesses Processes { get; init; } = RealProcesses.Instance;
    public IProcessLauncher Launcher { get; init; } = RealLauncher.Instance;
    public IHookRunner Hooks { get; init; } = RealHooks.Instance;
    /// <summary>The cgroup layout and its managers; null: detected from /sys/fs/cgroup on first use.</summary>
    public ICgroupHost? Cgroups { get; init; }
    /// <summary>Root (CAP_SYS_ADMIN): the container gets a cgroup even without limits, and v1 hierarchies are bound in.</summary>
    public bool IsPrivileged { get; init; } = Environment.IsPrivilegedProcess;

    public static ContainerHost Real { get; } = new();

    private sealed class RealProcesses : IHostProcesses
    {
        public static readonly RealProcesses Instance = new();
        public ulong StartTime(int pid) => Process.Processes.StartTime(pid);
        public bool IsAlive(int pid, ulong startTime) => Process.Processes.IsAlive(pid, startTime);
        public LiveProcess? Look(int pid, ulong startTime) => Process.Processes.Look(pid, startTime);
        public bool Signal(int pid, int signal) => Process.Processes.Signal(pid, signal);
        public bool WaitExit(int pid, ulong startTime, int timeoutMs) => Process.Processes.WaitExit(pid, startTime, timeoutMs);
    }

    private sealed class RealLauncher : IProcessLauncher
    {
        public static readonly RealLauncher Instance = new();
        public int Launch(LaunchSpec spec, Launcher.Callbacks callbacks) => Process.Launcher.Launch(spec, callbacks);
    }

    private sealed class RealHooks : IHookRunner
    {
        public static readonly RealHooks Instance = new();
        public void Run(List<Hook>? hooks, string phase, OciState state, Action<string>? warn = null) => Engine.Hooks.Run(hooks, phase, state, warn);
    }
}
