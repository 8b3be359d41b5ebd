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
