/*
 * launch.c - the C stage: clone the container's process and run the plan in it.
 *
 * This file is the only code that runs between clone() and execve(). The caller is a
 * multi-threaded .NET process, so the child must not touch anything another thread may
 * have held at clone time: no malloc, no stdio, no locks, and no glibc function that
 * talks to other threads (setuid/setgid/setgroups broadcast to every thread and would
 * hang: those go through syscall()). Thin syscall wrappers (open, mount, ...) are fine.
 *
 * Order of work in the container process (container_main), and why:
 *   wait for GO        the runtime first maps ids (user namespace)
 *   prepare_rootfs     the rootfs and every bind source are opened while we still hold the
 *                      runtime's ids: the container's root may not search them
 *   steps              mounts, devices, pivot_root... all planned by C# (SetupPlanner.cs);
 *                      meanwhile the runtime moves us into our cgroup (a v1 attach costs a
 *                      whole RCU grace period, so it overlaps the mounts). ENTER_CGROUP
 *                      waits for that, then unshares the cgroup namespace, so that our
 *                      cgroup becomes its root before /sys/fs/cgroup is mounted
 *   terminal / stdio   the pty is opened in the container's own devpts, after pivot
 *   rlimits            while we still hold every capability
 *   sched, ioprio,     likewise (realtime policy, lower nice, IOPRIO_CLASS_RT need them),
 *   personality        and before any seccomp filter
 *   user, caps         setgroups/setgid/setuid keep caps (KEEPCAPS), then capset; without
 *                      no_new_privs CAP_SYS_ADMIN stays until the filter is in (see lock_down)
 *   labels, cwd        LSM exec labels and the working directory while still root: our
 *                      /proc files are root's, and a cwd only root may enter works (runc)
 *   lookup             as the final user, inside the final root
 *   fds                everything past stdio and the preserved fds closes at execve
 *   READY, exec.fifo   tell the runtime we are set up; block until `start`
 *   startContainer     each hook locks itself down (below) before its execve
 *   lock down          no_new_privs and the seccomp filter, last: nothing of ours may run
 *                      under the user's filter, only execve (and, without no_new_privs,
 *                      the capset that drops CAP_SYS_ADMIN, which loading needed)
 *   execve
 * One exception: a filter with SCMP_ACT_NOTIFY goes in before READY, which carries its
 * listener to the runtime (`create` hands it to the agent); the wait for start runs under it.
 */
#define _GNU_SOURCE
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/limits.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <termios.h>
#include <unistd.h>

#define CREATE_NONE 0
#define CREATE_DIR 1
#define CREATE_FILE 2

static int sync_fd = -1;
static int cur_step = -1;
static int prepared_rootfs = -1; /* see prepare_rootfs() */

/* ---- explain: steps recorded as data (docs/README.md) ------------------------------ */

/* The runtime's buffer (plan->trace), or NULL: then every TRACE below is one test. A record
 * is reserved, stamped at its start, and finished (or failed, by fail()) at its end; the
 * runtime reads them once we are READY, have exec'd, or have failed. */
static struct crt_trace *trace;
static struct crt_trace_rec *open_rec;

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no lock, no allocation */
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct crt_trace_rec *trace_reserve(struct crt_trace *t, int what, int step, uint64_t arg)
{
    uint32_t i = __atomic_fetch_add(&t->count, 1, __ATOMIC_RELAXED);
    if (i >= t->capacity)
        return NULL;
    struct crt_trace_rec *r = &t->recs[i];
    r->what = what;
    r->step = step;
    r->arg = arg;
    r->start_ns = monotonic_ns();
    return r;
}

static void trace_begin(int what, int step, uint64_t arg)
{
    open_rec = trace_reserve(trace, what, step, arg);
}

static void trace_end(int64_t result)
{
    open_rec->result = result;
    open_rec->end_ns = monotonic_ns();
    open_rec = NULL;
}

/* The open step failed (or, outside any, the current plan step): record the call and errno.
 * A plan step failing inside a wider record (prepare_rootfs opens each bind source) is shown
 * as that step: the wider one ends there. */
static void trace_fail(int call, int err)
{
    if (open_rec && cur_step >= 0 && open_rec->what != CRT_T_STEP)
        trace_end(0);
    if (!open_rec)
        open_rec = trace_reserve(trace, cur_step >= 0 ? CRT_T_STEP : 0, cur_step, 0);
    if (!open_rec)
        return;
    open_rec->call = call;
    open_rec->err = err;
    open_rec->end_ns = monotonic_ns();
    open_rec = NULL;
}

#define TRACE(what, step, arg)            \
    do {                                  \
        if (trace)                        \
            trace_begin(what, step, arg); \
    } while (0)
#define TRACE_END(result)       \
    do {                        \
        if (open_rec)           \
            trace_end(result);  \
    } while (0)

/* ---- talking to the runtime ------------------------------------------------------- */

static void send_msg(int type, int call, int err, int pid)
{
    struct crt_msg m = {.type = type, .step = cur_step, .call = call, .err = err, .pid = pid};
    (void)send(sync_fd, &m, sizeof m, MSG_NOSIGNAL);
}

static int ready_sent = 0;
static void put_errno_text(int fd, const char *what, const char *arg, int err);

static _Noreturn void fail(int call)
{
    int err = errno;
    if (trace)
        trace_fail(call, err);
    send_msg(CRT_MSG_ERROR, call, err, 0);
    /* after READY nobody listens on the sync socket any more: say it on stderr */
    if (ready_sent)
        put_errno_text(2, "start failed at", call == CRT_CALL_FIFO ? "exec.fifo" : "the last setup step", err);
    _exit(125);
}

static void wait_msg(int type)
{
    struct crt_msg m;
    ssize_t n;
    do {
        n = read(sync_fd, &m, sizeof m);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof m || m.type != type) {
        errno = n < 0 ? errno : EPIPE;
        fail(CRT_CALL_SYNC);
    }
}

static void wait_go(void)
{
    wait_msg(CRT_MSG_GO);
}

/* sendmsg of `len` bytes with one fd attached (SCM_RIGHTS). */
static int send_with_fd(int sock, void *data, size_t len, int fd)
{
    struct iovec iov = {.iov_base = data, .iov_len = len};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } c;
    memset(&c, 0, sizeof c);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof c.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* A message carrying one fd (SCM_RIGHTS) from the runtime. */
static int receive_fd(int type)
{
    struct crt_msg m;
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } c;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof c.buf};
    ssize_t n;
    do {
        n = recvmsg(sync_fd, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    struct cmsghdr *cm = n == (ssize_t)sizeof m ? CMSG_FIRSTHDR(&msg) : NULL;
    if (!cm || m.type != type || cm->cmsg_type != SCM_RIGHTS) {
        errno = n < 0 ? errno : EPROTO;
        fail(CRT_CALL_SYNC);
    }
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    return fd;
}

/* Once in our cgroup, a new cgroup namespace makes it the root of what we see. */
static int entered_cgroup = 0;
/* docs/cgroups.md */
static void enter_cgroup(const struct crt_plan *plan)
{
    if (entered_cgroup)
        return;
    wait_msg(CRT_MSG_CGROUP_JOINED);
    /* before a new cgroup namespace: that makes the cgroup we are in its root */
    if (plan->memory_tasks_fd >= 0) {
        if (write(plan->memory_tasks_fd, "0", 1) != 1)
            fail(CRT_CALL_WRITE);
        close(plan->memory_tasks_fd);
    }
    if (plan->unshare_cgroup && unshare(CLONE_NEWCGROUP) < 0)
        fail(CRT_CALL_UNSHARE);
    entered_cgroup = 1;
}

/* ---- small helpers that allocate nothing ------------------------------------------ */

static void put_errno_text(int fd, const char *what, const char *arg, int err)
{
    const char *reason = err == ENOENT    ? "no such file or directory"
                         : err == EACCES  ? "permission denied"
                         : err == ENOEXEC ? "exec format error"
                         : err == ENOTDIR ? "not a directory"
                         : err == EPERM   ? "operation not permitted"
                                          : "failed";
    struct iovec v[6] = {
        {(void *)"craterun: ", 10}, {(void *)what, strlen(what)}, {(void *)" ", 1},
        {(void *)arg, strlen(arg)}, {(void *)": ", 2},           {(void *)reason, strlen(reason)},
    };
    (void)writev(fd, v, 6);
    (void)write(fd, "\n", 1);
}

/* Open `path` below `rootfd` without ever leaving it: symlinks and ".." are resolved as if
 * rootfd were "/" (openat2 RESOLVE_IN_ROOT). Missing components are created on request,
 * one after the other (a loop, not recursion: a deep path must not exhaust our stack). */
static int open_in_root(int rootfd, const char *path, int create)
{
    struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    while (*path == '/')
        path++;
    if (*path == '\0')
        return fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
    int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
    if (fd >= 0 || errno != ENOENT || create == CREATE_NONE)
        return fd;

    char prefix[4096];
    size_t len = strlen(path);
    while (len > 0 && path[len - 1] == '/')
        len--;
    if (len >= sizeof prefix) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(prefix, path, len);
    prefix[len] = '\0';
    /* prefix[0..end) is one more component each round; the parent is what came before it */
    size_t parent_end = 0;
    for (size_t end = 0; end < len;) {
        size_t next = end;
        while (next < len && prefix[next] != '/')
            next++;
        int last = next >= len;
        prefix[next] = '\0';
        int probe = (int)syscall(SYS_openat2, rootfd, prefix, &how, sizeof how);
        if (probe >= 0) {
            close(probe);
        } else if (errno != ENOENT) {
            return -1;
        } else {
            int pfd;
            if (parent_end == 0) {
                pfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
            } else {
                prefix[parent_end - 1] = '\0';
                pfd = (int)syscall(SYS_openat2, rootfd, prefix, &how, sizeof how);
                prefix[parent_end - 1] = '/';
            }
            if (pfd < 0)
                return -1;
            const char *leaf = prefix + parent_end;
            int rc;
            if (!last || create == CREATE_DIR) {
                rc = mkdirat(pfd, leaf, 0755);
            } else {
                rc = openat(pfd, leaf, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (rc >= 0)
                    close(rc);
            }
            int err = errno;
            close(pfd);
            if (rc < 0 && err != EEXIST) {
                errno = err;
                return -1;
            }
        }
        if (!last)
            prefix[next] = '/';
        while (next < len && prefix[next] == '/')
            next++;
        parent_end = next;
        end = next;
    }
    return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

/* A directory below `rootfd` reached through no symlink at all, created if missing: where
 * procfs and sysfs go. A rootfs whose /proc is a symlink could otherwise point the mount
 * somewhere else inside it (CVE-2023-27561/28642 class). ELOOP: a symlink; ENOTDIR: a file. */
static int open_plain_dir_in_root(int rootfd, const char *path)
{
    int fd = open_in_root(rootfd, path, CREATE_NONE);
    if (fd < 0 && errno == ENOENT)
        fd = open_in_root(rootfd, path, CREATE_DIR);
    if (fd < 0)
        return -1;
    close(fd);
    struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                           .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS};
    while (*path == '/')
        path++;
    return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

/* Split `path` into an opened parent directory (created if missing) and its last part. */
static int open_parent_in_root(int rootfd, const char *path, char *buf, size_t size, const char **leaf)
{
    size_t len = strlen(path);
    if (len >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    char *slash = strrchr(buf, '/');
    if (!slash) {
        *leaf = buf;
        return fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
    }
    *slash = '\0';
    *leaf = slash + 1;
    return open_in_root(rootfd, buf, CREATE_DIR);
}

/* MS_* flags set and cleared, as the two halves of a struct mount_attr for mount_setattr.
 * The atime modes are one field of the mount (MOUNT_ATTR__ATIME): setting one means
 * clearing that field too, and clearing one (atime, norelatime, nostrictatime) leaves the
 * kernel's default, relatime, as mount(2) does. */
static struct mount_attr mount_attr_of(uint64_t set, uint64_t clear)
{
    static const struct {
        uint64_t ms, attr;
    } map[] = {
        {MS_RDONLY, MOUNT_ATTR_RDONLY},         {MS_NOSUID, MOUNT_ATTR_NOSUID},
        {MS_NODEV, MOUNT_ATTR_NODEV},           {MS_NOEXEC, MOUNT_ATTR_NOEXEC},
        {MS_NODIRATIME, MOUNT_ATTR_NODIRATIME}, {MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW},
    };
    struct mount_attr a = {0};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (set & map[i].ms)
            a.attr_set |= map[i].attr;
        else if (clear & map[i].ms)
            a.attr_clr |= map[i].attr;
    }
    const uint64_t atime = MS_NOATIME | MS_RELATIME | MS_STRICTATIME;
    if ((set | clear) & atime) {
        a.attr_clr |= MOUNT_ATTR__ATIME;
        if (set & MS_NOATIME)
            a.attr_set |= MOUNT_ATTR_NOATIME;
        else if (set & MS_STRICTATIME)
            a.attr_set |= MOUNT_ATTR_STRICTATIME;
        else
            a.attr_set |= MOUNT_ATTR_RELATIME;
    }
    return a;
}

/* The flags of a new mount (fsmount's attr_flags, where the atime mode is a plain value). */
static uint64_t mount_attrs(uint64_t ms)
{
    return mount_attr_of(ms, 0).attr_set;
}

/* Superblock flags of the data-less options (sync, dirsync, lazytime, mand), as the generic
 * fsconfig flags that every filesystem accepts. */
static int configure_sb_flags(int fs, uint64_t ms)
{
    static const struct {
        uint64_t ms;
        const char *key;
    } map[] = {{MS_SYNCHRONOUS, "sync"}, {MS_DIRSYNC, "dirsync"}, {MS_LAZYTIME, "lazytime"}, {MS_MANDLOCK, "mand"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if ((ms & map[i].ms) && fsconfig(fs, FSCONFIG_SET_FLAG, map[i].key, NULL, 0) < 0)
            return -1;
    return 0;
}

static const char *mount_label; /* nsproc: linux.mountLabel, see labels_mount() */
static int labels_mount(const char *fstype);

/* A new filesystem instance (fsopen/fsconfig/fsmount) from an fstype and a data string
 * "key=value,flag,...". Returns a detached mount fd. */
static int make_fs(const char *fstype, const char *source, const char *data, uint64_t ms)
{
    int fs = fsopen(fstype, FSOPEN_CLOEXEC);
    if (fs < 0)
        return -1;
    if (source && *source && fsconfig(fs, FSCONFIG_SET_STRING, "source", source, 0) < 0)
        goto fail;
    if (mount_label && labels_mount(fstype) && fsconfig(fs, FSCONFIG_SET_STRING, "context", mount_label, 0) < 0)
        goto fail;
    /* one fsconfig per comma-separated option, each copied alone: the list has no length limit
     * (a rootless image's overlay names every layer), one option is at most a path and its key */
    for (const char *next = data; next && *next;) {
        char key[PATH_MAX + 32];
        const char *comma = strchr(next, ',');
        size_t len = comma ? (size_t)(comma - next) : strlen(next);
        if (len >= sizeof key) {
            errno = E2BIG;
            goto fail;
        }
        memcpy(key, next, len);
        key[len] = '\0';
        next = comma ? comma + 1 : next + len;
        if (len == 0)
            continue;
        char *value = strchr(key, '=');
        int rc;
        if (value) {
            *value++ = '\0';
            rc = fsconfig(fs, FSCONFIG_SET_STRING, key, value, 0);
        } else {
            rc = fsconfig(fs, FSCONFIG_SET_FLAG, key, NULL, 0);
        }
        if (rc < 0)
            goto fail;
    }
    if (configure_sb_flags(fs, ms) < 0 || fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        goto fail;
    int mnt = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned int)mount_attrs(ms));
    int err = errno;
    close(fs);
    errno = err;
    return mnt;
fail:
    err = errno;
    close(fs);
    errno = err;
    return -1;
}

/* Attach a detached mount (from fsmount or open_tree) on top of the opened target. */
static int attach(int mnt, int target)
{
    int rc = move_mount(mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    int err = errno;
    close(mnt);
    errno = err;
    return rc;
}

/* ---- the steps --------------------------------------------------------------------- */

/* Copy the entries of directory `from` into directory `to` (tmpcopyup): files, directories,
 * symlinks and nodes, with their modes and owners. `depth` bounds the recursion. */
static int copy_dir_contents(int from, int to, int depth)
{
    if (depth > 64) {
        errno = ELOOP;
        return -1;
    }
    int dir = openat(from, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return -1;
    char buf[1024];
    long n;
    int rc = 0;
    while (rc == 0 && (n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
        for (long off = 0; rc == 0 && off < n;) {
            struct {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *d = (void *)(buf + off);
            off += d->reclen;
            if (strcmp(d->name, ".") == 0 || strcmp(d->name, "..") == 0)
                continue;
            struct stat st;
            if (fstatat(dir, d->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                rc = -1;
                break;
            }
            if (S_ISDIR(st.st_mode)) {
                int sub_from = openat(dir, d->name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int sub_to = -1;
                if (sub_from < 0 || (mkdirat(to, d->name, 0700) < 0 && errno != EEXIST) ||
                    (sub_to = openat(to, d->name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
                    copy_dir_contents(sub_from, sub_to, depth + 1) < 0)
                    rc = -1;
                if (sub_from >= 0)
                    close(sub_from);
                if (sub_to >= 0)
                    close(sub_to);
            } else if (S_ISREG(st.st_mode)) {
                int in = openat(dir, d->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                int out = openat(to, d->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (in < 0 || out < 0)
                    rc = -1;
                for (off_t left = st.st_size; rc == 0 && left > 0;) {
                    ssize_t w = sendfile(out, in, NULL, left > (1 << 30) ? (1 << 30) : (size_t)left);
                    if (w <= 0)
                        rc = -1;
                    else
                        left -= w;
                }
                if (in >= 0)
                    close(in);
                if (out >= 0)
                    close(out);
            } else if (S_ISLNK(st.st_mode)) {
                char link[4096];
                ssize_t len = readlinkat(dir, d->name, link, sizeof link - 1);
                if (len < 0)
                    rc = -1;
                else {
                    link[len] = '\0';
                    if (symlinkat(link, to, d->name) < 0)
                        rc = -1;
                }
            } else if (mknodat(to, d->name, st.st_mode, st.st_rdev) < 0) {
                rc = -1;
            }
            if (rc == 0 && fchownat(to, d->name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                rc = -1;
            if (rc == 0 && !S_ISLNK(st.st_mode) && fchmodat(to, d->name, st.st_mode & 07777, 0) < 0)
                rc = -1;
        }
    }
    if (n < 0)
        rc = -1;
    int err = errno;
    close(dir);
    errno = err;
    return rc;
}

/* Bind sources, opened (O_PATH) by prepare_rootfs() while we still had the runtime's ids:
 * in a user namespace the container's root may not be allowed to look them up. */
static int *bind_sources;

/* conform: id-mapped bind mounts. The runtime made the detached tree and its mapping before
 * clone (mount_setattr(MOUNT_ATTR_IDMAP) needs CAP_SYS_ADMIN where the source's filesystem
 * was mounted, which a container in its own user namespace lacks); the options without "r"
 * then go on its top mount, the "r" ones on the whole tree, as for any bind. */
static int idmapped_tree(const struct crt_step *s, int *kind)
{
    int mnt = s->idmap_fd;
    struct stat st;
    if (mnt < 0 || fstat(mnt, &st) < 0)
        fail(CRT_CALL_OPEN);
    *kind = S_ISDIR(st.st_mode) ? CREATE_DIR : CREATE_FILE;
    struct mount_attr top = mount_attr_of(s->mount_flags, s->clear_flags);
    if (s->flags & CRT_F_READONLY)
        top.attr_set |= MOUNT_ATTR_RDONLY;
    if ((top.attr_set || top.attr_clr) && mount_setattr(mnt, "", AT_EMPTY_PATH, &top, sizeof top) < 0)
        fail(CRT_CALL_MOUNT);
    struct mount_attr all = mount_attr_of(s->rec_set_flags, s->rec_clear_flags);
    if ((all.attr_set || all.attr_clr) && mount_setattr(mnt, "", AT_EMPTY_PATH | AT_RECURSIVE, &all, sizeof all) < 0)
        fail(CRT_CALL_MOUNT);
    return mnt;
}

/* docs/rootfs-and-pivot-root.md (bind mounts), docs/proc-and-dev.md (proc, sysfs, /dev) */
static void step_mount(int rootfd, const struct crt_step *s)
{
    int kind = (s->flags & CRT_F_FILE) ? CREATE_FILE : CREATE_DIR;
    int mnt;
    if (s->flags & CRT_F_IDMAP_MOUNT) {
        mnt = idmapped_tree(s, &kind);
    } else if (s->flags & CRT_F_BIND) {
        int src = bind_sources ? bind_sources[cur_step] : -1;
        struct stat st;
        if (src >= 0 ? fstat(src, &st) < 0 : stat(s->source, &st) < 0)
            fail(CRT_CALL_OPEN);
        kind = S_ISDIR(st.st_mode) ? CREATE_DIR : CREATE_FILE;
        unsigned int rec = (s->flags & CRT_F_RECURSIVE) ? AT_RECURSIVE : 0;
        mnt = src >= 0 ? open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | rec)
                       : open_tree(AT_FDCWD, s->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec);
        if (mnt < 0)
            fail(CRT_CALL_MOUNT);
        if (src >= 0) {
            close(src);
            bind_sources[cur_step] = -1;
        }
        /* the options without "r" are about this mount only (ro on an rbind leaves the
         * submounts as they are); rro, rnosuid... then go over the whole tree */
        struct mount_attr top = mount_attr_of(s->mount_flags, s->clear_flags);
        if (s->flags & CRT_F_READONLY)
            top.attr_set |= MOUNT_ATTR_RDONLY;
        if ((top.attr_set || top.attr_clr) && mount_setattr(mnt, "", AT_EMPTY_PATH, &top, sizeof top) < 0)
            fail(CRT_CALL_MOUNT);
        struct mount_attr all = mount_attr_of(s->rec_set_flags, s->rec_clear_flags);
        if ((all.attr_set || all.attr_clr) && mount_setattr(mnt, "", AT_EMPTY_PATH | AT_RECURSIVE, &all, sizeof all) < 0)
            fail(CRT_CALL_MOUNT);
    } else {
        mnt = make_fs(s->fstype, s->source, s->data, s->mount_flags);
        if (mnt < 0)
            fail(CRT_CALL_MOUNT);
    }
    int target = (s->flags & CRT_F_PLAIN_DIR) ? open_plain_dir_in_root(rootfd, s->target) : open_in_root(rootfd, s->target, kind);
    if (target < 0 && (s->flags & CRT_F_OPTIONAL) && (errno == EACCES || errno == EPERM || errno == EROFS)) {
        close(mnt); /* the runtime's /etc files in a rootfs the container's root may not write: left out */
        return;
    }
    if (target < 0)
        fail(CRT_CALL_OPEN);
    if ((s->flags & CRT_F_COPYUP) && !(s->flags & CRT_F_BIND) && copy_dir_contents(target, mnt, 0) < 0)
        fail(CRT_CALL_WRITE);
    if (move_mount(mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        fail(CRT_CALL_MOUNT);
    /* propagation once attached: a detached tree joins no peer group when it is moved in */
    if (s->propagation) {
        struct mount_attr attr = {.propagation = s->propagation & ~(uint64_t)MS_REC};
        unsigned int rec = (s->propagation & MS_REC) ? AT_RECURSIVE : 0;
        if (mount_setattr(mnt, "", AT_EMPTY_PATH | rec, &attr, sizeof attr) < 0)
            fail(CRT_CALL_MOUNT);
    }
    close(mnt);
    close(target);
}

/* docs/proc-and-dev.md */
static void step_mknod(int rootfd, const struct crt_step *s)
{
    char buf[4096];
    const char *leaf;
    int dir = open_parent_in_root(rootfd, s->target, buf, sizeof buf, &leaf);
    if (dir < 0)
        fail(CRT_CALL_OPEN);
    if (s->flags & CRT_F_BIND_DEV) {
        /* In a user namespace mknod is not allowed: bind the host's node instead. */
        int fd = openat(dir, leaf, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            fail(CRT_CALL_OPEN);
        close(fd);
        close(dir);
        struct crt_step bind = *s;
        bind.flags = CRT_F_BIND;
        bind.mount_flags = 0;
        step_mount(rootfd, &bind);
        return;
    }
    if (mknodat(dir, leaf, s->mode, s->dev) < 0 && errno != EEXIST)
        fail(CRT_CALL_MKNOD);
    if (fchmodat(dir, leaf, s->mode & 07777, 0) < 0)
        fail(CRT_CALL_MKNOD);
    if (fchownat(dir, leaf, s->uid, s->gid, AT_SYMLINK_NOFOLLOW) < 0)
        fail(CRT_CALL_MKNOD);
    close(dir);
}

static void step_symlink(int rootfd, const struct crt_step *s)
{
    char buf[4096];
    const char *leaf;
    int dir = open_parent_in_root(rootfd, s->target, buf, sizeof buf, &leaf);
    if (dir < 0)
        fail(CRT_CALL_OPEN);
    if (symlinkat(s->source, dir, leaf) < 0 && errno != EEXIST)
        fail(CRT_CALL_SYMLINK);
    close(dir);
}

static void step_mask(int rootfd, const struct crt_step *s)
{
    int target = open_in_root(rootfd, s->target, CREATE_NONE);
    if (target < 0) {
        if (errno == ENOENT)
            return;
        fail(CRT_CALL_OPEN);
    }
    struct stat st;
    if (fstat(target, &st) < 0)
        fail(CRT_CALL_OPEN);
    int mnt;
    if (S_ISDIR(st.st_mode))
        mnt = make_fs("tmpfs", "tmpfs", "size=0", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
    else
        mnt = open_tree(AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (mnt < 0 || attach(mnt, target) < 0)
        fail(CRT_CALL_MOUNT);
    close(target);
}

static void step_make_readonly(int rootfd, const struct crt_step *s)
{
    int target = open_in_root(rootfd, s->target, CREATE_NONE);
    if (target < 0) {
        if (errno == ENOENT && (s->flags & CRT_F_OPTIONAL))
            return;
        fail(CRT_CALL_OPEN);
    }
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | mount_attrs(s->mount_flags)};
    if (!(s->flags & CRT_F_RECURSIVE)) {
        /* the mount at target itself (e.g. the root), changed in place */
        if (mount_setattr(target, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
            fail(CRT_CALL_MOUNT);
        close(target);
        return;
    }
    /* a bind of the path onto itself, so that only this subtree turns read-only */
    int mnt = open_tree(target, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
    if (mnt < 0 || mount_setattr(mnt, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0 ||
        attach(mnt, target) < 0)
        fail(CRT_CALL_MOUNT);
    close(target);
}

static void step_write_file(int rootfd, const struct crt_step *s)
{
    struct open_how how = {.flags = O_WRONLY | O_CLOEXEC | O_TRUNC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    const char *path = s->target;
    while (*path == '/')
        path++;
    int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
    if (fd < 0)
        fail(CRT_CALL_OPEN);
    size_t len = strlen(s->source);
    if (write(fd, s->source, len) != (ssize_t)len)
        fail(CRT_CALL_WRITE);
    close(fd);
}

static void step_loopback_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fail(CRT_CALL_NETLINK);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        fail(CRT_CALL_NETLINK);
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
        fail(CRT_CALL_NETLINK);
    close(fd);
}

/* docs/rootfs-and-pivot-root.md
 * pivot_root(".", ".") stacks the old root under the new one; detaching "." then
 * removes the old root from this mount namespace entirely. */
static int step_pivot_root(int rootfd, const struct crt_step *s)
{
    if (fchdir(rootfd) < 0)
        fail(CRT_CALL_CHDIR);
    if (s->flags & CRT_F_NO_PIVOT) {
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
            fail(CRT_CALL_MOUNT);
        if (chroot(".") < 0)
            fail(CRT_CALL_PIVOT_ROOT);
    } else {
        int oldroot = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (oldroot < 0)
            fail(CRT_CALL_OPEN);
        if (syscall(SYS_pivot_root, ".", ".") < 0)
            fail(CRT_CALL_PIVOT_ROOT);
        /* The old root now sits on top of the new one. Stand in it, so that "." names the
         * old root and not the new one (whose mounts keep the propagation they were given),
         * and never let the unmount below propagate to the host. */
        if (fchdir(oldroot) < 0)
            fail(CRT_CALL_CHDIR);
        close(oldroot);
        if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
            fail(CRT_CALL_MOUNT);
        if (umount2(".", MNT_DETACH) < 0)
            fail(CRT_CALL_UMOUNT);
    }
    if (chdir("/") < 0)
        fail(CRT_CALL_CHDIR);
    close(rootfd);
    if (prepared_rootfs >= 0) {
        close(prepared_rootfs);
        prepared_rootfs = -1;
    }
    int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        fail(CRT_CALL_OPEN);
    return fd;
}

/* The rootfs directory and every bind source, opened while we still hold the runtime's ids
 * (in a user namespace the container's root may not search them). `sources` has one slot
 * per step: the O_PATH fd of a bind mount's source, -1 for the others. */
static void prepare_rootfs(const struct crt_plan *plan, int *sources)
{
    for (int i = 0; i < plan->n_steps; i++) {
        const struct crt_step *s = &plan->steps[i];
        sources[i] = -1;
        cur_step = i;
        if (s->op == CRT_OP_BIND_ROOTFS && prepared_rootfs < 0) {
            prepared_rootfs = open(s->source, O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (prepared_rootfs < 0)
                fail(CRT_CALL_OPEN);
        } else if (s->op == CRT_OP_MOUNT && (s->flags & CRT_F_BIND) && !(s->flags & CRT_F_IDMAP_MOUNT)) {
            sources[i] = open(s->source, O_PATH | O_CLOEXEC);
            if (sources[i] < 0)
                fail(CRT_CALL_OPEN);
        }
    }
    cur_step = -1;
    bind_sources = sources;
}

static uint64_t mount_id_of(int fd)
{
    struct statx stx;
    if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) < 0)
        fail(CRT_CALL_OPEN);
    return stx.stx_mnt_id;
}

/* Change the propagation of the mount that holds the directory `dirfd` (only that one mount).
 * Its root is found by climbing ".." until the mount changes. */
static void set_propagation_of_mount_holding(int dirfd, uint64_t type)
{
    int cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (cur < 0)
        fail(CRT_CALL_OPEN);
    uint64_t id = mount_id_of(cur);
    for (;;) {
        int up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (up < 0)
            fail(CRT_CALL_OPEN);
        struct stat a, b;
        if (fstat(cur, &a) < 0 || fstat(up, &b) < 0)
            fail(CRT_CALL_OPEN);
        if (mount_id_of(up) != id || (a.st_dev == b.st_dev && a.st_ino == b.st_ino)) {
            close(up);
            break;
        }
        close(cur);
        cur = up;
    }
    struct mount_attr attr = {.propagation = type};
    if (mount_setattr(cur, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
        fail(CRT_CALL_MOUNT);
    close(cur);
}

/* The mount holding the rootfs directory becomes private (like runc's
 * rootfsParentMountPrivate): with a shared root propagation pivot_root refuses a shared
 * parent, and the bind of the rootfs onto itself would appear in the host's namespace. */
static void make_rootfs_parent_private(void)
{
    set_propagation_of_mount_holding(prepared_rootfs, MS_PRIVATE);
}

/* --no-pivot: a host procfs/sysfs mount left in our namespace under the moved root would let
 * anyone in the container mount a fresh proc (the kernel allows it while a fully visible one
 * exists). Never let the unmount propagate; cover what we may not unmount. */
static void step_hide_host_fs(const struct crt_step *s)
{
    /* an unmount propagates through the parent's peers: under a shared root that could be
     * the host's own mount, so the parent first stops sending (slave) */
    char parent[4096];
    size_t len = strlen(s->target);
    if (len >= sizeof parent) {
        errno = ENAMETOOLONG;
        fail(CRT_CALL_OPEN);
    }
    memcpy(parent, s->target, len + 1);
    char *slash = strrchr(parent, '/');
    if (slash)
        slash[slash == parent ? 1 : 0] = '\0';
    int pfd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0) {
        if (errno == ENOENT)
            return;
        fail(CRT_CALL_OPEN);
    }
    set_propagation_of_mount_holding(pfd, MS_SLAVE);
    close(pfd);
    if (mount(NULL, s->target, NULL, MS_SLAVE | MS_REC, NULL) < 0) {
        if (errno == ENOENT || errno == EINVAL)
            return; /* gone already, with a mount above it */
        fail(CRT_CALL_MOUNT);
    }
    if (umount2(s->target, MNT_DETACH) == 0)
        return;
    if (errno != EINVAL && errno != EPERM)
        fail(CRT_CALL_UMOUNT);
    if (mount("tmpfs", s->target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0") < 0)
        fail(CRT_CALL_MOUNT);
}

/* The state JSON for createContainer/startContainer hooks (a memfd from the runtime). */
static int state_fd = -1;

static void lock_down(const struct crt_plan *plan);

/* Each hook in order: a child with the state on stdin; a failure, non-zero exit or timeout
 * fails the container. (We are single-threaded here: fork is plain.) A hook runs in `dirfd`
 * (-1: our own working directory). The state is a memfd, not a pipe: a hook that never
 * reads it neither blocks us nor makes a write fail. With `lock`, each hook runs as the
 * container's process will: no_new_privs, final capabilities, seccomp filter. */
static void run_hooks(const struct crt_hook *hooks, int n, int dirfd, const struct crt_plan *lock)
{
    for (int i = 0; i < n; i++) {
        const struct crt_hook *h = &hooks[i];
        if (state_fd < 0 || lseek(state_fd, 0, SEEK_SET) < 0)
            fail(CRT_CALL_HOOK);
        long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
        if (pid < 0)
            fail(CRT_CALL_HOOK);
        if (pid == 0) {
            trace = NULL; /* explain: a hook's own lock-down is not the container's */
            open_rec = NULL;
            if (dup2(state_fd, 0) < 0 || (dirfd >= 0 && fchdir(dirfd) < 0))
                _exit(126);
            if (lock)
                lock_down(lock);
            execve(h->path, (char *const *)h->argv, (char *const *)h->envp);
            _exit(127);
        }
        /* the timeout by the clock, not by counting sleeps (each sleep may last longer) */
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        long waited_ms = 0;
        int status = 0;
        for (;;) {
            long r = waitpid((pid_t)pid, &status, WNOHANG);
            if (r == pid)
                break;
            if (r < 0 && errno != EINTR)
                fail(CRT_CALL_HOOK);
            if (h->timeout > 0 && waited_ms >= h->timeout * 1000L) {
                kill((pid_t)pid, SIGKILL);
                waitpid((pid_t)pid, &status, 0);
                errno = ETIMEDOUT;
                fail(CRT_CALL_HOOK);
            }
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
            clock_gettime(CLOCK_MONOTONIC, &now);
            waited_ms = (now.tv_sec - t0.tv_sec) * 1000L + (now.tv_nsec - t0.tv_nsec) / 1000000L;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            errno = WIFEXITED(status) && WEXITSTATUS(status) == 127 ? ENOENT : ECANCELED;
            fail(CRT_CALL_HOOK);
        }
    }
}

/* Run every step in order. Paths resolve below `rootfd`: the rootfs until pivot_root,
 * then the new "/". Returns the final root fd. */
static int run_steps(const struct crt_plan *plan)
{
    int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        fail(CRT_CALL_OPEN);
    for (int i = 0; i < plan->n_steps; i++) {
        const struct crt_step *s = &plan->steps[i];
        cur_step = i;
        TRACE(CRT_T_STEP, i, s->op);
        switch (s->op) {
        case CRT_OP_ROOT_PROPAGATION:
            if (mount(NULL, "/", NULL, s->mount_flags, NULL) < 0)
                fail(CRT_CALL_MOUNT);
            break;
        case CRT_OP_BIND_ROOTFS: {
            /* The rootfs becomes a mount of its own (pivot_root needs one): a recursive
             * bind, or an id-mapped copy made by the runtime, so that files owned by host
             * root are root's in here too. It goes onto the directory opened before we
             * took our ids in the user namespace (the path may not be searchable now);
             * the tree's fd is then the root that every later path resolves in. */
            if (s->flags & CRT_F_PRIVATE_PARENT)
                make_rootfs_parent_private(); /* before the clone: it takes the parent's propagation */
            int tree = (s->flags & CRT_F_IDMAP)     ? receive_fd(CRT_MSG_ROOTFS_FD)
                       : (s->flags & CRT_F_OVERLAY) ? make_fs("overlay", NULL, s->data, 0) /* rootless image */
                                                    : open_tree(prepared_rootfs, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
            if (tree < 0)
                fail(CRT_CALL_MOUNT);
            if (move_mount(tree, "", prepared_rootfs, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                fail(CRT_CALL_MOUNT);
            close(rootfd);
            rootfd = tree;
            break;
        }
        case CRT_OP_MOUNT:
            step_mount(rootfd, s);
            break;
        case CRT_OP_MKNOD:
            step_mknod(rootfd, s);
            break;
        case CRT_OP_SYMLINK:
            step_symlink(rootfd, s);
            break;
        case CRT_OP_MKDIR: {
            int fd = open_in_root(rootfd, s->target, CREATE_DIR);
            if (fd < 0)
                fail(CRT_CALL_MKDIR);
            close(fd);
            break;
        }
        case CRT_OP_PIVOT_ROOT:
            rootfd = step_pivot_root(rootfd, s);
            break;
        case CRT_OP_SET_PROPAGATION: {
            int fd = open_in_root(rootfd, s->target, CREATE_NONE);
            struct mount_attr attr = {.propagation = s->propagation & ~(uint64_t)MS_REC};
            unsigned int rec = (s->propagation & MS_REC) ? AT_RECURSIVE : 0;
            if (fd < 0 || mount_setattr(fd, "", AT_EMPTY_PATH | rec, &attr, sizeof attr) < 0)
                fail(CRT_CALL_MOUNT);
            close(fd);
            break;
        }
        case CRT_OP_MAKE_READONLY:
            step_make_readonly(rootfd, s);
            break;
        case CRT_OP_MASK:
            step_mask(rootfd, s);
            break;
        case CRT_OP_WRITE_FILE:
            step_write_file(rootfd, s);
            break;
        case CRT_OP_SETHOSTNAME:
            if (sethostname(s->source, strlen(s->source)) < 0)
                fail(CRT_CALL_SETHOSTNAME);
            break;
        case CRT_OP_SETDOMAINNAME:
            if (setdomainname(s->source, strlen(s->source)) < 0)
                fail(CRT_CALL_SETDOMAINNAME);
            break;
        case CRT_OP_LOOPBACK_UP:
            step_loopback_up();
            break;
        case CRT_OP_ENTER_CGROUP:
            enter_cgroup(plan);
            break;
        case CRT_OP_HIDE_HOST_FS:
            step_hide_host_fs(s);
            break;
        case CRT_OP_HOOKS:
            send_msg(CRT_MSG_HOOKS, 0, 0, 0);
            if (plan->n_create_hooks || plan->n_start_hooks)
                state_fd = receive_fd(CRT_MSG_STATE_FD);
            wait_go(); /* prestart and createRuntime hooks ran in the runtime */
            run_hooks(plan->create_hooks, plan->n_create_hooks, rootfd, NULL); /* in the root, as runc */
            break;
        default:
            errno = EINVAL;
            fail(CRT_CALL_SYNC);
        }
        TRACE_END(0);
    }
    cur_step = -1;
    return rootfd;
}

/* ---- the process ------------------------------------------------------------------- */

/* Open a pty pair in the container's devpts, send the master to the console socket and
 * make the slave our controlling terminal and stdio. */
static void setup_terminal(const struct crt_plan *plan)
{
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        fail(CRT_CALL_TERMINAL);
    int unlock = 0, n = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
        fail(CRT_CALL_TERMINAL);
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (slave < 0)
        fail(CRT_CALL_TERMINAL);
    /* The terminal belongs to the process's user (as with runc; the group stays devpts' tty
     * group). An unmapped uid in a user namespace leaves it as it is. */
    if (plan->set_user && fchown(slave, plan->uid, (gid_t)-1) < 0 && errno != EINVAL && errno != EPERM)
        fail(CRT_CALL_TERMINAL);
    if (plan->console_rows && plan->console_cols) {
        struct winsize ws = {.ws_row = plan->console_rows, .ws_col = plan->console_cols};
        (void)ioctl(slave, TIOCSWINSZ, &ws);
    }
    char byte = 'm';
    if (send_with_fd(plan->console_fd, &byte, 1, master) < 0)
        fail(CRT_CALL_TERMINAL);
    close(master);
    close(plan->console_fd);
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
        fail(CRT_CALL_TERMINAL);
    for (int i = 0; i < 3; i++)
        if (dup2(slave, i) < 0)
            fail(CRT_CALL_DUP);
    if (slave > 2)
        close(slave);
}

static void setup_stdio(const struct crt_plan *plan)
{
    for (int i = 0; i < 3; i++)
        if (plan->stdio[i] >= 0 && plan->stdio[i] != i && dup2(plan->stdio[i], i) < 0)
            fail(CRT_CALL_DUP);
}

static void set_rlimits(const struct crt_plan *plan)
{
    for (int i = 0; i < plan->n_rlimits; i++) {
        struct {
            uint64_t cur, max;
        } rl = {plan->rlimits[i].soft, plan->rlimits[i].hard};
        if (syscall(SYS_prlimit64, 0, plan->rlimits[i].resource, &rl, NULL) < 0)
            fail(CRT_CALL_RLIMIT);
    }
}

/* procattrs: scheduling policy, I/O priority and execution domain. While still root with
 * every capability (a realtime policy, a lower nice and IOPRIO_CLASS_RT need them) and before
 * any seccomp filter (which may forbid these calls); all three survive setuid and execve. */
static void set_process_attributes(const struct crt_plan *plan)
{
    if (plan->set_scheduler) {
        struct { /* struct sched_attr, SCHED_ATTR_SIZE_VER0 */
            uint32_t size, sched_policy;
            uint64_t sched_flags;
            int32_t sched_nice;
            uint32_t sched_priority;
            uint64_t sched_runtime, sched_deadline, sched_period;
        } attr = {sizeof attr, plan->sched_policy, plan->sched_flags, plan->sched_nice, plan->sched_priority,
                  plan->sched_runtime, plan->sched_deadline, plan->sched_period};
        if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
            fail(CRT_CALL_SCHED_SETATTR);
    }
    if (plan->set_ioprio && syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, plan->ioprio) < 0)
        fail(CRT_CALL_IOPRIO_SET);
    if (plan->set_personality && syscall(SYS_personality, (unsigned long)plan->personality) < 0)
        fail(CRT_CALL_PERSONALITY);
}

static int seccomp_loaded = 0;
static int seccomp_listener = -1; /* SCMP_ACT_NOTIFY: goes to the runtime with READY */

/* Needs no_new_privs or CAP_SYS_ADMIN (seccomp(2)). Every call after this one is filtered. */
static void load_seccomp(const struct crt_plan *plan)
{
    if (seccomp_loaded || !plan->seccomp_len)
        return;
    struct sock_fprog prog = {.len = (unsigned short)plan->seccomp_len, .filter = (struct sock_filter *)plan->seccomp_filter};
    TRACE(CRT_T_SECCOMP, -1, (uint64_t)plan->seccomp_len);
    long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, plan->seccomp_flags, &prog);
    if (rc < 0)
        fail(CRT_CALL_SECCOMP);
    TRACE_END(rc);
    seccomp_loaded = 1;
    if (plan->seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)
        seccomp_listener = (int)rc; /* close-on-exec: never reaches the user's program */
}

/* Without no_new_privs only CAP_SYS_ADMIN may load a filter: the process keeps it, on top of
 * its own sets, until the filter is in. */
static uint64_t caps_for_seccomp(const struct crt_plan *plan)
{
    return plan->seccomp_len && !plan->no_new_privs && plan->set_caps ? 1ULL << CAP_SYS_ADMIN : 0;
}

static void capset_sets(uint64_t effective, uint64_t permitted, uint64_t inheritable)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2] = {
        {(uint32_t)effective, (uint32_t)permitted, (uint32_t)inheritable},
        {(uint32_t)(effective >> 32), (uint32_t)(permitted >> 32), (uint32_t)(inheritable >> 32)},
    };
    if (syscall(SYS_capset, &hdr, data) < 0)
        fail(CRT_CALL_CAPSET);
}

/* setgroups/setgid/setuid keeping capabilities, then the five capability sets. */
/* docs/capabilities.md, docs/the-process.md */
static void set_user_and_caps(const struct crt_plan *plan)
{
    if (plan->set_caps) {
        TRACE(CRT_T_CAPBSET, -1, plan->cap_bounding);
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
            fail(CRT_CALL_PRCTL);
        for (int cap = 0; cap <= plan->last_cap; cap++)
            if (!(plan->cap_bounding & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
                fail(CRT_CALL_PRCTL);
        TRACE_END(0);
    }
    if (plan->set_user) {
        TRACE(CRT_T_SETGROUPS, -1, (uint64_t)(int64_t)plan->n_groups);
        if (plan->n_groups >= 0 && syscall(SYS_setgroups, plan->n_groups, plan->groups) < 0)
            fail(CRT_CALL_SETGROUPS);
        TRACE_END(0);
        TRACE(CRT_T_SETGID, -1, plan->gid);
        if (syscall(SYS_setresgid, plan->gid, plan->gid, plan->gid) < 0)
            fail(CRT_CALL_SETGID);
        TRACE_END(0);
        TRACE(CRT_T_SETUID, -1, plan->uid);
        if (syscall(SYS_setresuid, plan->uid, plan->uid, plan->uid) < 0)
            fail(CRT_CALL_SETUID);
        TRACE_END(0);
    }
    if (plan->set_caps) {
        TRACE(CRT_T_CAPSET, -1, plan->cap_effective);
        uint64_t extra = caps_for_seccomp(plan); /* dropped by lock_down, after the filter */
        capset_sets(plan->cap_effective | extra, plan->cap_permitted | extra, plan->cap_inheritable);
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
            fail(CRT_CALL_PRCTL);
        /* The kernel only lets a capability be ambient when it is permitted and inheritable;
         * like runc, the others in the ambient list are left out rather than failing. */
        uint64_t ambient = plan->cap_ambient & plan->cap_permitted & plan->cap_inheritable;
        for (int cap = 0; cap <= plan->last_cap; cap++)
            if ((ambient & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
                fail(CRT_CALL_PRCTL);
        TRACE_END(0);
    }
}

/* Find argv[0] as execvp would, using the PATH of the container's environment. Returns 0
 * with `out` filled, or -1 with errno ENOENT (not found) / EACCES (found, not executable). */
static int lookup_executable(const struct crt_plan *plan, char *out, size_t size)
{
    const char *name = plan->argv[0];
    if (!name || !*name) {
        errno = ENOENT;
        return -1;
    }
    struct stat st;
    if (strchr(name, '/')) {
        if (strlen(name) >= size) {
            errno = ENAMETOOLONG;
            return -1;
        }
        strcpy(out, name);
        if (stat(out, &st) < 0)
            return -1;
        if (S_ISDIR(st.st_mode) || access(out, X_OK) < 0) {
            errno = EACCES;
            return -1;
        }
        return 0;
    }
    const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (const char *const *e = plan->envp; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            path = *e + 5;
    int seen_eacces = 0;
    size_t nlen = strlen(name);
    for (const char *p = path; *p;) {
        const char *end = strchr(p, ':');
        size_t dlen = end ? (size_t)(end - p) : strlen(p);
        if (dlen + nlen + 2 < size) {
            memcpy(out, p, dlen);
            size_t o = dlen;
            if (o == 0)
                out[o++] = '.';
            out[o++] = '/';
            memcpy(out + o, name, nlen + 1);
            if (stat(out, &st) == 0 && !S_ISDIR(st.st_mode)) {
                if (access(out, X_OK) == 0)
                    return 0;
                seen_eacces = 1;
            }
        }
        if (!end)
            break;
        p = end + 1;
    }
    errno = seen_eacces ? EACCES : ENOENT;
    return -1;
}

/* The working directory must be inside the container's root. A cwd such as
 * /proc/self/fd/N naming a directory fd of the runtime would lead outside it
 * (CVE-2024-21626): the kernel then reports the path as "(unreachable)...". */
static void verify_cwd(void)
{
    char buf[4096];
    long n = syscall(SYS_getcwd, buf, sizeof buf);
    if (n < 0)
        fail(CRT_CALL_CHDIR);
    if (buf[0] != '/') {
        errno = EPERM;
        fail(CRT_CALL_CHDIR);
    }
}

/* nsproc: linux.mountLabel goes on every filesystem we create except those that take no
 * context= option (runc leaves proc, sysfs and mqueue unlabelled; cgroup ones too). */
static int labels_mount(const char *fstype)
{
    return strcmp(fstype, "proc") != 0 && strcmp(fstype, "sysfs") != 0 && strcmp(fstype, "mqueue") != 0 &&
           strncmp(fstype, "cgroup", 6) != 0;
}

/* Write `prefix` `value` in one write(2) to the first of the attr files that exists: the
 * LSM takes it as the label of our next execve. */
static void write_exec_attr(const char *const *paths, const char *prefix, const char *value)
{
    char buf[4096];
    size_t p = strlen(prefix), v = strlen(value);
    if (p + v >= sizeof buf) {
        errno = ENAMETOOLONG;
        fail(CRT_CALL_LSM_LABEL);
    }
    memcpy(buf, prefix, p);
    memcpy(buf + p, value, v);
    int fd = -1;
    for (; *paths && fd < 0; paths++)
        fd = open(*paths, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, buf, p + v) != (ssize_t)(p + v))
        fail(CRT_CALL_LSM_LABEL);
    close(fd);
}

/* process.apparmorProfile / process.selinuxLabel: set while we are still root (our /proc
 * files are root's: we are undumpable); they take effect at execve. */
static void set_exec_labels(const struct crt_plan *plan)
{
    if (plan->apparmor_profile && *plan->apparmor_profile) {
        static const char *const aa[] = {"/proc/self/attr/apparmor/exec", "/proc/self/attr/exec", NULL};
        write_exec_attr(aa, "exec ", plan->apparmor_profile);
    }
    if (plan->selinux_label && *plan->selinux_label) {
        static const char *const se[] = {"/proc/self/attr/exec", NULL};
        write_exec_attr(se, "", plan->selinux_label);
    }
}

/* process.cwd is entered while we are still root, so that a directory only root may enter
 * works (runc does the same). Returns 1 when it must be tried again as the final user
 * (root was denied: a user namespace, root squashing). */
static int enter_cwd_as_root(const struct crt_plan *plan)
{
    if (!plan->cwd || !*plan->cwd)
        return 0;
    if (chdir(plan->cwd) == 0)
        return 0;
    if (errno != EACCES && errno != EPERM)
        fail(CRT_CALL_CHDIR);
    return 1;
}

/* Block until `craterun start` opens exec.fifo for reading. */
/* docs/oci-lifecycle.md */
static void wait_for_start(const struct crt_plan *plan)
{
    char path[64] = "/proc/self/fd/";
    char digits[16];
    int n = 0, v = plan->exec_fifo_fd;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    size_t o = strlen(path);
    while (n)
        path[o++] = digits[--n];
    path[o] = '\0';
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        fail(CRT_CALL_FIFO);
    if (write(fd, "0", 1) != 1)
        fail(CRT_CALL_FIFO);
    close(fd);
    close(plan->exec_fifo_fd);
}

/* Until execve this process is the runtime's binary: undumpable, so that nothing in the
 * container may open /proc/PID/exe of it and write the binary later (CVE-2019-5736).
 * execve makes the user's program dumpable again as usual. */
static void make_undumpable(void)
{
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        fail(CRT_CALL_PRCTL);
}

/* The last step before execve, of the container's process and of each startContainer hook:
 * nothing of the runtime's may run under the user's filter. With no_new_privs the filter
 * needs no privilege, and execve is the only call after it. Without, loading it needs
 * CAP_SYS_ADMIN (kept by set_user_and_caps), so the capset that drops it follows the filter:
 * the one call besides execve that such a profile must allow (runc and crun need it too).
 * docs/seccomp.md */
static int locked_down = 0; /* once only: a second time would be calls under the filter */
static void lock_down(const struct crt_plan *plan)
{
    if (locked_down)
        return;
    TRACE(CRT_T_NO_NEW_PRIVS, -1, (uint64_t)plan->no_new_privs);
    if (plan->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        fail(CRT_CALL_PRCTL);
    TRACE_END(0);
    load_seccomp(plan);
    uint64_t extra = caps_for_seccomp(plan);
    if (extra & ~(plan->cap_effective & plan->cap_permitted))
        capset_sets(plan->cap_effective, plan->cap_permitted, plan->cap_inheritable);
    locked_down = 1;
}

/* docs/the-process.md */
static _Noreturn void container_main(const struct crt_plan *plan)
{
    TRACE(CRT_T_WAIT_GO, -1, 0);
    wait_go(); /* after the id maps: an unprivileged runtime cannot write those of an undumpable process */
    TRACE_END(0);
    TRACE(CRT_T_UNDUMPABLE, -1, 0);
    make_undumpable();
    TRACE_END(0);
    int sources[plan->n_steps > 0 ? plan->n_steps : 1];
    mount_label = plan->mount_label && *plan->mount_label ? plan->mount_label : NULL;
    TRACE(CRT_T_PREPARE, -1, (uint64_t)plan->n_steps);
    prepare_rootfs(plan, sources);
    TRACE_END(0);
    if (plan->clone_flags & CLONE_NEWUSER) {
        /* become root of the new user namespace, where that uid is mapped */
        TRACE(CRT_T_USERNS_ROOT, -1, 0);
        (void)syscall(SYS_setresgid, 0, 0, 0);
        (void)syscall(SYS_setresuid, 0, 0, 0);
        TRACE_END(0);
    }
    int rootfd = run_steps(plan);
    close(rootfd);
    enter_cgroup(plan);

    TRACE(CRT_T_SETSID, -1, 0);
    if (setsid() < 0 && errno != EPERM)
        fail(CRT_CALL_SETSID);
    TRACE_END(0);
    TRACE(plan->terminal ? CRT_T_TERMINAL : CRT_T_STDIO, -1, 0);
    if (plan->terminal)
        setup_terminal(plan);
    else
        setup_stdio(plan);
    TRACE_END(0);
    TRACE(CRT_T_RLIMITS, -1, (uint64_t)plan->n_rlimits);
    set_rlimits(plan);
    TRACE_END(0);
    TRACE(CRT_T_PROCATTRS, -1, 0);
    set_process_attributes(plan);
    TRACE_END(0);
    /* With no capability sets to keep CAP_SYS_ADMIN in, a filter without no_new_privs has to
     * go in while we are still root (the old order: the calls below then run under it). */
    if (plan->seccomp_len && !plan->no_new_privs && !plan->set_caps)
        load_seccomp(plan);
    TRACE(CRT_T_LABELS, -1, 0);
    set_exec_labels(plan);
    TRACE_END(0);
    TRACE(CRT_T_CHDIR, -1, 0);
    int cwd_pending = enter_cwd_as_root(plan);
    TRACE_END(cwd_pending);
    set_user_and_caps(plan);
    if (cwd_pending)
        TRACE(CRT_T_CHDIR, -1, 1);
    if (cwd_pending && chdir(plan->cwd) < 0)
        fail(CRT_CALL_CHDIR);
    verify_cwd();
    TRACE_END(0);
    if (plan->umask >= 0)
        umask((mode_t)plan->umask);

    char exe[4096];
    TRACE(CRT_T_LOOKUP, -1, 0);
    if (lookup_executable(plan, exe, sizeof exe) < 0)
        fail(CRT_CALL_EXEC_LOOKUP);
    TRACE_END(0);

    /* Nothing of the runtime's may reach the container: every fd past stdio and the
     * preserved ones closes at execve (CVE-2024-21626). */
    TRACE(CRT_T_CLOSE_FDS, -1, (uint64_t)plan->preserve_fds);
    for (int fd = 3; fd < 3 + plan->preserve_fds; fd++)
        (void)fcntl(fd, F_SETFD, 0);
    if (close_range(3 + (unsigned)plan->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        fail(CRT_CALL_SYNC);
    TRACE_END(0);

    /* A notify listener must reach the runtime while it still listens (`create` hands it to
     * the agent): the filter goes in now and READY carries the listener; the wait for start
     * then runs under the filter. */
    if (plan->seccomp_len && (plan->seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER))
        lock_down(plan);
    TRACE(CRT_T_READY, -1, 0);
    TRACE_END(0); /* recorded before it is sent: the runtime reads the records at READY */
    if (seccomp_listener >= 0) {
        struct crt_msg ready = {.type = CRT_MSG_READY, .step = -1};
        if (send_with_fd(sync_fd, &ready, sizeof ready, seccomp_listener) < 0)
            fail(CRT_CALL_SYNC);
    } else {
        send_msg(CRT_MSG_READY, 0, 0, 0);
    }
    ready_sent = 1;
    TRACE(CRT_T_WAIT_START, -1, 0);
    if (plan->exec_fifo_fd >= 0)
        wait_for_start(plan);
    TRACE_END(0);
    TRACE(CRT_T_START_HOOKS, -1, (uint64_t)plan->n_start_hooks);
    run_hooks(plan->start_hooks, plan->n_start_hooks, -1, plan); /* paths resolve inside the container */
    TRACE_END(0);
    lock_down(plan);

    TRACE(CRT_T_EXECVE, -1, 0); /* left open: after a successful execve there is nobody to close it */
    if (plan->init_fd >= 0) /* run --init: PID 1 is the init, which runs argv (it looks it up as we did) */
        syscall(SYS_execveat, plan->init_fd, "", (char *const *)plan->init_argv, (char *const *)plan->envp, AT_EMPTY_PATH);
    else
        execve(exe, (char *const *)plan->argv, (char *const *)plan->envp);
    int err = errno;
    if (trace)
        trace_fail(CRT_CALL_EXEC_LOOKUP, err);
    put_errno_text(2, "exec", plan->argv[0], err);
    send_msg(CRT_MSG_ERROR, CRT_CALL_EXEC_LOOKUP, err, 0);
    _exit(err == ENOENT ? 127 : 126);
}

/* The first thing the child does: nothing the .NET runtime installed may run here. */
static void reset_signals(void)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < _NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)syscall(SYS_rt_sigaction, sig, &dfl, NULL, _NSIG / 8);
    sigset_t none;
    sigemptyset(&none);
    (void)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, _NSIG / 8);
}

/* timens: "clock secs nanosecs" lines for /proc/PID/timens_offsets, without stdio. */
static char *put_offset(char *p, const char *clock, int64_t secs, uint32_t nsecs)
{
    while (*clock)
        *p++ = *clock++;
    *p++ = ' ';
    uint64_t mag = secs < 0 ? (uint64_t)0 - (uint64_t)secs : (uint64_t)secs;
    if (secs < 0)
        *p++ = '-';
    for (int pass = 0; pass < 2; pass++) {
        char digits[24];
        int n = 0;
        uint64_t v = pass == 0 ? mag : nsecs;
        do
            digits[n++] = (char)('0' + v % 10);
        while ((v /= 10) != 0);
        while (n > 0)
            *p++ = digits[--n];
        *p++ = pass == 0 ? ' ' : '\n';
    }
    return p;
}

/* timens: unshare(CLONE_NEWTIME) only sets the namespace of our children, and its offsets
 * can be written until the first process enters it: so this runs in stage 1, and the
 * container process cloned next is born in it with the offsets in place. The file was
 * opened before any setns (a joined mount namespace may have another /proc); a write
 * applies to the time namespace our children will get at the time of the write. */
static void enter_new_time_ns(const struct crt_plan *plan, int offsets_fd)
{
    if (unshare(CLONE_NEWTIME) < 0)
        fail(CRT_CALL_UNSHARE);
    if (offsets_fd < 0)
        return;
    char buf[128], *end = buf;
    end = put_offset(end, "monotonic", plan->monotonic_secs, plan->monotonic_nsecs);
    end = put_offset(end, "boottime", plan->boottime_secs, plan->boottime_nsecs);
    if (write(offsets_fd, buf, (size_t)(end - buf)) != end - buf)
        fail(CRT_CALL_WRITE);
    close(offsets_fd);
}

static _Noreturn void child_entry(const struct crt_plan *plan)
{
    /* First: our copy of the runtime's end of the sync pair. While we hold it our reads of
     * sync_fd never see EOF, so a runtime killed before GO would leave us waiting forever;
     * the container process of two stages is cloned after this and inherits it closed. */
    if (plan->runtime_sync_fd >= 0)
        (void)syscall(SYS_close, plan->runtime_sync_fd);
    sync_fd = plan->sync_fd;
    trace = plan->trace;
    reset_signals();
    if (plan->n_join > 0 || (plan->clone_flags & CLONE_NEWTIME)) {
        /* Stage 1: join the given namespaces, then clone the container process into them
         * (a pid namespace only applies to children, and so does a new time namespace).
         * CLONE_PARENT keeps the runtime its parent, so it can wait for it. */
        wait_go();
        make_undumpable();
        int offsets_fd = -1;
        if ((plan->clone_flags & CLONE_NEWTIME) && plan->set_time_offsets &&
            (offsets_fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC)) < 0)
            fail(CRT_CALL_OPEN);
        for (int i = 0; i < plan->n_join; i++) {
            cur_step = CRT_JOIN_STEP(i);
            TRACE(CRT_T_SETNS, i, (uint64_t)plan->join_types[i]);
            if (setns(plan->join_fds[i], plan->join_types[i]) < 0)
                fail(CRT_CALL_SETNS);
            TRACE_END(0);
        }
        cur_step = -1;
        /* after the joins: a joined user namespace owns the new time namespace */
        if (plan->clone_flags & CLONE_NEWTIME)
            enter_new_time_ns(plan, offsets_fd);
        /* legacy clone: CLONE_NEWTIME is an exit-signal bit there (clone3 only), and unshare did it */
        uint64_t flags = CLONE_PARENT | (plan->clone_flags & ~(uint64_t)CLONE_NEWTIME);
        TRACE(CRT_T_CLONE, -1, flags);
        long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
        if (pid < 0)
            fail(CRT_CALL_CLONE);
        if (pid == 0)
            open_rec = NULL; /* the parent stage finishes the clone's record */
        if (pid > 0) {
            TRACE_END(pid);
            send_msg(CRT_MSG_CHILD_PID, 0, 0, (int)pid);
            _exit(0);
        }
    }
    container_main(plan);
}

/* docs/namespaces.md */
int crt_launch(const struct crt_plan *plan)
{
    /* Block every signal across clone so that no handler of the runtime runs in the child
     * before it resets them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int two_stage = plan->n_join > 0 || (plan->clone_flags & CLONE_NEWTIME); /* see child_entry */
    uint64_t flags = two_stage ? 0 : plan->clone_flags;
    long pid;
    /* explain: the parent records the clone (a local pointer: other threads may launch too) */
    struct crt_trace_rec *rec = plan->trace ? trace_reserve(plan->trace, CRT_T_CLONE, -1, flags) : NULL;
    if (rec && plan->cgroup_fd >= 0 && !two_stage)
        rec->arg |= CLONE_INTO_CGROUP;
    if (plan->cgroup_fd >= 0 && !two_stage) {
        /* cgroup v2: born in the container's cgroup, nothing to move afterwards */
        struct clone_args args = {.flags = flags | CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)plan->cgroup_fd};
        pid = syscall(SYS_clone3, &args, sizeof args);
    } else {
        pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    }
    if (pid == 0)
        child_entry(plan);
    int err = errno;
    if (rec) {
        rec->result = pid;
        rec->err = pid < 0 ? err : 0;
        rec->call = pid < 0 ? CRT_CALL_CLONE : 0;
        rec->end_ns = monotonic_ns();
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pid < 0 ? -err : (int)pid;
}

/* conform: id-mapped bind mounts (see launch.h). Forked without a new stack, like fork(),
 * from a multi-threaded caller: the child makes raw system calls only, then waits forever. */
int crt_userns_holder(void)
{
    pid_t parent = getpid();
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (syscall(SYS_getppid) != parent)
            syscall(SYS_exit_group, 1);
        for (;;)
            syscall(SYS_ppoll, NULL, 0, NULL, NULL, 0);
    }
    return (int)pid;
}

/* The C# mirror (Interop.Launch.cs) relies on these sizes. */
_Static_assert(sizeof(struct crt_step) == 112, "crt_step layout changed: update Interop.Launch.cs");
_Static_assert(sizeof(struct crt_plan) == 464, "crt_plan layout changed: update Interop.Launch.cs");
_Static_assert(sizeof(struct crt_hook) == 32, "crt_hook layout changed: update Interop.Launch.cs");
_Static_assert(sizeof(struct crt_msg) == 24, "crt_msg layout changed: update Interop.Launch.cs");
_Static_assert(sizeof(struct crt_trace_rec) == 48, "crt_trace_rec layout changed: update Interop.Launch.cs"); /* explain */
_Static_assert(sizeof(struct crt_trace) == 16, "crt_trace layout changed: update Interop.Launch.cs");     /* explain */
