using System.CommandLine;
using CrateRun.Core;
using CrateRun.Core.Config;
using CrateRun.Core.Docker;
using CrateRun.Core.State;
using CrateRun.Linux.Engine;
using CrateRun.Linux.Process;

namespace CrateRun.Cli;

/// <summary>start, restart and container prune: Docker's commands, decided by the engine (ContainerEngine.Start.cs).</summary>
public static class LifecycleCommands
{
    public static Command Start()
    {
        var attach = new Option<bool>("--attach", "-a") { Description = "Attach to the container's output and wait for it; exit with its code" };
        var interactive = new Option<bool>("--interactive", "-i") { Description = "Attach stdin too" };
        var ids = new Argument<string[]>("container") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("start", "Start one or more created or stopped containers") { attach, interactive, ids };
        cmd.SetAction(p =>
        {
            var names = p.GetValue(ids)!;
            var attached = p.GetValue(attach) || p.GetValue(interactive);
            if (attached && names.Length > 1)
                return Program.Guard(() => throw new UsageException("you cannot start and attach multiple containers at once"));
            var engine = DockerCli.Engine(p);
            var rc = 0;
            foreach (var x in names)
            {
                var one = Program.Guard(() =>
                {
                    var id = engine.Store.Resolve(x);
                    var code = StartOne(engine, id, attached, p.GetValue(interactive));
                    if (!attached) Console.WriteLine(x); // Docker names back each container it started
                    return code;
                });
                if (one != 0) rc = one;
            }
            return rc;
        });
        return cmd;
    }

    public static Command Restart()
    {
        var time = new Option<int?>("--time", "-t") { Description = "Seconds to wait after SIGTERM before SIGKILL (default 10)" };
        var ids = new Argument<string[]>("container") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("restart", "Restart one or more containers (stop, then start)") { time, ids };
        cmd.SetAction(p =>
        {
            var engine = DockerCli.Engine(p);
            var rc = 0;
            foreach (var x in p.GetValue(ids)!)
            {
                var one = Program.Guard(() =>
                {
                    var id = engine.Store.Resolve(x);
                    engine.Stop(id, Signals.Parse("TERM"), TimeSpan.FromSeconds(Math.Max(0, p.GetValue(time) ?? 10)));
                    var code = StartOne(engine, id, attached: false, interactive: false);
                    engine.RecordRestart(id);
                    Console.WriteLine(x);
                    return code;
                });
                if (one != 0) rc = one;
            }
            return rc;
        });
        return cmd;
    }

    /// <summary>Hands the container to a new monitor; attached, this process becomes run's C front (run_front.c) for it.</summary>
    private static int StartOne(ContainerEngine engine, string id, bool attached, bool interactive)
    {
        var r = engine.Store.Load(id);
        if (interactive && r.Tty && !Terminal.IsTerminal(0))
            throw new UsageException("the input device is not a TTY (-i on a container made with -t needs a terminal on stdin)");
        if (engine.BeginStart(id) is not var (monitorPid, control)) return 0; // already running: nothing to do (Docker)
        var spec = ContainerEngine.LoadSpec(r);
        using (control)
        {
            ContainerMonitor.Assign(control, engine.Store.Root, id, interactive, r.Tty, detach: !attached, ContainerEngine.CgroupsPathOf(spec, id));
            if (!attached) return WaitStarted(control);
            ContainerMonitor.BecomeFront(control, monitorPid); // as run's front: output live, signals forwarded, its exit code
        }
        return ExitCodes.RuntimeError; // not reached: BecomeFront execs or throws
    }

    /// <summary>Detached: the monitor's word that the container started, or why it did not.</summary>
    private static int WaitStarted(Linux.SafeFd control)
    {
        while (true)
        {
            var message = MonitorMessage.ReceiveFromMonitor(control.Fd, out var fd);
            if (fd >= 0) new Linux.SafeFd(fd).Dispose(); // a pty master: a detached start has no use for it
            if (message is null) throw new CrateRunException("the container's monitor exited before the container started");
            if (message is MonitorMessage.Started) return 0;
            if (message is MonitorMessage.Failed failed)
                throw new CrateRunException(failed.Message.Length > 0 ? failed.Message : "container failed to start", failed.Code);
        }
    }

    /// <summary>`craterun container prune` (and `container ls/rm/...` as aliases would go here).</summary>
    public static Command Container()
    {
        var force = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation" };
        var filter = new Option<string[]>("--filter") { Description = "label=KEY[=VALUE], until=TIME" };
        var prune = new Command("prune", "Remove all stopped containers") { force, filter };
        prune.SetAction(p => Program.Guard(() =>
        {
            var now = DateTimeOffset.UtcNow;
            var terms = p.GetValue(filter) ?? [];
            if (terms.Select(t => t.Split('=')[0]).FirstOrDefault(k => k is not ("label" or "until")) is { } bad)
                throw new UsageException($"invalid filter '{bad}' (container prune takes label and until)");
            var selected = ContainerFilter.Parse(terms, now, allowUntil: true);
            if (!p.GetValue(force))
            {
                Console.Write("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
                var answer = Console.ReadLine()?.Trim();
                if (answer is not ("y" or "Y" or "yes")) return 0;
            }
            var engine = DockerCli.Engine(p);
            var sizes = new Dictionary<string, long>();
            var removed = engine.Prune(r =>
            {
                if (!selected.Matches(PsView.Row(engine, r))) return false;
                sizes[r.Id] = DirectoryBytes(engine.Store.Dir(r.Id));
                return true;
            });
            if (removed.Count > 0)
            {
                Console.WriteLine("Deleted Containers:");
                foreach (var id in removed) Console.WriteLine(id);
                Console.WriteLine();
            }
            Console.WriteLine("Total reclaimed space: " + PsView.Bytes(removed.Sum(id => sizes.GetValueOrDefault(id))));
            return 0;
        }));
        var cmd = new Command("container", "Manage containers") { prune };
        return cmd;
    }

    /// <summary>The bytes of the files below a container's directory (its logs and config), not following links.</summary>
    private static long DirectoryBytes(string dir)
    {
        try
        {
            var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true };
            return new DirectoryInfo(dir).EnumerateFiles("*", options).Sum(f => f.Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return 0; }
    }
}
