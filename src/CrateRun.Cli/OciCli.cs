using System.CommandLine;
using System.Text.Json;
using CrateRun.Core;
using CrateRun.Core.Config;
using CrateRun.Core.Oci;
using CrateRun.Core.State;
using CrateRun.Linux;
using CrateRun.Linux.Engine;
using CrateRun.Linux.Process;
using Hooks = CrateRun.Linux.Engine.Hooks;

namespace CrateRun.Cli;

/// <summary>
/// The runc-compatible face (craterun-oci, or craterun oci ...): the command line that
/// containerd's shim, conmon and podman send to a runtime binary.
/// </summary>
public static class OciCli
{
    /// <summary>
    /// The global options as System.CommandLine objects: built only when the full parser runs
    /// (a nested class has its own static initialiser; the short commands never touch it).
    /// </summary>
    private static class GlobalOptions
    {
        public static readonly Option<string?> Root = new("--root") { Description = "State directory (default /run/craterun, or $XDG_RUNTIME_DIR/craterun)", Recursive = true };
        public static readonly Option<string?> Log = new("--log") { Description = "Append errors (and --debug messages) to this file", Recursive = true };
        public static readonly Option<string> LogFormat = new("--log-format") { Description = "text or json", DefaultValueFactory = _ => "text", Recursive = true };
        public static readonly Option<bool> Debug = new("--debug") { Recursive = true };
        public static readonly Option<bool> SystemdCgroup = new("--systemd-cgroup") { Description = "Use systemd for cgroups (not supported: refused when a config asks for it)", Recursive = true };
        public static readonly Option<string?> Rootless = new("--rootless") { Hidden = true, Recursive = true };
        public static readonly Option<string?> Criu = new("--criu") { Hidden = true, Recursive = true };
        public static readonly ExplainCli.Options Explain = ExplainCli.Make(recursive: true); // to stderr: stdout is the client's
    }

    /// <summary>The global options of this invocation (defaults until parsed).</summary>
    private static OciGlobals _globals = new();

    /// <param name="word">The command word (<see cref="Linux.Process.CommandLine.CommandWord"/>), read once by Program.</param>
    public static int Run(string[] args, string? word)
    {
        if (AsksForVersion(args))
        {
            Console.WriteLine($"craterun version {Version}\nspec: {SpecBuilder.OciVersion}\nruntime: .NET NativeAOT, C stage launch.c");
            return 0;
        }
        // create/state/start/kill/delete, sent for every container by shims: no System.CommandLine tree
        if (OciShortArgs.TryParse(args) is { } quick)
        {
            _globals = quick.Globals;
            DebugLog("command line: " + string.Join(' ', args));
            return RunShort(quick);
        }
        var root = ParserRoot.Create("craterun-oci: a runc-compatible OCI runtime", args, word);
        foreach (var global in new Option[]
        {
            GlobalOptions.Root, GlobalOptions.Log, GlobalOptions.LogFormat, GlobalOptions.Debug, GlobalOptions.SystemdCgroup, GlobalOptions.Rootless, GlobalOptions.Criu,
            GlobalOptions.Explain.Text, GlobalOptions.Explain.Json,
        }) root.Options.Add(global);
        NamedCommands.AddTo(root, Commands, word);
        args = CommandLineSplit.Apply(args, root, new Dictionary<string, int> { ["exec"] = 1 });
        var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        _globals = new OciGlobals(parsed.GetValue(GlobalOptions.Root), parsed.GetValue(GlobalOptions.Log), parsed.GetValue(GlobalOptions.LogFormat) ?? "text",
            parsed.GetValue(GlobalOptions.Debug), parsed.GetValue(GlobalOptions.SystemdCgroup), GlobalOptions.Explain.Format(parsed));
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors) Fail(e.Message);
            return ExitCodes.OciError;
        }
        DebugLog("command line: " + string.Join(' ', args));
        return parsed.Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false });
    }

    /// <summary>The commands, in --help order, each with its name (<see cref="NamedCommands"/>).</summary>
    private static readonly (string Name, Func<Command> Make)[] Commands =
    [
        ("create", CreateCommand), ("start", StartCommand), ("state", StateCommand), ("kill", KillCommand), ("delete", DeleteCommand),
        ("run", RunCommand), ("exec", ExecCommand), ("list", ListCommand), ("ps", PsCommand), ("pause", PauseCommand), ("resume", ResumeCommand),
        ("events", EventsCommand), ("update", UpdateCommand), ("spec", SpecCommand), ("features", FeaturesCommand),
    ];

    public static string Version => typeof(OciCli).Assembly.GetName().Version?.ToString(3) ?? "0.1.0";

    /// <summary>runc's global --version/-v (and `version`), after any global options.</summary>
    private static bool AsksForVersion(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (a is "--version" or "-v") return true;
            if (!a.StartsWith('-')) return a == "version";
            if (a is "--root" or "--log" or "--log-format" or "--criu" or "--rootless") i++;
        }
        return false;
    }

    /// <summary>A command that <see cref="OciShortArgs"/> read: the same actions as the full parser's.</summary>
    private static int RunShort(OciShortCommand c) => c.Name switch
    {
        "state" => Handle(c.Name, engine => PrintState(engine, c.Id)),
        "start" => Handle(c.Name, engine => StartContainer(engine, c.Id)),
        "kill" => Handle(c.Name, engine => KillContainer(engine, c.Id, c.Signal, c.Has("--all"))),
        "delete" => Handle(c.Name, engine => DeleteContainer(engine, c.Id, c.Has("--force"))),
        "create" => Handle(c.Name, engine =>
        {
            CreateContainer(engine, new CreateArgs(c.Value("--bundle") ?? ".", c.Value("--pid-file"), c.Value("--console-socket"),
                c.Has("--no-pivot"), c.Value("--preserve-fds") is { } n ? int.Parse(n, System.Globalization.CultureInfo.InvariantCulture) : 0), c.Id);
            return 0;
        }),
        _ => throw new InvalidOperationException($"not a short OCI command: {c.Name}"),
    };

    private static ContainerEngine Engine()
    {
        var root = _globals.Root;
        if (string.IsNullOrEmpty(root))
        {
            var xdg = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
            root = Environment.IsPrivilegedProcess || string.IsNullOrEmpty(xdg) ? "/run/craterun" : Path.Combine(xdg, "craterun");
        }
        var engine = new ContainerEngine(new ContainerStore(root)) { Warn = m => Report("warning", m) };
        if (_globals.Explain is { } format) ExplainCli.Attach(engine, format);
        return engine;
    }

    /// <summary>
    /// Runs a handler; errors go to stderr and, as containerd expects, to --log in the chosen
    /// format. As runc, every error exits 1, except exec's: 255 (<paramref name="errorCode"/>),
    /// so that a caller tells them from the exec'd process's own code.
    /// </summary>
    private static int Handle(ParseResult p, Func<ContainerEngine, int> handler, int errorCode = ExitCodes.OciError) =>
        Handle(p.CommandResult.Command.Name, handler, errorCode);

    private static int Handle(string command, Func<ContainerEngine, int> handler, int errorCode = ExitCodes.OciError)
    {
        try
        {
            var code = handler(Engine());
            DebugLog($"{command}: exit {code}");
            return code;
        }
        catch (NoSuchContainerException e)
        {
            // runc's text: containerd (checkKillError) and podman look for "does not exist"
            Fail($"container {e.Id} does not exist");
            return errorCode;
        }
        catch (Exception e)
        {
            Fail(e.Message);
            return errorCode;
        }
    }

    private static void Fail(string message) => Report("error", message);

    /// <summary>One line on stderr and, as containerd expects, in --log at that level.</summary>
    private static void Report(string level, string message)
    {
        StdStreams.WriteLine(StdStreams.Err, level == "error" ? "craterun-oci: " + message : $"craterun-oci: {level}: {message}");
        WriteLog(level, message);
    }

    /// <summary>With --debug: a debug line in --log (runc's logrus lines), nothing otherwise.</summary>
    private static void DebugLog(string message)
    {
        if (_globals.Debug) WriteLog("debug", message);
    }

    /// <summary>One line in --log, in --log-format: text (logrus key=value) or json, as containerd reads runc's.</summary>
    private static void WriteLog(string level, string message)
    {
        if (_globals.Log is not { Length: > 0 } log) return;
        try
        {
            var time = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", System.Globalization.CultureInfo.InvariantCulture);
            var line = _globals.LogFormat == "json"
                ? $"{{\"level\":\"{level}\",\"msg\":{JsonSerializer.Serialize(message, CliJson.Default.String)},\"time\":\"{time}\"}}\n"
                : $"time=\"{time}\" level={level} msg={JsonSerializer.Serialize(message, CliJson.Default.String)}\n";
            File.AppendAllText(log, line);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static Argument<string> IdArgument() => new("container-id") { Description = "The container's id" };

    // ---- create / start / run -----------------------------------------------------------

    private sealed record CreateFlags(Option<string> Bundle, Option<string?> PidFile, Option<string?> ConsoleSocket,
        Option<bool> NoPivot, Option<bool> NoNewKeyring, Option<int> PreserveFds);

    private static CreateFlags NewCreateFlags() => new(
        new Option<string>("--bundle", "-b") { Description = "Bundle directory (holds config.json)", DefaultValueFactory = _ => "." },
        new Option<string?>("--pid-file") { Description = "Write the container process's pid here" },
        new Option<string?>("--console-socket") { Description = "Unix socket that receives the pty master (process.terminal)" },
        new Option<bool>("--no-pivot") { Description = "Use MS_MOVE + chroot instead of pivot_root (rootfs on ramfs)" },
        new Option<bool>("--no-new-keyring") { Description = "Accepted for compatibility: no session keyring is created anyway" },
        new Option<int>("--preserve-fds") { Description = "Pass this many fds after stdio (3..) to the container" });

    /// <summary>create's (and run's) options, from either parser.</summary>
    private sealed record CreateArgs(string Bundle, string? PidFile, string? ConsoleSocket, bool NoPivot, int PreserveFds);

    private static CreateArgs Read(ParseResult p, CreateFlags f) =>
        new(p.GetValue(f.Bundle) ?? ".", p.GetValue(f.PidFile), p.GetValue(f.ConsoleSocket), p.GetValue(f.NoPivot), p.GetValue(f.PreserveFds));

    private static void AddFlags(Command c, CreateFlags f)
    {
        c.Options.Add(f.Bundle);
        c.Options.Add(f.PidFile);
        c.Options.Add(f.ConsoleSocket);
        c.Options.Add(f.NoPivot);
        c.Options.Add(f.NoNewKeyring);
        c.Options.Add(f.PreserveFds);
    }

    /// <summary>
    /// Creates the container. In the foreground (<paramref name="foreground"/>: run without -d) a
    /// terminal asked for without --console-socket comes back to us, as runc relays its caller's
    /// terminal: the returned pty master, else null.
    /// </summary>
    private static (ContainerRecord Record, SafeFd? Master) CreateContainer(ContainerEngine engine, CreateArgs a, string id, bool foreground = false)
    {
        var bundle = Path.GetFullPath(a.Bundle);
        var record = new ContainerRecord { Id = id, Bundle = bundle, Created = DateTimeOffset.UtcNow, Face = "oci" };
        var spec = ContainerEngine.LoadSpec(record);
        if (_globals.SystemdCgroup || spec.Linux?.CgroupsPath?.Count(c => c == ':') == 2)
            throw new CrateRunException("the systemd cgroup driver is not supported: use cgroupfs (a plain cgroupsPath, without --systemd-cgroup)");
        // joining another container's PID namespace: processes there could reach ours (CVE-2019-5736)
        if (spec.Linux?.Namespaces?.Any(n => n.Type == "pid" && !string.IsNullOrEmpty(n.Path)) == true)
            Linux.Process.SealedBinary.EnsureOrReexec();
        record.Annotations = spec.Annotations;
        record.Command = spec.Process?.Args ?? [];
        record.Tty = spec.Process?.Terminal ?? false;
        using var console = ForegroundConsole.For(record.Tty && foreground && a.ConsoleSocket is null);
        engine.Register(record);
        var created = engine.Create(id, new CreateOptions
        {
            ConsoleFd = console?.Theirs.Fd ?? -1,
            ConsoleSocketPath = a.ConsoleSocket,
            PidFile = a.PidFile,
            NoPivot = a.NoPivot,
            PreserveFds = a.PreserveFds,
        });
        return (created, console?.ReceiveMaster());
    }

    private static Command CreateCommand()
    {
        var f = NewCreateFlags();
        var id = IdArgument();
        var cmd = new Command("create", "Create a container: set up everything, the process waits for start") { id };
        AddFlags(cmd, f);
        cmd.SetAction(p => Handle(p, engine =>
        {
            CreateContainer(engine, Read(p, f), p.GetValue(id)!);
            return 0;
        }));
        return cmd;
    }

    private static Command StartCommand()
    {
        var id = IdArgument();
        var cmd = new Command("start", "Start a created container") { id };
        cmd.SetAction(p => Handle(p, engine => StartContainer(engine, p.GetValue(id)!)));
        return cmd;
    }

    private static Command RunCommand()
    {
        var f = NewCreateFlags();
        var detach = new Option<bool>("--detach", "-d") { Description = "Do not wait for the container" };
        var keep = new Option<bool>("--keep") { Description = "Do not delete the container after it exits" };
        var id = IdArgument();
        var cmd = new Command("run", "Create and start a container, wait for it, delete it") { detach, keep, id };
        AddFlags(cmd, f);
        cmd.SetAction(p => Handle(p, engine =>
        {
            var cid = p.GetValue(id)!;
            var (r, master) = CreateContainer(engine, Read(p, f), cid, foreground: !p.GetValue(detach));
            int code;
            using (master)
            {
                engine.Start(cid);
                if (p.GetValue(detach)) return 0;
                using (SignalForwarding.To(r.Pid))
                    code = master is null ? Processes.ExitCode(Launcher.Reap(r.Pid)) : ForegroundConsole.Relay(master, r.Pid);
            }
            engine.RecordExit(cid, code, keepCgroup: p.GetValue(keep));
            if (!p.GetValue(keep)) engine.Delete(cid, force: true);
            return code;
        }));
        return cmd;
    }

    // ---- state / kill / delete ----------------------------------------------------------

    private static Command StateCommand()
    {
        var id = IdArgument();
        var cmd = new Command("state", "Print the container's state as JSON") { id };
        cmd.SetAction(p => Handle(p, engine => PrintState(engine, p.GetValue(id)!)));
        return cmd;
    }

    /// <summary>runtime.md state, plus runc's "paused" for a frozen cgroup.</summary>
    private static OciState State(ContainerEngine engine, string id) => engine.State(id);

    private static Command KillCommand()
    {
        var all = new Option<bool>("--all", "-a") { Description = "Signal every process in the container's cgroup" };
        var id = IdArgument();
        var signal = new Argument<string>("signal") { Arity = ArgumentArity.ZeroOrOne, DefaultValueFactory = _ => "SIGTERM" };
        var cmd = new Command("kill", "Send a signal to the container") { all, id, signal };
        cmd.SetAction(p => Handle(p, engine => KillContainer(engine, p.GetValue(id)!, p.GetValue(signal) ?? "SIGTERM", p.GetValue(all))));
        return cmd;
    }

    private static Command DeleteCommand()
    {
        var force = new Option<bool>("--force", "-f") { Description = "Kill a running container first" };
        var id = IdArgument();
        var cmd = new Command("delete", "Delete a container and everything it holds") { force, id };
        cmd.SetAction(p => Handle(p, engine => DeleteContainer(engine, p.GetValue(id)!, p.GetValue(force))));
        return cmd;
    }

    private static int StartContainer(ContainerEngine engine, string id)
    {
        engine.Start(id);
        return 0;
    }

    private static int PrintState(ContainerEngine engine, string id)
    {
        // not through Console (its set-up is a tenth of this command), nor the generated serializer (another tenth)
        StdStreams.WriteLine(StdStreams.Out, OciStateJson.Write(State(engine, id)));
        return 0;
    }

    private static int KillContainer(ContainerEngine engine, string id, string signal, bool all)
    {
        engine.Kill(id, Signals.Parse(signal), all);
        return 0;
    }

    private static int DeleteContainer(ContainerEngine engine, string id, bool force)
    {
        // As runc: `delete --force` of a container that is not there succeeds. containerd's
        // shim runs it again after a normal delete, podman after a failed create.
        if (force && !engine.Store.Exists(id)) return 0;
        engine.Delete(id, force);
        return 0;
    }

    // ---- exec ---------------------------------------------------------------------------

    private static Command ExecCommand()
    {
        var process = new Option<string?>("--process", "-p") { Description = "process.json describing the process" };
        var detach = new Option<bool>("--detach", "-d");
        var pidFile = new Option<string?>("--pid-file");
        var consoleSocket = new Option<string?>("--console-socket");
        var tty = new Option<bool>("--tty", "-t");
        var env = new Option<string[]>("--env", "-e");
        var cwd = new Option<string?>("--cwd");
        var user = new Option<string?>("--user", "-u") { Description = "UID[:GID]" };
        var additionalGids = new Option<uint[]>("--additional-gids", "-g");
        var caps = new Option<string[]>("--cap", "-c");
        var noNewPrivs = new Option<bool>("--no-new-privs");
        var preserveFds = new Option<int>("--preserve-fds");
        var processLabel = new Option<string?>("--process-label") { Hidden = true };
        var apparmor = new Option<string?>("--apparmor") { Hidden = true };
        var subCgroup = new Option<string[]>("--cgroup") { Description = "Run the process in an existing sub-cgroup: [CONTROLLER[,CONTROLLER]:]PATH" };
        var ignorePaused = new Option<bool>("--ignore-paused") { Description = "Exec even into a paused container (the process starts frozen)" };
        var id = IdArgument();
        var command = new Argument<string[]>("command") { Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("exec", "Run a process in a running container")
        {
            process, detach, pidFile, consoleSocket, tty, env, cwd, user, additionalGids, caps, noNewPrivs, preserveFds,
            processLabel, apparmor, subCgroup, ignorePaused, id, command,
        };
        cmd.SetAction(p => Handle(p, engine =>
        {
            var cid = p.GetValue(id)!;
            var record = engine.Store.Load(cid);
            var spec = ContainerEngine.LoadSpec(record);
            Core.Oci.Process proc;
            if (p.GetValue(process) is { } file)
            {
                proc = OciJson.LoadProcess(file);
            }
            else
            {
                var args = p.GetValue(command) ?? [];
                if (args.Length == 0) throw new UsageException("exec needs --process FILE or a command");
                User? asUser = null;
                if (p.GetValue(user) is { } u)
                {
                    var parts = u.Split(':');
                    if (!uint.TryParse(parts[0], out var uid) || (parts.Length > 1 && !uint.TryParse(parts[1], out _)))
                        throw new UsageException($"invalid --user '{u}': expected UID[:GID]");
                    asUser = new User { Uid = uid, Gid = parts.Length > 1 ? uint.Parse(parts[1]) : 0 };
                }
                proc = ExecProcess.Build(spec.Process, new ExecRequest
                {
                    Args = args,
                    Env = p.GetValue(env) ?? [],
                    Cwd = p.GetValue(cwd),
                    Terminal = p.GetValue(tty),
                    User = asUser,
                    AdditionalGids = p.GetValue(additionalGids) ?? [],
                    AddCapabilities = p.GetValue(caps) ?? [],
                    NoNewPrivileges = p.GetValue(noNewPrivs),
                });
            }
            using var console = ForegroundConsole.For(proc.Terminal && !p.GetValue(detach) && p.GetValue(consoleSocket) is null);
            var pid = engine.Exec(cid, new ExecOptions
            {
                Process = proc,
                ConsoleFd = console?.Theirs.Fd ?? -1,
                ConsoleSocketPath = p.GetValue(consoleSocket),
                PidFile = p.GetValue(pidFile),
                PreserveFds = p.GetValue(preserveFds),
                IgnorePaused = p.GetValue(ignorePaused),
                SubCgroups = p.GetValue(subCgroup) ?? [],
                Record = record,
                Spec = spec,
            });
            using var master = console?.ReceiveMaster();
            if (p.GetValue(detach)) return 0;
            using (SignalForwarding.To(pid))
                return master is null ? Processes.ExitCode(Launcher.Reap(pid)) : ForegroundConsole.Relay(master, pid);
        }, ExitCodes.OciExecError));
        return cmd;
    }

    // ---- list / ps ----------------------------------------------------------------------

    private static Command ListCommand()
    {
        var format = new Option<string>("--format", "-f") { DefaultValueFactory = _ => "table" };
        var quiet = new Option<bool>("--quiet", "-q");
        var cmd = new Command("list", "List containers") { format, quiet };
        cmd.Aliases.Add("ls");
        cmd.SetAction(p => Handle(p, engine =>
        {
            var states = engine.Store.List().Select(r => (Record: r, State: State(engine, r.Id))).ToList();
            if (p.GetValue(quiet))
            {
                foreach (var s in states) Console.WriteLine(s.Record.Id);
                return 0;
            }
            if (p.GetValue(format) == "json")
            {
                var list = states.Select(s => new OciListEntry
                {
                    OciVersion = s.State.OciVersion, Id = s.Record.Id, Pid = s.State.Pid, Status = s.State.Status, Bundle = s.Record.Bundle,
                    Rootfs = s.Record.Rootfs, Created = s.Record.Created, Annotations = s.Record.Annotations, Owner = "",
                }).ToList();
                Console.WriteLine(JsonSerializer.Serialize(list, CliJson.Default.ListOciListEntry));
                return 0;
            }
            Console.Write(Table.Format(["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
                states.Select(s => new[] { s.Record.Id, s.State.Pid.ToString(), s.State.Status, s.Record.Bundle, s.Record.Created.ToString("O"), "root" })));
            return 0;
        }));
        return cmd;
    }

    private static Command PsCommand()
    {
        var format = new Option<string>("--format", "-f") { DefaultValueFactory = _ => "table" };
        var id = IdArgument();
        var psArgs = new Argument<string[]>("ps-args") { Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("ps", "List the processes of a container") { format, id, psArgs };
        cmd.SetAction(p => Handle(p, engine =>
        {
            var pids = engine.ContainerPids(p.GetValue(id)!);
            if (p.GetValue(format) == "json")
            {
                Console.WriteLine(JsonSerializer.Serialize(pids.ToList(), CliJson.Default.ListInt32));
                return 0;
            }
            var args = p.GetValue(psArgs) is { Length: > 0 } a ? a : ["-ef"];
            var psi = new System.Diagnostics.ProcessStartInfo("ps") { RedirectStandardOutput = true };
            foreach (var x in args) psi.ArgumentList.Add(x);
            using var ps = System.Diagnostics.Process.Start(psi) ?? throw new CrateRunException("cannot run ps");
            var lines = ps.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            ps.WaitForExit();
            if (lines.Length == 0) return 0;
            var pidColumn = Array.IndexOf(lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries), "PID");
            if (pidColumn < 0) throw new CrateRunException("ps output has no PID column");
            Console.WriteLine(lines[0]);
            foreach (var line in lines.Skip(1))
            {
                var cols = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (cols.Length > pidColumn && int.TryParse(cols[pidColumn], out var pid) && pids.Contains(pid)) Console.WriteLine(line);
            }
            return 0;
        }));
        return cmd;
    }

    // ---- pause / resume / events / update -----------------------------------------------

    private static Command PauseCommand()
    {
        var id = IdArgument();
        var cmd = new Command("pause", "Freeze every process of the container (cgroup freezer)") { id };
        cmd.SetAction(p => Handle(p, engine => { engine.Pause(p.GetValue(id)!); return 0; }));
        return cmd;
    }

    private static Command ResumeCommand()
    {
        var id = IdArgument();
        var cmd = new Command("resume", "Thaw a paused container") { id };
        cmd.SetAction(p => Handle(p, engine => { engine.Resume(p.GetValue(id)!); return 0; }));
        return cmd;
    }

    private static Command EventsCommand()
    {
        var stats = new Option<bool>("--stats") { Description = "Print one stats event and exit" };
        var interval = new Option<string>("--interval") { DefaultValueFactory = _ => "5s" };
        var id = IdArgument();
        var cmd = new Command("events", "Container stats (and OOM) events as JSON lines") { stats, interval, id };
        cmd.SetAction(p => Handle(p, engine =>
        {
            var cid = p.GetValue(id)!;
            var every = ParseDuration(p.GetValue(interval)!);
            ulong oomsSeen = 0;
            while (true)
            {
                var s = engine.RunningCgroup(cid).Stats();
                if (s.OomKills > oomsSeen)
                {
                    oomsSeen = s.OomKills;
                    if (!p.GetValue(stats)) Console.WriteLine(JsonSerializer.Serialize(new OciEvent { Type = "oom", Id = cid }, CliJson.Default.OciEvent));
                }
                Console.WriteLine(JsonSerializer.Serialize(OciEvent.FromStats(cid, s), CliJson.Default.OciEvent));
                if (p.GetValue(stats)) return 0;
                Thread.Sleep(every);
            }
        }));
        return cmd;
    }

    private static TimeSpan ParseDuration(string s)
    {
        var unit = s.TrimStart("0123456789.".ToCharArray());
        var number = s[..^unit.Length];
        if (!double.TryParse(number, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n) || n <= 0)
            throw new UsageException($"invalid duration '{s}'");
        return unit switch
        {
            "ms" => TimeSpan.FromMilliseconds(n),
            "s" or "" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            _ => throw new UsageException($"invalid duration '{s}'"),
        };
    }

    private static Command UpdateCommand()
    {
        var resources = new Option<string?>("--resources", "-r") { Description = "LinuxResources JSON file, or - for stdin" };
        var memory = new Option<string?>("--memory");
        var memorySwap = new Option<string?>("--memory-swap");
        var memoryReservation = new Option<string?>("--memory-reservation");
        var cpuQuota = new Option<long?>("--cpu-quota");
        var cpuPeriod = new Option<ulong?>("--cpu-period");
        var cpuShares = new Option<ulong?>("--cpu-share", "--cpu-shares") { Description = "CPU shares (runc's spelling; --cpu-shares too)" };
        var cpusetCpus = new Option<string?>("--cpuset-cpus");
        var cpusetMems = new Option<string?>("--cpuset-mems");
        var pidsLimit = new Option<long?>("--pids-limit");
        var cpuRtPeriod = new Option<ulong?>("--cpu-rt-period");
        var cpuRtRuntime = new Option<long?>("--cpu-rt-runtime");
        var blkioWeight = new Option<ushort?>("--blkio-weight");
        var id = IdArgument();
        var cmd = new Command("update", "Change the resource limits of a running container")
        {
            resources, memory, memorySwap, memoryReservation, cpuQuota, cpuPeriod, cpuShares, cpusetCpus, cpusetMems, pidsLimit,
            cpuRtPeriod, cpuRtRuntime, blkioWeight, id,
        };
        cmd.SetAction(p => Handle(p, engine =>
        {
            LinuxResources r;
            if (p.GetValue(resources) is { } file)
                r = OciJson.ReadResources(file == "-" ? Console.In.ReadToEnd() : File.ReadAllText(file), file == "-" ? "resources from stdin" : file);
            else
                r = new LinuxResources();
            static long Mem(string s) => s == "-1" ? -1 : Quantities.ParseMemory(s);
            if (p.GetValue(memory) is { } m) (r.Memory ??= new()).Limit = Mem(m);
            if (p.GetValue(memorySwap) is { } ms) (r.Memory ??= new()).Swap = Mem(ms);
            if (p.GetValue(memoryReservation) is { } mr) (r.Memory ??= new()).Reservation = Mem(mr);
            if (p.GetValue(cpuQuota) is { } q) (r.Cpu ??= new()).Quota = q;
            if (p.GetValue(cpuPeriod) is { } per) (r.Cpu ??= new()).Period = per;
            if (p.GetValue(cpuShares) is { } sh) (r.Cpu ??= new()).Shares = sh;
            if (p.GetValue(cpusetCpus) is { } cc) (r.Cpu ??= new()).Cpus = cc;
            if (p.GetValue(cpusetMems) is { } cm) (r.Cpu ??= new()).Mems = cm;
            if (p.GetValue(pidsLimit) is { } pl) r.Pids = new LinuxPids { Limit = pl };
            if (p.GetValue(cpuRtPeriod) is { } rtp) (r.Cpu ??= new()).RealtimePeriod = rtp;
            if (p.GetValue(cpuRtRuntime) is { } rtr) (r.Cpu ??= new()).RealtimeRuntime = rtr;
            if (p.GetValue(blkioWeight) is { } bw) (r.BlockIO ??= new()).Weight = bw;
            engine.Update(p.GetValue(id)!, r);
            return 0;
        }));
        return cmd;
    }

    // ---- spec / features ----------------------------------------------------------------

    private static Command SpecCommand()
    {
        var bundle = new Option<string>("--bundle", "-b") { DefaultValueFactory = _ => "." };
        var rootless = new Option<bool>("--rootless") { Description = "A config for an unprivileged user (user namespace, no cgroup limits)" };
        var cmd = new Command("spec", "Write a default config.json into the bundle") { bundle, rootless };
        cmd.SetAction(p => Handle(p, _ =>
        {
            var path = Path.Combine(p.GetValue(bundle)!, "config.json");
            if (File.Exists(path)) throw new CrateRunException($"{path} already exists: remove it first");
            var spec = DefaultSpecs.Create(p.GetValue(rootless));
            File.WriteAllBytes(path, OciJson.WriteUtf8Bytes(spec, indented: true));
            return 0;
        }));
        return cmd;
    }

    private static Command FeaturesCommand()
    {
        var cmd = new Command("features", "What this runtime supports (runtime-spec features.md)");
        cmd.SetAction(p => Handle(p, _ =>
        {
            Console.WriteLine(OciJson.Serialize(DefaultSpecs.Features()));
            return 0;
        }));
        return cmd;
    }

    /// <summary>
    /// runc's foreground terminal: with process.terminal and no --console-socket, the pty master
    /// comes back to us over a socket pair, and we relay it to our own stdio, the caller's
    /// terminal raw meanwhile.
    /// </summary>
    private sealed class ForegroundConsole : IDisposable
    {
        private readonly SafeFd _ours;
        public SafeFd Theirs { get; }

        private ForegroundConsole((SafeFd Ours, SafeFd Theirs) pair) => (_ours, Theirs) = pair;

        public static ForegroundConsole? For(bool wanted) => wanted ? new ForegroundConsole(ContainerMonitor.SocketPair()) : null;

        /// <summary>The master the container process sent (call after create/exec returned).</summary>
        public SafeFd ReceiveMaster()
        {
            Theirs.Dispose();
            UnixSockets.Receive(_ours.Fd, out var fd);
            if (fd < 0) throw new CrateRunException("no terminal received from the container process");
            var master = new SafeFd(fd);
            // the caller's size, before start lets the process run (the relay's SIGWINCH copy comes later)
            Terminal.CopySize(Terminal.IsTerminal(0) ? 0 : 1, master.Fd);
            return master;
        }

        /// <summary>Copies stdin to the pty and the pty to stdout until <paramref name="pid"/> (our child) exits; its exit code.</summary>
        public static int Relay(SafeFd master, int pid)
        {
            using var raw = Terminal.MakeRaw(0);
            using var winch = SignalForwarding.WindowSize(master.Fd);
            using var pump = new IoPump();
            pump.AddOutput(master.Fd, 1);
            pump.AddInput(0, master.Fd);
            return Processes.ExitCode(pump.RunUntilExit(pid) ?? -1);
        }

        public void Dispose()
        {
            _ours.Dispose();
            Theirs.Dispose();
        }
    }
}
