using CrateRun.Core.Docker;
using CrateRun.Core.State;

namespace CrateRun.Linux.Engine;

/// <summary>
/// --restart: after an exit the monitor asks the policy (Core's <see cref="RestartPolicy.Decide"/>)
/// and carries out its answer: the container is "restarting" for the back-off, then created
/// and started again by this same monitor. The back-off is the monitor's own state, like
/// Docker's restart manager: kept in its environment, which survives its execs into monitor.c and back.
/// </summary>
public static partial class ContainerMonitor
{
    /// <summary>The wait before the last restart, in ms (the monitor's environment).</summary>
    private const string RestartDelayVariable = "CRATERUN_RESTART_DELAY_MS";

    /// <summary>How often the wait looks for a user's stop (or rm) of the restarting container.</summary>
    private const int RestartPollMs = 50;

    /// <summary>
    /// True once the container may be created again: the policy said restart, the back-off has
    /// passed, and nobody stopped or removed it meanwhile. The CLI was told the exit already;
    /// a foreground CLI leaves then, so the restarted container's output goes to its logs only.
    /// </summary>
    private static bool WaitToRestart(ContainerEngine engine, ContainerRecord exited, int code)
    {
        if (exited.RestartPolicy is not { } text || exited.AutoRemove) return false;
        var previous = TimeSpan.FromMilliseconds(long.TryParse(Environment.GetEnvironmentVariable(RestartDelayVariable), out var ms) ? ms : 0);
        var ranFor = exited.Finished - exited.Started ?? TimeSpan.Zero;
        var decision = RestartPolicy.Parse(text).Decide(code, exited.StoppedByUser, exited.RestartCount, ranFor, previous);
        if (!decision.Restart || !engine.MarkRestarting(exited.Id)) return false;
        Environment.SetEnvironmentVariable(RestartDelayVariable, ((long)decision.Delay.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
        DetachFromCli();
        var deadline = Environment.TickCount64 + (long)decision.Delay.TotalMilliseconds;
        while (true)
        {
            var left = deadline - Environment.TickCount64;
            if (left <= 0) break;
            Thread.Sleep((int)Math.Min(left, RestartPollMs));
            if (engine.Store.TryLoad(exited.Id) is not { StoppedByUser: false }) break; // stopped (or removed) meanwhile
        }
        return engine.BeginPolicyRestart(exited.Id);
    }

    /// <summary>
    /// The CLI that ran the container in the foreground has its exit code and leaves: the
    /// container's next runs write nowhere but their logs (as Docker's daemon does).
    /// </summary>
    private static void DetachFromCli()
    {
        var devNull = Interop.Sys.open("/dev/null", Interop.Sys.O_RDWR | Interop.Sys.O_CLOEXEC, 0);
        if (devNull < 0) return;
        for (var fd = 0; fd < 3; fd++) Interop.Sys.dup2(devNull, fd);
        Interop.Sys.close(devNull);
    }
}
