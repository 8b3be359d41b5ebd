using System.Runtime.InteropServices;
using CrateRun.Core;
using CrateRun.Core.Config;
using CrateRun.Core.Oci;
using CrateRun.Core.State;
using CrateRun.Linux;
using CrateRun.Linux.Engine;
using CrateRun.Linux.Process;

namespace CrateRun.Cli;

/// <summary>
/// craterun run: flags → OCI config in the container's directory (its bundle) → a monitor
/// that runs create + start through the engine → output live here, exit code propagated.
/// </summary>
public static class RunFlow
{
    /// <summary>With <paramref name="createOnly"/> (Docker's create): registered and configured, no monitor, nothing started.</summary>
    public static int Run(ContainerEngine engine, RunOptions options, bool detach, bool autoRemove, string? cidfile, bool createOnly = false)
    {
        var id = ContainerId.New();
        var spec = SpecBuilder.Build(id, options);
        if (options.Network is { } network) Core.Network.NetworkSpec.Apply(spec, network, engine.Store.Dir(id), options.JoinNetns);
        // the monitor, started before parsing; it is registered with the container
        (int Pid, SafeFd? Control) monitor = createOnly ? (0, null) : DockerCli.EarlyMonitor
            ?? throw new CrateRunException("cannot start the container's monitor (craterun _monitor)");
        var (monitorPid, control) = monitor;
        // the cidfile is claimed before anything else exists: a bad path fails with nothing to undo
        using var cid = cidfile is null ? null : CreateCidFile(cidfile);
        var record = new ContainerRecord
        {
            Id = id,
            MonitorPid = monitorPid,
            MonitorStartTime = createOnly ? 0 : Processes.StartTime(monitorPid),
            Name = options.Name,
            Bundle = engine.Store.Dir(id),
            Rootfs = options.Rootfs,
            Command = [.. options.Command],
            Created = DateTimeOffset.UtcNow,
            AutoRemove = autoRemove,
            Tty = options.Tty,
            Hostname = spec.Hostname,
            Limits = new ContainerLimits
            {
                MemoryBytes = options.Memory, Pids = options.Pids, CpuQuota = options.Cpu?.Quota, CpuPeriod = options.Cpu?.Period,
            },
            Annotations = spec.Annotations,
            Network = options.Network,
            Labels = options.Labels.Count > 0 ? new Dictionary<string, string>(options.Labels) : null,
            KeepOnFailure = createOnly,
            StopSignal = options.StopSignal,
            StopTimeout = options.StopTimeout,
            RestartPolicy = options.RestartPolicy is { IsNo: false } restart ? restart.ToString() : null,
            Healthcheck = options.Healthcheck,
            IpcMode = options.IpcMode,
        };
        try
        {
            engine.Register(record);
        }
        catch
        {
            cid?.Abandon();
            throw;
        }
        Timing.Mark("registered");
        try
        {
            ContainerStore.WriteAtomic(engine.Store.PathOf(id, ContainerEngine.ConfigFile), OciJson.WriteUtf8Bytes(spec, indented: true));
            Timing.Mark("config written");
        }
        catch (Exception e)
        {
            engine.Store.RemoveDir(id);
            cid?.Abandon();
            if (e is IOException or UnauthorizedAccessException) throw engine.Store.Unusable(e);
            throw;
        }
        try
        {
            cid?.Write(id);
        }
        catch (IOException e)
        {
            engine.Store.RemoveDir(id);
            cid?.Abandon();
            throw new CrateRunException($"cannot write --cidfile {cidfile}: {e.Message}");
        }
        if (createOnly)
        {
            engine.MarkConfigured(id);
            Console.WriteLine(id);
            return 0;
        }

        ArgumentNullException.ThrowIfNull(control); // run always has its monitor (checked above)
        int code;
        using (control)
        {
            if (engine.Explainer is { } explain) ContainerMonitor.ExplainTo(control, explain.Format, 2); // --explain: the monitor writes to our stderr
            ContainerMonitor.Assign(control, engine.Store.Root, id, options.Interactive, options.Tty, detach, ContainerEngine.CgroupsPathOf(spec, id));
            Timing.Mark("monitor assigned");
            code = Attach(engine, id, control, options, detach);
        }
        // In the foreground the monitor is done once it reported the exit: reap it. Detached, or
        // with a restart policy (it runs the container again), it outlives us.
        if (!detach && record.RestartPolicy is null) Launcher.Reap(monitorPid);
        Timing.Mark("monitor reaped");
        return code;
    }

    /// <summary>--cidfile: made exclusively up front (it must not exist), filled with the id once registered.</summary>
    private sealed class CidFile(string path, FileStream stream) : IDisposable
    {
        public void Write(string id)
        {
            stream.Write(System.Text.Encoding.ASCII.GetBytes(id));
            stream.Flush();
        }

        /// <summary>The run failed: the file goes.</summary>
        public void Abandon()
        {
            stream.Dispose();
            File.Delete(path);
        }

        public void Dispose() => stream.Dispose();
    }

    private static CidFile CreateCidFile(string path)
    {
        try
        {
            return new CidFile(path, new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite));
        }
        catch (IOException) when (File.Exists(path) || Directory.Exists(path))
        {
            throw new UsageException($"invalid --cidfile {path}: it already exists");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"invalid --cidfile {path}: {e.Message}");
        }
    }

    internal static int Attach(ContainerEngine engine, string id, SafeFd control, RunOptions options, bool detach)
    {
        SafeFd? master = null;
        int pid;
        while (true)
        {
            var message = MonitorMessage.ReceiveFromMonitor(control.Fd, out var fd);
            if (message is null) return MonitorGone(engine, id);
            if (message is MonitorMessage.TerminalMaster) master = new SafeFd(fd);
            if (message is MonitorMessage.Failed failed)
            {
                Console.Error.WriteLine("craterun: " + (failed.Message.Length > 0 ? failed.Message : "container failed to start"));
                return failed.Code;
            }
            if (message is MonitorMessage.Started started)
            {
                pid = started.Pid;
                break;
            }
        }
        using (master)
        {
            if (detach)
            {
                Console.WriteLine(id);
                return 0;
            }
            using var forward = SignalForwarding.To(pid);
            using var raw = master is not null && options.Interactive ? Terminal.MakeRaw(0) : null;
            using var winch = master is not null ? SignalForwarding.WindowSize(master.Fd) : null;
            while (true)
            {
                var message = MonitorMessage.ReceiveFromMonitor(control.Fd, out var fd);
                if (message is null) return MonitorGone(engine, id);
                if (fd >= 0) new SafeFd(fd).Dispose(); // a pty master again: the first one is in use
                if (message is MonitorMessage.Exited exited) return exited.Code;
            }
        }
    }

    /// <summary>The monitor vanished without saying how the container ended: read what the state says.</summary>
    private static int MonitorGone(ContainerEngine engine, string id)
    {
        var r = engine.Store.TryLoad(id);
        if (r?.ExitCode is { } code) return code;
        Console.Error.WriteLine($"craterun: the monitor of container {id} exited unexpectedly");
        return ExitCodes.RuntimeError;
    }
}

/// <summary>Signals sent to craterun that belong to the container.</summary>
public sealed class SignalForwarding : IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = [];

    /// <summary>SIGINT, SIGTERM, SIGHUP and SIGQUIT go to <paramref name="pid"/> instead of ending us.</summary>
    public static SignalForwarding To(int pid)
    {
        var f = new SignalForwarding();
        foreach (var sig in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT })
        {
            f._registrations.Add(PosixSignalRegistration.Create(sig, ctx =>
            {
                ctx.Cancel = true;
                var number = ctx.Signal switch
                {
                    PosixSignal.SIGINT => 2,
                    PosixSignal.SIGTERM => 15,
                    PosixSignal.SIGHUP => 1,
                    PosixSignal.SIGQUIT => 3,
                    _ => 15,
                };
                Processes.Signal(pid, number);
            }));
        }
        return f;
    }

    /// <summary>Keeps the pty's size equal to our terminal's, now and on every SIGWINCH.</summary>
    public static SignalForwarding WindowSize(int master)
    {
        var f = new SignalForwarding();
        var from = Terminal.IsTerminal(0) ? 0 : 1;
        Terminal.CopySize(from, master);
        f._registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGWINCH, ctx =>
        {
            ctx.Cancel = true;
            Terminal.CopySize(from, master);
        }));
        return f;
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
    }
}
