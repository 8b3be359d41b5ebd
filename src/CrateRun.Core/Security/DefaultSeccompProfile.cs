using CrateRun.Core.Oci;

namespace CrateRun.Core.Security;

/// <summary>
/// The default seccomp profile: Docker's (moby profiles/seccomp/default.json), for x86_64 hosts.
/// </summary>
/// <remarks>
/// Follows moby's profile after moby#46762 (io_uring_* no longer allowed), moby#47341 (cachestat, fchmodat2,
/// futex_wake/wait/requeue, map_shadow_stack, set_mempolicy_home_node), moby#50077 (listmount, statmount, mseal,
/// uretprobe, *xattrat) and moby#50097 (lsm_* behind CAP_SYS_ADMIN). Differences:
/// <list type="bullet">
/// <item>Only the x86 entries are kept (architectures x86_64, x86, x32; arch_prctl and modify_ldt); the arm, s390,
/// ppc and riscv entries have no meaning on an x86_64 host.</item>
/// <item>ptrace, process_vm_readv and process_vm_writev need CAP_SYS_PTRACE. Docker allows them to everyone on
/// kernels from 4.8 on; here they stay in the CAP_SYS_PTRACE group with kcmp and pidfd_getfd.</item>
/// </list>
/// The kernel keyring calls (add_key, keyctl, request_key) are not allowed: the keyring is not namespaced.
/// </remarks>
public static class DefaultSeccompProfile
{
    private const uint Eperm = 1, Enosys = 38, AfVsock = 40;

    /// <summary>CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET.</summary>
    private const ulong CloneNamespaceFlags = 0x7E02_0000;

    /// <summary>One profile entry; <paramref name="IfCap"/> keeps it only with that capability, <paramref name="UnlessCap"/> only without.</summary>
    private sealed record Entry(string[] Names, string Action = "SCMP_ACT_ALLOW", uint? ErrnoRet = null,
        LinuxSeccompArg[]? Args = null, string? IfCap = null, string? UnlessCap = null);

    /// <summary>Allowed to every container.</summary>
    private static readonly string[] Allowed =
    [
        "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget", "capset", "chdir", "chmod",
        "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime",
        "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect",
        "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
        "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit",
        "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir",
        "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr",
        "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs",
        "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait",
        "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
        "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid",
        "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid",
        "getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt",
        "get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "getxattrat", "inotify_add_watch",
        "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
        "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit", "ipc", "kill",
        "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32", "lgetxattr",
        "link", "linkat", "listen", "listmount", "listxattr", "listxattrat", "llistxattr", "_llseek", "lremovexattr",
        "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack", "membarrier", "memfd_create",
        "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
        "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
        "mq_timedsend_time64", "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync",
        "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open", "openat",
        "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
        "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
        "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
        "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
        "remap_file_pages", "removexattr", "removexattrat", "rename", "renameat", "renameat2", "restart_syscall", "rmdir",
        "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
        "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
        "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
        "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
        "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop",
        "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid",
        "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer", "setpgid",
        "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid",
        "setreuid32", "setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address",
        "setuid", "setuid32", "setxattr", "setxattrat", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack",
        "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64",
        "statfs", "statfs64", "statmount", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
        "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
        "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
        "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask",
        "uname", "unlink", "unlinkat", "uretprobe", "utime", "utimensat", "utimensat_time64", "utimes", "vfork",
        "vmsplice", "wait4", "waitid", "waitpid", "write", "writev",
    ];

    private static readonly Entry[] Entries =
    [
        new(Allowed),
        // every socket family but AF_VSOCK (host communication)
        new(["socket"], Args: [Arg(0, "SCMP_CMP_NE", AfVsock)]),
        // PER_LINUX, PER_LINUX32 (0x8), UNAME26 (0x20000), both, and the 0xffffffff query
        new(["personality"], Args: [Arg(0, "SCMP_CMP_EQ", 0x0)]),
        new(["personality"], Args: [Arg(0, "SCMP_CMP_EQ", 0x8)]),
        new(["personality"], Args: [Arg(0, "SCMP_CMP_EQ", 0x20000)]),
        new(["personality"], Args: [Arg(0, "SCMP_CMP_EQ", 0x20008)]),
        new(["personality"], Args: [Arg(0, "SCMP_CMP_EQ", 0xFFFF_FFFF)]),
        new(["arch_prctl"]),
        new(["modify_ldt"]),
        new(["open_by_handle_at"], IfCap: "CAP_DAC_READ_SEARCH"),
        new(
        [
            "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
            "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mount", "mount_setattr", "move_mount",
            "open_tree", "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog",
            "umount", "umount2", "unshare",
        ], IfCap: "CAP_SYS_ADMIN"),
        // without CAP_SYS_ADMIN, clone only when no namespace flag is set (x86: flags are argument 0)
        new(["clone"], Args: [Arg(0, "SCMP_CMP_MASKED_EQ", CloneNamespaceFlags, 0)], UnlessCap: "CAP_SYS_ADMIN"),
        // clone3's flags are behind a pointer: refuse it with ENOSYS so that libc falls back to clone
        new(["clone3"], "SCMP_ACT_ERRNO", Enosys, UnlessCap: "CAP_SYS_ADMIN"),
        new(["reboot"], IfCap: "CAP_SYS_BOOT"),
        new(["chroot"], IfCap: "CAP_SYS_CHROOT"),
        new(["delete_module", "init_module", "finit_module"], IfCap: "CAP_SYS_MODULE"),
        new(["acct"], IfCap: "CAP_SYS_PACCT"),
        new(["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"], IfCap: "CAP_SYS_PTRACE"),
        new(["iopl", "ioperm"], IfCap: "CAP_SYS_RAWIO"),
        new(["settimeofday", "stime", "clock_settime", "clock_settime64"], IfCap: "CAP_SYS_TIME"),
        new(["vhangup"], IfCap: "CAP_SYS_TTY_CONFIG"),
        new(["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"], IfCap: "CAP_SYS_NICE"),
        new(["syslog"], IfCap: "CAP_SYSLOG"),
        new(["bpf"], IfCap: "CAP_BPF"),
        new(["perf_event_open"], IfCap: "CAP_PERFMON"),
    ];

    /// <summary>
    /// Builds the profile for a container holding <paramref name="capabilities"/> ("CAP_SYS_ADMIN", ...; Docker uses
    /// the bounding set). Each call returns a new, independent object.
    /// </summary>
    public static LinuxSeccomp Create(IReadOnlySet<string> capabilities)
    {
        ArgumentNullException.ThrowIfNull(capabilities);
        var syscalls = new List<LinuxSyscall>();
        foreach (var e in Entries)
        {
            if (e.IfCap is not null && !capabilities.Contains(e.IfCap)) continue;
            if (e.UnlessCap is not null && capabilities.Contains(e.UnlessCap)) continue;
            syscalls.Add(new LinuxSyscall
            {
                Names = [.. e.Names],
                Action = e.Action,
                ErrnoRet = e.ErrnoRet,
                Args = e.Args is null ? null : [.. e.Args.Select(a => new LinuxSeccompArg { Index = a.Index, Op = a.Op, Value = a.Value, ValueTwo = a.ValueTwo })],
            });
        }
        return new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            DefaultErrnoRet = Eperm,
            Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            Syscalls = syscalls,
        };
    }

    private static LinuxSeccompArg Arg(uint index, string op, ulong value, ulong valueTwo = 0) =>
        new() { Index = index, Op = op, Value = value, ValueTwo = valueTwo };
}
