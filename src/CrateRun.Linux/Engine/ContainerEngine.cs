using CrateRun.Core;
using CrateRun.Core.Oci;
using CrateRun.Core.Setup;
using CrateRun.Core.State;
using CrateRun.Linux.Cgroups;
using CrateRun.Linux.Process;

namespace CrateRun.Linux.Engine;

/// <summary>How the caller wants the container's process wired.</summary>
public sealed class CreateOptions
{
    /// <summary>fds that become the process's 0, 1, 2; -1 passes ours through untouched.</summary>
    public int[] Stdio { get; init; } = [-1, -1, -1];
    /// <summary>A connected unix socket that receives the pty master (process.terminal).</summary>
    public int ConsoleFd { get; init; } = -1;
    /// <summary>The OCI --console-socket path, connected here when ConsoleFd is not given.</summary>
    public string? ConsoleSocketPath { get; init; }
    public string? PidFile { get; init; }
    public bool NoPivot { get; init; }
    public int PreserveFds { get; init; }
    /// <summary>The container's (v1) cgroup, already joined by a launcher thread: the launch runs there.</summary>
    public PreparedCgroup? Prepared { get; init; }
    /// <summary>The record as this process registered it (else it is read from the store).</summary>
    public ContainerRecord? Registered { get; init; }
    /// <summary>The config as this process built it and wrote it to the bundle (else config.json is read).</summary>
    public Spec? Spec { get; init; }
}

/// <summary>What exec runs in a running container.</summary>
public sealed class ExecOptions
{
    public required Core.Oci.Process Process { get; init; }
    public int[] Stdio { get; init; } = [-1, -1, -1];
    public int ConsoleFd { get; init; } = -1;
    public string? ConsoleSocketPath { get; init; }
    public string? PidFile { get; init; }
    public int PreserveFds { get; init; }
    /// <summary>runc's --ignore-paused: join a frozen container anyway (the process starts frozen).</summary>
    public bool IgnorePaused { get; init; }
    /// <summary>runc's exec --cgroup: existing sub-cgroups to run in, "[CONTROLLER[,CONTROLLER]:]PATH".</summary>
    public IReadOnlyList<string> SubCgroups { get; init; } = [];
    /// <summary>Docker's exec id: names this exec in the events (exec_create, exec_start, exec_die).</summary>
    public string ExecId { get; init; } = Core.Docker.ContainerEvent.NewExecId();
    /// <summary>The record this process just read to build <see cref="Process"/> (else it is read from the store).</summary>
    public ContainerRecord? Record { get; init; }
    /// <summary>The config read with <see cref="Record"/> (else config.json is read).</summary>
    public Spec? Spec { get; init; }
}

/// <summary>
/// The container lifecycle of the OCI runtime spec: create, start, state, kill, delete,
/// plus exec, pause/resume and update. Both faces (craterun run and craterun-oci) use it.
/// </summary>
/// <param name="host">The host's processes, launcher, cgroups, hooks and privilege (null: the real host).</param>
public sealed partial class ContainerEngine(ContainerStore store, ContainerHost? host = null)
{
    public ContainerStore Store { get; } = store;
    private readonly ContainerHost _host = host ?? ContainerHost.Real;
    // named as the static classes they stand for (Process.Processes, Engine.Hooks): the lifecycle's calls read the same
    private IHostProcesses Processes => _host.Processes;
    private IHookRunner Hooks => _host.Hooks;
    /// <summary>Where warnings go (a failed poststart or poststop hook): stderr unless the face says otherwise.</summary>
    public Action<string> Warn { get; init; } = message => Console.Error.WriteLine("warning: " + message);
    private ICgroupHost? _layout;
    public ICgroupHost Layout => _layout ??= _host.Cgroups ?? CgroupLayout.Detect();

    public const string ConfigFile = "config.json";
    public const string ExecFifo = "exec.fifo";

    /// <summary>Claims the id (and name) and writes the first metadata, status "creating".</summary>
    public void Register(ContainerRecord r)
    {
        if (!ContainerId.IsValidName(r.Id)) throw new UsageException($"invalid container id '{r.Id}'");
        if (r.Name is { } name && !ContainerId.IsValidName(name))
            throw new UsageException($"invalid container name '{name}': use letters, digits, '_', '-', '.', '+'");
        using var _ = Store.LockRoot();
        if (Store.Exists(r.Id) || Directory.Exists(Store.Dir(r.Id)))
            throw new CrateRunException($"container {r.Id} already exists");
        if (r.Name is not null && Store.List().Any(c => c.Name == r.Name))
            throw new CrateRunException($"the container name '{r.Name}' is already in use");
        Volumes.EnsureForContainer(r.Annotations); // under the root's lock: a volume rm cannot slip in before the registration
        try
        {
            Store.CreateDir(r.Id);
            r.Status = ContainerStatus.Creating;
            Store.Save(r);
            Emit(r, "create");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { Store.RemoveDir(r.Id); } // e.g. no space for metadata.json: nothing half-made stays
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException) { }
            throw Store.Unusable(e);
        }
    }

    /// <summary>
    /// OCI create: namespaces, mounts and cgroup set up, the user's process waiting on
    /// exec.fifo. On failure nothing is left: no process, cgroup or state directory.
    /// </summary>
    public ContainerRecord Create(string id, CreateOptions o)
    {
        var r = o.Registered ?? Store.Load(id);
        CgroupPlacement? placement = null;
        var imageMounted = false;
        var shmMounted = false;
        Explain.LaunchTrace? trace = null; // --explain: the C stage's step records
        Explain.TraceContext? traced = null;
        try
        {
            var spec = o.Spec ?? LoadSpec(r);
            Timing.Mark("spec loaded");
            // a container made from an image: its root is an overlay of the image's layers, mounted before anything looks at it
            imageMounted = Images.ImageRootfs.MountIfImage(spec, Store.Dir(id), Store.Root, out var overlayInContainer);
            if (imageMounted) Timing.Mark("image overlay mounted"); // bench/overlay-start.sh
            // --ipc shareable: its /dev/shm on the host before the mounts are planned, so that the plan binds it (and joiners bind the same)
            shmMounted = PrepareSharedShm(r, spec);
            var process = spec.Process ?? throw new UsageException("config.json has no process");
            var rootfs = RootfsCheck.Resolve(Path.GetFullPath(spec.Root?.Path ?? throw new UsageException("config.json has no root.path"), r.Bundle),
                requireLayout: false);
            r.Rootfs = rootfs;
            if (imageMounted) PopulateVolumes(spec, rootfs); // the image's content is in view, the container's mounts not yet made
            var launch = new LaunchSpec { PreserveFds = o.PreserveFds, Stdio = o.Stdio };
            PrepareNetworkFiles(r); // the sources of the /etc/hosts, resolv.conf, hostname binds exist before the mounts
            using var joined = PlanNamespaces(spec, launch);
            bool userns = SetupPlanner.HasNamespace(spec, "user", newOnly: false);
            // The Docker-like face asks for an id-mapped rootfs with --userns; OCI clients prepare their own.
            bool idmap = SetupPlanner.HasNamespace(spec, "user") && spec.Annotations?.GetValueOrDefault(IdmapAnnotation) == "true";
            launch.Steps = SetupPlanner.Plan(spec, rootfs, new HostInfo(Layout.IsV2, [.. Layout.V1.Select(h => h.Controllers)], o.NoPivot, idmap,
                o.NoPivot ? HostMounts.FullProcAndSysfs(rootfs) : null, V1CgroupDirs(CgroupsPathOf(spec, id)),
                AppArmor: Lsm.AppArmorEnabled, Selinux: Lsm.SelinuxEnabled, RootfsOverlay: overlayInContainer,
                SkippableBindTargets: r.Network is null ? null : Core.Network.NetworkSpec.EtcBinds.Select(b => b.Destination).ToList()));
            ProcessPlan.Apply(launch, spec, process, userns);
            using var init = InitFor(spec); // run --init: PID 1 is craterun's init, which runs the process
            launch.Init = init;
            launch.CreateContainerHooks.AddRange(spec.Hooks?.CreateContainer ?? []);
            launch.StartContainerHooks.AddRange(spec.Hooks?.StartContainer ?? []);
            Timing.Mark("planned");

            // The cgroup exists and holds its limits before the process does anything. On v1 a
            // launcher thread moves itself in first (cheap, see PreparedCgroup) unless a monitor already did.
            var resources = spec.Linux?.Resources;
            if (resources is not null) ResourceRules.Validate(resources);
            placement = CgroupPlacement.Prepare(Layout, CgroupsPathOf(spec, id), o.Prepared, WithoutPidsLimit(resources), () => CreateCgroup(id, spec));
            var cgroup = placement.Cgroup;
            // A runtime killed from here on (a client's SIGKILL or timeout during create) leaves the
            // cgroup: the record names it at once, so that the client's `delete` removes it. A record
            // kept on failure gets it only once created (a failed create rolls the cgroup back).
            if (cgroup is not null && !r.KeepOnFailure)
            {
                RecordCgroup(r, cgroup);
                Store.Save(r);
            }
            Timing.Mark("cgroup ready");

            using var fifo = MakeExecFifo(id);
            launch.ExecFifo = fifo;
            using var console = process.Terminal ? ConsoleSocket(o.ConsoleFd, o.ConsoleSocketPath) : null;
            launch.ConsoleFd = console?.Fd ?? -1;

            var callbacks = new Launcher.Callbacks
            {
                MapIds = _explain is null ? pid => UserNamespaces.WriteMaps(pid, spec.Linux?.UidMappings, spec.Linux?.GidMappings) : ExplainedIdMaps(spec),
                BeforeGo = pid =>
                {
                    SetOomScoreAdj(pid, process.OomScoreAdj);
                    AttachNetworks(r, pid); // its network namespace exists (clone), its process has not run anything yet
                },
                IdmappedRootfs = idmap ? pid => UserNamespaces.IdmappedTree(rootfs, pid) : null,
                SeccompListener = (pid, listener) => SendSeccompListener(spec, id, r.Bundle, Core.Oci.OciStatus.Creating, pid, pid, listener),
                RunHooks = pid =>
                {
                    AwaitNetworks(); // hooks see the container's network
                    var state = new OciState { OciVersion = SpecBuilderVersion, Id = id, Status = Core.Oci.OciStatus.Creating, Pid = pid, Bundle = r.Bundle, Annotations = spec.Annotations };
                    Hooks.Run(spec.Hooks?.Prestart, "prestart", state);
                    Hooks.Run(spec.Hooks?.CreateRuntime, "createRuntime", state);
                    return OciJson.WriteUtf8Bytes(state);
                },
            };
            callbacks = placement.Place(launch, callbacks); // cloned on the prepared thread, into the v2 directory, or moved in
            launch.Trace = trace = StartTrace(Store.PathOf(id, Explain.LaunchTrace.FileName));
            traced = new Explain.TraceContext(launch, spec, rootfs);
            r.Pid = _host.Launcher.Launch(launch, callbacks);
            AwaitNetworks(); // the ADD that ran alongside the child's setup is done before the container counts as created
            ShowTrace(trace, traced);
            r.PidStartTime = Processes.StartTime(r.Pid);
            Timing.Mark("launched (ready)");
            ApplyPidsLimit(cgroup, resources);
            r.Status = ContainerStatus.Created;
            RecordCgroup(r, cgroup);
            r.Hostname = spec.Hostname;
            if (spec.Hooks?.Poststart is { Count: > 0 } || spec.Hooks?.Poststop is { Count: > 0 })
                r.Hooks = new Core.Oci.Hooks { Poststart = spec.Hooks.Poststart, Poststop = spec.Hooks.Poststop };
            Store.Save(r);
            if (o.PidFile is { } pf) ContainerStore.WriteAtomic(Path.GetFullPath(pf), System.Text.Encoding.ASCII.GetBytes(r.Pid.ToString()));
            // created: the cgroup stays when the launcher thread leaves it (until then, a failure removes it)
            placement.Commit();
            return r;
        }
        catch
        {
            if (trace is not null) ShowTrace(trace, traced!, failed: true); // the step that failed, with errno and hint
            AwaitNetworksQuietly();
            if (r.Pid > 0) { Processes.Signal(r.Pid, Interop.Sys.SIGKILL); Processes.WaitExit(r.Pid, 0, 5000); }
            placement?.Rollback(); // what this create made of the cgroup
            if (imageMounted) Images.ImageRootfs.Unmount(Store.Dir(id));
            if (shmMounted) UnmountSharedShm(id);
            DetachNetworks(id, null);
            // a container made by `craterun create` stays, to be told about and removed by the user (Docker's rule)
            if (!r.KeepOnFailure)
            {
                Store.RemoveDir(id);
                RemoveAnonymousVolumes(r);
            }
            throw;
        }
        finally
        {
            placement?.Dispose();
            trace?.Dispose();
        }
    }

    private static void RecordCgroup(ContainerRecord r, ICgroupManager? cgroup)
    {
        r.CgroupPaths = cgroup is null ? [] : new Dictionary<string, string>(cgroup.Paths);
        r.CgroupCreatedParents = cgroup?.CreatedParents is { Count: > 0 } madeParents ? [.. madeParents] : null;
    }

    public static Spec LoadSpec(ContainerRecord r)
    {
        var path = Path.Combine(r.Bundle, ConfigFile);
        if (!File.Exists(path)) throw new UsageException($"bundle {r.Bundle} has no {ConfigFile}");
        try { return OciJson.LoadSpec(path); }
        catch (FormatException e) { throw new UsageException(e.Message); }
    }

    private sealed class JoinedNamespaces(List<SafeFd> fds) : IDisposable
    {
        public void Dispose() { foreach (var f in fds) f.Dispose(); }
    }

    /// <summary>New namespaces become clone flags; those given by path are opened to be joined (user first).</summary>
    private static JoinedNamespaces PlanNamespaces(Spec spec, LaunchSpec l)
    {
        var fds = new List<SafeFd>();
        var seen = new HashSet<string>();
        // time before user: setns(time) needs CAP_SYS_ADMIN over its owner, which we lose in a joined user namespace
        foreach (var ns in (spec.Linux?.Namespaces ?? []).OrderBy(n => n.Type == "time" ? -1 : n.Type == "user" ? 0 : n.Type == "mount" ? 2 : 1))
        {
            if (!seen.Add(ns.Type)) throw new UsageException($"namespace '{ns.Type}' is listed twice");
            var (flag, _) = CloneFlags.Of(ns.Type);
            if (string.IsNullOrEmpty(ns.Path))
            {
                if (ns.Type == "cgroup") l.UnshareCgroup = true;
                else l.CloneFlags |= flag;
                continue;
            }
            var fd = Interop.Sys.open(ns.Path, Interop.Sys.O_RDONLY | Interop.Sys.O_CLOEXEC, 0);
            if (fd < 0) throw new SyscallException("open", $"{ns.Type} namespace {ns.Path}", System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
            var h = new SafeFd(fd);
            fds.Add(h);
            RefuseRuntimesOwn(spec, ns, h);
            l.Joins.Add((h, flag));
        }
        return new JoinedNamespaces(fds);
    }

    /// <summary>
    /// A namespace joined by path gets set up like a new one (root.path mounted and pivoted
    /// into, the hostname set). When that namespace is the runtime's own, the set-up would
    /// change the host itself: refused.
    /// </summary>
    private static void RefuseRuntimesOwn(Spec spec, LinuxNamespace ns, SafeFd joined)
    {
        var changesIt = ns.Type switch
        {
            "mount" => "setting up root.path there would change the host's own mounts",
            "uts" when !string.IsNullOrEmpty(spec.Hostname) || !string.IsNullOrEmpty(spec.Domainname) => "setting the hostname there would rename the host",
            _ => null,
        };
        if (changesIt is null) return;
        var file = CloneFlags.Of(ns.Type).File;
        if (new FileInfo($"/proc/self/fd/{joined.Fd}").LinkTarget == new FileInfo($"/proc/self/ns/{file}").LinkTarget)
            throw new UsageException($"the {ns.Type} namespace {ns.Path} is the runtime's own: {changesIt}");
    }

    private SafeFd MakeExecFifo(string id)
    {
        var path = Store.PathOf(id, ExecFifo);
        File.Delete(path);
        Interop.Check(Interop.Sys.mkfifo(path, 0x192 /* 0622 */), "mkfifo", path);
        // writable by the container's root even when that is not host root (user namespaces);
        // the state directory itself stays closed: the process reaches it through its own fd
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite);
        var fd = Interop.Sys.open(path, Interop.Sys.O_PATH | Interop.Sys.O_CLOEXEC, 0);
        return new SafeFd(Interop.Check(fd, "open", path));
    }

    private static SafeFd? ConsoleSocket(int fd, string? path)
    {
        if (fd >= 0) return new SafeFd(fd, ownsHandle: false);
        // runc's words: a detached terminal needs someone to hand the pty master to
        if (path is null) throw new UsageException("cannot allocate tty if the runtime will detach without setting console socket (process.terminal is true)");
        return UnixSockets.Connect(path);
    }

    /// <summary>
    /// SCMP_ACT_NOTIFY: the listener goes to the agent at linux.seccomp.listenerPath with the process state
    /// (config-linux.md "The Container Process State"): at create, of the container's process ("creating"); at exec,
    /// of the new process, in a running container. Each filtered process has a listener of its own.
    /// </summary>
    private static void SendSeccompListener(Spec spec, string id, string bundle, string status, int containerPid, int pid, SafeFd listener)
    {
        var path = spec.Linux?.Seccomp?.ListenerPath;
        if (string.IsNullOrEmpty(path))
            throw new UsageException("the seccomp profile uses SCMP_ACT_NOTIFY but linux.seccomp.listenerPath is not set");
        var state = new ContainerProcessState
        {
            OciVersion = SpecBuilderVersion,
            Fds = ["seccompFd"],
            Pid = pid,
            Metadata = spec.Linux!.Seccomp!.ListenerMetadata,
            State = new OciState { OciVersion = SpecBuilderVersion, Id = id, Status = status, Pid = containerPid, Bundle = bundle, Annotations = spec.Annotations },
        };
        using var agent = UnixSockets.Connect(path);
        if (!UnixSockets.Send(agent.Fd, OciJson.WriteUtf8Bytes(state), listener.Fd))
            throw new CrateRunException($"seccomp notify: cannot send the listener to {path}");
    }

    /// <summary>The config's cgroupsPath, or the default: craterun-ID below our own cgroup.</summary>
    public static string CgroupsPathOf(Spec spec, string id) => spec.Linux?.CgroupsPath is { Length: > 0 } cp ? cp : "craterun-" + id;

    /// <summary>Annotation by which the Docker-like face asks for an id-mapped rootfs (--userns).</summary>
    public const string IdmapAnnotation = "io.craterun.idmap-rootfs";

    /// <summary>
    /// The container's cgroup with its limits. An unprivileged user gets none unless it asked
    /// for limits, and then a clear error when the cgroup is not delegated to it. A failure
    /// removes what this made, never a cgroup that was there before (a given cgroupsPath).
    /// </summary>
    private ICgroupManager? CreateCgroup(string id, Spec spec)
    {
        var cgroup = Layout.ManagerFor(CgroupsPathOf(spec, id));
        var r = spec.Linux?.Resources;
        var limits = r is not null && (r.Memory is not null || r.Cpu is not null || r.Pids is not null || r.Unified is { Count: > 0 }
            || r.BlockIO is not null || r.HugepageLimits is { Count: > 0 } || r.Network is not null || r.Rdma is { Count: > 0 });
        if (_host.IsPrivileged)
        {
            try
            {
                cgroup.Create();
                CheckCgroupBeforeUse(cgroup);
                cgroup.Apply(WithoutPidsLimit(r));
            }
            catch
            {
                TryRemoveCreated(cgroup); // a limit the kernel refused must not leave the directories behind
                throw;
            }
            return cgroup;
        }
        if (!limits) return null;
        try
        {
            cgroup.Create();
            cgroup.Apply(WithoutPidsLimit(r));
            return cgroup;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException or CrateRunException)
        {
            TryRemoveCreated(cgroup);
            throw new CrateRunException($"resource limits need a cgroup this user may write, and none is delegated to it here ({e.Message}): run as root, or without --memory/--cpu/--pids");
        }
    }

    /// <summary>
    /// A cgroup that was there before: frozen, the container's process would freeze on the way in
    /// and create hang (refused, as runc does); with processes in it, the container shares their
    /// limits and `kill --all` would reach them (a warning, as runc gives).
    /// </summary>
    private static void CheckCgroupBeforeUse(ICgroupManager cgroup)
    {
        if (cgroup.IsFrozen()) throw new CrateRunException(PreparedCgroup.ContainerCgroupFrozen);
        if (cgroup.Pids() is { Count: > 0 } others)
            Console.Error.WriteLine($"craterun: warning: the container's cgroup is not empty: {others.Count} process(es) already in it (pid {string.Join(", ", others.Take(5))})");
    }

    /// <summary>The limits to write before the launch: all but pids.max (see <see cref="ApplyPidsLimit"/>).</summary>
    private static LinuxResources? WithoutPidsLimit(LinuxResources? r) => r?.Pids is null ? r : new LinuxResources
    {
        Devices = r.Devices, Memory = r.Memory, Cpu = r.Cpu, BlockIO = r.BlockIO, HugepageLimits = r.HugepageLimits,
        Network = r.Network, Rdma = r.Rdma, Unified = r.Unified,
    };

    /// <summary>
    /// pids.max is written once the container's init is in its cgroup and before it runs the
    /// user's program: the runtime's own launcher thread sits in the cgroup while it clones the
    /// init (v1), and would count against a limit meant for the container's processes
    /// (`--pids 1` could start nothing). A lower limit than the current count is allowed: it
    /// only stops new forks.
    /// </summary>
    private static void ApplyPidsLimit(ICgroupManager? cgroup, LinuxResources? r)
    {
        if (cgroup is not null && r?.Pids is { } pids) cgroup.Apply(new LinuxResources { Pids = pids });
    }

    /// <summary>On v1 without a cgroup namespace: each hierarchy's controllers to the container's directory in it, bound at /sys/fs/cgroup/CONTROLLERS.</summary>
    private Dictionary<string, string>? V1CgroupDirs(string cgroupsPath)
    {
        if (Layout.IsV2 || !_host.IsPrivileged) return null;
        var paths = Layout.V1Paths(cgroupsPath);
        return Layout.V1.ToDictionary(h => h.Controllers, h => paths[h.Controllers.Split(',')[0]]);
    }

    private static void SetOomScoreAdj(int pid, int? adj)
    {
        if (adj is not { } a) return;
        try { File.WriteAllText($"/proc/{pid}/oom_score_adj", a.ToString()); }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException && !ResourceLimits.CanRaise)
        {
            // EACCES: below the lowest value the runtime itself may set (its own minimum, 0 unless someone privileged lowered it)
            throw new UsageException($"oomScoreAdj {a}: lowering the OOM score adjustment below the runtime's own minimum needs CAP_SYS_RESOURCE, which this runtime does not hold");
        }
    }

    /// <summary>OCI start: lets the waiting process exec the user's program.</summary>
    public void Start(string id)
    {
        using var _ = Store.Lock(id);
        var r = Store.Load(id);
        var status = StatusOf(r);
        if (!ContainerStatus.CanStart(status)) throw new CrateRunException(ContainerStatus.StartRefusal(status));
        var path = Store.PathOf(id, ExecFifo);
        var explainStart = _explain is null ? 0 : Explain.ExplainClock.Now();
        var fd = Interop.Sys.open(path, Interop.Sys.O_RDONLY | Interop.Sys.O_NONBLOCK | Interop.Sys.O_CLOEXEC, 0);
        using var fifo = new SafeFd(Interop.Check(fd, "open", path));
        WaitForFifoByte(fifo, r);
        File.Delete(path);
        ExplainStart(id, r, explainStart);
        r.Status = ContainerStatus.Running;
        r.Started = DateTimeOffset.UtcNow;
        Store.Save(r);
        Emit(r, "start");
        // poststart hooks: after the user's process started; a failure is reported, not fatal
        if (r.Hooks?.Poststart is { Count: > 0 } poststart)
            Hooks.Run(poststart, "poststart", State(id), Warn);
    }

    private unsafe void WaitForFifoByte(SafeFd fifo, ContainerRecord r)
    {
        while (true)
        {
            var pfd = new Interop.Sys.PollFd { Fd = fifo.Fd, Events = Interop.Sys.POLLIN };
            var rc = Interop.Sys.poll(&pfd, 1, 50);
            if (rc > 0 && (pfd.REvents & Interop.Sys.POLLIN) != 0)
            {
                byte b;
                if (Interop.Sys.read(fifo, &b, 1) == 1) return;
            }
            if (!Processes.IsAlive(r.Pid, r.PidStartTime))
                throw new CrateRunException($"container {r.Id} exited before it could start");
        }
    }

    /// <summary>The status now: a container whose process died unseen is exited, never running.</summary>
    public static string CurrentStatus(ContainerRecord r) => CurrentStatus(r, ContainerHost.Real.Processes);

    private static string CurrentStatus(ContainerRecord r, IHostProcesses processes) => CurrentStatus(r, processes, out _);

    /// <summary>CurrentStatus, and the container's process as it was seen alive (null: not looked at, or gone).</summary>
    private static string CurrentStatus(ContainerRecord r, IHostProcesses processes, out LiveProcess? seen)
    {
        seen = null;
        if (r.Status is ContainerStatus.Created or ContainerStatus.Running && (seen = processes.Look(r.Pid, r.PidStartTime)) is null)
            return ContainerStatus.Exited;
        if (RestartingWithoutMonitor(r, processes)) return ContainerStatus.Exited;
        return r.Status;
    }

    /// <summary>The status now, with runc's "paused" for a live container whose cgroup is frozen.</summary>
    public string StatusOf(ContainerRecord r) => StatusOf(r, out _);

    private string StatusOf(ContainerRecord r, out LiveProcess? seen)
    {
        var status = CurrentStatus(r, Processes, out seen);
        if (status is ContainerStatus.Created or ContainerStatus.Running && r.CgroupPaths.Count > 0 && MayBeFrozen(seen)
            && Layout.ManagerForPaths(r.CgroupPaths).IsFrozen())
            return ContainerStatus.Paused;
        return status;
    }

    /// <summary>
    /// Whether the container's cgroup may be frozen, from its process's state letter. The v1 freezer
    /// leaves each task it froze reported as 'D' (uninterruptible: the refrigerator, and since Linux
    /// 6.1 TASK_FROZEN shown as such), so on v1 a container process in any other state is not in a
    /// frozen cgroup, and freezer.state is not read (`ps`: one file less per container). The v2
    /// freezer leaves its tasks in 'S', like any sleeper: there cgroup.events is always read.
    /// </summary>
    private bool MayBeFrozen(LiveProcess? seen) => Layout.IsV2 || seen is not { State: not ('D' or '?') };

    /// <summary>
    /// <see cref="StatusOf"/>, and for a running or paused container whether its monitor is gone
    /// (output no longer captured, exit not recorded). The container's process is its monitor's
    /// child (the monitor launches it; launch.c's second stage clones with CLONE_PARENT), and a
    /// parent is always a live process, so a container whose parent has the monitor's pid proves
    /// the monitor alive: `ps` then reads one /proc/PID/stat per container, not two.
    /// </summary>
    public (string Status, bool MonitorGone) Observe(ContainerRecord r)
    {
        var status = StatusOf(r, out var seen);
        var monitorGone = status is ContainerStatus.Running or ContainerStatus.Paused && r.MonitorPid > 0
            && seen?.ParentPid != r.MonitorPid && !Processes.IsAlive(r.MonitorPid, r.MonitorStartTime);
        return (status, monitorGone);
    }

    public OciState State(string id)
    {
        var r = Store.Load(id);
        var status = StatusOf(r);
        return new OciState
        {
            OciVersion = SpecBuilderVersion,
            Id = r.Id,
            Status = ContainerStatus.Oci(status),
            Pid = status == ContainerStatus.Exited ? 0 : r.Pid,
            Bundle = r.Bundle,
            Annotations = r.Annotations,
        };
    }

    private const string SpecBuilderVersion = Core.Config.SpecBuilder.OciVersion;

    /// <summary>
    /// Sends a signal (0 only checks) to the container's process, or with <paramref name="all"/>
    /// to every process in its cgroup. As runc: --all on a container with nothing left succeeds
    /// (containerd's shim sends it after every exit); a plain kill fails with "container not running".
    /// </summary>
    public void Kill(string id, int signal, bool all)
    {
        var r = Store.Load(id);
        var status = StatusOf(r);
        if (!ContainerStatus.CanKill(status))
        {
            if (all) return;
            throw new CrateRunException(ContainerStatus.NotRunning);
        }
        if (all && r.CgroupPaths.Count > 0)
        {
            var cg = Layout.ManagerForPaths(r.CgroupPaths, r.CgroupCreatedParents);
            foreach (var pid in cg.Pids().Where(p => p != Environment.ProcessId)) Processes.Signal(pid, signal);
            if (cg.IsFrozen()) cg.Thaw();
            return;
        }
        if (!Processes.Signal(r.Pid, signal))
            throw new CrateRunException(ContainerStatus.NotRunning);
        Emit(r, "kill", ("signal", signal.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    /// <summary>
    /// Removes the container: a stopped or never started one always, a live one (running,
    /// paused) only with <paramref name="force"/>, which SIGKILLs it first and waits. Then its
    /// cgroup and state go.
    /// </summary>
    public void Delete(string id, bool force)
    {
        var r = Store.Load(id);
        var status = StatusOf(r);

        if (!force && !ContainerStatus.CanDelete(status))
            throw new CrateRunException(ContainerStatus.DeleteRefusal(id, status));
        if (ContainerStatus.CanKill(status))
        {
            DetachNetworks(id, r); // while its namespace still exists: the plugins remove the veth themselves
            var cg = Layout.ManagerForPaths(r.CgroupPaths, r.CgroupCreatedParents);
            if (cg.IsFrozen()) cg.Thaw();
            Processes.Signal(r.Pid, Interop.Sys.SIGKILL);
            if (!Processes.WaitExit(r.Pid, r.PidStartTime, 10_000))
                throw new CrateRunException($"container {id}: process {r.Pid} did not die after SIGKILL");
        }
        // The monitor (Docker-like face) cleans up as the process exits; give it time to finish.
        if (r.MonitorPid > 0 && r.MonitorPid != Environment.ProcessId)
            Processes.WaitExit(r.MonitorPid, r.MonitorStartTime, 5_000);
        using (Store.TryLock(id))
        {
            var fresh = Store.TryLoad(id);
            if (fresh is null) return;
            if (fresh.CgroupPaths.Count > 0)
            {
                var cg = Layout.ManagerForPaths(fresh.CgroupPaths, fresh.CgroupCreatedParents);
                foreach (var pid in cg.Pids().Where(p => p != Environment.ProcessId)) Processes.Signal(pid, Interop.Sys.SIGKILL);
                cg.Destroy();
            }
            if (Images.ImageRootfs.IsImageContainer(fresh.Annotations)) Images.ImageRootfs.Unmount(Store.Dir(id));
            UnmountSharedShm(id);
            DetachNetworks(id, fresh);
            Store.RemoveDir(id);
            Emit(fresh, "destroy");
        }
        if (r.Hooks?.Poststop is { Count: > 0 } poststop)
            Hooks.Run(poststop, "poststop", new OciState { OciVersion = SpecBuilderVersion, Id = id, Status = Core.Oci.OciStatus.Stopped, Bundle = r.Bundle, Annotations = r.Annotations }, Warn);
    }

    /// <summary>
    /// Records how the process ended; removes its cgroup, unless <paramref name="keepCgroup"/>
    /// (`run --keep`: the stopped container keeps it until delete, as with runc). Called by whoever reaped it.
    /// </summary>
    public ContainerRecord RecordExit(string id, int exitCode, bool keepCgroup = false) => RecordExit(id, exitCode, keepCgroup, removing: false);

    /// <param name="removing">
    /// The caller removes an --rm container right after: its metadata is not written again only to be
    /// deleted (a new file and a freed one; <see cref="CompleteRun"/> writes it if the removal fails).
    /// </param>
    private ContainerRecord RecordExit(string id, int exitCode, bool keepCgroup, bool removing)
    {
        using var _ = Store.Lock(id);
        var r = Store.Load(id);
        var cg = r.CgroupPaths.Count > 0 ? Layout.ManagerForPaths(r.CgroupPaths, r.CgroupCreatedParents) : null;
        r.OomKilled = cg?.OomKilled() == true;
        r.ExitCode = exitCode;
        r.Finished = DateTimeOffset.UtcNow;
        r.Status = ContainerStatus.Exited;
        if (cg is not null && !keepCgroup)
        {
            foreach (var pid in cg.Pids().Where(p => p != Environment.ProcessId)) Processes.Signal(pid, Interop.Sys.SIGKILL);
            TryDestroy(cg);
            r.CgroupPaths = [];
            r.CgroupCreatedParents = null;
        }
        // the image's overlay is only needed while the process runs
        if (Images.ImageRootfs.IsImageContainer(r.Annotations)) Images.ImageRootfs.Unmount(Store.Dir(id));
        UnmountSharedShm(id); // --ipc shareable: as Docker, its /dev/shm goes with the run
        DetachNetworks(id, r);
        if (!(removing && r.AutoRemove)) Store.Save(r);
        if (r.OomKilled) Emit(r, "oom"); // as Docker: the OOM kill, then the exit
        Emit(r, "die", ("exitCode", exitCode.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return r;
    }

    /// <summary>
    /// The end of a monitored run: the exit recorded (<see cref="RecordExit"/>), then a container
    /// run with --rm (<see cref="ContainerRecord.AutoRemove"/>) removed with its state.
    /// </summary>
    public ContainerRecord CompleteRun(string id, int exitCode)
    {
        var record = RecordExit(id, exitCode, keepCgroup: false, removing: true);
        if (record.AutoRemove)
        {
            try
            {
                using (Store.TryLock(id)) Store.RemoveDir(id);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CrateRunException)
            {
                // what is left must say how the container ended
                if (Directory.Exists(Store.Dir(id))) Store.Save(record);
                throw;
            }
            RemoveAnonymousVolumes(record); // --rm takes its anonymous volumes too, as Docker's
        }
        return record;
    }

    private static void TryDestroy(ICgroupManager cg)
    {
        try { cg.Destroy(); }
        catch (CrateRunException) { }
    }

    private static void TryRemoveCreated(ICgroupManager cg)
    {
        try { cg.RemoveCreated(); }
        catch (CrateRunException) { }
    }

    /// <summary>Runs another process inside a running container (all its namespaces and its cgroup). Returns its pid.</summary>
    public int Exec(string id, ExecOptions o)
    {
        var r = o.Record ?? Store.Load(id);
        var status = StatusOf(r);
        // a process joining a frozen cgroup freezes before it execs: the caller would wait forever
        if (!ContainerStatus.CanExec(status, o.IgnorePaused)) throw new CrateRunException(ContainerStatus.ExecRefusal(id, status));
        var spec = o.Spec ?? LoadSpec(r);
        Timing.Mark("exec: state and config read");
        var launch = new LaunchSpec { Stdio = o.Stdio, PreserveFds = o.PreserveFds };
        var fds = new List<SafeFd>();
        Explain.LaunchTrace? trace = null; // --explain
        try
        {
            // user first (it grants the rights for the rest); mnt last: after it, host paths are gone;
            // time before user: its owner may be our user namespace, where the container's user has no rights
            foreach (var ns in new[] { "time", "user", "ipc", "uts", "net", "pid", "cgroup", "mnt" })
            {
                var theirs = $"/proc/{r.Pid}/ns/{ns}";
                string target;
                try { target = new FileInfo(theirs).LinkTarget ?? ""; }
                catch (IOException) { throw new CrateRunException($"container {id} is not running"); }
                var ours = new FileInfo($"/proc/self/ns/{ns}").LinkTarget;
                if (target == ours) continue;
                var fd = Interop.Sys.open(theirs, Interop.Sys.O_RDONLY | Interop.Sys.O_CLOEXEC, 0);
                var h = new SafeFd(Interop.Check(fd, "open", theirs));
                fds.Add(h);
                launch.Joins.Add((h, CloneFlags.Of(ns switch { "net" => "network", "mnt" => "mount", _ => ns }).Flag));
            }
            if (launch.Joins.Count == 0) throw new CrateRunException($"container {id} shares every namespace with the host: refusing exec");
            ProcessPlan.Apply(launch, spec, o.Process, SetupPlanner.HasNamespace(spec, "user", newOnly: false));
            using var console = o.Process.Terminal ? ConsoleSocket(o.ConsoleFd, o.ConsoleSocketPath) : null;
            launch.ConsoleFd = console?.Fd ?? -1;
            var cg = r.CgroupPaths.Count > 0 ? Layout.ManagerForPaths(SubCgroupPaths(r.CgroupPaths, o.SubCgroups)) : null;
            launch.Trace = trace = StartTrace(null);
            EmitExecStarting(r, o);
            Timing.Mark("exec: planned");
            int pid;
            try
            {
                pid = _host.Launcher.Launch(launch, new Launcher.Callbacks
                {
                    JoinCgroup = cg is null ? null : cg.AddProcess,
                    BeforeGo = p => SetOomScoreAdj(p, o.Process.OomScoreAdj),
                    // the exec'd process has a filter (and listener) of its own, for the same agent
                    SeccompListener = (p, listener) => SendSeccompListener(spec, id, r.Bundle, Core.Oci.OciStatus.Running, r.Pid, p, listener),
                });
            }
            catch (CrateRunException e)
            {
                EmitExecDie(r, o.ExecId, e.ExitCode); // it never ran: its exit is the error's code
                throw;
            }
            if (trace is not null) ShowAfterExec(trace, pid, new Explain.TraceContext(launch, spec, r.Rootfs)); // no start: it runs on to execve
            if (o.PidFile is { } pf) ContainerStore.WriteAtomic(Path.GetFullPath(pf), System.Text.Encoding.ASCII.GetBytes(pid.ToString()));
            return pid;
        }
        catch when (trace is not null)
        {
            ShowTrace(trace, new Explain.TraceContext(launch, spec, r.Rootfs), failed: true); // the step that failed, with errno and hint
            throw;
        }
        finally
        {
            trace?.Dispose();
            foreach (var f in fds) f.Dispose();
        }
    }

    /// <summary>
    /// The container's cgroup directories with exec --cgroup's sub-cgroups below them (per
    /// controller, or all when none is named). A sub-cgroup must exist and stay inside.
    /// </summary>
    public static Dictionary<string, string> SubCgroupPaths(IReadOnlyDictionary<string, string> paths, IReadOnlyList<string> subs)
    {
        var result = new Dictionary<string, string>(paths);
        foreach (var sub in subs)
        {
            var colon = sub.IndexOf(':');
            var controllers = colon < 0 ? [.. paths.Keys] : sub[..colon].Split(',', StringSplitOptions.RemoveEmptyEntries);
            var rel = (colon < 0 ? sub : sub[(colon + 1)..]).Trim('/');
            if (rel.Length == 0 || rel.Split('/').Any(part => part is "." or ".."))
                throw new UsageException($"invalid --cgroup '{sub}': expected [CONTROLLER[,CONTROLLER]:]PATH below the container's cgroup");
            foreach (var c in controllers)
            {
                if (!paths.TryGetValue(c, out var dir))
                    throw new UsageException($"invalid --cgroup '{sub}': the container has no '{c}' cgroup (it has {string.Join(", ", paths.Keys)})");
                var target = Path.Combine(dir, rel);
                if (!Directory.Exists(target)) throw new CrateRunException($"--cgroup '{sub}': {target} does not exist");
                result[c] = target;
            }
        }
        return result;
    }

    /// <summary>
    /// Docker's rm: a container with a live process (created, running, paused) is removed only
    /// with <paramref name="force"/>, which kills it first; a creation that failed before its
    /// metadata was written leaves only a directory, which goes too.
    /// </summary>
    public void Remove(string id, bool force, bool removeVolumes = false)
    {
        if (Store.IsLeftover(id))
        {
            Store.RemoveDir(id);
            return;
        }
        var r = Store.Load(id);
        var status = StatusOf(r);
        if (!force && (ContainerStatus.CanKill(status) || status == ContainerStatus.Restarting))
            throw new CrateRunException($"container {id} is {status}: stop it first or use rm --force");
        if (CancelRestart(id)) WaitForMonitor(Store.Load(id)); // no restart may race the removal
        WaitWhileRestartCreates(id);
        Delete(id, force: true);
        if (removeVolumes) RemoveAnonymousVolumes(r); // rm -v: its anonymous volumes (named ones stay, as Docker's)
    }

    /// <summary>
    /// Docker's stop: <paramref name="signal"/>, then SIGKILL once <paramref name="grace"/> has
    /// passed; returns once the monitor has recorded the exit. A paused container is thawed after
    /// the signal is sent, so that it can act on it. A container with no live process is left as it is.
    /// </summary>
    public void Stop(string id, int signal, TimeSpan grace)
    {
        if (CancelRestart(id)) WaitForMonitor(Store.Load(id)); // restarting: its monitor ends instead
        WaitWhileRestartCreates(id);
        var r = Store.Load(id);
        var status = StatusOf(r);
        if (!ContainerStatus.CanKill(status)) return;
        Processes.Signal(r.Pid, signal);
        Emit(r, "kill", ("signal", signal.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (status == ContainerStatus.Paused) RunningCgroup(id).Thaw();
        if (!Processes.WaitExit(r.Pid, r.PidStartTime, (int)Math.Min(int.MaxValue, grace.TotalMilliseconds)))
        {
            Processes.Signal(r.Pid, Interop.Sys.SIGKILL);
            Processes.WaitExit(r.Pid, r.PidStartTime, 10_000);
        }
        WaitForMonitor(r);
        Emit(r, "stop");
    }

    /// <summary>Waits (a bounded time) for the container's monitor to record the exit and end.</summary>
    public static void WaitForMonitor(ContainerRecord r)
    {
        if (r.MonitorPid > 0) Process.Processes.WaitExit(r.MonitorPid, r.MonitorStartTime, 5000);
    }

    public void Pause(string id)
    {
        var r = Store.Load(id);
        if (!ContainerStatus.CanPause(StatusOf(r))) throw new CrateRunException(ContainerStatus.NotRunning);
        RunningCgroup(id).Freeze();
        Emit(r, "pause");
    }

    public void Resume(string id)
    {
        var r = Store.Load(id);
        if (!ContainerStatus.CanResume(StatusOf(r))) throw new CrateRunException(ContainerStatus.ResumeRefusal);
        RunningCgroup(id).Thaw();
        Emit(r, "unpause");
    }

    /// <summary>
    /// Gives a container a new name (Docker's rule), unique among containers: checked and written
    /// under the root lock that Register claims names under, and the container's own lock so a
    /// monitor recording the exit does not write over it.
    /// </summary>
    public void Rename(string id, string newName)
    {
        if (!ContainerId.IsValidContainerName(newName))
            throw new UsageException($"invalid container name '{newName}': only [a-zA-Z0-9][a-zA-Z0-9_.-]+ is allowed");
        using var root = Store.LockRoot();
        using var one = Store.Lock(id);
        var r = Store.Load(id);
        if (r.Name == newName) throw new CrateRunException($"container {ContainerId.Short(id)} is already named '{newName}'");
        if (Store.List().Any(c => c.Name == newName && c.Id != id))
            throw new CrateRunException($"the container name '{newName}' is already in use");
        var oldName = r.Name;
        r.Name = newName;
        Store.Save(r);
        Emit(r, "rename", ("oldName", oldName ?? ""));
    }

    public void Update(string id, LinuxResources resources)
    {
        using var _ = Store.Lock(id);
        RunningCgroup(id).Apply(resources);
    }

    /// <summary>
    /// The pids in the container's cgroup, for `ps`: a stopped container has none (runc lists
    /// an empty table rather than failing), whether or not its cgroup is still there.
    /// </summary>
    public IReadOnlyList<int> ContainerPids(string id)
    {
        var r = Store.Load(id);
        if (CurrentStatus(r, Processes) is ContainerStatus.Running or ContainerStatus.Created) return RunningCgroup(id).Pids();
        if (r.CgroupPaths.Count == 0 || !r.CgroupPaths.Values.Any(Directory.Exists)) return [];
        return Layout.ManagerForPaths(r.CgroupPaths, r.CgroupCreatedParents).Pids();
    }

    public ICgroupManager RunningCgroup(string id)
    {
        var r = Store.Load(id);
        var status = CurrentStatus(r, Processes);
        if (status is not (ContainerStatus.Running or ContainerStatus.Created))
            throw new CrateRunException($"container {id} is not running (status {status})");
        if (r.CgroupPaths.Count == 0) throw new CrateRunException($"container {id} has no cgroup");
        return Layout.ManagerForPaths(r.CgroupPaths, r.CgroupCreatedParents);
    }
}
