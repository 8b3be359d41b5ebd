using System.CommandLine;
using CrateRun.Core;
using CrateRun.Core.Config;
using CrateRun.Linux.Engine;
using CrateRun.Linux.Process;

namespace CrateRun.Cli;

/// <summary>
/// run and create's flags for limits, groups, sysctls, stop and shared namespaces (issue 11),
/// in Docker's syntax; the values are parsed by Core's <see cref="RunFlags"/>.
/// </summary>
public sealed class RunFlagOptions
{
    private readonly Option<string[]> _ulimit = new("--ulimit") { Description = "Resource limit NAME=SOFT[:HARD], e.g. nofile=1024:2048 (-1 or unlimited: no limit)" };
    private readonly Option<string?> _shmSize = new("--shm-size") { Description = "Size of /dev/shm: bytes, or 64m, 1g (default 64m)" };
    private readonly Option<string[]> _groupAdd = new("--group-add") { Description = "An additional group: a gid or a name of the container's /etc/group" };
    private readonly Option<string[]> _sysctl = new("--sysctl") { Description = "A namespaced sysctl KEY=VALUE (net.*, fs.mqueue.*, kernel.msg*, kernel.sem, kernel.shm*)" };
    private readonly Option<string?> _memorySwap = new("--memory-swap") { Description = "Memory plus swap: bytes, or 64m, 1g; -1: unlimited swap (needs --memory)" };
    private readonly Option<string?> _memoryReservation = new("--memory-reservation") { Description = "Memory soft limit: bytes, or 64m, 1g" };
    private readonly Option<string?> _cpuShares = new("--cpu-shares", "-c") { Description = "CPU shares, a relative weight (default 1024)" };
    private readonly Option<string?> _cpusetCpus = new("--cpuset-cpus") { Description = "CPUs the container may use, e.g. 0-1 or 0,2" };
    private readonly Option<string?> _cpusetMems = new("--cpuset-mems") { Description = "Memory nodes the container may use, e.g. 0" };
    private readonly Option<string?> _stopSignal = new("--stop-signal") { Description = "Signal stop sends first (default SIGTERM, or the image's)" };
    private readonly Option<string?> _stopTimeout = new("--stop-timeout") { Description = "Seconds stop waits for the container before SIGKILL (default 10)" };
    private readonly Option<string?> _ipc = new("--ipc") { Description = "IPC namespace: private (default: its own), shareable (its own, others may join it), none (its own, no /dev/shm), host, or container:NAME|ID of a shareable one" };
    private readonly Option<string?> _pid = new("--pid") { Description = "PID namespace: host, or container:NAME|ID (default: its own)" };
    private readonly Option<string?> _uts = new("--uts") { Description = "UTS namespace: host, or container:NAME|ID (default: its own)" };
    private readonly Option<string?> _oomScoreAdj = new("--oom-score-adj") { Description = "The process's OOM score adjustment, -1000 to 1000" };

    public void AddTo(Command cmd)
    {
        foreach (var o in new Option[]
        {
            _ulimit, _shmSize, _groupAdd, _sysctl, _memorySwap, _memoryReservation, _cpuShares, _cpusetCpus, _cpusetMems,
            _stopSignal, _stopTimeout, _ipc, _pid, _uts, _oomScoreAdj,
        })
            cmd.Options.Add(o);
    }

    /// <summary>
    /// The flags' values, checked before anything is made; <paramref name="groupFile"/> is the
    /// container's /etc/group (for --group-add names), <paramref name="engine"/> finds the
    /// containers whose namespaces are joined.
    /// </summary>
    public Values Parse(ParseResult p, ContainerEngine engine, string? groupFile)
    {
        var stopSignal = p.GetValue(_stopSignal);
        if (stopSignal is not null)
        {
            try { Signals.Parse(stopSignal); }
            catch (UsageException) { throw new UsageException($"invalid --stop-signal '{stopSignal}': not a signal name or number"); }
        }
        var shared = new Dictionary<string, string?>();
        var (ipcMode, ipcContainer) = RunFlags.ParseIpcMode(p.GetValue(_ipc) ?? RunFlags.IpcPrivate);
        if (ipcMode == "host") shared["ipc"] = null;
        if (ipcContainer is not null)
        {
            shared["ipc"] = engine.NamespacePathOf(ipcContainer, "ipc", _ipc.Name);
            ipcMode = "container:" + engine.Store.Resolve(ipcContainer); // as Docker keeps it: the donor's full id
        }
        foreach (var (type, option) in new[] { ("pid", _pid), ("uts", _uts) })
        {
            if (p.GetValue(option) is not { } mode) continue;
            var (host, container) = RunFlags.ParseNamespaceMode(mode, option.Name);
            shared[type] = host ? null : engine.NamespacePathOf(container!, type, option.Name);
        }
        return new Values(
            [.. (p.GetValue(_ulimit) ?? []).Select(RunFlags.ParseUlimit)],
            p.GetValue(_shmSize) is { } shm ? Quantities.ParseMemory(shm, "--shm-size") : null,
            RunFlags.ResolveGroups(p.GetValue(_groupAdd) ?? [], groupFile),
            new Dictionary<string, string>((p.GetValue(_sysctl) ?? []).Select(RunFlags.ParseSysctl)),
            p.GetValue(_memorySwap) is { } swap ? RunFlags.ParseMemorySwap(swap) : null,
            p.GetValue(_memoryReservation) is { } res ? Quantities.ParseMemory(res, "--memory-reservation") : null,
            p.GetValue(_cpuShares) is { } shares ? RunFlags.ParseCpuShares(shares) : null,
            p.GetValue(_cpusetCpus) is { } cpus ? RunFlags.ParseCpuset(cpus, "--cpuset-cpus", HostFacts.OnlineCpus) : null,
            p.GetValue(_cpusetMems) is { } mems ? RunFlags.ParseCpuset(mems, "--cpuset-mems", HostFacts.OnlineMemoryNodes) : null,
            p.GetValue(_oomScoreAdj) is { } adj ? RunFlags.ParseOomScoreAdj(adj) : null,
            shared,
            ipcMode,
            stopSignal,
            p.GetValue(_stopTimeout) is { } timeout ? RunFlags.ParseStopTimeout(timeout) : null);
    }

    public sealed record Values(
        List<Core.Oci.PosixRlimit> Ulimits, long? ShmSize, List<uint> GroupAdd, Dictionary<string, string> Sysctls,
        long? MemorySwap, long? MemoryReservation, ulong? CpuShares, string? CpusetCpus, string? CpusetMems, int? OomScoreAdj,
        Dictionary<string, string?> SharedNamespaces, string IpcMode, string? StopSignal, int? StopTimeout);
}
