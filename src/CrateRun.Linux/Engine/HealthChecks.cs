using System.Text.Json;
using CrateRun.Core;
using CrateRun.Core.Docker;
using CrateRun.Core.State;
using CrateRun.Linux.Process;

namespace CrateRun.Linux.Engine;

/// <summary>
/// --health-cmd: the container's monitor (monitor.c, h:INTERVAL) starts one probe per interval,
/// <c>craterun _monitor-health ROOT ID</c>, which runs the command in the container as exec
/// does, with the container's own user, environment and working directory, kills it at the
/// timeout, and records the result with Core's <see cref="HealthRules.Next"/> in the
/// container's health.json (Docker's State.Health, which ps and inspect show).
/// </summary>
public static class HealthChecks
{
    public const string ProbeArg = "_monitor-health";
    public const string FileName = "health.json";

    /// <summary>A (re)started container's health: "starting", no probes yet.</summary>
    public static void Reset(ContainerStore store, string id) =>
        ContainerStore.WriteAtomic(store.PathOf(id, FileName), JsonSerializer.SerializeToUtf8Bytes(new HealthState(), StateJsonWriteContext.Default.HealthState));

    /// <summary>The recorded health, or null when there is none (no check, or not started).</summary>
    public static HealthState? Read(ContainerStore store, string id)
    {
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(store.PathOf(id, FileName)), StateJsonContext.Default.HealthState); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException) { return null; }
    }

    /// <summary>The probe's main: one run of the check, recorded. Nothing to do once the container is not running.</summary>
    public static int Probe(string root, string id)
    {
        var engine = new ContainerEngine(new ContainerStore(root));
        var r = engine.Store.TryLoad(id);
        if (r?.Healthcheck is not { } check || ContainerEngine.CurrentStatus(r) != ContainerStatus.Running) return 0;
        var start = DateTimeOffset.UtcNow;
        var (exitCode, output) = RunCommand(engine, r, check);
        var probe = new HealthProbe { Start = start, End = DateTimeOffset.UtcNow, ExitCode = exitCode, Output = output };
        using (engine.Store.Lock(id))
        {
            // a probe of a container that was restarted or stopped meanwhile says nothing of it now
            if (engine.Store.TryLoad(id) is not { } now || now.Pid != r.Pid) return 0;
            var previous = Read(engine.Store, id);
            var state = HealthRules.Next(previous, probe, check, r.Started ?? r.Created);
            ContainerStore.WriteAtomic(engine.Store.PathOf(id, FileName), JsonSerializer.SerializeToUtf8Bytes(state, StateJsonWriteContext.Default.HealthState));
            if (state.Status != (previous?.Status ?? HealthRules.Starting)) engine.RecordHealthStatus(now, state.Status); // Docker: only a change is an event
        }
        return 0;
    }

    /// <summary>The check's command in the container: its exit code (-1: it did not run, or ran out of time) and output.</summary>
    private static (int ExitCode, string Output) RunCommand(ContainerEngine engine, ContainerRecord r, HealthCheck check)
    {
        string[] args = check.Test switch
        {
            ["CMD-SHELL", .. var shell] when shell.Count > 0 => ["/bin/sh", "-c", .. shell], // Docker: the shell, then every word after CMD-SHELL
            ["CMD", .. var argv] when argv.Count > 0 => [.. argv],
            _ => throw new UsageException($"container {r.Id}: unknown health check test {string.Join(' ', check.Test)}"),
        };
        var spec = ContainerEngine.LoadSpec(r);
        var process = Core.Oci.ExecProcess.Build(spec.Process, new Core.Oci.ExecRequest { Args = args });
        using var devNull = Fds.DevNull();
        using var output = new SafeFd(Interop.Check(Interop.Sys.memfd_create("craterun-health", 1 /* MFD_CLOEXEC */), "memfd_create", "health output"));
        int pid;
        var options = new ExecOptions { Process = process, Stdio = [devNull.Fd, output.Fd, output.Fd], Record = r, Spec = spec };
        try
        {
            pid = engine.Exec(r.Id, options); // Docker's probes are execs too: exec_create, exec_start, exec_die events
        }
        catch (CrateRunException e)
        {
            return (-1, e.Message);
        }
        int? status;
        using (var wait = new IoPump()) status = wait.RunUntilExit(pid, (int)Math.Min(int.MaxValue, check.TimeoutMs));
        if (status is null)
        {
            Processes.Signal(pid, Interop.Sys.SIGKILL);
            engine.RecordExecExit(r.Id, options.ExecId, Processes.ExitCode(Launcher.Reap(pid)));
            return (-1, HealthRules.TimeoutOutput(check));
        }
        var exitCode = Processes.ExitCode(status.Value);
        engine.RecordExecExit(r.Id, options.ExecId, exitCode);
        return (exitCode, HealthRules.Output(File.ReadAllBytes($"/proc/self/fd/{output.Fd}")));
    }
}
