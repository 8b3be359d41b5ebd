using System.Runtime.InteropServices;
using System.Text;

namespace CrateRun.Linux.Process;

/// <summary>
/// Starts a container process through the C stage and speaks the parent's side of the
/// sync protocol (Native/launch.h): cgroup join and id maps before GO, then READY or ERROR.
/// </summary>
public static unsafe class Launcher
{
    /// <summary>argv[0] of run --init's init (Native/init.c).</summary>
    public const string InitName = "craterun-init";

    /// <summary>Hooks the caller runs at the two moments the child waits for.</summary>
    public sealed record Callbacks
    {
        /// <summary>The first child exists and waits: put it in the cgroup (its children inherit it).</summary>
        public Action<int>? JoinCgroup { get; init; }
        /// <summary>The container process exists in its new user namespace: write uid_map/gid_map.</summary>
        public Action<int>? MapIds { get; init; }
        /// <summary>The container process exists: anything else to set from outside (oom_score_adj).</summary>
        public Action<int>? BeforeGo { get; init; }
        /// <summary>
        /// The process stopped at its Hooks step: run prestart/createRuntime hooks now, and return
        /// the state JSON that its own createContainer/startContainer hooks read on stdin.
        /// </summary>
        public Func<int, byte[]>? RunHooks { get; init; }
        /// <summary>SCMP_ACT_NOTIFY: the seccomp listener fd of the process, for the agent at listenerPath.</summary>
        public Action<int, SafeFd>? SeccompListener { get; init; }
        /// <summary>With an id-mapped rootfs (StepOptions.Idmap): the detached tree to hand to the process.</summary>
        public Func<int, SafeFd>? IdmappedRootfs { get; init; }
    }

    /// <summary>Runs the process up to READY (waiting on exec.fifo, or exec'ing). Returns its pid.</summary>
    public static int Launch(LaunchSpec spec, Callbacks callbacks)
    {
        int* sv = stackalloc int[2];
        Interop.Check(Interop.Sys.socketpair(Interop.Sys.AF_UNIX, Interop.Sys.SOCK_SEQPACKET | Interop.Sys.SOCK_CLOEXEC, 0, sv), "socketpair");
        using var parentEnd = new SafeFd(sv[0]);
        using var childEnd = new SafeFd(sv[1]);

        int pid, firstPid;
        using (var arena = new NativeArena())
        using (var idmapped = IdmappedTrees.Make(spec.Steps)) // before clone: the child inherits them
        {
            var plan = BuildPlan(spec, childEnd.Fd, arena, idmapped);
            plan->RuntimeSyncFd = parentEnd.Fd; // the clone closes its copy first (launch.c child_entry)
            // only the clone itself runs on the prepared thread: a thread created from there
            // (a socket engine, the thread pool) would stay in the container's cgroup
            var planAddress = (nint)plan;
            firstPid = spec.CloneOn is { } on ? on(() => Interop.Launch.crt_launch((Interop.Launch.Plan*)planAddress)) : Interop.Launch.crt_launch(plan);
            Core.Timing.Mark(spec.CgroupDir is null ? "launch: cloned" : "launch: cloned into its cgroup (CLONE_INTO_CGROUP)");
            if (firstPid < 0) throw new SyscallException("clone", $"0x{spec.CloneFlags:x}", -firstPid);
        }
        childEnd.Dispose();
        pid = firstPid;
        var firstReaped = false;
        // the container process when it is not our child (joined namespaces): signalled through
        // a pidfd, so that a pid reused after it died is never hit
        SafeFd? pidfd = null;
        try
        {
            if (spec.TwoStage)
            {
                // stage 1 must be in the cgroup before it joins the cgroup namespace
                callbacks.JoinCgroup?.Invoke(firstPid);
                Send(parentEnd, Interop.Launch.MsgGo, spec);
                var msg = Receive(parentEnd, spec);
                if (msg.Type != Interop.Launch.MsgChildPid) throw Unexpected(msg);
                pid = msg.Pid;
                var fd = Interop.Sys.pidfd_open(pid, 0);
                if (fd >= 0) pidfd = new SafeFd(fd);
                Reap(firstPid);
                firstReaped = true;
            }
            if ((spec.CloneFlags & CloneFlags.NewUser) != 0) callbacks.MapIds?.Invoke(pid);
            callbacks.BeforeGo?.Invoke(pid);
            Send(parentEnd, Interop.Launch.MsgGo, spec);
            if (callbacks.IdmappedRootfs is { } tree)
            {
                using var fd = tree(pid);
                var msg = new Interop.Launch.Msg { Type = Interop.Launch.MsgRootfsFd };
                if (!Engine.UnixSockets.Send(parentEnd.Fd, new ReadOnlySpan<byte>(&msg, sizeof(Interop.Launch.Msg)), fd.Fd))
                {
                    var err = Marshal.GetLastPInvokeError();
                    if (err is 32 /* EPIPE */ or 104 /* ECONNRESET */) Receive(parentEnd, spec); // the child's own error
                    throw new SyscallException("sendmsg", "rootfs fd", err);
                }
            }
            // The cgroup attach (slow on v1: an RCU grace period) overlaps the child's mounts;
            // it waits for CGROUP_JOINED before it unshares its cgroup namespace.
            if (!spec.TwoStage && callbacks.JoinCgroup is { } join)
            {
                join(pid);
                Core.Timing.Mark("launch: moved into its cgroup");
            }
            Send(parentEnd, Interop.Launch.MsgCgroupJoined, spec);
            while (true)
            {
                var msg = Receive(parentEnd, spec, out var fd);
                switch (msg.Type)
                {
                    case Interop.Launch.MsgHooks:
                        var state = callbacks.RunHooks?.Invoke(pid) ?? [];
                        if (spec.CreateContainerHooks.Count > 0 || spec.StartContainerHooks.Count > 0)
                            SendState(parentEnd, state);
                        Send(parentEnd, Interop.Launch.MsgGo, spec);
                        continue;
                    case Interop.Launch.MsgReady when fd >= 0:
                        // SCMP_ACT_NOTIFY: the filter is in and READY brought its listener
                        using (var listener = new SafeFd(fd))
                            (callbacks.SeccompListener ?? throw new Core.CrateRunException("seccomp notify: nobody to hand the listener to"))(pid, listener);
                        return pid;
                    case Interop.Launch.MsgReady:
                        pidfd?.Dispose();
                        return pid;
                    default:
                        throw Unexpected(msg);
                }
            }
        }
        catch
        {
            if (pid == firstPid)
            {
                // our child, not reaped yet: its pid cannot be reused before we wait for it
                Interop.Sys.kill(pid, Interop.Sys.SIGKILL);
                Reap(pid);
            }
            else
            {
                if (pidfd is not null) Interop.Sys.pidfd_send_signal(pidfd, Interop.Sys.SIGKILL, null, 0);
                pidfd?.Dispose();
                if (!firstReaped) { Interop.Sys.kill(firstPid, Interop.Sys.SIGKILL); Reap(firstPid); }
            }
            throw;
        }
    }

    private static Core.CrateRunException Unexpected(Interop.Launch.Msg msg) =>
        new Core.CrateRunException($"container setup: unexpected message {msg.Type} from the container process");

    /// <summary>Waits for a child of ours, returning its raw wait status.</summary>
    public static int Reap(int pid)
    {
        int status;
        while (true)
        {
            var rc = Interop.Sys.waitpid(pid, &status, 0);
            if (rc == pid) return status;
            var err = Marshal.GetLastPInvokeError();
            if (rc == -1 && err == Interop.EINTR) continue;
            return -1;
        }
    }

    private static void Send(SafeFd sock, int type, LaunchSpec spec)
    {
        var msg = new Interop.Launch.Msg { Type = type };
        if (Interop.Sys.write(sock, (byte*)&msg, sizeof(Interop.Launch.Msg)) != sizeof(Interop.Launch.Msg))
        {
            var err = Marshal.GetLastPInvokeError();
            // The child gave up and closed its end: the ERROR message saying why is still queued
            // for us. Receive throws it (or "exited before it was ready"), not a bare EPIPE.
            if (err is 32 /* EPIPE */ or 104 /* ECONNRESET */) Receive(sock, spec);
            throw new SyscallException("write", "sync socket", err);
        }
    }

    /// <summary>The state JSON for the container's own hooks, in a memfd they read as stdin.</summary>
    private static void SendState(SafeFd sock, byte[] json)
    {
        using var memfd = new SafeFd(Interop.Check(Interop.Sys.memfd_create("craterun-state", 1 /* MFD_CLOEXEC */), "memfd_create", "state"));
        fixed (byte* p = json)
            if (Interop.Sys.write(memfd, p, json.Length) != json.Length)
                throw new SyscallException("write", "state memfd", Marshal.GetLastPInvokeError());
        var msg = new Interop.Launch.Msg { Type = Interop.Launch.MsgStateFd };
        if (!Engine.UnixSockets.Send(sock.Fd, new ReadOnlySpan<byte>(&msg, sizeof(Interop.Launch.Msg)), memfd.Fd))
            throw new SyscallException("sendmsg", "state fd", Marshal.GetLastPInvokeError());
    }

    private static Interop.Launch.Msg Receive(SafeFd sock, LaunchSpec spec) => Receive(sock, spec, out _);

    /// <summary>The next message, and the fd that came with it (-1 if none).</summary>
    private static Interop.Launch.Msg Receive(SafeFd sock, LaunchSpec spec, out int fd)
    {
        Interop.Launch.Msg msg;
        var text = Engine.UnixSockets.ReceiveBytes(sock.Fd, new Span<byte>(&msg, sizeof(Interop.Launch.Msg)), out fd);
        if (text == 0) throw new Core.CrateRunException("container setup: the container process exited before it was ready");
        if (text != sizeof(Interop.Launch.Msg)) throw new SyscallException("recvmsg", "sync socket", Marshal.GetLastPInvokeError());
        if (msg.Type == Interop.Launch.MsgError) throw Describe(msg, spec);
        return msg;
    }

    private static LaunchException Describe(Interop.Launch.Msg msg, LaunchSpec spec)
    {
        var call = msg.Call >= 0 && msg.Call < Interop.Launch.CallNames.Length ? Interop.Launch.CallNames[msg.Call] : "?";
        var reason = Interop.ErrorText(msg.Err);
        if (msg.Call == Interop.Launch.CallExecLookup)
        {
            var cmd = spec.Argv.Length > 0 ? spec.Argv[0] : "";
            var text = msg.Err == Interop.ENOENT
                ? $"exec: \"{cmd}\": executable file not found in $PATH (or the rootfs)"
                : $"exec: \"{cmd}\": permission denied (not an executable file)";
            return new LaunchException(text, "exec", msg.Err, null);
        }
        if (msg.Call == Interop.Launch.CallLsmLabel)
        {
            // conform: name the field; ENOENT from AppArmor is a profile that is not loaded
            var field = spec.ApparmorProfile is { Length: > 0 } profile ? $"process.apparmorProfile '{profile}'" : $"process.selinuxLabel '{spec.SelinuxLabel}'";
            var hint = msg.Err == Interop.ENOENT && spec.ApparmorProfile is { Length: > 0 } ? " (no such profile is loaded: apparmor_parser -r PROFILE-FILE)" : "";
            return new LaunchException($"container setup failed: {field} could not be applied: {reason}{hint}", call, msg.Err, null);
        }
        if (msg.Step >= 0 && msg.Step < spec.Steps.Count && spec.Steps[msg.Step] is { Flags: var f } plain && f.HasFlag(Core.Setup.StepOptions.PlainDir)
            && call == "open" && msg.Err is Interop.ELOOP or Interop.ENOTDIR)
        {
            // procfs/sysfs through a symlinked or non-directory mount point (CVE-2023-27561 class)
            var problem = msg.Err == Interop.ELOOP ? "is a symlink or passes through one" : "is not a directory";
            return new LaunchException($"container setup failed: {plain.FsType} must be mounted on a plain directory of the rootfs, and {plain.Target} {problem}",
                call, msg.Err, plain.Describe());
        }
        var step = msg.Step >= 0 && msg.Step < spec.Steps.Count ? spec.Steps[msg.Step].Describe()
            : msg.Step <= -100 && -100 - msg.Step < spec.Joins.Count ? $"join namespace 0x{spec.Joins[-100 - msg.Step].Type:x}"
            : null;
        // a failure outside the steps that concerns a path: name it (the working directory)
        if (step is null && call == "chdir") call = $"chdir {spec.Cwd}";
        var what = step is null ? call : $"{step}: {call}";
        return new LaunchException($"container setup failed: {what}: {reason}", call, msg.Err, step);
    }

    private static Interop.Launch.Hook* Hooks(List<Core.Oci.Hook> hooks, NativeArena a)
    {
        if (hooks.Count == 0) return null;
        var p = (Interop.Launch.Hook*)a.Alloc(sizeof(Interop.Launch.Hook) * hooks.Count);
        for (var i = 0; i < hooks.Count; i++)
        {
            var h = hooks[i];
            p[i] = new Interop.Launch.Hook
            {
                Path = a.Str(h.Path),
                Argv = a.StrArray(h.Args is { Count: > 0 } args ? args : [h.Path]),
                Envp = a.StrArray(h.Env ?? []),
                Timeout = h.Timeout ?? 0,
            };
        }
        return p;
    }

    private static Interop.Launch.Plan* BuildPlan(LaunchSpec s, int syncFd, NativeArena a, IdmappedTrees idmapped)
    {
        var plan = (Interop.Launch.Plan*)a.Alloc(sizeof(Interop.Launch.Plan));
        plan->CloneFlags = s.CloneFlags & ~CloneFlags.NewCgroup;
        plan->UnshareCgroup = s.UnshareCgroup ? 1 : 0;
        if (s.Joins.Count > Interop.Launch.MaxJoin) throw new Core.CrateRunException("too many namespaces to join");
        plan->NJoin = s.Joins.Count;
        for (var i = 0; i < s.Joins.Count; i++)
        {
            plan->JoinFds[i] = s.Joins[i].Fd.Fd;
            plan->JoinTypes[i] = (int)s.Joins[i].Type;
        }
        plan->SyncFd = syncFd;
        for (var i = 0; i < 3; i++) plan->Stdio[i] = s.Stdio[i];
        plan->ExecFifoFd = s.ExecFifo?.Fd ?? -1;
        plan->ConsoleFd = s.ConsoleFd;
        plan->Terminal = s.Terminal ? 1 : 0;
        plan->ConsoleRows = s.ConsoleRows;
        plan->ConsoleCols = s.ConsoleCols;
        plan->PreserveFds = s.PreserveFds;
        plan->SetUser = s.SetUser ? 1 : 0;
        plan->Uid = s.Uid;
        plan->Gid = s.Gid;
        plan->NGroups = s.Groups?.Length ?? -1;
        if (s.Groups is { Length: > 0 } groups)
        {
            plan->Groups = (uint*)a.Alloc(sizeof(uint) * groups.Length);
            for (var i = 0; i < groups.Length; i++) plan->Groups[i] = groups[i];
        }
        plan->Umask = s.Umask;
        plan->SetCaps = s.SetCaps ? 1 : 0;
        plan->LastCap = s.LastCap;
        plan->CapBounding = s.CapBounding;
        plan->CapEffective = s.CapEffective;
        plan->CapPermitted = s.CapPermitted;
        plan->CapInheritable = s.CapInheritable;
        plan->CapAmbient = s.CapAmbient;
        plan->NoNewPrivs = s.NoNewPrivileges ? 1 : 0;
        if (s.SeccompFilter is { Length: > 0 } filter)
        {
            var buf = (ulong*)a.Alloc(sizeof(ulong) * filter.Length);
            for (var i = 0; i < filter.Length; i++) buf[i] = filter[i];
            plan->SeccompFilter = buf;
            plan->SeccompLen = filter.Length;
            plan->SeccompFlags = s.SeccompFlags;
        }
        plan->NRlimits = s.Rlimits.Count;
        if (s.Rlimits.Count > 0)
        {
            plan->Rlimits = (Interop.Launch.Rlimit*)a.Alloc(sizeof(Interop.Launch.Rlimit) * s.Rlimits.Count);
            for (var i = 0; i < s.Rlimits.Count; i++)
                plan->Rlimits[i] = new Interop.Launch.Rlimit { Resource = s.Rlimits[i].Resource, Soft = s.Rlimits[i].Soft, Hard = s.Rlimits[i].Hard };
        }
        plan->NSteps = s.Steps.Count;
        plan->Steps = (Interop.Launch.Step*)a.Alloc(sizeof(Interop.Launch.Step) * Math.Max(1, s.Steps.Count));
        for (var i = 0; i < s.Steps.Count; i++)
        {
            var st = s.Steps[i];
            plan->Steps[i] = new Interop.Launch.Step
            {
                Op = (uint)st.Op, Flags = (uint)st.Flags, MountFlags = st.MountFlags, Propagation = st.Propagation,
                Dev = st.Dev, Mode = st.Mode, Uid = st.Uid, Gid = st.Gid,
                Source = a.Str(st.Source), Target = a.Str(st.Target), FsType = a.Str(st.FsType), Data = a.Str(st.Data),
                ClearFlags = st.ClearFlags, RecursiveSetFlags = st.RecursiveSetFlags, RecursiveClearFlags = st.RecursiveClearFlags,
                IdmapFd = idmapped.FdOf(i),
            };
        }
        plan->CgroupFd = s.CgroupDir?.Fd ?? -1;
        plan->MemoryTasksFd = s.MemoryTasks?.Fd ?? -1;
        plan->NCreateHooks = s.CreateContainerHooks.Count;
        plan->CreateHooks = Hooks(s.CreateContainerHooks, a);
        plan->NStartHooks = s.StartContainerHooks.Count;
        plan->StartHooks = Hooks(s.StartContainerHooks, a);
        plan->Cwd = a.Str(s.Cwd);
        plan->ApparmorProfile = a.Str(s.ApparmorProfile);
        plan->SelinuxLabel = a.Str(s.SelinuxLabel);
        plan->MountLabel = a.Str(s.MountLabel);
        // procattrs
        if (s.Personality is { } persona) (plan->SetPersonality, plan->Personality) = (1, persona);
        // timens
        if (s.TimeOffsets is { } t)
            (plan->SetTimeOffsets, plan->MonotonicSecs, plan->MonotonicNanosecs, plan->BoottimeSecs, plan->BoottimeNanosecs) = (1, t.MonotonicSecs, t.MonotonicNanosecs, t.BoottimeSecs, t.BoottimeNanosecs);
        if (s.Scheduler is { } sched)
        {
            plan->SetScheduler = 1;
            plan->SchedPolicy = sched.Policy;
            plan->SchedFlags = sched.Flags;
            plan->SchedNice = sched.Nice;
            plan->SchedPriority = sched.Priority;
            plan->SchedRuntime = sched.Runtime;
            plan->SchedDeadline = sched.Deadline;
            plan->SchedPeriod = sched.Period;
        }
        if (s.IoPriority is { } ioprio) (plan->SetIoPriority, plan->IoPriority) = (1, ioprio);
        plan->Argv = a.StrArray(s.Argv);
        plan->Envp = a.StrArray(s.Envp);
        plan->Trace = s.Trace is null ? null : s.Trace.Header; // explain
        plan->InitFd = s.Init?.Fd ?? -1; // init
        plan->InitArgv = s.Init is null ? null : a.StrArray([InitName, "--", .. s.Argv]);
        return plan;
    }
}

/// <summary>Native memory for one plan, freed all at once.</summary>
internal sealed unsafe class NativeArena : IDisposable
{
    private readonly List<nint> _blocks = [];

    public void* Alloc(int bytes)
    {
        var p = NativeMemory.AllocZeroed((nuint)Math.Max(bytes, 1));
        _blocks.Add((nint)p);
        return p;
    }

    public byte* Str(string? s)
    {
        if (s is null) return null;
        var n = Encoding.UTF8.GetByteCount(s);
        var p = (byte*)Alloc(n + 1);
        Encoding.UTF8.GetBytes(s, new Span<byte>(p, n));
        return p;
    }

    public byte** StrArray(IReadOnlyList<string> items)
    {
        var p = (byte**)Alloc(sizeof(byte*) * (items.Count + 1));
        for (var i = 0; i < items.Count; i++) p[i] = Str(items[i]);
        return p;
    }

    public void Dispose()
    {
        foreach (var b in _blocks) NativeMemory.Free((void*)b);
        _blocks.Clear();
    }
}

/// <summary>Native strings for an execve call.</summary>
public sealed unsafe class NativeArenaHandle : IDisposable
{
    private readonly NativeArena _arena = new();
    public byte* Str(string s) => _arena.Str(s);
    public byte** StrArray(IReadOnlyList<string> items) => _arena.StrArray(items);
    public void Dispose() => _arena.Dispose();
}
