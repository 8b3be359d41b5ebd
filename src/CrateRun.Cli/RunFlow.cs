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
/// craterun run: flags → OCI config in the container's directory (its bundle) → create + start
/// through the engine → output live, exit code propagated. All in this one process: the
/// container's monitor, which run_front.c forked from the process the shell waits for (the
/// front, in C) before the .NET runtime started; the front relays signals and the exit code.
/// </summary>
public static class RunFlow
{
    /// <summary>With <paramref name="createOnly"/> (Docker's create): registered and configured, no monitor, nothing started.</summary>
    public static int Run(ContainerEngine engine, RunOptions options, bool detach, bool autoRemove, string? cidfile, bool createOnly = false)
    {
        var id = ContainerId.New();
        var spec = SpecBuilder.Build(id, options);
        if (options.Network is { } network) Core.Network.NetworkSpec.Apply(spec, network, engine.Store.Dir(id), options.JoinNetns);
        // this process is the container's monitor (run_front.c); it is registered with the container
        if (!createOnly && !DockerCli.IsMonitor)
            throw new CrateRunException("cannot start the container's monitor (craterun run could not fork its front)");
        // the cidfile is claimed before anything else exists: a bad path fails with nothing to undo
        using var cid = cidfile is null ? null : CreateCidFile(cidfile);
        var record = new ContainerRecord
        {
            Id = id,
            MonitorPid = createOnly ? 0 : Environment.ProcessId,
            MonitorStartTime = createOnly ? 0 : Processes.StartTime(Environment.ProcessId),
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

        cid?.Dispose(); // written: not held for the container's life
        // join the container's cgroup now, while the config is planned (PreparedCgroup)
        using var prepared = Linux.Cgroups.PreparedCgroup.TryPrepare(engine.Layout, ContainerEngine.CgroupsPathOf(spec, id));
        Timing.Mark("monitor: cgroup joining");
        return ContainerMonitor.RunRegistered(engine, record, spec, options.Interactive, options.Tty, detach, prepared);
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
