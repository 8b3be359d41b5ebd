using System.Runtime.InteropServices;
using System.Text;
using CrateRun.Core;
using CrateRun.Linux.Cgroups;

namespace CrateRun.Linux.Engine;

/// <summary>
/// The process that outlives <c>craterun run</c>: it creates and starts the container
/// through the engine, owns its stdio and log files, waits for it, records the exit code,
/// finish time and OOM kill, removes its cgroup (and everything, with --rm).
///
/// Three phases, one pid: managed create and start; if the container outlives
/// <see cref="GraceMs"/>, the C waiting phase (monitor.c, about 2 MiB instead of the .NET
/// runtime's 7) for as long as it runs; then the managed exit phase (<see cref="Exit"/>).
///
/// It talks to the CLI over a SOCK_SEQPACKET pair on fd 3, one message per packet
/// (<see cref="MonitorMessage"/>): the CLI assigns it its stdio and a container, it answers
/// with the pty master (-t only), started or failed, and exited.
/// </summary>
// docs/the-monitor.md
public static unsafe partial class ContainerMonitor
{
    public const int ControlFd = 3;

    /// <summary>
    /// The monitor's main. fd 0 is the container's stdin (with -i, unless <paramref name="detached"/>),
    /// 1 and 2 the CLI's output or /dev/null. A detached -i container's stdin is a pipe the monitor
    /// keeps open for `craterun attach` (Docker's `run -d -i`).
    /// </summary>
    public static int Run(ContainerEngine engine, string id, bool interactive, bool tty, PreparedCgroup? prepared = null, bool detached = false) =>
        CreateStartAndWait(engine, id, interactive, tty, prepared, detached, null, out var status) is { } failed ? failed : Finish(engine, id, status);

    /// <summary>
    /// `craterun run` in its monitor: the process run_front.c forked before the .NET runtime
    /// started (its front, the process the shell waits for, is on fd 3). The container this
    /// same process registered and configured is created from <paramref name="spec"/> as built
    /// (config.json is written for others, not read back), started and watched here. The
    /// monitor's stdio is the CLI's: what the container does not use goes now; `run -d` prints
    /// the id when the container runs and then lets go of all three.
    /// </summary>
    public static int RunRegistered(ContainerEngine engine, Core.State.ContainerRecord record, Core.Oci.Spec spec, bool interactive, bool tty, bool detached, PreparedCgroup? prepared)
    {
        if (!interactive || detached) RedirectToDevNull(0); // a -i container reads it; else it is not ours to hold
        _printsIdWhenStarted = detached;
        return CreateStartAndWait(engine, record.Id, interactive, tty, prepared, detached, (record, spec), out var status) is { } failed
            ? failed : Finish(engine, record.Id, status);
    }

    /// <summary>Set by <see cref="RunRegistered"/> for `run -d`: the id goes to stdout once the container runs.</summary>
    private static bool _printsIdWhenStarted;

    private static void RedirectToDevNull(params int[] fds)
    {
        using var devNull = new SafeFd(Interop.Check(Interop.Sys.open("/dev/null", Interop.Sys.O_RDWR | Interop.Sys.O_CLOEXEC, 0), "open", "/dev/null"));
        foreach (var fd in fds) Interop.Check(Interop.Sys.dup2(devNull, fd), "dup2", "/dev/null");
    }

    /// <summary>
    /// Creates and starts the container and waits for it: null with its wait status, or the
    /// exit code of a failed start. A container that outlives the grace period is waited for
    /// by monitor.c (this call then does not return; the exit phase carries on in <see cref="Exit"/>).
    /// </summary>
    private static int? CreateStartAndWait(ContainerEngine engine, string id, bool interactive, bool tty, PreparedCgroup? prepared, bool detached,
        (Core.State.ContainerRecord Record, Core.Oci.Spec Spec)? built, out int waitStatus)
    {
        waitStatus = -1;
        var store = engine.Store;
        Timing.Mark("monitor main");

        // the container's output goes to its logs (and the CLI): monitor.c's pump, here and in the waiting phase
        using var pump = new IoPump(store.Dir(id));
        var toClose = new List<SafeFd>();
        int pid;
        SafeFd? master = null;
        SafeFd? stdinPipe = null; // -d -i without -t: the write end of the container's stdin, for attach
        try
        {
            CreateOptions options;
            SafeFd? consoleOurs = null;
            if (tty)
            {
                var (ours, theirs) = SocketPair();
                consoleOurs = ours;
                toClose.Add(theirs);
                options = new CreateOptions { ConsoleFd = theirs.Fd, Prepared = prepared, Registered = built?.Record, Spec = built?.Spec };
            }
            else
            {
                var (outRead, outWrite) = Pipe();
                var (errRead, errWrite) = Pipe();
                toClose.AddRange([outRead, outWrite, errRead, errWrite]);
                int stdin;
                if (interactive && detached)
                {
                    var (inRead, inWrite) = Pipe();
                    toClose.AddRange([inRead, inWrite]);
                    (stdin, stdinPipe) = (inRead.Fd, inWrite);
                }
                else stdin = interactive ? -1 : OpenDevNull(toClose);
                options = new CreateOptions { Stdio = [stdin, outWrite.Fd, errWrite.Fd], Prepared = prepared, Registered = built?.Record, Spec = built?.Spec };
                // detached: the logs alone (our stdout and stderr are the CLI's until it is told the container runs)
                pump.AddOutput(outRead.Fd, detached ? -1 : 1, "stdout.log");
                pump.AddOutput(errRead.Fd, detached ? -1 : 2, "stderr.log");
            }

            var r = engine.Create(id, options);
            prepared?.Dispose(); // the launcher thread leaves the container's cgroup
            Timing.Mark("created");
            pid = r.Pid;
            // the write ends belong to the container now: we must see EOF when it is done with them
            foreach (var fd in toClose.Where(f => f.Fd == options.Stdio[1] || f.Fd == options.Stdio[2] || f.Fd == options.ConsoleFd
                || (stdinPipe is not null && f.Fd == options.Stdio[0]))) fd.Dispose();

            if (consoleOurs is not null)
            {
                var m = UnixSockets.Receive(consoleOurs.Fd, out var masterFd);
                consoleOurs.Dispose();
                if (masterFd < 0) throw new CrateRunException($"no terminal received from the container ({m ?? "closed"})");
                master = new SafeFd(masterFd);
                new MonitorMessage.TerminalMaster().SendTo(ControlFd, master.Fd);
                pump.AddOutput(master.Fd, detached ? -1 : 1, "stdout.log");
                if (interactive && !detached) pump.AddInput(0, master.Fd); // the CLI's stdin (detached: only attach types)
            }
            engine.Start(id);
            Timing.Mark("started");
        }
        catch (CrateRunException e)
        {
            Fail(engine, id, e.ExitCode, e.Message);
            return e.ExitCode;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            Fail(engine, id, ExitCodes.RuntimeError, e.Message);
            return ExitCodes.RuntimeError;
        }
        var record = store.Load(id);
        var health = record.Healthcheck; // --health-cmd: "starting" until the first probe (monitor.c runs them)
        if (health is not null) HealthChecks.Reset(store, id);
        var told = Explain.ExplainClock.Now();
        var started = new MonitorMessage.Started(pid, Interactive: interactive && !detached, Detached: detached, Restarts: record.RestartPolicy is not null);
        if (_printsIdWhenStarted)
        {
            // run -d: the id, the explanation's last step, and then nothing more from us on the CLI's stdio
            _printsIdWhenStarted = false;
            Console.Out.WriteLine(id);
            Console.Out.Flush();
            ExplainMonitor(engine, pid, told);
            RedirectToDevNull(0, 1, 2);
            started.SendTo(ControlFd);
        }
        else
        {
            started.SendTo(ControlFd);
            ExplainMonitor(engine, pid, told);
        }

        // A short-lived container ends here; a longer one is watched by the C waiting phase.
        var status = pump.RunUntilExit(pid, GraceMs);
        if (status is null)
        {
            // craterun attach: monitor.c listens for it; what an attached client types goes to a -it container's
            // terminal, or to a -d -i one's stdin pipe (inherited across the exec, as the routes' fds are)
            var attachInput = master is not null ? (interactive ? master.Fd : -1) : stdinPipe?.Fd ?? -1;
            if (stdinPipe is not null) Interop.Check(Interop.Sys.fcntl(stdinPipe, Interop.Sys.F_SETFD, 0), "fcntl(F_SETFD)", "stdin pipe");
            try { HandOverToWaiter(store.Root, id, pid, pump, health?.IntervalMs ?? 0, attachInput); }
            catch (SyscallException) { } // cannot exec: keep watching from here
            status = pump.RunUntilExit(pid);
        }
        Timing.Mark("exited");
        master?.Dispose();
        foreach (var fd in toClose) fd.Dispose();
        waitStatus = status ?? -1;
        return null;
    }

    /// <summary>How long a monitor watches its container from managed code before it hands over to monitor.c.</summary>
    public const int GraceMs = 100;

    /// <summary>The hidden arguments of the C waiting phase and of the managed exit phase.</summary>
    public const string WaitArg = "_monitor-wait", ExitArg = "_monitor-exit";

    /// <summary>Replaces this process (same pid: the container stays our child) with monitor.c's waiting phase.</summary>
    private static void HandOverToWaiter(string root, string id, int pid, IoPump pump, long healthIntervalMs, int attachInput)
    {
        string[] argv = ["craterun", WaitArg, root, id, pid.ToString(), .. pump.HandOver(), $"a:{attachInput}",
            .. healthIntervalMs > 0 ? new[] { $"h:{healthIntervalMs}" } : []];
        // what this managed phase peaked at, for bench/run-vs-runc.sh (an exec starts a new VmHWM)
        string[] env = [.. Environ().Where(e => !e.StartsWith(CreatePeakVariable + "=", StringComparison.Ordinal)), $"{CreatePeakVariable}={PeakKiB()}"];
        using var arena = new Process.NativeArenaHandle();
        // /proc/self/exe: this very executable, even if a newer one was installed at its path since
        Interop.Sys.execve(arena.Str("/proc/self/exe"), arena.StrArray(argv), arena.StrArray(env));
        throw new SyscallException("execve", "craterun " + WaitArg, Marshal.GetLastPInvokeError());
    }

    /// <summary>The hidden argument of run_front.c's front when a managed CLI execs it (`start -a`).</summary>
    public const string FrontArg = "_front";

    /// <summary>
    /// `start -a`: replaces this CLI (same pid: the monitor it spawned stays its child) with the
    /// front `run` has (run_front.c), which relays the monitor's word on <paramref name="control"/>.
    /// </summary>
    public static void BecomeFront(SafeFd control, int monitorPid)
    {
        Interop.Check(Interop.Sys.fcntl(control, Interop.Sys.F_SETFD, 0), "fcntl(F_SETFD)", "control socket");
        Console.Out.Flush();
        using var arena = new Process.NativeArenaHandle();
        string[] argv = ["craterun", FrontArg, control.Fd.ToString(), monitorPid.ToString()];
        Interop.Sys.execve(arena.Str("/proc/self/exe"), arena.StrArray(argv), arena.StrArray(Environ()));
        throw new SyscallException("execve", "craterun " + FrontArg, Marshal.GetLastPInvokeError());
    }

    /// <summary>Set in the waiting phase's environment: the peak RSS (KiB) of the create phase before it.</summary>
    public const string CreatePeakVariable = "CRATERUN_MONITOR_CREATE_PEAK_KIB";

    private static string PeakKiB()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line?.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1] ?? "?";
        }
        catch (IOException) { return "?"; }
    }

    /// <summary>The exit phase, after monitor.c saw the container exit: <c>craterun _monitor-exit ROOT ID WAIT-STATUS</c>.</summary>
    public static int Exit(string root, string id, string waitStatus)
    {
        Timing.Mark("monitor exit phase");
        var engine = new ContainerEngine(new Core.State.ContainerStore(root));
        return Finish(engine, id, int.TryParse(waitStatus, out var s) ? s : -1);
    }

    /// <summary>
    /// After each exit: records it and tells the CLI; then, as the restart policy decides, waits
    /// and runs the container again (a loop here while its runs are short, else through monitor.c and <see cref="Exit"/>).
    /// </summary>
    private static int Finish(ContainerEngine engine, string id, int waitStatus)
    {
        while (true)
        {
            var result = RecordExitAndTell(engine, id, waitStatus, out var record, out var code);
            if (record is null || !WaitToRestart(engine, record, code)) return result;
            if (CreateStartAndWait(engine, id, interactive: false, record.Tty, null, detached: true, null, out waitStatus) is { } failed) return failed;
        }
    }

    /// <summary>Records the exit (code, time, OOM kill), removes the cgroup (and everything, with --rm), tells the CLI.</summary>
    private static int RecordExitAndTell(ContainerEngine engine, string id, int waitStatus, out Core.State.ContainerRecord? record, out int code)
    {
        code = Process.Processes.ExitCode(waitStatus);
        record = null;
        var result = 0;
        try
        {
            record = engine.CompleteRun(id, code);
            if (record.AutoRemove) record = null; // removed with its state: nothing to restart
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CrateRunException)
        {
            // the state root failed us (full, gone): the attached CLI still gets the exit code
            Console.Error.WriteLine($"craterun: container {id}: cannot record the exit ({code}): {e.Message}");
            result = ExitCodes.RuntimeError;
        }
        new MonitorMessage.Exited(code).SendTo(ControlFd);
        Timing.Mark("cleaned up");
        return result;
    }

    private static void Fail(ContainerEngine engine, string id, int code, string message)
    {
        // Create cleans up after itself; a failure after it (start) must too.
        if (engine.Store.TryLoad(id) is { KeepOnFailure: true })
            engine.RecordFailedStart(id, code); // made by `create`: it stays, exited with the code
        else if (engine.Store.TryLoad(id) is { } left)
        {
            try { engine.Delete(id, force: true); }
            catch (CrateRunException)
            {
                if (Images.ImageRootfs.IsImageContainer(left.Annotations)) Images.ImageRootfs.Unmount(engine.Store.Dir(left.Id));
                engine.UnmountSharedShm(left.Id);
                engine.Store.RemoveDir(left.Id);
            }
        }
        new MonitorMessage.Failed(code, message).SendTo(ControlFd);
    }

    private static (SafeFd Read, SafeFd Write) Pipe()
    {
        int* fds = stackalloc int[2];
        Interop.Check(Interop.Sys.pipe2(fds, Interop.Sys.O_CLOEXEC), "pipe2");
        return (new SafeFd(fds[0]), new SafeFd(fds[1]));
    }

    public static (SafeFd A, SafeFd B) SocketPair()
    {
        int* fds = stackalloc int[2];
        Interop.Check(Interop.Sys.socketpair(Interop.Sys.AF_UNIX, Interop.Sys.SOCK_STREAM | Interop.Sys.SOCK_CLOEXEC, 0, fds), "socketpair");
        return (new SafeFd(fds[0]), new SafeFd(fds[1]));
    }

    private static int OpenDevNull(List<SafeFd> keep)
    {
        var fd = new SafeFd(Interop.Check(Interop.Sys.open("/dev/null", Interop.Sys.O_RDWR | Interop.Sys.O_CLOEXEC, 0), "open", "/dev/null"));
        keep.Add(fd);
        return fd.Fd;
    }

    /// <summary>The hidden argument that makes craterun a monitor.</summary>
    public const string MonitorArg = "_monitor";

    /// <summary>A new monitor (monitor.c's spawn, as `run` gets one early): its pid and our end of its control socket.</summary>
    public static (int Pid, SafeFd Control) Spawn()
    {
        int pid, fd;
        if (Interop.Monitor.crt_spawn_monitor(&pid, &fd) < 0)
            throw new SyscallException("posix_spawn", "craterun _monitor", Marshal.GetLastPInvokeError());
        return (pid, new SafeFd(fd));
    }

    /// <summary>Hands a registered container to an early monitor, with the stdio it should use.</summary>
    public static void Assign(SafeFd control, string storeRoot, string id, bool interactive, bool tty, bool detach, string cgroupsPath)
    {
        if (interactive && !detach) new MonitorMessage.AssignStdio(0).SendTo(control.Fd, 0); // detached: the CLI's stdin is not the container's (Docker's -d -i)
        if (!detach)
        {
            new MonitorMessage.AssignStdio(1).SendTo(control.Fd, 1);
            new MonitorMessage.AssignStdio(2).SendTo(control.Fd, 2);
        }
        new MonitorMessage.Container(storeRoot, id, interactive, tty, cgroupsPath, detach).SendTo(control.Fd);
    }

    /// <summary>The monitor's entry point: wait for a container, then watch it. A CLI that gave up (EOF) ends it quietly.</summary>
    public static int Main()
    {
        while (true)
        {
            MonitorMessage? message;
            int fd;
            try { message = MonitorMessage.ReceiveFromCli(ControlFd, out fd); }
            catch (SyscallException) { throw new UsageException($"{MonitorArg} is started by craterun run, with its control socket on fd {ControlFd}"); }
            catch (BadMonitorMessageException e) { return Refuse(e); }
            switch (message)
            {
                case null:
                    return 0;
                case MonitorMessage.ExplainTo explain: // --explain: the fd to write to
                    _explainFd = new SafeFd(fd);
                    Explain.ExplainSession.Active = Explain.ExplainSession.ToFd(explain.Format, fd);
                    continue;
                case MonitorMessage.AssignStdio stdio:
                    Interop.Sys.dup2(fd, stdio.Stream);
                    Interop.Sys.close(fd);
                    continue;
                case MonitorMessage.Container container:
                    var engine = new ContainerEngine(new Core.State.ContainerStore(container.Root)) { Explainer = Explain.ExplainSession.Active };
                    // join the container's cgroup now, while the config is read and planned
                    using (var prepared = PreparedCgroup.TryPrepare(engine.Layout, container.CgroupsPath))
                    {
                        try
                        {
                            return Run(engine, container.Id, container.Interactive, container.Tty, prepared, container.Detached);
                        }
                        catch (CrateRunException e)
                        {
                            new MonitorMessage.Failed(e.ExitCode, e.Message).SendTo(ControlFd);
                            return e.ExitCode;
                        }
                    }
            }
        }
    }

    /// <summary>A message from the CLI that is none: the CLI is told, and says it; with no CLI to tell, it goes to stderr. Nothing was created.</summary>
    private static int Refuse(BadMonitorMessageException e)
    {
        if (!new MonitorMessage.Failed(e.ExitCode, e.Message).SendTo(ControlFd)) Console.Error.WriteLine($"craterun: {e.Message}");
        return e.ExitCode;
    }

    private static string[] Environ() =>
        [.. Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().Select(e => $"{e.Key}={e.Value}")];
}

