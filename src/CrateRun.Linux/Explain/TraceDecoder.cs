using System.Globalization;
using CrateRun.Core.Explain;
using CrateRun.Core.Security;
using CrateRun.Core.Setup;
using CrateRun.Linux.Process;

namespace CrateRun.Linux.Explain;

/// <summary>What the records of one launch are about: the plan C# handed to the stage.</summary>
public sealed record TraceContext(LaunchSpec? Launch, Core.Oci.Spec? Spec, string? Rootfs);

/// <summary>
/// Turns launch.c's step records (Native/launch.h, enum crt_trace_what) into plain words: the
/// exact calls with their arguments from the plan, why each clone flag, the capabilities
/// dropped, the seccomp filter's size. Each names the docs page that explains it.
/// </summary>
public static class TraceDecoder
{
    // enum crt_trace_what
    public const int Clone = 1, Setns = 2, WaitGo = 3, Undumpable = 4, Prepare = 5, UsernsRoot = 6, Step = 7, Setsid = 8,
        Terminal = 9, Stdio = 10, Rlimits = 11, ProcAttrs = 12, CapBset = 13, Setgroups = 14, Setgid = 15, Setuid = 16,
        Capset = 17, Chdir = 18, Lookup = 19, CloseFds = 20, Ready = 21, WaitStart = 22, StartHooks = 23, NoNewPrivs = 24,
        Seccomp = 25, Execve = 26, Labels = 27;

    private const ulong CloneParent = 0x8000, CloneIntoCgroup = 0x200000000;

    private static readonly (ulong Flag, string Name, string Why)[] CloneFlagWords =
    [
        (Process.CloneFlags.NewNs, "CLONE_NEWNS", "its own mount table: the mounts below are made there and never reach the host"),
        (Process.CloneFlags.NewUts, "CLONE_NEWUTS", "its own hostname and domain name"),
        (Process.CloneFlags.NewIpc, "CLONE_NEWIPC", "its own System V IPC objects and POSIX message queues"),
        (Process.CloneFlags.NewNet, "CLONE_NEWNET", "its own network stack: interfaces, routes, ports (only lo, down until brought up)"),
        (Process.CloneFlags.NewPid, "CLONE_NEWPID", "its own process numbers: the process is PID 1 in there, and sees no host process"),
        (Process.CloneFlags.NewUser, "CLONE_NEWUSER", "its own uids and gids: root inside is an unprivileged uid outside (uid_map)"),
        (Process.CloneFlags.NewCgroup, "CLONE_NEWCGROUP", "its cgroup looks like the root of /sys/fs/cgroup"),
        (Process.CloneFlags.NewTime, "CLONE_NEWTIME", "its own monotonic and boot-time clocks"),
        (CloneParent, "CLONE_PARENT", "the runtime stays the parent of the container process, so it can wait for it"),
        (CloneIntoCgroup, "CLONE_INTO_CGROUP", "born in its cgroup (cgroup v2): never runs a moment outside its limits"),
    ];

    public static string CloneFlagNames(ulong flags)
    {
        var names = CloneFlagWords.Where(w => (flags & w.Flag) != 0).Select(w => w.Name).ToList();
        names.Add("SIGCHLD");
        return string.Join('|', names);
    }

    internal static ExplainEvent Describe(Interop.Launch.TraceRecord r, TraceContext c)
    {
        ExplainEvent e;
        try
        {
            e = DescribeOk(r, c);
        }
        catch (Exception x) when (x is FormatException or ArgumentException or InvalidOperationException or IndexOutOfRangeException)
        {
            // explaining must never fail a container: the bare record then
            e = Ev(ExplainTopic.Process, "record", $"step record {r.What} (step {r.Step})", $"arg 0x{r.Arg:x}");
        }
        var micros = r.EndNs > 0 ? ExplainClock.Micros(r.StartNs, r.EndNs) : 0;
        if (r.Err == 0) return e with { Micros = micros, StartNs = r.StartNs, By = r.What == Clone && r.Step < 0 ? e.By : "child" };
        var call = r.Call > 0 && r.Call < Interop.Launch.CallNames.Length ? Interop.Launch.CallNames[r.Call] : "?";
        var stepName = r.What == Step && c.Launch?.Steps is { } steps && r.Step >= 0 && r.Step < steps.Count && steps[r.Step].Flags.HasFlag(StepOptions.Bind) ? "bind" : null;
        return e with
        {
            Micros = micros,
            StartNs = r.StartNs,
            By = "child",
            Errno = r.Err,
            Error = $"{call}: {Interop.ErrorText(r.Err)}",
            Hint = ExplainHints.For(call, r.Err, stepName),
        };
    }

    private static ExplainEvent Ev(ExplainTopic topic, string step, string text, string call, IReadOnlyList<string>? why = null) =>
        new() { Topic = topic, Step = step, Text = text, Call = call, Why = why, By = "child" };

    private static ExplainEvent DescribeOk(Interop.Launch.TraceRecord r, TraceContext c)
    {
        var l = c.Launch;
        switch (r.What)
        {
            case Clone:
                {
                    var why = CloneFlagWords.Where(w => (r.Arg & w.Flag) != 0).Select(w => $"{w.Name}: {w.Why}").ToList();
                    var twoStage = l?.TwoStage ?? false;
                    string text;
                    if ((r.Arg & CloneParent) != 0) text = "clone the container process into the joined namespaces";
                    else if (twoStage && (r.Arg & ~CloneIntoCgroup) == 0) { text = "clone a first stage that joins the container's namespaces"; why.Add("no new namespace: the stage calls setns (or unshares a time namespace), then clones the process itself (pid and time namespaces apply to children only)"); }
                    else text = "clone the container's first process in new namespaces";
                    var call = (r.Arg & CloneIntoCgroup) != 0
                        ? $"clone3({{flags={CloneFlagNames(r.Arg)}, cgroup=<fd of the container's cgroup>}}) = {r.Result}"
                        : $"clone({CloneFlagNames(r.Arg)}) = {r.Result}";
                    why.Add("from C (launch.c): the .NET runtime is multi-threaded, so no managed code runs in the child until execve");
                    return new ExplainEvent { Topic = ExplainTopic.Namespaces, Step = "clone", Text = text, Call = call, Why = why, By = r.Step == -1 && (r.Arg & CloneParent) == 0 ? "runtime" : "child" };
                }
            case Setns:
                {
                    var type = (ulong)r.Arg;
                    var name = CloneFlagWords.FirstOrDefault(w => w.Flag == type).Name ?? $"0x{type:x}";
                    return Ev(ExplainTopic.Namespaces, "setns", $"join the container's {name["CLONE_NEW".Length..].ToLowerInvariant()} namespace", $"setns(fd, {name})");
                }
            case WaitGo:
                return Ev((l?.CloneFlags & Process.CloneFlags.NewUser) != 0 ? ExplainTopic.UserNamespaces : ExplainTopic.Namespaces, "wait-go",
                    "wait for the runtime's GO (it writes uid_map/gid_map first)", "read(sync socket) = {GO}");
            case Undumpable:
                return Ev(ExplainTopic.Process, "undumpable", "become undumpable until execve", "prctl(PR_SET_DUMPABLE, 0)",
                    ["nothing in the container may open /proc/PID/exe of the runtime's binary and write it (CVE-2019-5736)"]);
            case Prepare:
                {
                    var binds = l?.Steps.Count(s => s.Op == StepOp.Mount && s.Flags.HasFlag(StepOptions.Bind)) ?? 0;
                    return Ev(ExplainTopic.Rootfs, "open-sources", $"open the rootfs and {binds} bind source(s) while holding the runtime's ids",
                        $"open(\"{c.Rootfs ?? "ROOTFS"}\", O_PATH|O_DIRECTORY)" + (binds > 0 ? $" + open(SOURCE, O_PATH) x{binds}" : ""),
                        ["in a user namespace the container's root may not be allowed to search them later"]);
                }
            case UsernsRoot:
                return Ev(ExplainTopic.UserNamespaces, "userns-root", "become root of the new user namespace", "setresgid(0, 0, 0); setresuid(0, 0, 0)");
            case Step:
                return DescribeStep(r, c);
            case Setsid:
                return Ev(ExplainTopic.Process, "setsid", "start a new session (no controlling terminal of the host's)", "setsid()");
            case Terminal:
                return Ev(ExplainTopic.ProcAndDev, "terminal", "open a pseudo-terminal in the container's own devpts and pass its master to the runtime",
                    "open(\"/dev/ptmx\"); ioctl(TIOCGPTPEER); sendmsg(console socket, SCM_RIGHTS master); ioctl(slave, TIOCSCTTY); dup2(slave, 0..2)");
            case Stdio:
                return Ev(ExplainTopic.Process, "stdio", "take the given stdin, stdout and stderr",
                    l is null ? "dup2(fd, 0); dup2(fd, 1); dup2(fd, 2)" : string.Join("; ", l.Stdio.Select((fd, i) => fd < 0 ? $"keep {i}" : $"dup2({fd}, {i})")));
            case Rlimits:
                {
                    var list = l?.Rlimits.Select(x => $"prlimit64(0, {RlimitName(x.Resource)}, {{{Num(x.Soft)}, {Num(x.Hard)}}})").ToList() ?? [];
                    return Ev(ExplainTopic.Process, "rlimits", $"set {r.Arg} resource limit(s) while still privileged",
                        list.Count == 0 ? "(none)" : string.Join("; ", list));
                }
            case ProcAttrs:
                return Ev(ExplainTopic.Process, "process-attributes", "scheduler, I/O priority and personality (only those the config sets)",
                    l is null ? "sched_setattr / ioprio_set / personality" : string.Join("; ", new[]
                    {
                        l.Scheduler is { } s ? $"sched_setattr(0, {{policy={s.Policy}, nice={s.Nice}, priority={s.Priority}}})" : null,
                        l.IoPriority is { } io ? $"ioprio_set(IOPRIO_WHO_PROCESS, 0, {io})" : null,
                        l.Personality is { } p ? $"personality(0x{p:x})" : null,
                    }.Where(x => x is not null).DefaultIfEmpty("(none set)")));
            case CapBset:
                {
                    var last = l?.LastCap ?? Capabilities.All.Length - 1;
                    var dropped = Enumerable.Range(0, last + 1).Where(cap => (r.Arg & (1UL << cap)) == 0).Select(CapName).ToList();
                    return Ev(ExplainTopic.Capabilities, "capbset-drop", $"drop {dropped.Count} capabilities from the bounding set (never to come back, even through setuid files)",
                        $"prctl(PR_SET_KEEPCAPS, 1); prctl(PR_CAPBSET_DROP, cap) x{dropped.Count}",
                        dropped.Count == 0 ? ["none dropped"] : [$"dropped: {string.Join(' ', dropped)}"]);
                }
            case Setgroups:
                {
                    var n = (long)r.Arg;
                    var groups = l?.Groups is { } g ? string.Join(", ", g) : "";
                    return Ev(ExplainTopic.Process, "setgroups", n < 0 ? "leave the supplementary groups (setgroups is denied here)" : $"set {n} supplementary group(s)",
                        n < 0 ? "(skipped)" : $"setgroups({n}, [{groups}])");
                }
            case Setgid:
                return Ev(ExplainTopic.Process, "setgid", $"become group {r.Arg}", $"setresgid({r.Arg}, {r.Arg}, {r.Arg})",
                    ["raw syscall: glibc's setgid would signal threads that do not exist in this child"]);
            case Setuid:
                return Ev(ExplainTopic.Process, "setuid", $"become user {r.Arg}", $"setresuid({r.Arg}, {r.Arg}, {r.Arg})",
                    ["capabilities are kept across it (PR_SET_KEEPCAPS) and set next"]);
            case Capset:
                {
                    var kept = Enumerable.Range(0, 64).Where(cap => (r.Arg & (1UL << cap)) != 0).Select(CapName).ToList();
                    return Ev(ExplainTopic.Capabilities, "capset", $"keep {kept.Count} capabilities (effective and permitted), clear the ambient set",
                        $"capset({{_LINUX_CAPABILITY_VERSION_3, pid=0}}, {{effective=0x{r.Arg:x}, permitted=0x{l?.CapPermitted ?? r.Arg:x}, inheritable=0x{l?.CapInheritable ?? 0:x}}}); prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)",
                        [$"kept: {string.Join(' ', kept)}"]);
                }
            case Chdir:
                return Ev(ExplainTopic.Process, "chdir", $"enter the working directory {l?.Cwd ?? ""}".TrimEnd(), $"chdir(\"{l?.Cwd ?? "CWD"}\"); getcwd() (must be inside the root: CVE-2024-21626)");
            case Lookup:
                return Argv0(c).Contains('/')
                    ? Ev(ExplainTopic.Process, "lookup", $"find {Argv0(c)} inside the new root, as the final user", $"stat(\"{Argv0(c)}\"); access(\"{Argv0(c)}\", X_OK)")
                    : Ev(ExplainTopic.Process, "lookup", $"find {Argv0(c)} in PATH, inside the new root, as the final user", $"stat(DIR/{Argv0(c)}); access(X_OK) for each DIR of PATH");
            case CloseFds:
                return Ev(ExplainTopic.Process, "close-fds", "every fd of the runtime closes at execve (only stdio and preserved fds pass)",
                    $"close_range({3 + (long)r.Arg}, ~0U, CLOSE_RANGE_CLOEXEC)", ["a leaked fd of the runtime could lead out of the container (CVE-2024-21626)"]);
            case Ready:
                return Ev(ExplainTopic.OciLifecycle, "ready", "set up: tell the runtime (OCI \"created\": `create` returns here)", "send(sync socket, {READY})");
            case WaitStart:
                return Ev(ExplainTopic.OciLifecycle, "wait-start", "wait for `start`: block writing exec.fifo until the runtime opens it",
                    "open(\"/proc/self/fd/N\" = exec.fifo, O_WRONLY); write(fd, \"0\", 1)");
            case StartHooks:
                return Ev(ExplainTopic.OciLifecycle, "start-hooks", $"run {r.Arg} startContainer hook(s) inside the container", "clone(SIGCHLD) + execve(hook) + waitpid, each");
            case NoNewPrivs:
                return Ev(ExplainTopic.Seccomp, "no-new-privs", r.Arg != 0 ? "no_new_privs: execve can never grant more privileges (setuid files, file capabilities)" : "no_new_privs is off (the config asked for it)",
                    r.Arg != 0 ? "prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)" : "(skipped)");
            case Seccomp:
                {
                    var why = new List<string> { $"BPF: {r.Arg} instructions ({r.Arg * 8} bytes)" };
                    if (c.Spec?.Linux?.Seccomp is { } sc)
                        why.Insert(0, $"profile: default action {sc.DefaultAction}, {sc.Syscalls?.Count ?? 0} rules naming {sc.Syscalls?.Sum(s => s.Names.Count) ?? 0} syscalls, architectures {string.Join(' ', sc.Architectures ?? [])}");
                    why.Add("last but execve: nothing of the runtime's runs under the user's filter");
                    return Ev(ExplainTopic.Seccomp, "seccomp", "load the seccomp filter: every later system call is checked",
                        $"seccomp(SECCOMP_SET_MODE_FILTER, 0x{l?.SeccompFlags ?? 0:x}, {{len={r.Arg}, filter}}) = {r.Result}", why);
                }
            case Execve:
                {
                    var argv = c.Launch?.Argv ?? c.Spec?.Process?.Args?.ToArray() ?? [];
                    var env = c.Launch?.Envp.Length ?? c.Spec?.Process?.Env?.Count ?? 0;
                    return Ev(ExplainTopic.Process, "execve", $"become the user's program {Argv0(c)}",
                        $"execve(\"{Argv0(c)}\", [{string.Join(", ", argv.Select(a => $"\"{a}\""))}], [{env} variables])",
                        ["the end is seen by the runtime: after a successful execve the stage has no code left to record it"]);
                }
            case Labels:
                return Ev(ExplainTopic.Process, "lsm-labels", "AppArmor/SELinux exec labels (only when the config sets them)",
                    l?.ApparmorProfile is { } aa ? $"write(\"/proc/self/attr/apparmor/exec\", \"exec {aa}\")" : l?.SelinuxLabel is { } se ? $"write(\"/proc/self/attr/exec\", \"{se}\")" : "(none set)");
            default:
                return Ev(ExplainTopic.Process, "setup", "a setup call outside the plan's steps", "see the error");
        }
    }

    private static string Argv0(TraceContext c) => c.Launch?.Argv.FirstOrDefault() ?? c.Spec?.Process?.Args?.FirstOrDefault() ?? "?";

    private static string CapName(int cap) => cap < Capabilities.All.Length ? Capabilities.All[cap] : $"CAP_{cap}";

    private static string Num(ulong v) => v == ulong.MaxValue ? "RLIM_INFINITY" : v.ToString(CultureInfo.InvariantCulture);

    private static readonly string[] RlimitNames =
    [
        "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC",
        "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE",
        "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
    ];

    private static string RlimitName(uint r) => r < RlimitNames.Length ? RlimitNames[r] : r.ToString(CultureInfo.InvariantCulture);

    private static readonly (ulong Flag, string Name)[] MsWords =
    [
        (MountFlags.ReadOnly, "MS_RDONLY"), (MountFlags.NoSuid, "MS_NOSUID"), (MountFlags.NoDev, "MS_NODEV"), (MountFlags.NoExec, "MS_NOEXEC"),
        (MountFlags.Synchronous, "MS_SYNCHRONOUS"), (MountFlags.DirSync, "MS_DIRSYNC"), (MountFlags.NoAtime, "MS_NOATIME"),
        (MountFlags.NoDirAtime, "MS_NODIRATIME"), (MountFlags.Bind, "MS_BIND"), (MountFlags.Move, "MS_MOVE"), (MountFlags.Rec, "MS_REC"),
        (MountFlags.Unbindable, "MS_UNBINDABLE"), (MountFlags.Private, "MS_PRIVATE"), (MountFlags.Slave, "MS_SLAVE"), (MountFlags.Shared, "MS_SHARED"),
        (MountFlags.RelAtime, "MS_RELATIME"), (MountFlags.StrictAtime, "MS_STRICTATIME"), (MountFlags.NoSymFollow, "MS_NOSYMFOLLOW"),
    ];

    public static string MsNames(ulong flags) =>
        flags == 0 ? "0" : string.Join('|', MsWords.Where(w => (flags & w.Flag) != 0).Select(w => w.Name));

    private static readonly string[] ProcAndDevTypes = ["proc", "sysfs", "devpts", "mqueue"];

    /// <summary>Where a path inside the container lands on the host, resolved as launch.c does (openat2 RESOLVE_IN_ROOT).</summary>
    private static string Resolved(string? target, TraceContext c, bool afterPivot) =>
        afterPivot || c.Rootfs is null ? $"\"{target}\" (inside the new root)" : $"openat2(rootfd, \"{target?.TrimStart('/')}\", RESOLVE_IN_ROOT) = {Path.Join(c.Rootfs, target)}";

    private static ExplainEvent DescribeStep(Interop.Launch.TraceRecord r, TraceContext c)
    {
        var steps = c.Launch?.Steps;
        if (steps is null || r.Step < 0 || r.Step >= steps.Count)
            return Ev(ExplainTopic.Rootfs, "step", $"setup step {r.Step}", $"op {r.Arg}");
        var s = steps[r.Step];
        var afterPivot = steps.Take(r.Step).Any(x => x.Op == StepOp.PivotRoot);
        var text = s.Describe();
        switch (s.Op)
        {
            case StepOp.RootPropagation:
                return Ev(ExplainTopic.Rootfs, "root-propagation", text, $"mount(NULL, \"/\", NULL, {MsNames(s.MountFlags)}, NULL)",
                    ["mounts made in the container must not propagate back to the host"]);
            case StepOp.BindRootfs:
                return Ev(ExplainTopic.Rootfs, "bind-rootfs", text, s.Flags.HasFlag(StepOptions.Idmap)
                    ? $"recvmsg(sync, SCM_RIGHTS tree) (the runtime made it: open_tree + mount_setattr(MOUNT_ATTR_IDMAP)); move_mount(tree, \"\", \"{s.Source}\", \"\")"
                    : $"open_tree(\"{s.Source}\", OPEN_TREE_CLONE|AT_RECURSIVE); move_mount(tree, \"\", \"{s.Source}\", \"\")",
                    ["pivot_root needs the new root to be a mount point; every later path resolves inside this tree"]);
            case StepOp.Mount:
                {
                    var topic = s.FsType is { } t && (ProcAndDevTypes.Contains(t) || s.Target?.StartsWith("/dev", StringComparison.Ordinal) == true) ? ExplainTopic.ProcAndDev
                        : s.FsType?.StartsWith("cgroup", StringComparison.Ordinal) == true || s.Target?.StartsWith("/sys/fs/cgroup", StringComparison.Ordinal) == true ? ExplainTopic.Cgroups
                        : ExplainTopic.Rootfs;
                    var rec = s.Flags.HasFlag(StepOptions.Recursive) ? "|AT_RECURSIVE" : "";
                    var call = s.Flags.HasFlag(StepOptions.Bind)
                        ? $"open_tree(\"{s.Source}\", OPEN_TREE_CLONE{rec}); mount_setattr(tree, {MsNames(s.MountFlags | (s.Flags.HasFlag(StepOptions.Readonly) ? MountFlags.ReadOnly : 0))}); move_mount(tree → \"{s.Target}\")"
                        : $"fsopen(\"{s.FsType}\"); fsconfig(source=\"{s.Source}\"{(string.IsNullOrEmpty(s.Data) ? "" : $", \"{s.Data}\"")}); fsmount(attrs={MsNames(s.MountFlags)}); move_mount(mnt → \"{s.Target}\")";
                    var why = new List<string>
                    {
                        $"source {s.Source ?? "(none)"}, target {s.Target}, flags {MsNames(s.MountFlags)}" + (string.IsNullOrEmpty(s.Data) ? "" : $", data {s.Data}"),
                        $"target resolved inside the root: {Resolved(s.Target, c, afterPivot)}",
                    };
                    if (s.Propagation != 0) why.Add($"propagation {MsNames(s.Propagation)}");
                    return Ev(topic, s.Flags.HasFlag(StepOptions.Bind) ? "bind" : "mount", text, call, why);
                }
            case StepOp.Mknod:
                return Ev(ExplainTopic.ProcAndDev, "mknod", text, s.Flags.HasFlag(StepOptions.BindDev)
                    ? $"open_tree(\"{s.Source}\", OPEN_TREE_CLONE); move_mount(→ \"{s.Target}\")"
                    : $"mknodat(dir, \"{Path.GetFileName(s.Target)}\", 0{Convert.ToString(s.Mode, 8)}, makedev({s.Dev >> 8 & 0xfff}, {(s.Dev & 0xff) | (s.Dev >> 12 & 0xfff00)})); fchownat({s.Uid}:{s.Gid})",
                    [$"target resolved inside the root: {Resolved(s.Target, c, afterPivot)}"]);
            case StepOp.Symlink:
                return Ev(s.Target?.StartsWith("/dev", StringComparison.Ordinal) == true ? ExplainTopic.ProcAndDev : ExplainTopic.Rootfs, "symlink", text,
                    $"symlinkat(\"{s.Source}\", dir, \"{Path.GetFileName(s.Target)}\")");
            case StepOp.Mkdir:
                return Ev(ExplainTopic.Rootfs, "mkdir", text, $"mkdirat(dir, \"{s.Target}\", 0755) for each missing part");
            case StepOp.PivotRoot:
                return Ev(ExplainTopic.Rootfs, "pivot-root", text, s.Flags.HasFlag(StepOptions.NoPivot)
                    ? "fchdir(rootfd); mount(\".\", \"/\", NULL, MS_MOVE, NULL); chroot(\".\")"
                    : "fchdir(rootfd); pivot_root(\".\", \".\"); fchdir(oldroot); mount(NULL, \".\", NULL, MS_SLAVE|MS_REC, NULL); umount2(\".\", MNT_DETACH); chdir(\"/\")",
                    ["the rootfs becomes \"/\" and the host's root is detached: nothing of it stays reachable"]);
            case StepOp.SetPropagation:
                return Ev(ExplainTopic.Rootfs, "propagation", text, $"mount_setattr(\"{s.Target}\", {{propagation={MsNames(s.Propagation)}}})");
            case StepOp.MakeReadonly:
                return Ev(s.Target?.StartsWith("/proc", StringComparison.Ordinal) == true || s.Target?.StartsWith("/sys", StringComparison.Ordinal) == true ? ExplainTopic.ProcAndDev : ExplainTopic.Rootfs,
                    "readonly", text, s.Flags.HasFlag(StepOptions.Recursive)
                        ? $"open_tree(\"{s.Target}\", OPEN_TREE_CLONE|AT_RECURSIVE); mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY); move_mount(→ \"{s.Target}\")"
                        : $"mount_setattr(\"{s.Target}\", MOUNT_ATTR_RDONLY)");
            case StepOp.Mask:
                return Ev(ExplainTopic.ProcAndDev, "mask", text, $"move_mount(/dev/null or an empty read-only tmpfs → \"{s.Target}\")",
                    ["hides what the kernel exposes there from the container"]);
            case StepOp.WriteFile:
                return Ev(ExplainTopic.ProcAndDev, "write-file", text, $"openat2(rootfd, \"{s.Target?.TrimStart('/')}\", O_WRONLY|O_TRUNC, RESOLVE_IN_ROOT); write(fd, \"{s.Source}\")");
            case StepOp.SetHostname:
                return Ev(ExplainTopic.Namespaces, "sethostname", text, $"sethostname(\"{s.Source}\", {s.Source?.Length ?? 0})", ["in the new UTS namespace: the host's name does not change"]);
            case StepOp.SetDomainname:
                return Ev(ExplainTopic.Namespaces, "setdomainname", text, $"setdomainname(\"{s.Source}\", {s.Source?.Length ?? 0})");
            case StepOp.LoopbackUp:
                return Ev(ExplainTopic.Namespaces, "loopback", text, "socket(AF_INET, SOCK_DGRAM); ioctl(SIOCGIFFLAGS, \"lo\"); ioctl(SIOCSIFFLAGS, \"lo\", IFF_UP|IFF_RUNNING)",
                    ["a new network namespace has only lo, and it is down"]);
            case StepOp.EnterCgroup:
                return Ev(ExplainTopic.Cgroups, "cgroup-namespace", text, "read(sync socket) = {CGROUP_JOINED}; unshare(CLONE_NEWCGROUP)",
                    ["once in its cgroup, a new cgroup namespace makes that cgroup the root of what it sees"]);
            case StepOp.Hooks:
                return Ev(ExplainTopic.OciLifecycle, "hooks", text, "send(sync, {HOOKS}); read(sync) = {GO}; createContainer hooks: clone + execve each");
            case StepOp.HideHostFs:
                return Ev(ExplainTopic.ProcAndDev, "hide-host-fs", text, $"umount2(\"{s.Target}\", MNT_DETACH) or an empty tmpfs over it");
            default:
                return Ev(ExplainTopic.Rootfs, "step", text, s.Op.ToString());
        }
    }
}
