using CrateRun.Core;
using CrateRun.Core.State;
using CrateRun.Linux.Process;

namespace CrateRun.Linux.Engine;

/// <summary>
/// --restart, the engine's side: a restarting container (exited, its monitor waiting out the
/// back-off), and the user's stop that ends any policy (Docker cancels its restart manager on
/// stop, kill and rm -f). The monitor decides with Core's RestartPolicy and calls these.
/// </summary>
public sealed partial class ContainerEngine
{
    /// <summary>The exit just recorded will be followed by a restart: "restarting", one more restart counted. False if the user stopped it meanwhile.</summary>
    public bool MarkRestarting(string id)
    {
        using var _ = Store.Lock(id);
        var r = Store.TryLoad(id);
        if (r is null || r.StoppedByUser) return false;
        r.Status = ContainerStatus.Restarting;
        r.RestartCount++;
        Store.Save(r);
        return true;
    }

    /// <summary>
    /// The back-off is over: the container becomes a fresh one to create (its old pid forgotten),
    /// kept when the start fails. False, and exited, when the user stopped or removed it meanwhile.
    /// </summary>
    public bool BeginPolicyRestart(string id)
    {
        using var _ = Store.Lock(id);
        var r = Store.TryLoad(id);
        if (r is null) return false;
        if (r.StoppedByUser)
        {
            r.Status = ContainerStatus.Exited;
            Store.Save(r);
            return false;
        }
        r.Status = ContainerStatus.Creating;
        r.Pid = 0;
        r.PidStartTime = 0;
        r.ExitCode = null;
        r.OomKilled = false;
        r.KeepOnFailure = true;
        Store.Save(r);
        return true;
    }

    /// <summary>
    /// The user stops or kills the container: no restart policy brings it back (until a start).
    /// Returns true when it was waiting to restart; its monitor then ends within a poll.
    /// </summary>
    public bool CancelRestart(string id)
    {
        using var _ = Store.Lock(id);
        var r = Store.Load(id);
        if (r.RestartPolicy is null) return false;
        r.StoppedByUser = true;
        Store.Save(r);
        return CurrentStatus(r) == ContainerStatus.Restarting;
    }

    /// <summary>
    /// A user's stop or rm that comes while the monitor is creating the container again (the
    /// back-off just ended) waits for the start to finish, so that it finds the process to kill.
    /// </summary>
    private void WaitWhileRestartCreates(string id)
    {
        for (var i = 0; i < 100; i++)
        {
            var r = Store.TryLoad(id);
            if (r is not { RestartPolicy: not null, Status: ContainerStatus.Creating } || r.MonitorPid <= 0
                || !Processes.IsAlive(r.MonitorPid, r.MonitorStartTime))
            {
                if (i > 0 && r is not null) CancelRestart(id); // create saved the record it had loaded: the user's stop again
                return;
            }
            Thread.Sleep(50);
        }
    }

    /// <summary>A restarting container whose monitor is gone will not restart: it is exited.</summary>
    private static bool RestartingWithoutMonitor(ContainerRecord r, IHostProcesses processes) =>
        r.Status == ContainerStatus.Restarting && (r.MonitorPid <= 0 || !processes.IsAlive(r.MonitorPid, r.MonitorStartTime));
}
