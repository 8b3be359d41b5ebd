/*
 * launch.h - the plan that C# hands to the C stage, and the messages the stage sends back.
 *
 * Why there is C at all: the .NET runtime is multi-threaded, so no managed code may run in
 * a child between clone() and execve(). C# plans everything (namespaces, the ordered list
 * of mount/mknod/... steps, capability sets, the seccomp BPF program) and hands it over as
 * plain data; this stage only interprets that plan with raw system calls.
 *
 * Every struct here is mirrored field by field in Interop.Launch.cs. Keep them in step.
 */
#ifndef CRATERUN_LAUNCH_H
#define CRATERUN_LAUNCH_H

#include <stdint.h>

/* One setup step, run in order inside the container's mount namespace. */
enum crt_op {
    CRT_OP_ROOT_PROPAGATION = 1, /* mount(NULL, "/", NULL, mount_flags): MS_REC|MS_PRIVATE etc. */
    CRT_OP_BIND_ROOTFS = 2,      /* bind the rootfs (source) onto itself; later paths resolve in it */
    CRT_OP_MOUNT = 3,            /* mount source/fstype/data at target (inside the root) */
    CRT_OP_MKNOD = 4,            /* mknod target, mode, dev; chown uid:gid */
    CRT_OP_SYMLINK = 5,          /* symlink source -> target */
    CRT_OP_MKDIR = 6,            /* mkdir -p target, mode */
    CRT_OP_PIVOT_ROOT = 7,       /* make the root "/"; flags CRT_F_NO_PIVOT: MS_MOVE + chroot */
    CRT_OP_SET_PROPAGATION = 8,  /* mount(NULL, target, NULL, propagation) */
    CRT_OP_MAKE_READONLY = 9,    /* mount_setattr(target, RDONLY); CRT_F_RECURSIVE */
    CRT_OP_MASK = 10,            /* hide target: /dev/null over a file, empty ro tmpfs over a dir */
    CRT_OP_WRITE_FILE = 11,      /* write source into target (sysctls under /proc/sys) */
    CRT_OP_SETHOSTNAME = 12,     /* sethostname(source) */
    CRT_OP_SETDOMAINNAME = 13,   /* setdomainname(source) */
    CRT_OP_LOOPBACK_UP = 14,     /* bring "lo" up in the new network namespace */
    CRT_OP_HOOKS = 16,           /* stop: the runtime runs the OCI prestart/createRuntime
                                    hooks (namespaces exist, root not yet pivoted), then GO */
    CRT_OP_ENTER_CGROUP = 15,    /* wait until the runtime has put us in our cgroup, then
                                    unshare the cgroup namespace; runs once, at the latest
                                    before the process is finalised */
    /* mounts */
    CRT_OP_HIDE_HOST_FS = 17,    /* --no-pivot: detach the host's procfs/sysfs mount at target
                                    (a host path), or cover it with a tmpfs, so that nobody in
                                    the container may mount a fresh proc (mount_too_revealing) */
};

/* Step flags. */
#define CRT_F_BIND 0x1          /* MOUNT: source is a host path to bind (file or dir)       */
#define CRT_F_READONLY 0x2      /* MOUNT: make the bind read-only after mounting             */
#define CRT_F_RECURSIVE 0x4     /* MOUNT bind / MAKE_READONLY: recursive                     */
#define CRT_F_OPTIONAL 0x8      /* missing target is not an error (masked/readonly paths);
                                 * MOUNT: nor one that cannot be made (EACCES, EPERM, EROFS) */
#define CRT_F_NO_PIVOT 0x10     /* PIVOT_ROOT: use MS_MOVE + chroot (rootfs on a ramfs)      */
#define CRT_F_FILE 0x20         /* MOUNT (non-bind): the mount point is a file, not a dir    */
#define CRT_F_BIND_DEV 0x40     /* MKNOD: bind the host node instead (user namespaces)       */
#define CRT_F_IDMAP 0x80        /* BIND_ROOTFS: the runtime sends an id-mapped clone of the
                                   rootfs (CRT_MSG_ROOTFS_FD); mount that instead            */
/* mounts */
#define CRT_F_PRIVATE_PARENT 0x100 /* BIND_ROOTFS: make the mount holding the rootfs private
                                      first (shared root propagation: pivot_root refuses a
                                      shared parent, and the bind must not reach the host)   */
#define CRT_F_PLAIN_DIR 0x200   /* MOUNT: the target must be a directory reached through no
                                   symlink (procfs, sysfs: CVE-2023-27561 class)             */
#define CRT_F_COPYUP 0x400      /* MOUNT (new filesystem): copy what the target directory
                                   holds into the new filesystem first (tmpcopyup)          */
/* conform: id-mapped bind mounts */
#define CRT_F_IDMAP_MOUNT 0x800 /* MOUNT bind: attach the detached id-mapped tree idmap_fd,
                                   made by the runtime (crt_userns_holder), not the source  */
#define CRT_F_IDMAP_RECURSIVE 0x1000 /* with CRT_F_IDMAP_MOUNT: the runtime mapped every mount
                                        of the tree (ridmap); nothing to do here            */
/* rootless: images */
#define CRT_F_OVERLAY 0x2000    /* BIND_ROOTFS: mount a new overlayfs with the options in
                                   `data` on the rootfs directory (rootless: only a process
                                   in the container's user namespace may mount it)          */

struct crt_step {
    uint32_t op;
    uint32_t flags;
    uint64_t mount_flags; /* MS_* for MOUNT/ROOT_PROPAGATION */
    uint64_t propagation; /* MS_SHARED|MS_SLAVE|MS_PRIVATE|MS_UNBINDABLE (|MS_REC), 0 = none */
    uint64_t dev;         /* MKNOD: makedev(major, minor) */
    uint32_t mode;        /* MKNOD/MKDIR */
    uint32_t uid, gid;    /* MKNOD owner */
    uint32_t pad;
    const char *source;
    const char *target; /* a path inside the container root; resolved without leaving it */
    const char *fstype;
    const char *data;
    /* mounts: MS_* flags beyond mount_flags (which are set on the mount itself) */
    uint64_t clear_flags;     /* MOUNT: cleared on the mount itself (rw, suid, dev, atime...)    */
    uint64_t rec_set_flags;   /* MOUNT bind: set on every mount of the tree (rro, rnosuid...)     */
    uint64_t rec_clear_flags; /* MOUNT bind: cleared on every mount of the tree (rrw, rsuid...)   */
    /* conform: id-mapped bind mounts */
    int32_t idmap_fd;         /* MOUNT with CRT_F_IDMAP_MOUNT: a detached tree (open_tree) the
                                 runtime made id-mapped; inherited at clone, -1 = none        */
    int32_t idmap_pad;
};

struct crt_rlimit {
    uint32_t resource;
    uint32_t pad;
    uint64_t soft, hard;
};

/* An OCI hook run by the container process itself (createContainer, startContainer). */
struct crt_hook {
    const char *path;
    const char *const *argv; /* NULL-terminated */
    const char *const *envp; /* NULL-terminated */
    int32_t timeout;         /* seconds, 0 = none */
    int32_t pad;
};

#define CRT_MAX_JOIN 8

/* Everything the stage needs, prepared by C# in the parent. */
struct crt_plan {
    uint64_t clone_flags;             /* CLONE_NEW* namespaces to create (never CLONE_NEWCGROUP) */
    int32_t unshare_cgroup;           /* unshare(CLONE_NEWCGROUP) once inside the cgroup */
    int32_t n_join;
    int32_t join_fds[CRT_MAX_JOIN];   /* setns() targets, user namespace first */
    int32_t join_types[CRT_MAX_JOIN]; /* CLONE_NEW* of each */
    int32_t sync_fd;                  /* child end of the SOCK_SEQPACKET pair to the runtime */
    int32_t stdio[3];                 /* become fds 0,1,2; -1 = keep what we have */
    int32_t exec_fifo_fd;             /* O_PATH fd of exec.fifo: wait for `start`; -1 = no wait */
    int32_t console_fd;               /* terminal: unix socket that receives the pty master */
    int32_t terminal;
    uint16_t console_rows, console_cols;
    int32_t preserve_fds;             /* fds 3 .. 3+n-1 are passed to the process */
    int32_t set_user;                 /* switch to uid/gid/groups below */
    uint32_t uid, gid;
    int32_t n_groups;
    const uint32_t *groups;
    int32_t umask;                    /* -1 = leave */
    int32_t set_caps;
    int32_t last_cap;                 /* /proc/sys/kernel/cap_last_cap */
    uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
    int32_t no_new_privs;
    int32_t seccomp_len;              /* number of struct sock_filter entries; 0 = none */
    const void *seccomp_filter;
    uint32_t seccomp_flags;           /* SECCOMP_FILTER_FLAG_* */
    int32_t n_rlimits;
    const struct crt_rlimit *rlimits;
    int32_t n_steps;
    const struct crt_step *steps;
    const char *cwd;
    const char *const *argv;          /* NULL-terminated */
    const char *const *envp;          /* NULL-terminated; PATH here is used for the lookup */
    int32_t n_create_hooks;           /* createContainer: in the container's namespaces, before pivot_root */
    int32_t n_start_hooks;            /* startContainer: inside the container, after start, before execve */
    const struct crt_hook *create_hooks;
    const struct crt_hook *start_hooks;
    int32_t cgroup_fd;                /* cgroup v2 directory: clone3(CLONE_INTO_CGROUP), -1 = none */
    int32_t pad2;
    /* nsproc: LSM labels, only set when the host has that LSM enabled (C# checks); NULL = none */
    const char *apparmor_profile;     /* process.apparmorProfile: "exec PROFILE" at execve */
    const char *selinux_label;        /* process.selinuxLabel: the process's label at execve */
    const char *mount_label;          /* linux.mountLabel: context= of the filesystems mounted */
    /* procattrs: numbers checked by C# (ProcessAttributes.cs); applied while still root */
    int32_t set_personality;          /* linux.personality: personality(persona) */
    uint32_t personality;
    int32_t set_scheduler;            /* process.scheduler: sched_setattr(0, ...) */
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
    int32_t set_ioprio;               /* process.ioPriority: ioprio_set(IOPRIO_WHO_PROCESS, 0, ioprio) */
    int32_t ioprio;
    /* explain: where the stage records its steps (a MAP_SHARED buffer the runtime mapped
       before clone, struct crt_trace below); NULL = off, and each step costs one test */
    struct crt_trace *trace;
    /* timens: linux.timeOffsets of a new time namespace (clone_flags has CLONE_NEWTIME).
       Stage 1 unshares the namespace and writes them before the container process is
       cloned into it (the kernel freezes them once a process has entered it). */
    int32_t set_time_offsets;
    uint32_t monotonic_nsecs, boottime_nsecs;
    int32_t pad3;
    int64_t monotonic_secs, boottime_secs;
    /* init (run --init): the process execs init_fd (a sealed memfd of init.c, AT_EMPTY_PATH)
       with init_argv ("craterun-init", "--", argv...) instead of argv; -1 = off */
    int32_t init_fd;
    int32_t pad4;
    const char *const *init_argv;
    /* perf (memory floor): the "tasks" file of the container's v1 memory cgroup, which the launch
       thread did not join with the others: the container process moves itself in (writes "0")
       when it enters its cgroup, so the clone's copy of the runtime (page tables, mappings) and the
       rootfs set-up are the runtime's charge, not the container's limit's; -1 = born in it */
    int32_t memory_tasks_fd;
    int32_t pad_perf;
    /* syncfd (issue 14): the runtime's own end of the sync pair, which the clone inherits. The
       first stage closes it before anything else: then its reads of sync_fd see EOF when the
       runtime dies, instead of waiting forever on a socket its own copy keeps open */
    int32_t runtime_sync_fd;
    int32_t pad_syncfd;
};

/* Messages on sync_fd (SOCK_SEQPACKET: one struct per message). */
enum crt_msg_type {
    CRT_MSG_GO = 1,         /* runtime -> stage: ids mapped, cgroup joined; carry on      */
    CRT_MSG_CHILD_PID = 2,  /* stage 1 -> runtime: pid of the container process (joins)    */
    CRT_MSG_READY = 3,      /* container process -> runtime: set up, about to wait/exec;
                               with SCMP_ACT_NOTIFY it carries the listener (SCM_RIGHTS)  */
    CRT_MSG_ERROR = 4,      /* -> runtime: `call` failed with errno `err` at step `step`   */
    CRT_MSG_SECCOMP_FD = 5, /* reserved (the notify listener now comes with READY)         */
    CRT_MSG_CGROUP_JOINED = 6, /* runtime -> container process: you are in your cgroup     */
    CRT_MSG_ROOTFS_FD = 7,  /* runtime -> container process: id-mapped rootfs (SCM_RIGHTS) */
    CRT_MSG_HOOKS = 8,      /* container process -> runtime: run the hooks now, then GO    */
    CRT_MSG_STATE_FD = 9,   /* runtime -> container process: the state JSON (a memfd) that
                               createContainer/startContainer hooks read on stdin         */
};

/* What failed, so the runtime can name the call in its error message. */
enum crt_call {
    CRT_CALL_SETNS = 1, CRT_CALL_UNSHARE, CRT_CALL_CLONE, CRT_CALL_MOUNT, CRT_CALL_OPEN,
    CRT_CALL_MKDIR, CRT_CALL_MKNOD, CRT_CALL_SYMLINK, CRT_CALL_PIVOT_ROOT, CRT_CALL_CHDIR,
    CRT_CALL_SETHOSTNAME, CRT_CALL_WRITE, CRT_CALL_SETGROUPS, CRT_CALL_SETGID, CRT_CALL_SETUID,
    CRT_CALL_CAPSET, CRT_CALL_PRCTL, CRT_CALL_SECCOMP, CRT_CALL_RLIMIT, CRT_CALL_EXEC_LOOKUP,
    CRT_CALL_TERMINAL, CRT_CALL_FIFO, CRT_CALL_DUP, CRT_CALL_SYNC, CRT_CALL_UMOUNT,
    CRT_CALL_SETDOMAINNAME, CRT_CALL_NETLINK, CRT_CALL_SETSID, CRT_CALL_HOOK,
    CRT_CALL_LSM_LABEL, /* nsproc: writing /proc/self/attr/.../exec */
    CRT_CALL_PERSONALITY, CRT_CALL_SCHED_SETATTR, CRT_CALL_IOPRIO_SET, /* procattrs */
};

/* crt_msg.step for a failed setns of plan->join_fds[i] */
#define CRT_JOIN_STEP(i) (-100 - (i))

struct crt_msg {
    int32_t type;
    int32_t step; /* index into plan->steps, -1 = not a step */
    int32_t call; /* enum crt_call */
    int32_t err;  /* errno */
    int32_t pid;
    int32_t pad;
};

/* explain: the steps of the C stage come back to the runtime as data, never as text: nothing
 * may be printed between clone and execve. Each step is one fixed-size record in a buffer
 * the runtime mapped MAP_SHARED before clone (a file in the state directory, so that
 * `craterun-oci start` reads what the process did after `create` returned). The runtime
 * decodes them at READY, after the execve, or after a failure (Explain/LaunchTrace.cs). */
enum crt_trace_what {
    CRT_T_CLONE = 1,        /* clone/clone3: arg = flags, result = pid (written by the parent) */
    CRT_T_SETNS = 2,        /* setns(join_fds[step], arg = type)                               */
    CRT_T_WAIT_GO = 3,      /* waiting for GO: the runtime maps ids, sets oom_score_adj        */
    CRT_T_UNDUMPABLE = 4,   /* prctl(PR_SET_DUMPABLE, 0)                                       */
    CRT_T_PREPARE = 5,      /* open the rootfs and bind sources with the runtime's ids         */
    CRT_T_USERNS_ROOT = 6,  /* setresgid/setresuid(0) in the new user namespace                */
    CRT_T_STEP = 7,         /* plan->steps[step]                                               */
    CRT_T_SETSID = 8,       /* setsid()                                                        */
    CRT_T_TERMINAL = 9,     /* a pty in the container's devpts, sent to the console socket     */
    CRT_T_STDIO = 10,       /* dup2 of the given stdio onto 0, 1, 2                            */
    CRT_T_RLIMITS = 11,     /* prlimit64 for each of arg rlimits                               */
    CRT_T_PROCATTRS = 12,   /* sched_setattr, ioprio_set, personality                          */
    CRT_T_CAPBSET = 13,     /* prctl(PR_CAPBSET_DROP) for each cap not in the bounding set     */
    CRT_T_SETGROUPS = 14,   /* setgroups(arg, groups)                                          */
    CRT_T_SETGID = 15,      /* setresgid(arg x3)                                               */
    CRT_T_SETUID = 16,      /* setresuid(arg x3)                                               */
    CRT_T_CAPSET = 17,      /* capset (v3) of effective/permitted/inheritable, then ambient    */
    CRT_T_CHDIR = 18,       /* chdir(cwd)                                                      */
    CRT_T_LOOKUP = 19,      /* argv[0] looked up in PATH, inside the new root                  */
    CRT_T_CLOSE_FDS = 20,   /* close_range(3 + preserve_fds, ~0, CLOSE_RANGE_CLOEXEC)          */
    CRT_T_READY = 21,       /* READY sent to the runtime                                       */
    CRT_T_WAIT_START = 22,  /* blocked writing exec.fifo until `start` opens it                */
    CRT_T_START_HOOKS = 23, /* startContainer hooks, arg = how many                            */
    CRT_T_NO_NEW_PRIVS = 24,/* prctl(PR_SET_NO_NEW_PRIVS, 1)                                   */
    CRT_T_SECCOMP = 25,     /* seccomp(SECCOMP_SET_MODE_FILTER, flags, prog): arg = BPF length */
    CRT_T_EXECVE = 26,      /* execve: the end is seen by the runtime (no record after it)     */
    CRT_T_LABELS = 27,      /* LSM exec labels written to /proc/self/attr                      */
};

struct crt_trace_rec {
    int32_t what;     /* enum crt_trace_what */
    int32_t step;     /* CRT_T_STEP: index into plan->steps; CRT_T_SETNS: join index; else -1 */
    int32_t call;     /* the failed call (enum crt_call), 0 = none */
    int32_t err;      /* errno of the failure, 0 = it worked */
    int64_t result;   /* what the call returned (clone: the pid) */
    uint64_t arg;     /* what it was given (see enum crt_trace_what) */
    int64_t start_ns; /* CLOCK_MONOTONIC around the step */
    int64_t end_ns;   /* 0: not finished (execve, or still running) */
};

#define CRT_TRACE_MAGIC 0x45585043 /* "CPXE" */

struct crt_trace {
    uint32_t magic;
    uint32_t capacity; /* records that fit after this header */
    uint32_t count;    /* records reserved so far (atomically: parent and child both write) */
    uint32_t shown;    /* records the runtime has shown already (create shows, start goes on) */
    struct crt_trace_rec recs[];
};

/*
 * Clone the container's first process and run the plan in it. Returns the pid of the
 * cloned child (>0) or -errno. The child never returns. When the plan joins namespaces
 * (n_join > 0) or creates a time namespace the child is an intermediate stage that joins them, clones the container
 * process (CLONE_PARENT: the caller stays its parent), sends CRT_MSG_CHILD_PID and exits.
 */
int crt_launch(const struct crt_plan *plan);

/* conform: id-mapped bind mounts.
 * A process in a new user namespace that does nothing but wait, so that the runtime can
 * write its uid_map/gid_map (the mapping of an id-mapped mount) and open /proc/PID/ns/user
 * for mount_setattr(MOUNT_ATTR_IDMAP). Returns its pid (our child: kill and reap it once the
 * namespace fd is open) or -errno. It dies with the calling thread (PR_SET_PDEATHSIG). */
int crt_userns_holder(void);

#endif
