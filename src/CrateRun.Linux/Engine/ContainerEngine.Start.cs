using CrateRun.Core;
using CrateRun.Core.State;
using CrateRun.Linux.Process;

namespace CrateRun.Linux.Engine;

/// <summary>
/// The Docker-like face's create/start/restart: a container that exists as config and metadata
/// only (<see cref="ContainerStatus.Configured"/>, or exited) is handed to a new monitor, which
/// creates and starts it exactly as for <c>run</c> (ContainerMonitor.Run).
/// </summary>
public sealed partial class ContainerEngine
{
    /// <summary>`craterun create`: the registered container, its config written, waits for `start`.</summary>
    public void MarkConfigured(string id)
    {
        using var _ = Store.Lock(id);
        var r = Store.Load(id);
        r.Status = ContainerStatus.Configured;
        Store.Save(r);
    }

    /// <summary>
    /// Docker's start: claims a configured or exited container for a new monitor, which is
    /// spawned here and returned (its control socket is the caller's to assign). Null when the
    /// container is already running or paused (Docker's start then does nothing).
    /// </summary>
    public (int Pid, SafeFd Control)? BeginStart(string id)
    {
        using var _ = Store.Lock(id);
        var r = Store.Load(id);
        var status = StatusOf(r);
        if (status is ContainerStatus.Running or ContainerStatus.Paused) return null;
        if (!ContainerStatus.CanStartAgain(status))
            throw new CrateRunException($"container {ContainerId.Short(id)} cannot be started: it is {status}");
        var (pid, control) = ContainerMonitor.Spawn();
        if (status == ContainerStatus.Exited) r.RestartCount++;
        r.Status = ContainerStatus.Creating;
        r.Pid = 0;
        r.PidStartTime = 0;
        r.ExitCode = null;
        r.Finished = null;
        r.OomKilled = false;
        r.MonitorPid = pid;
        r.MonitorStartTime = Processes.StartTime(pid);
        r.KeepOnFailure = true; // a container the user started by name stays when a later start fails
        r.StoppedByUser = false; // its restart policy applies again
        Store.Save(r);
        return (pid, control);
    }

    /// <summary>A start of a kept container failed: no process, no cgroup stay; the container is exited with <paramref name="code"/>.</summary>
    public void RecordFailedStart(string id, int code)
    {
        var r = Store.TryLoad(id);
        if (r is null) return;
        if (r.Pid > 0 && Processes.IsAlive(r.Pid, r.PidStartTime))
        {
            Processes.Signal(r.Pid, Interop.Sys.SIGKILL);
            Processes.WaitExit(r.Pid, r.PidStartTime, 5000);
        }
        RecordExit(id, code);
    }

    /// <summary>Docker's container prune: every container without a process (configured or exited) goes. Returns their ids.</summary>
    public List<string> Prune(Func<ContainerRecord, bool> selected)
    {
        var removed = new List<string>();
        foreach (var r in Store.List())
        {
            if (StatusOf(r) is not (ContainerStatus.Exited or ContainerStatus.Configured) || !selected(r)) continue;
            try
            {
                Delete(r.Id, force: false);
                removed.Add(r.Id);
            }
            catch (CrateRunException e)
            {
                Warn($"container {ContainerId.Short(r.Id)}: {e.Message}"); // started meanwhile: it stays
            }
        }
        return removed;
    }
}

/// <summary>Docker's update: new limits for a container, applied to its cgroup when it runs and kept for its next start.</summary>
public sealed partial class ContainerEngine
{
    /// <summary>
    /// Applies <paramref name="memory"/>, <paramref name="cpu"/> and <paramref name="pids"/> (null: unchanged)
    /// to the running cgroup (the same code as the OCI face's update), then records them in the
    /// metadata and in config.json, so that start and restart keep them.
    /// </summary>
    public void UpdateLimits(string id, long? memory, (long Quota, ulong Period)? cpu, long? pids)
    {
        var resources = new Core.Oci.LinuxResources
        {
            Memory = memory is { } m ? new Core.Oci.LinuxMemory { Limit = m, Swap = m } : null,
            Cpu = cpu is { } c ? new Core.Oci.LinuxCpu { Quota = c.Quota, Period = c.Period } : null,
            Pids = pids is { } p ? new Core.Oci.LinuxPids { Limit = p } : null,
        };
        var r = Store.Load(id);
        if (CurrentStatus(r) is ContainerStatus.Running or ContainerStatus.Created) Update(id, resources);
        using var _ = Store.Lock(id);
        r = Store.Load(id);
        if (memory is not null) r.Limits.MemoryBytes = memory;
        if (pids is not null) r.Limits.Pids = pids;
        if (cpu is { } cc) (r.Limits.CpuQuota, r.Limits.CpuPeriod) = (cc.Quota, cc.Period);
        var spec = LoadSpec(r);
        spec.Linux ??= new Core.Oci.Linux();
        spec.Linux.Resources ??= new Core.Oci.LinuxResources();
        if (resources.Memory is not null) spec.Linux.Resources.Memory = resources.Memory;
        if (resources.Cpu is not null) spec.Linux.Resources.Cpu = resources.Cpu;
        if (resources.Pids is not null) spec.Linux.Resources.Pids = resources.Pids;
        ContainerStore.WriteAtomic(Path.Combine(r.Bundle, ConfigFile), Core.Oci.OciJson.WriteUtf8Bytes(spec, indented: true));
        Store.Save(r);
    }
}
