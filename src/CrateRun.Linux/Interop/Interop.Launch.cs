using System.Runtime.InteropServices;

namespace CrateRun.Linux;

internal static partial class Interop
{
    /// <summary>
    /// The C stage (Native/launch.c). These structs mirror Native/launch.h field by field;
    /// a unit test checks their sizes against the C side.
    /// </summary>
    internal static unsafe partial class Launch
    {
        public const int MaxJoin = 8;

        [StructLayout(LayoutKind.Sequential)]
        public struct Step
        {
            public uint Op, Flags;
            public ulong MountFlags, Propagation, Dev;
            public uint Mode, Uid, Gid, Pad;
            public byte* Source, Target, FsType, Data;
            // mounts
            public ulong ClearFlags, RecursiveSetFlags, RecursiveClearFlags;
            // conform: id-mapped bind mounts
            public int IdmapFd, IdmapPad;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct Hook
        {
            public byte* Path;
            public byte** Argv;
            public byte** Envp;
            public int Timeout, Pad;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct Rlimit
        {
            public uint Resource, Pad;
            public ulong Soft, Hard;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct Plan
        {
            public ulong CloneFlags;
            public int UnshareCgroup;
            public int NJoin;
            public fixed int JoinFds[MaxJoin];
            public fixed int JoinTypes[MaxJoin];
            public int SyncFd;
            public fixed int Stdio[3];
            public int ExecFifoFd;
            public int ConsoleFd;
            public int Terminal;
            public ushort ConsoleRows, ConsoleCols;
            public int PreserveFds;
            public int SetUser;
            public uint Uid, Gid;
            public int NGroups;
            public uint* Groups;
            public int Umask;
            public int SetCaps;
            public int LastCap;
            public ulong CapBounding, CapEffective, CapPermitted, CapInheritable, CapAmbient;
            public int NoNewPrivs;
            public int SeccompLen;
            public void* SeccompFilter;
            public uint SeccompFlags;
            public int NRlimits;
            public Rlimit* Rlimits;
            public int NSteps;
            public Step* Steps;
            public byte* Cwd;
            public byte** Argv;
            public byte** Envp;
            public int NCreateHooks, NStartHooks;
            public Hook* CreateHooks;
            public Hook* StartHooks;
            public int CgroupFd, Pad2;
            // nsproc: LSM labels
            public byte* ApparmorProfile;
            public byte* SelinuxLabel;
            public byte* MountLabel;
            // procattrs: linux.personality, process.scheduler, process.ioPriority
            public int SetPersonality;
            public uint Personality;
            public int SetScheduler;
            public uint SchedPolicy;
            public ulong SchedFlags;
            public int SchedNice;
            public uint SchedPriority;
            public ulong SchedRuntime, SchedDeadline, SchedPeriod;
            public int SetIoPriority;
            public int IoPriority;
            // explain: the step records buffer (struct crt_trace), null = off
            public TraceHeader* Trace;
            // timens: linux.timeOffsets, written by stage 1 into its new time namespace
            public int SetTimeOffsets;
            public uint MonotonicNanosecs, BoottimeNanosecs;
            public int Pad3;
            public long MonotonicSecs, BoottimeSecs;
            // init: run --init, the sealed memfd of init.c to exec instead of argv; -1 = off
            public int InitFd;
            public int Pad4;
            public byte** InitArgv;
            // perf: the v1 memory cgroup's tasks file the container process moves itself into; -1 = born in it
            public int MemoryTasksFd;
            public int PadPerf;
            // syncfd (issue 14): the runtime's end of the sync pair, closed first thing by the clone
            public int RuntimeSyncFd;
            public int PadSyncFd;
        }

        // explain: struct crt_trace_rec / struct crt_trace and enum crt_trace_what (launch.h)
        [StructLayout(LayoutKind.Sequential)]
        public struct TraceRecord
        {
            public int What, Step, Call, Err;
            public long Result;
            public ulong Arg;
            public long StartNs, EndNs;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct TraceHeader
        {
            public uint Magic, Capacity, Count, Shown;
        }

        public const uint TraceMagic = 0x45585043;

        public const int MsgGo = 1, MsgChildPid = 2, MsgReady = 3, MsgError = 4, MsgCgroupJoined = 6, MsgRootfsFd = 7, MsgHooks = 8, MsgSeccompFd = 5, MsgStateFd = 9;

        [StructLayout(LayoutKind.Sequential)]
        public struct Msg
        {
            public int Type, Step, Call, Err, Pid, Pad;
        }

        /// <summary>The names of enum crt_call, for error messages.</summary>
        public static readonly string[] CallNames =
        [
            "?", "setns", "unshare", "clone", "mount", "open", "mkdir", "mknod", "symlink", "pivot_root", "chdir",
            "sethostname", "write", "setgroups", "setgid", "setuid", "capset", "prctl", "seccomp", "setrlimit",
            "exec", "terminal", "exec.fifo", "dup2", "sync", "umount", "setdomainname", "loopback", "setsid", "hook",
            "write /proc/self/attr/exec (LSM label)",
            "personality", "sched_setattr", "ioprio_set", // procattrs
        ];

        public const int CallExecLookup = 20;

        /// <summary>CRT_CALL_LSM_LABEL: writing the AppArmor profile or SELinux label for execve.</summary>
        public const int CallLsmLabel = 30;

        [LibraryImport("craterun_native", EntryPoint = "crt_launch")]
        public static partial int crt_launch(Plan* plan);

        /// <summary>conform: a child waiting in a new user namespace (launch.h); its pid or -errno.</summary>
        [LibraryImport("craterun_native", EntryPoint = "crt_userns_holder")]
        public static partial int crt_userns_holder();
    }
}
