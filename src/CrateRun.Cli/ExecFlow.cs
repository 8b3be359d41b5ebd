using CrateRun.Core;
using CrateRun.Linux;
using CrateRun.Linux.Engine;
using CrateRun.Linux.Process;

namespace CrateRun.Cli;

/// <summary>craterun exec: a new process in every namespace and the cgroup of a running container.</summary>
public static class ExecFlow
{
    public static int Run(ContainerEngine engine, string id, string[] command, IReadOnlyList<string> env, string? workdir,
        (uint Uid, uint Gid)? user, bool interactive, bool tty, bool detach)
    {
        var record = engine.Store.Load(id);
        var spec = ContainerEngine.LoadSpec(record);
        var process = Core.Oci.ExecProcess.Build(spec.Process, new Core.Oci.ExecRequest
        {
            Args = command,
            Env = env,
            Cwd = workdir,
            Terminal = tty,
            DefaultTerm = true,
            ConsoleSize = tty && Terminal.Size(1) is { } s ? new Core.Oci.Box { Height = s.Rows, Width = s.Cols } : null,
            User = user is { } u ? new Core.Oci.User { Uid = u.Uid, Gid = u.Gid } : null,
        });

        using var devnull = Fds.DevNull();
        var stdio = detach ? new[] { devnull.Fd, devnull.Fd, devnull.Fd } : new[] { interactive ? -1 : devnull.Fd, -1, -1 };
        SafeFd? consoleOurs = null, consoleTheirs = null;
        if (tty) (consoleOurs, consoleTheirs) = ContainerMonitor.SocketPair();
        int pid;
        var options = new ExecOptions { Process = process, Stdio = stdio, ConsoleFd = consoleTheirs?.Fd ?? -1, Record = record, Spec = spec };
        using (consoleTheirs)
            pid = engine.Exec(id, options);
        using var master = consoleOurs is null ? null : ReceiveMaster(consoleOurs);
        if (detach) return 0;

        var code = WaitForExit(pid, master, interactive);
        engine.RecordExecExit(id, options.ExecId, code); // exec_die: we reaped it
        return code;
    }

    /// <summary>The exec'd process's exit code, with its terminal's output (and our input) pumped meanwhile.</summary>
    private static int WaitForExit(int pid, SafeFd? master, bool interactive)
    {
        using var forward = SignalForwarding.To(pid);
        if (master is null) return Processes.ExitCode(Launcher.Reap(pid));
        using var raw = interactive ? Terminal.MakeRaw(0) : null;
        using var winch = SignalForwarding.WindowSize(master.Fd);
        using var pump = new IoPump();
        pump.AddOutput(master.Fd, 1);
        if (interactive) pump.AddInput(0, master.Fd);
        return Processes.ExitCode(pump.RunUntilExit(pid) ?? -1);
    }

    private static SafeFd ReceiveMaster(SafeFd console)
    {
        using (console)
        {
            UnixSockets.Receive(console.Fd, out var fd);
            if (fd < 0) throw new CrateRunException("exec: no terminal received from the container");
            return new SafeFd(fd);
        }
    }
}
