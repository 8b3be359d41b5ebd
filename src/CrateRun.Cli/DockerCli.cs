using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.Json;
using CrateRun.Core;
using CrateRun.Core.Config;
using CrateRun.Core.State;
using CrateRun.Linux.Engine;
using CrateRun.Linux.Process;

namespace CrateRun.Cli;

/// <summary>The Docker-like face: run, ps, logs, rm, exec, stop, kill, wait, inspect.</summary>
public static class DockerCli
{
    private static readonly Option<string?> RootOption = new("--root")
    {
        Description = "State directory (default /var/lib/craterun for root, ~/.craterun otherwise; or $CRATERUN_ROOT)",
        Recursive = true,
    };

    /// <summary>The top-level commands, in --help order, each with its name (<see cref="NamedCommands"/>).</summary>
    private static readonly (string Name, Func<Command> Make)[] TopLevelCommands =
    [
        ("run", () => RunCommand()),
        ("create", () => RunCommand("create")),
        ("start", () => LifecycleCommands.Start()),
        ("restart", () => LifecycleCommands.Restart()),
        ("container", () => LifecycleCommands.Container()),
        ("update", () => UpdateCommand.Create()),
        ("ps", () => PsCommand()),
        ("logs", () => LogsCommand()),
        ("rm", () => RmCommand()),
        ("exec", () => ExecCommand()),
        ("stop", () => StopCommand()),
        ("kill", () => KillCommand()),
        ("wait", () => WaitCommand()),
        ("inspect", () => InspectCommand()),
        ("attach", () => AttachCommand.Create()),
        ("pause", () => ContainerCommands.Pause()),
        ("unpause", () => ContainerCommands.Unpause()),
        ("rename", () => ContainerCommands.Rename()),
        ("top", () => ContainerCommands.Top()),
        ("stats", () => StatsCommand.Create()),
        ("events", () => EventsCommand.Create()),
        ("cp", () => CopyCommand.Create()),
        ("version", () => SystemCommands.Version()),
        ("info", () => SystemCommands.Info()),
        // `craterun oci ...` is dispatched before this parser (Program.Main); listed here for --help
        ("oci", () => new Command("oci", "The runc-compatible OCI runtime (as craterun-oci): craterun oci --help")),
        ("load", () => ImageCommands.Load()),
        ("import", () => ImageCommands.Import()),
        ("images", () => ImageCommands.Images()),
        ("rmi", () => ImageCommands.Rmi()),
        ("tag", () => ImageCommands.Tag()),
        ("image", () => ImageCommands.Image()),
        ("pull", () => PullCommands.Pull()),
        ("login", () => PullCommands.Login()),
        ("logout", () => PullCommands.Logout()),
        ("save", () => SaveCommand.Create()),
        ("network", () => NetworkCommands.Network()),
        ("port", () => NetworkCommands.Port()),
        ("volume", () => VolumeCommands.Volume()),
        ("completion", () => Completion.Create()),
        ("man-pages", () => ManPages.Create()),
    ];

    /// <param name="word">The command word (<see cref="Linux.Process.CommandLine.CommandWord"/>), read once by Program.</param>
    public static int Run(string[] args, string? word)
    {
        // `run`: are we the monitor run_front.c forked before our runtime started?
        IsMonitor = TakeFrontFromConstructor();
        // completion and man-pages walk the whole tree: as for a command line without a command word
        var named = word is "completion" or "man-pages" ? null : word;
        var root = ParserRoot.Create("CrateRun: run containers with the kernel's own primitives (namespaces, cgroups, pivot_root)", args, named);
        root.Options.Add(RootOption);
        NamedCommands.AddTo(root, TopLevelCommands, named);
        args = CommandLineSplit.Apply(args, root, new Dictionary<string, int> { ["run"] = 0, ["exec"] = 1 }, out var unknownOption);
        var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        var helpAsked = args.TakeWhile(a => a != "--").Any(a => a is "--help" or "-h" or "-?");
        if (!helpAsked && (unknownOption is not null || parsed.Errors.Count > 0))
            return UsageError(parsed, unknownOption is not null ? $"unknown flag: {unknownOption}" : ParseErrorText(parsed));
        return parsed.Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false });
    }

    /// <summary>A command line that does not parse: one line naming the problem, where to read more, 125 (as Docker's two lines).</summary>
    private static int UsageError(ParseResult parsed, string message)
    {
        var command = parsed.CommandResult.Command;
        var path = command == parsed.RootCommandResult.Command ? "craterun" : "craterun " + command.Name;
        Console.Error.WriteLine($"craterun: {message}");
        Console.Error.WriteLine($"See '{path} --help'.");
        return ExitCodes.RuntimeError;
    }

    /// <summary>The first parse error in words (no .NET type names, no help dump).</summary>
    private static string ParseErrorText(ParseResult parsed)
    {
        if (parsed.UnmatchedTokens.Count > 0)
        {
            var token = parsed.UnmatchedTokens[0];
            return token.StartsWith('-') && token.Length > 1 ? $"unknown flag: {token}" : $"unexpected argument \"{token}\"";
        }
        var error = parsed.Errors[0];
        var command = parsed.CommandResult.Command;
        switch (error.SymbolResult)
        {
            case System.CommandLine.Parsing.OptionResult { Option: var o } when o.Arity.MinimumNumberOfValues > 0 && error.Message.StartsWith("Required argument missing", StringComparison.Ordinal):
                return $"flag needs an argument: {o.Name}";
            case System.CommandLine.Parsing.CommandResult when command == parsed.RootCommandResult.Command && error.Message.StartsWith("Required command", StringComparison.Ordinal):
                return "a command is required (run, ps, logs, rm, exec, stop, kill, wait, inspect, pause, unpause, rename, top, oci)";
            case System.CommandLine.Parsing.ArgumentResult { Argument: var a } when error.Message.StartsWith("Required argument missing", StringComparison.Ordinal):
                return $"\"craterun {command.Name}\" needs a {a.Name} argument";
            case System.CommandLine.Parsing.CommandResult when error.Message.StartsWith("Required argument missing", StringComparison.Ordinal):
                return $"\"craterun {command.Name}\" needs a {command.Arguments.FirstOrDefault()?.Name ?? "further"} argument";
        }
        // anything else System.CommandLine says, without a type name should one slip in
        return System.Text.RegularExpressions.Regex.Replace(error.Message, @" of type '[^']*'", "").TrimEnd('.');
    }

    /// <summary>An integer option whose bad value is reported as Docker does: invalid argument "abc" for "--tail": not a number.</summary>
    private static Option<int?> IntOption(string name, string alias, string description) => new(name, alias)
    {
        Description = description,
        CustomParser = r =>
        {
            var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
            if (int.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var n)) return n;
            r.AddError($"invalid argument \"{text}\" for \"{name}\": not a number");
            return null;
        },
    };

    /// <summary>
    /// Whether this process is a `run`'s monitor, forked by run_front.c before the runtime started
    /// (CRATERUN_FRONT=PID of the front; the front is on fd 3).
    /// </summary>
    private static bool TakeFrontFromConstructor()
    {
        const string Variable = "CRATERUN_FRONT";
        var value = Environment.GetEnvironmentVariable(Variable);
        if (value is null) return false;
        Environment.SetEnvironmentVariable(Variable, null); // not for anything we start
        return int.TryParse(value, out var front) && front > 0;
    }

    /// <summary>This process is a `run`'s monitor, with its front on fd 3 (false for every other command).</summary>
    internal static bool IsMonitor;

    internal static ContainerEngine Engine(ParseResult p)
    {
        var root = p.GetValue(RootOption) ?? ContainerStore.DefaultRoot(Environment.IsPrivilegedProcess);
        var engine = new ContainerEngine(new ContainerStore(root));
        engine.ReleaseOrphanNetworks(); // a container whose monitor was killed still holds its network
        return engine;
    }

    // ---- run --------------------------------------------------------------------------

    /// <summary>run, or with <paramref name="verb"/> "create" Docker's create: the same flags, the container is made but not started.</summary>
    private static Command RunCommand(string verb = "run")
    {
        var rootfs = new Option<string?>("--rootfs") { Description = "Root filesystem directory of the container" };
        var memory = new Option<string?>("--memory", "-m") { Description = "Memory limit: bytes, or 64m, 1g" };
        var pids = new Option<string?>("--pids", "--pids-limit") { Description = "Maximum number of processes" };
        var cpu = new Option<string?>("--cpu") { Description = "CPU quota and period in microseconds: \"50000 100000\"" };
        var cpus = new Option<string?>("--cpus") { Description = "Number of CPUs, e.g. 0.5" };
        var hostname = new Option<string?>("--hostname") { Description = "Hostname inside the container (default: the short id)" };
        var name = new Option<string?>("--name") { Description = "A name for the container" };
        var env = new Option<string[]>("--env", "-e") { Description = "Environment variable KEY=VALUE", AllowMultipleArgumentsPerToken = false };
        var workdir = new Option<string?>("--workdir", "-w") { Description = "Working directory inside the container" };
        var volume = new Option<string[]>("--volume", "-v") { Description = "Bind mount HOSTDIR:CTRDIR[:ro], named volume NAME:CTRDIR[:ro][,nocopy] (made if missing), or anonymous volume CTRDIR" };
        var detach = new Option<bool>("--detach", "-d") { Description = "Run in the background and print the container id" };
        var rm = new Option<bool>("--rm") { Description = "Remove the container when it exits" };
        var interactive = new Option<bool>("--interactive", "-i") { Description = "Keep stdin open and pass it to the container" };
        var tty = new Option<bool>("--tty", "-t") { Description = "Give the container a pseudo-terminal" };
        var cidfile = new Option<string?>("--cidfile") { Description = "Write the container id to this file" };
        var cgroupParent = new Option<string?>("--cgroup-parent") { Description = "Parent cgroup (relative: below our own cgroup; on v2, below the slice when we run in a systemd scope)" };
        var capAdd = new Option<string[]>("--cap-add") { Description = "Add a capability (or ALL)" };
        var capDrop = new Option<string[]>("--cap-drop") { Description = "Drop a capability (or ALL)" };
        var privileged = new Option<bool>("--privileged") { Description = "All capabilities, no masked paths, writable /sys" };
        var readOnly = new Option<bool>("--read-only") { Description = "Mount the root filesystem read-only" };
        var tmpfs = new Option<string[]>("--tmpfs") { Description = "Mount a tmpfs: PATH[:OPTIONS]" };
        var mount = new Option<string[]>("--mount") { Description = "type=bind|tmpfs|volume,source=...,target=...[,readonly][,bind-propagation=...][,tmpfs-size=...][,tmpfs-mode=...][,volume-nocopy]" };
        var user = new Option<string?>("--user", "-u") { Description = "USER[:GROUP] or UID[:GID] to run as (names from the rootfs)" };
        var device = new Option<string[]>("--device") { Description = "Add a host device: HOSTPATH[:CONTAINERPATH][:rwm]" };
        var userns = new Option<string?>("--userns") { Description = "User namespace: host, auto, or CONTAINERID:HOSTID:SIZE (default: host for root, auto otherwise)" };
        var securityOpt = new Option<string[]>("--security-opt") { Description = "seccomp=unconfined|PROFILE.json, no-new-privileges=true|false" };
        var entrypoint = new Option<string?>("--entrypoint") { Description = "Replace the image's Entrypoint (\"\" clears it)" };
        var pull = new Option<string?>("--pull") { Description = "missing (default): pull when not stored; always; never" };
        var platform = new Option<string?>("--platform") { Description = "os/arch[/variant] of the image to run (pulled from a multi-platform image when the stored one differs)" };
        var envFile = new Option<string[]>("--env-file") { Description = "Read environment variables from a file (KEY=VALUE lines, # comments)" };
        var label = new Option<string[]>("--label", "-l") { Description = "Set a label on the container: KEY[=VALUE]" };
        var labelFile = new Option<string[]>("--label-file") { Description = "Read labels from a file (KEY[=VALUE] lines)" };
        var restart = new Option<string?>("--restart") { Description = "Restart policy when the container exits: no, on-failure[:MAX-RETRIES], always, unless-stopped" };
        var command = new Argument<string[]>("command") { Description = "IMAGE [CMD...], or CMD after -- with --rootfs", Arity = ArgumentArity.ZeroOrMore };
        var (network, publish, publishAll, dns, addHost) = NetworkCommands.RunOptions();
        var cmd = new Command(verb, verb == "create" ? "Create a new container (start it with craterun start)" : "Create and run a container")
        {
            rootfs, memory, pids, cpu, cpus, hostname, name, env, workdir, volume, detach, rm, interactive, tty, cidfile,
            cgroupParent, capAdd, capDrop, privileged, readOnly, tmpfs, user, userns, device, securityOpt, entrypoint, pull, platform,
            envFile, label, labelFile, mount, command, network, publish, publishAll, dns, addHost,
        };
        var flags = new RunFlagOptions();
        flags.AddTo(cmd);
        cmd.Options.Add(restart);
        var init = new Option<bool>("--init") { Description = "Run an init inside the container that forwards signals and reaps processes" };
        cmd.Options.Add(init);
        var healthCmd = new Option<string?>("--health-cmd") { Description = "Command to run to check health (in the container, with /bin/sh -c)" };
        var healthInterval = new Option<string?>("--health-interval") { Description = "Time between running the check (ms|s|m|h) (default 30s)" };
        var healthTimeout = new Option<string?>("--health-timeout") { Description = "Maximum time to allow one check to run (ms|s|m|h) (default 30s)" };
        var healthRetries = IntOption("--health-retries", "--health-retries", "Consecutive failures needed to report unhealthy (default 3)");
        var healthStartPeriod = new Option<string?>("--health-start-period") { Description = "Start period for the container to initialize before failures count (ms|s|m|h) (default 0s)" };
        var noHealthcheck = new Option<bool>("--no-healthcheck") { Description = "Disable any container-specified HEALTHCHECK" };
        foreach (var o in new Option[] { healthCmd, healthInterval, healthTimeout, healthRetries, healthStartPeriod, noHealthcheck }) cmd.Options.Add(o);
        var explain = ExplainCli.Make();
        ExplainCli.AddTo(cmd, explain);
        cmd.SetAction(p => Program.Guard(() =>
        {
            var cmdArgs = p.GetValue(command) ?? [];
            var rootfsDir = p.GetValue(rootfs);
            // --env-file first, then -e: a later value of a variable wins (Docker's order)
            string[] envs = [.. RunInputs.EnvFiles(p.GetValue(envFile) ?? []), .. p.GetValue(env) ?? []];
            var labels = RunInputs.Labels(p.GetValue(labelFile) ?? [], p.GetValue(label) ?? []);
            var mounts = (p.GetValue(mount) ?? []).Select(MountArgument.Parse).ToList(); // bad --mount: one line before anything is made
            var restartPolicy = p.GetValue(restart) is { } rp ? Core.Docker.RestartPolicy.Parse(rp) : null;
            if (restartPolicy is { IsNo: false } && p.GetValue(rm)) throw new UsageException("Conflicting options: --restart and --rm");
            var healthFlags = Core.Docker.HealthRules.ParseFlags(p.GetValue(healthCmd), p.GetValue(healthInterval), p.GetValue(healthTimeout),
                p.GetValue(healthRetries), p.GetValue(healthStartPeriod), p.GetValue(noHealthcheck));
            var volumeArgs = (p.GetValue(volume) ?? []).Select(Core.Volumes.VolumeArgument.Parse).ToList();
            // named and anonymous volumes (anonymous ones named now); the engine makes the missing ones when it registers the container
            var namedVolumes = Core.Volumes.VolumeNames.Named([.. volumeArgs.Select(v => v.Named).OfType<Core.Volumes.VolumeRequest>(),
                .. mounts.Select(m => m.Named).OfType<Core.Volumes.VolumeRequest>()]);
            var engine = Engine(p);
            ExplainCli.Attach(engine, p, explain); // the monitor explains: RunFlow hands it our stderr
            if (rootfsDir is null && cmdArgs is ["hello-world", ..])
            {
                rootfsDir = HelloWorld.Extract(engine.Store.Root);
                cmdArgs = ["/hello"];
            }
            // without --rootfs the first positional is an image; its config supplies what the flags do not
            var image = rootfsDir is null && cmdArgs.Length > 0
                ? ImageCommands.ResolveForRun(engine.Store.Root, cmdArgs, p.GetValue(entrypoint), p.GetValue(pull), envs, p.GetValue(workdir), p.GetValue(user), p.GetValue(platform), p.GetValue(rm))
                : null;
            if (image is not null) cmdArgs = [.. image.Settings.Command];
            // the image's HEALTHCHECK with the --health-* flags on top (Docker's merge)
            var healthcheck = Core.Docker.HealthRules.Merge(healthFlags, image?.Healthcheck, image?.Name ?? "");
            if (rootfsDir is null && image is null) throw new UsageException("an image or --rootfs DIR is required: craterun run IMAGE [CMD...] (or try: craterun run --rm hello-world)");
            if (cmdArgs.Length == 0) throw new UsageException("no command given: craterun run --rootfs DIR -- CMD [ARG...]");
            var resolvedRootfs = image is null ? RootfsCheck.Resolve(rootfsDir!, requireLayout: true) : Linux.Images.ImageRootfs.MountDir;
            Func<string, string?> readRootfsFile = image?.ReadFile ?? (f => ReadInRootfs(resolvedRootfs, f));
            var (uid, gid) = (image is null ? p.GetValue(user) : image.Settings.User) is { } u
                ? SpecBuilder.ResolveUser(u, readRootfsFile("etc/passwd"), readRootfsFile("etc/group"))
                : (0u, 0u);
            if (p.GetValue(cpu) is not null && p.GetValue(cpus) is not null) throw new UsageException("use either --cpu or --cpus, not both");
            var isTty = p.GetValue(tty);
            // as Docker: -it needs a terminal to put in raw mode; piped input would hang after EOF
            if (isTty && p.GetValue(interactive) && !Terminal.IsTerminal(0))
                throw new UsageException("the input device is not a TTY (-it needs a terminal on stdin; use -i alone for piped input)");
            var (nnp, unconfined, profilePath) = SpecBuilder.ParseSecurityOpts(p.GetValue(securityOpt) ?? []);
            var subordinate = Linux.Process.SubordinateOwners.Ranges;
            var maps = SpecBuilder.ParseUserns(p.GetValue(userns), Environment.IsPrivilegedProcess, Linux.Process.UserNamespaces.Uid, Linux.Process.UserNamespaces.Gid,
                subordinate?.Uids, subordinate?.Gids);
            if (maps is not null && p.GetValue(userns) is null or "" or "auto" && Linux.Process.SubordinateOwners.SingleUidNoticeOnce(engine.Store.Root) is { } notice)
                Console.Error.WriteLine(notice);
            var (networkSettings, joinNetns) = NetworkCommands.ForRun(engine, p.GetValue(network), p.GetValue(publish), p.GetValue(dns), p.GetValue(addHost), p.GetValue(publishAll), image?.ExposedPorts);
            var more = flags.Parse(p, engine, readRootfsFile("etc/group"));
            var options = new RunOptions
            {
                Network = networkSettings,
                JoinNetns = joinNetns,
                Rootfs = resolvedRootfs,
                Devices = [.. (p.GetValue(device) ?? []).Select(d => SpecBuilder.ParseDevice(d, DeviceNodes.Stat))],
                Command = cmdArgs,
                Name = p.GetValue(name),
                Hostname = p.GetValue(hostname),
                Memory = p.GetValue(memory) is { } m ? Quantities.ParseMemory(m) : null,
                Pids = p.GetValue(pids) is { } pl ? Quantities.ParsePids(pl) : null,
                Cpu = p.GetValue(cpu) is { } c ? Quantities.ParseCpu(c) : p.GetValue(cpus) is { } cs ? Quantities.ParseCpus(cs, Environment.ProcessorCount) : null,
                Env = image?.Settings.Env ?? envs,
                Workdir = image is null ? p.GetValue(workdir) : image.Settings.Workdir,
                Annotations = new Dictionary<string, string>([.. image?.Annotations ?? new Dictionary<string, string>(), .. Core.Volumes.VolumeNames.Annotations(namedVolumes)]),
                Volumes = [.. volumeArgs.Select(v => v.Bind).OfType<Volume>().Select(CheckVolume), .. mounts.Select(m => m.Bind).OfType<Volume>().Select(CheckBindSource),
                    .. namedVolumes.Select(v => new Volume(engine.Volumes.DataDir(v.Name!), v.ContainerPath, v.ReadOnly))],
                Tty = isTty,
                Interactive = p.GetValue(interactive),
                CgroupParent = p.GetValue(cgroupParent),
                CapAdd = p.GetValue(capAdd) ?? [],
                CapDrop = p.GetValue(capDrop) ?? [],
                Privileged = p.GetValue(privileged),
                GrantableCapabilities = BoundingSet(),
                ReadOnlyRoot = p.GetValue(readOnly),
                Tmpfs = [.. p.GetValue(tmpfs) ?? [], .. mounts.Select(m => m.Tmpfs).OfType<string>()],
                Uid = uid,
                Gid = gid,
                NoNewPrivileges = nnp ?? true,
                UidMappings = maps?.Uids,
                GidMappings = maps?.Gids,
                IdmapRootfs = maps is not null && Environment.IsPrivilegedProcess,
                SeccompUnconfined = unconfined,
                Seccomp = profilePath is null ? null : LoadSeccomp(profilePath),
                ConsoleSize = isTty ? Terminal.Size(1) ?? Terminal.Size(0) : null,
                Labels = labels,
                AdditionalGids = more.GroupAdd,
                Ulimits = more.Ulimits,
                ShmSize = more.ShmSize,
                Sysctls = more.Sysctls,
                MemorySwap = more.MemorySwap,
                MemoryReservation = more.MemoryReservation,
                CpuShares = more.CpuShares,
                CpusetCpus = more.CpusetCpus,
                CpusetMems = more.CpusetMems,
                OomScoreAdj = more.OomScoreAdj,
                SharedNamespaces = more.SharedNamespaces,
                IpcMode = more.IpcMode,
                StopSignal = more.StopSignal,
                StopTimeout = more.StopTimeout,
                RestartPolicy = restartPolicy,
                Init = p.GetValue(init),
                Healthcheck = healthcheck,
            };
            return RunFlow.Run(engine, options, p.GetValue(detach), p.GetValue(rm), p.GetValue(cidfile), createOnly: verb == "create");
        }));
        return cmd;
    }

    private static Core.Oci.LinuxSeccomp LoadSeccomp(string path)
    {
        if (!File.Exists(path)) throw new UsageException($"seccomp profile {path} does not exist");
        try { return Core.Oci.OciJson.ReadSeccomp(File.ReadAllText(path), $"seccomp profile {path}"); }
        catch (FormatException e) { throw new UsageException(e.Message); }
    }

    /// <summary>Our capability bounding set (CapBnd of /proc/self/status), or null if it cannot be read.</summary>
    private static List<string>? BoundingSet()
    {
        var line = ReadIfExists("/proc/self/status")?.Split('\n').FirstOrDefault(l => l.StartsWith("CapBnd:", StringComparison.Ordinal));
        return line is not null && ulong.TryParse(line["CapBnd:".Length..].Trim(), System.Globalization.NumberStyles.HexNumber, null, out var mask)
            ? Core.Security.Capabilities.FromMask(mask)
            : null;
    }

    private static string? ReadIfExists(string path)
    {
        try { return File.Exists(path) ? File.ReadAllText(path) : null; }
        catch (IOException) { return null; }
    }

    /// <summary>A file of the rootfs as the container sees it (symlinks stay inside it; only a regular file is read).</summary>
    private static string? ReadInRootfs(string rootfs, string relative) => Linux.Process.RootfsFiles.ReadInRoot(rootfs, relative);

    private static Volume CheckBindSource(Volume v) => Directory.Exists(v.HostPath) || File.Exists(v.HostPath)
        ? v
        : throw new UsageException($"invalid argument for \"--mount\": the source path '{v.HostPath}' does not exist");

    private static Volume CheckVolume(Volume v)
    {
        if (!Directory.Exists(v.HostPath) && !File.Exists(v.HostPath))
            throw new UsageException($"invalid volume '{v.HostPath}:{v.ContainerPath}': the host path '{v.HostPath}' does not exist");
        return v;
    }

    // ---- ps ---------------------------------------------------------------------------

    private static Command PsCommand()
    {
        var all = new Option<bool>("--all", "-a") { Description = "Show all containers (default: running ones only)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only print ids" };
        var format = new Option<string>("--format") { Description = "table, json (an array, as podman), or a Go template: '{{.ID}} {{.Names}} {{.Status}}', 'table {{.ID}}\t{{.Label \"k\"}}'", DefaultValueFactory = _ => "table" };
        var filter = new Option<string[]>("--filter", "-f") { Description = "status=, name=, id=, label=KEY[=VALUE], exited=CODE (the same key: any of them, labels: all of them; different keys: all)" };
        var noTrunc = new Option<bool>("--no-trunc") { Description = "Full ids and commands in templates" };
        var cmd = new Command("ps", "List containers") { all, quiet, format, filter, noTrunc };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var engine = Engine(p);
            var filters = Core.Docker.ContainerFilter.Parse(p.GetValue(filter) ?? [], DateTimeOffset.UtcNow);
            var formatText = p.GetValue(format)!;
            var template = formatText is "table" or "json" ? null : Core.Docker.GoTemplate.Parse(formatText, Core.Docker.ContainerRow.Fields.Keys);
            var list = engine.Store.List();
            foreach (var r in list) Describe(engine, r);
            // as Docker: a status filter looks at every container, -a or not
            if (!p.GetValue(all) && !filters.HasStatus) list = [.. list.Where(r => r.Status is ContainerStatus.Running or ContainerStatus.Paused or ContainerStatus.Restarting)]; // Docker lists paused and restarting ones too
            if (!filters.IsEmpty) list = [.. list.Where(r => filters.Matches(PsView.Row(engine, r)))];
            if (p.GetValue(quiet))
            {
                foreach (var r in list) Console.WriteLine(ContainerId.Short(r.Id));
                return 0;
            }
            if (template is not null)
            {
                PsView.Print(template, list.Select(r => PsView.Row(engine, r)), truncate: !p.GetValue(noTrunc));
                return 0;
            }
            switch (formatText)
            {
                case "json":
                    PrintJson(list);
                    return 0;
                default:
                    Console.Write(Table.Format(["CONTAINER ID", "NAME", "PID", "STATUS", "CREATED", "COMMAND", "PORTS"],
                        list.Select(r => new[]
                        {
                            ContainerId.Short(r.Id), r.Name ?? "-", r.Status is ContainerStatus.Exited or ContainerStatus.Restarting || r.Pid == 0 ? "-" : r.Pid.ToString(),
                            StatusText(r), r.Created.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss") + " UTC", Table.Command(r.Command),
                            string.Join(", ", r.Network?.Ports.Select(port => port.ToString()) ?? []),
                        })));
                    return 0;
            }
        }));
        return cmd;
    }

    private static string StatusText(ContainerRecord r) => r.Status switch
    {
        ContainerStatus.Configured => "created",
        ContainerStatus.Running => "running" + Core.Docker.HealthRules.StatusSuffix(r.Health),
        ContainerStatus.Exited => r.ExitCode is { } c ? $"exited ({c})" : "exited (unknown)",
        ContainerStatus.Restarting => $"Restarting ({r.ExitCode}) {Core.Docker.HumanDuration.Of(DateTimeOffset.UtcNow - (r.Finished ?? r.Created))} ago",
        _ => r.Status,
    } + (r.LogsStopped is null ? "" : " (logs stopped)");

    /// <summary>
    /// The record as it stands now: a dead process is exited, a frozen one paused; logs that
    /// stopped (a full disk, a killed monitor) say so.
    /// </summary>
    private static ContainerRecord Describe(ContainerEngine engine, ContainerRecord r)
    {
        (r.Status, var monitorGone) = engine.Observe(r);
        r.LogsStopped ??= LogFile.StoppedReason(engine.Store.Dir(r.Id));
        if (r.Healthcheck is not null) r.Health = HealthChecks.Read(engine.Store, r.Id); // Docker's State.Health
        if (monitorGone)
            r.LogsStopped ??= $"the monitor (pid {r.MonitorPid}) is gone: output is no longer captured and the exit code will not be recorded";
        return r;
    }

    /// <summary>
    /// Records as JSON for people: '+', '&lt;', '&gt;', '&amp;' and quotes as themselves (not \uXXXX), as
    /// Docker prints them. The escaping is the writer's, so the write-only generated code still serves.
    /// </summary>
    private static void PrintJson(List<ContainerRecord> list)
    {
        using var stdout = Console.OpenStandardOutput();
        using (var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions
        {
            Indented = true,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
        {
            JsonSerializer.Serialize(writer, list, StateJsonWriteContext.Default.ListContainerRecord);
        }
        stdout.Write("\n"u8);
    }

    // ---- logs -------------------------------------------------------------------------

    private static Command LogsCommand()
    {
        var follow = new Option<bool>("--follow", "-f") { Description = "Follow the output until the container exits" };
        var tail = new Option<int?>("--tail", "-n")
        {
            Description = "Only the last N lines (\"all\" or a negative number: everything)",
            CustomParser = r =>
            {
                var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
                if (text == "all") return -1; // (a null from here would be read as "no value" and the token cast)
                if (int.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var n))
                    return Math.Max(n, -1);
                r.AddError($"invalid argument \"{text}\" for \"--tail\": a number of lines or \"all\"");
                return null;
            },
        };
        var timestamps = new Option<bool>("--timestamps", "-t") { Description = "Prefix each line with the time it was written" };
        var since = new Option<string?>("--since") { Description = "Only output written since: 2026-11-30T02:00:00Z, Unix seconds, or relative (10m, 1h30m)" };
        var until = new Option<string?>("--until") { Description = "Only output written before: the same forms as --since" };
        var id = new Argument<string>("container");
        var cmd = new Command("logs", "Print a container's output") { follow, tail, timestamps, since, until, id };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var now = DateTimeOffset.UtcNow;
            var from = p.GetValue(since) is { } sv ? Core.Docker.TimeArgument.ParseNanos(sv, now, "--since") : (long?)null;
            var to = p.GetValue(until) is { } uv ? Core.Docker.TimeArgument.ParseNanos(uv, now, "--until") : (long?)null;
            var engine = Engine(p);
            var cid = engine.Store.Resolve(p.GetValue(id)!);
            return Logs.Print(engine, cid, p.GetValue(follow), p.GetValue(tail) is >= 0 and var n ? n : null, p.GetValue(timestamps), from, to);
        }));
        return cmd;
    }

    // ---- rm, stop, kill, wait, inspect ------------------------------------------------

    private static Command RmCommand()
    {
        var force = new Option<bool>("--force", "-f") { Description = "Kill a running container first (SIGKILL)" };
        var volumes = new Option<bool>("--volumes", "-v") { Description = "Remove the container's anonymous volumes too (named ones stay)" };
        var ids = new Argument<string[]>("container") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("rm", "Remove containers") { force, volumes, ids };
        cmd.SetAction(p => EachContainer(p, ids, (engine, id) =>
        {
            engine.Remove(id, p.GetValue(force), p.GetValue(volumes));
            Console.WriteLine(id);
        }));
        return cmd;
    }

    private static Command StopCommand()
    {
        var time = IntOption("--time", "-t", "Seconds to wait after SIGTERM before SIGKILL (default 10)");
        var ids = new Argument<string[]>("container") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("stop", "Stop running containers: SIGTERM, then SIGKILL after a timeout") { time, ids };
        cmd.SetAction(p => EachContainer(p, ids, (engine, id) =>
        {
            // --stop-signal, else an image's StopSignal (kept as the OCI annotation) replaces SIGTERM, as docker stop does;
            // -t, else --stop-timeout, else 10 s
            var record = engine.Store.Load(id);
            var signal = record.StopSignal ?? record.Annotations?.GetValueOrDefault("org.opencontainers.image.stopSignal") ?? "TERM";
            engine.Stop(id, Signals.Parse(signal), TimeSpan.FromSeconds(Math.Max(0, p.GetValue(time) ?? record.StopTimeout ?? 10)));
            Console.WriteLine(id);
        }));
        return cmd;
    }

    private static Command KillCommand()
    {
        var signal = new Option<string>("--signal", "-s") { Description = "Signal name or number", DefaultValueFactory = _ => "KILL" };
        var ids = new Argument<string[]>("container") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("kill", "Send a signal to containers") { signal, ids };
        cmd.SetAction(p => EachContainer(p, ids, (engine, id) =>
        {
            var sig = Signals.Parse(p.GetValue(signal)!);
            if (engine.CancelRestart(id)) ContainerEngine.WaitForMonitor(engine.Store.Load(id)); // restarting: it stays exited
            else engine.Kill(id, sig, all: false);
            Console.WriteLine(id);
        }));
        return cmd;
    }

    private static Command WaitCommand()
    {
        var ids = new Argument<string[]>("container") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("wait", "Wait for containers to exit; print their exit codes") { ids };
        cmd.SetAction(p =>
        {
            var last = 0;
            var rc = EachContainer(p, ids, (engine, id) =>
            {
                var r = engine.Store.Load(id);
                Processes.WaitExit(r.Pid, r.PidStartTime, int.MaxValue);
                ContainerEngine.WaitForMonitor(r);
                // only a recorded exit code is printed: never 125 as if the container had exited with it
                var done = engine.Store.TryLoad(id)
                    ?? throw new CrateRunException($"container {id} was removed before its exit code could be read");
                last = done.ExitCode
                    ?? throw new CrateRunException($"container {id} exited but its exit code was not recorded (its monitor is gone)");
                Console.WriteLine(last);
            });
            return rc != 0 ? rc : last;
        });
        return cmd;
    }

    private static Command InspectCommand()
    {
        var ids = new Argument<string[]>("container") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("inspect", "Show a container's metadata as JSON") { ids };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var engine = Engine(p);
            var list = new List<ContainerRecord>();
            foreach (var x in p.GetValue(ids)!)
            {
                list.Add(Describe(engine, engine.Store.Load(engine.Store.Resolve(x))));
            }
            PrintJson(list);
            return 0;
        }));
        return cmd;
    }

    private static int EachContainer(ParseResult p, Argument<string[]> ids, Action<ContainerEngine, string> action)
    {
        var engine = Engine(p);
        var rc = 0;
        foreach (var x in p.GetValue(ids)!)
        {
            var one = Program.Guard(() =>
            {
                // a full id always names its directory, even one without metadata (rm removes those leftovers)
                action(engine, ContainerId.IsFullId(x) && Directory.Exists(engine.Store.Dir(x)) ? x : engine.Store.Resolve(x));
                return 0;
            });
            if (one != 0) rc = one;
        }
        return rc;
    }

    // ---- exec -------------------------------------------------------------------------

    private static Command ExecCommand()
    {
        var interactive = new Option<bool>("--interactive", "-i") { Description = "Pass stdin to the process" };
        var tty = new Option<bool>("--tty", "-t") { Description = "Give the process a pseudo-terminal" };
        var detach = new Option<bool>("--detach", "-d") { Description = "Run in the background" };
        var env = new Option<string[]>("--env", "-e") { Description = "Environment variable KEY=VALUE" };
        var workdir = new Option<string?>("--workdir", "-w") { Description = "Working directory" };
        var user = new Option<string?>("--user", "-u") { Description = "USER[:GROUP] or UID[:GID] to run as" };
        var id = new Argument<string>("container");
        var command = new Argument<string[]>("command") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("exec", "Run a command in a running container") { interactive, tty, detach, env, workdir, user, id, command };
        var explain = ExplainCli.Make();
        ExplainCli.AddTo(cmd, explain);
        cmd.SetAction(p => Program.Guard(() =>
        {
            if (p.GetValue(tty) && p.GetValue(interactive) && !Terminal.IsTerminal(0))
                throw new UsageException("the input device is not a TTY (-it needs a terminal on stdin; use -i alone for piped input)");
            var engine = Engine(p);
            ExplainCli.Attach(engine, p, explain);
            var cid = engine.Store.Resolve(p.GetValue(id)!);
            // names resolve in the container's own /etc/passwd and /etc/group, as for run
            var rootfs = engine.Store.Load(cid).Rootfs;
            (uint, uint)? runAs = p.GetValue(user) is { } u
                ? SpecBuilder.ResolveUser(u, ReadInRootfs(rootfs, "etc/passwd"), ReadInRootfs(rootfs, "etc/group"))
                : null;
            return ExecFlow.Run(engine, cid, p.GetValue(command)!, p.GetValue(env) ?? [], p.GetValue(workdir),
                runAs, p.GetValue(interactive), p.GetValue(tty), p.GetValue(detach));
        }));
        return cmd;
    }
}
