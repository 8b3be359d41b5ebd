using CrateRun.Core.Setup;

namespace CrateRun.Linux.Process;

/// <summary>Linux CLONE_NEW* flags.</summary>
public static class CloneFlags
{
    public const ulong NewTime = 0x80, NewNs = 0x20000, NewCgroup = 0x02000000, NewUts = 0x04000000,
        NewIpc = 0x08000000, NewUser = 0x10000000, NewPid = 0x20000000, NewNet = 0x40000000;

    /// <summary>OCI namespace type to flag, and the /proc/PID/ns file name.</summary>
    public static (ulong Flag, string File) Of(string type) => type switch
    {
        "pid" => (NewPid, "pid"),
        "network" => (NewNet, "net"),
        "mount" => (NewNs, "mnt"),
        "ipc" => (NewIpc, "ipc"),
        "uts" => (NewUts, "uts"),
        "user" => (NewUser, "user"),
        "cgroup" => (NewCgroup, "cgroup"),
        "time" => (NewTime, "time"),
        _ => throw new Core.UsageException($"unknown namespace type '{type}'"),
    };
}

/// <summary>Everything the C stage needs for one process, as managed data.</summary>
public sealed class LaunchSpec
{
    public ulong CloneFlags { get; set; }
    public bool UnshareCgroup { get; set; }
    /// <summary>Namespaces to join with setns, in order (user first).</summary>
    public List<(SafeFd Fd, ulong Type)> Joins { get; } = [];
    public IReadOnlyList<SetupStep> Steps { get; set; } = [];
    public int[] Stdio { get; set; } = [-1, -1, -1];
    public SafeFd? ExecFifo { get; set; }
    public int ConsoleFd { get; set; } = -1;
    public bool Terminal { get; set; }
    public ushort ConsoleRows { get; set; }
    public ushort ConsoleCols { get; set; }
    public int PreserveFds { get; set; }
    public bool SetUser { get; set; }
    public uint Uid { get; set; }
    public uint Gid { get; set; }
    /// <summary>Supplementary groups; null leaves them (setgroups is denied in some user namespaces).</summary>
    public uint[]? Groups { get; set; }
    public int Umask { get; set; } = -1;
    public bool SetCaps { get; set; }
    public int LastCap { get; set; }
    public ulong CapBounding { get; set; }
    public ulong CapEffective { get; set; }
    public ulong CapPermitted { get; set; }
    public ulong CapInheritable { get; set; }
    public ulong CapAmbient { get; set; }
    public bool NoNewPrivileges { get; set; }
    public ulong[]? SeccompFilter { get; set; }
    public uint SeccompFlags { get; set; }
    public List<(uint Resource, ulong Soft, ulong Hard)> Rlimits { get; } = [];
    public string Cwd { get; set; } = "/";
    public string[] Argv { get; set; } = [];
    public string[] Envp { get; set; } = [];
    /// <summary>OCI createContainer hooks, run by the container process before pivot_root.</summary>
    public List<Core.Oci.Hook> CreateContainerHooks { get; } = [];
    /// <summary>OCI startContainer hooks, run by the container process after start, before execve.</summary>
    public List<Core.Oci.Hook> StartContainerHooks { get; } = [];
    /// <summary>cgroup v2: the container's cgroup directory, to clone straight into (CLONE_INTO_CGROUP).</summary>
    public SafeFd? CgroupDir { get; set; }
    /// <summary>cgroup v1: the memory cgroup's tasks file, which the container process moves itself into (<see cref="Cgroups.PreparedCgroup"/>).</summary>
    public SafeFd? MemoryTasks { get; set; }
    /// <summary>Runs the clone on another thread (one already in the container's cgroup), or null for this one.</summary>
    public Func<Func<int>, int>? CloneOn { get; set; }
    /// <summary>process.apparmorProfile, applied at execve (the host has AppArmor enabled).</summary>
    public string? ApparmorProfile { get; set; }
    /// <summary>process.selinuxLabel, applied at execve (the host has SELinux enabled).</summary>
    public string? SelinuxLabel { get; set; }
    /// <summary>linux.mountLabel: the context= of the filesystems the container mounts.</summary>
    public string? MountLabel { get; set; }
    // procattrs
    /// <summary>process.scheduler: sched_setattr(2) before privileges are dropped; null = leave.</summary>
    public Core.Oci.SchedulerAttributes? Scheduler { get; set; }
    /// <summary>process.ioPriority: the ioprio_set(2) value; null = leave.</summary>
    public int? IoPriority { get; set; }
    /// <summary>linux.personality: the personality(2) persona; null = leave.</summary>
    public uint? Personality { get; set; }
    /// <summary>timens: linux.timeOffsets of the new time namespace; null = none (zero).</summary>
    public Core.Oci.TimeNamespaceOffsets? TimeOffsets { get; set; }
    /// <summary>A first stage clones the container process: it joins namespaces, or unshares
    /// a time namespace (one only its children enter; clone() cannot create it).</summary>
    public bool TwoStage => Joins.Count > 0 || (CloneFlags & global::CrateRun.Linux.Process.CloneFlags.NewTime) != 0;
    /// <summary>explain: the buffer the C stage records its steps in; null = off.</summary>
    public Explain.LaunchTrace? Trace { get; set; }
    /// <summary>run --init: the init to exec as PID 1 (a sealed memfd, Native/init.c), which runs <see cref="Argv"/>; null = none.</summary>
    public SafeFd? Init { get; set; }
}

/// <summary>The C stage reported a failure: which step, which call, which errno.</summary>
public sealed class LaunchException(string message, string call, int errno, string? step)
    : Core.CrateRunException(message, ExitCodeFor(call, errno))
{
    public string Call { get; } = call;
    public int Errno { get; } = errno;
    public string? Step { get; } = step;

    private static int ExitCodeFor(string call, int errno) => call == "exec"
        ? errno == Interop.ENOENT ? Core.ExitCodes.NotFound : Core.ExitCodes.NotExecutable
        : Core.ExitCodes.RuntimeError;
}
