/*
 * The parts of a container's monitor that run before the .NET runtime starts, from a
 * constructor: its waiting phase, and its early spawn by `craterun run`.
 *
 * A container's monitor (`craterun _monitor`, ContainerMonitor.cs) creates and starts the
 * container with the managed engine. For as long as the container then runs it has only
 * two jobs: copy the container's output to the log files (and to an attached CLI) and wait
 * for the exit. A managed process doing that keeps the .NET runtime resident (about 7 MiB);
 * so a monitor whose container outlives a short grace period replaces itself (execve, same
 * pid, the container stays its child) with this same executable in the mode below, which
 * runs before the .NET runtime starts and holds about 0.9 MiB (drop_loaded_code_pages).
 * When the container has exited and its output is drained, it execs the managed
 * `_monitor-exit` phase, which records the exit and cleans up (ContainerMonitor.Finish).
 *
 *   craterun _monitor-wait ROOT ID PID ROUTE...
 *     ROUTE  o:SRC:LOG:TIMES:SINK:STREAM  container output: SRC -> LOG (+ a "offset unix-ns"
 *                                   line in TIMES per chunk) and SINK; STREAM 1 stdout, 2 stderr
 *            i:SRC:SINK             input for the container (SRC -> SINK), while it lives
 *            a:INPUT                `craterun attach`: listen on ROOT/ID/attach.sock; each
 *                                   client gets the output as frames (1 byte stream 1|2, 4
 *                                   bytes big-endian length, the bytes), and what it sends goes
 *                                   to INPUT (the pty master of a -it container, the stdin
 *                                   pipe of a -d -i one; -1: dropped)
 *            h:INTERVAL-MS          a health check (--health-cmd): every INTERVAL-MS after the
 *                                   last probe ended, run `craterun _monitor-health ROOT ID`
 *                                   (HealthChecks.cs), one at a time, while the container lives
 *     fds are numbers inherited across the exec; -1 for none. fd 3 is the CLI's control socket.
 *   then: /proc/self/exe _monitor-exit ROOT ID WAIT-STATUS
 *
 * The same constructor splits `craterun run ...` before the .NET runtime starts: the process
 * the shell waits for stays in C as the front (run_front.c), and its child, the container's
 * monitor, runs all of `run` in one .NET runtime.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <spawn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "command_line.h"
#include "monitor_messages.h"

extern char **environ;
int crt_spawn_monitor(int *pid_out, int *fd_out);
int crt_above_stdio(int fd);
int crt_front(int sock, pid_t monitor);
void crt_run_front(void);
void crt_reexec_sealed(char **argv, char **envp);

#define MAX_ROUTES 8

struct route {
    int input;       /* 1: stdin -> container, read only while it lives */
    int stream;      /* output: 1 stdout, 2 stderr (the order the routes come in) */
    int src, log, times, sink;
    long long offset; /* size of LOG: where the next chunk starts */
    int open;
    int src_pipe;    /* SRC is a pipe: its bytes can be moved by tee(2)/splice(2), never copied to us */
    int sink_pipe;   /* SINK is a pipe: tee(2) can give it the bytes that stay in SRC for the log */
    int grown;       /* SRC's pipe was made larger (grow_pipe) */
    /* the TIMES lines of the last chunks, written together (at most 1 ms late, see flush_times) */
    char times_buf[1024];
    int times_len;
    long long times_since; /* CLOCK_MONOTONIC of the first line waiting */
};

/* What one process copies: the routes, and the container's state dir (ROOT/ID), where the logs
 * are and where the logs-stopped marker goes. Both phases of a monitor use it: the waiting
 * phase below, and the managed phase before it through crt_pump_* (IoPump.cs). */
struct crt_pump {
    struct route routes[MAX_ROUTES];
    int n_routes, n_outputs;
    char dir[4096]; /* "": no logs */
    const char *id; /* the container id (the last part of dir), for the one line on stderr */
};

struct crt_pump *crt_pump_new(const char *container_dir);
int crt_pump_add_output(struct crt_pump *p, int src, const char *log_name, int sink);
int crt_pump_add_input(struct crt_pump *p, int src, int sink);
int crt_pump_run(struct crt_pump *p, int pid, int grace_ms, int *status);
int crt_pump_hand_over(struct crt_pump *p, int i, char *arg, int size);
void crt_pump_free(struct crt_pump *p);

/* One read or write of the copying path (a pty, a file or terminal as sink, attached clients). */
static char buffer[64 * 1024];

static long long now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Writes all of it; returns -1 at the first error (a reader that went away). */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The rest of a frame a short sendmsg left unsent (DONE bytes of head+data went). */
static int write_all_nosig(int fd, const unsigned char *head, const char *data, size_t n, size_t done)
{
    while (done < 5 + n) {
        const char *p = done < 5 ? (const char *)head + done : data + (done - 5);
        size_t left = done < 5 ? 5 - done : n - (done - 5);
        ssize_t w = send(fd, p, left, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        done += (size_t)w;
    }
    return 0;
}

/* ROOT and ID of the container (argv of _monitor-wait): its attach socket and health probes. */
static const char *state_root = "", *container_id = "";

/* A log write failed (ENOSPC under the state root): this route logs no more; the output
 * still goes to its sink. Said once per container: an empty marker file (it fits where data
 * no longer does) with the reason if there is room, which ps and inspect read (LogFile.cs),
 * and one line on stderr, which is the attached CLI's (/dev/null when detached). */
static void log_stopped(struct crt_pump *p, struct route *r, int err)
{
    close(r->log);
    if (r->times >= 0)
        close(r->times);
    r->log = r->times = -1;
    r->times_len = 0;
    char path[4096 + 16], text[256];
    snprintf(path, sizeof path, "%s/logs-stopped", p->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST)
        return;
    time_t now = time(NULL);
    struct tm tm;
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    int len = snprintf(text, sizeof text, "logs stopped at %s: %s", when, strerror(err));
    if (fd >= 0) {
        (void)write_all(fd, text, (size_t)len);
        close(fd);
    }
    char line[512];
    len = snprintf(line, sizeof line, "craterun: container %s: %s; the output still reaches this terminal\n", p->id, text);
    (void)write_all(2, line, (size_t)len);
}

/* `craterun attach`: the clients connected to ROOT/ID/attach.sock (a:INPUT). */
#define MAX_CLIENTS 8
static int attach_input = -2;   /* -2: no attach socket; -1: no input; else the pty master or stdin pipe */
static int attach_listen = -1;
static int clients[MAX_CLIENTS];
static int n_clients;
static char attach_path[4096];

static void open_attach_socket(void)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int len = snprintf(attach_path, sizeof attach_path, "%s/%s/attach.sock", state_root, container_id);
    if (len < 0 || (size_t)len >= sizeof addr.sun_path)
        return; /* too long for a socket address: no attach (craterun attach says so) */
    memcpy(addr.sun_path, attach_path, (size_t)len + 1);
    unlink(attach_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || chmod(attach_path, 0600) < 0 || listen(fd, MAX_CLIENTS) < 0) {
        close(fd);
        unlink(attach_path);
        return;
    }
    attach_listen = fd;
}

static void drop_client(int i)
{
    close(clients[i]);
    clients[i] = clients[--n_clients];
}

static void accept_client(void)
{
    int fd = accept4(attach_listen, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    if (n_clients == MAX_CLIENTS) {
        close(fd);
        return;
    }
    /* a client that stops reading is dropped after a second rather than stalling the container */
    struct timeval tv = {.tv_sec = 1};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    clients[n_clients++] = fd;
}

static void send_to_clients(int stream, const char *data, size_t n)
{
    unsigned char head[5] = {(unsigned char)stream, (unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
    for (int i = n_clients - 1; i >= 0; i--) {
        struct iovec iov[2] = {{head, sizeof head}, {(void *)data, n}};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t w = sendmsg(clients[i], &msg, MSG_NOSIGNAL);
        if (w == (ssize_t)(sizeof head + n))
            continue;
        if (w < 0 || write_all_nosig(clients[i], head, data, n, (size_t)w) < 0)
            drop_client(i);
    }
}

/* What a client typed: to the container's terminal (-it) or stdin pipe (-d -i), else dropped. */
static void client_input(int i)
{
    ssize_t n = read(clients[i], buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        drop_client(i);
        return;
    }
    if (attach_input >= 0)
        (void)write_all(attach_input, buffer, (size_t)n);
}

static void close_attach(void)
{
    while (n_clients > 0)
        drop_client(n_clients - 1);
    if (attach_listen >= 0) {
        close(attach_listen);
        unlink(attach_path);
        attach_listen = -1;
    }
}

/* ---- Copying: the one implementation of a log's format and of what a full disk does ----
 * LOG holds the bytes as they came; LOG.times one "OFFSET UNIX-NS" line per chunk, written
 * before the chunk (logs -f reads the data first, then the times: LogMerge.cs, Logs.cs). */

/* Writes the index lines waiting (a failure stops the log). */
static void flush_times(struct crt_pump *p, struct route *r)
{
    if (r->times_len == 0)
        return;
    errno = 0;
    int failed = r->times >= 0 && write_all(r->times, r->times_buf, (size_t)r->times_len) < 0;
    r->times_len = 0;
    if (failed)
        log_stopped(p, r, errno ? errno : EIO);
}

/* The index line of a chunk that starts at OFFSET, read at NS: one line per chunk, but the
 * lines of a burst go out in one write (wait_and_pump flushes them within a millisecond). A
 * reader may see a chunk's bytes a moment before its line: logs stamps them with the line
 * before, never later than they came. */
static void add_times(struct crt_pump *p, struct route *r, long long offset, long long ns)
{
    if (r->times < 0)
        return;
    if (r->times_len > (int)sizeof r->times_buf - 48)
        flush_times(p, r);
    if (r->times < 0)
        return;
    if (r->times_len == 0)
        r->times_since = now_ns(CLOCK_MONOTONIC);
    r->times_len += snprintf(r->times_buf + r->times_len, sizeof r->times_buf - (size_t)r->times_len, "%lld %lld\n", offset, ns);
}

/* Whether a route has index lines that waited long enough: a burst's lines go out together. */
static int times_due(const struct route *r, long long now)
{
    return r->times_len > 0 && now - r->times_since >= 1000000LL;
}

/* Reads and drops N bytes of SRC (what a stopped log and a gone sink leave). */
static void discard(int src, size_t n)
{
    while (n > 0) {
        ssize_t got = read(src, buffer, n < sizeof buffer ? n : sizeof buffer);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return;
        n -= (size_t)got;
    }
}

/* Moves N bytes of the pipe SRC to FD with splice(2) (no copy through us); returns how many
 * it could not (0: all of them), with errno set. EINVAL: FD's file system cannot splice. */
static size_t splice_n(int src, int fd, size_t n)
{
    errno = 0;
    while (n > 0) {
        ssize_t w = splice(src, NULL, fd, NULL, n, SPLICE_F_MOVE);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            break;
        }
        n -= (size_t)w;
    }
    return n;
}

/* The most one round moves from a pipe: all it holds (its size is at most 1 MiB). */
#define SPLICE_CHUNK (1 << 20)

/* The log write of N bytes failed after LEFT of them were left in SRC: the log stops, they go. */
static void log_failed(struct crt_pump *p, struct route *r, size_t left)
{
    log_stopped(p, r, errno ? errno : EIO);
    discard(r->src, left);
}

/* A route whose SRC is a pipe and whose SINK is a pipe or none, with no attached clients: the
 * bytes go to the sink by tee(2) (the pages are shared, not copied), then to the log by
 * splice(2) (one copy, into the page cache), and never through this process's memory.
 * Returns how many bytes it moved (0 at the end). */
static size_t pump_spliced(struct crt_pump *p, struct route *r)
{
    long long ns = now_ns(CLOCK_REALTIME);
    ssize_t n;
    if (r->log >= 0 && r->sink >= 0) {
        /* what SRC holds (poll said it is readable), as much as SINK has room for; blocks
         * while SINK is full, as a write would */
        n = tee(r->src, r->sink, SPLICE_CHUNK, 0);
        if (n < 0 && errno == EINTR)
            return 0;
        if (n < 0) {
            r->sink = -1; /* the reader went away: from the next round on, the log alone */
            return 0;
        }
        if (n == 0) {
            r->open = 0; /* every writer is gone */
            return 0;
        }
        add_times(p, r, r->offset, ns);
        size_t left = splice_n(r->src, r->log, (size_t)n);
        r->offset += (long long)((size_t)n - left);
        if (left > 0 && errno == EINVAL && left == (size_t)n) {
            /* the state root's file system cannot splice: these bytes (the sink has them
             * already) by copying, and every round after them too */
            r->src_pipe = 0;
            while (left > 0) {
                ssize_t got = read(r->src, buffer, left < sizeof buffer ? left : sizeof buffer);
                if (got < 0 && errno == EINTR)
                    continue;
                if (got <= 0 || write_all(r->log, buffer, (size_t)got) < 0)
                    break;
                left -= (size_t)got;
                r->offset += got;
            }
        }
        if (left > 0)
            log_failed(p, r, left);
        return (size_t)n;
    }
    if (r->log >= 0) {
        n = splice(r->src, NULL, r->log, NULL, SPLICE_CHUNK, SPLICE_F_MOVE);
        if (n < 0 && errno == EINTR)
            return 0;
        if (n < 0 && errno == EINVAL) {
            r->src_pipe = 0; /* cannot splice to the log's file system: copy from now on */
            return 0;
        }
        if (n < 0) {
            log_stopped(p, r, errno); /* the bytes stay in SRC: the next round drops them */
            return 0;
        }
        if (n == 0) {
            r->open = 0;
            return 0;
        }
        add_times(p, r, r->offset, ns);
        r->offset += n;
        return (size_t)n;
    }
    if (r->sink >= 0) {
        n = splice(r->src, NULL, r->sink, NULL, SPLICE_CHUNK, SPLICE_F_MOVE);
        if (n < 0 && errno == EINTR)
            return 0;
        if (n < 0) {
            r->sink = -1; /* the reader went away */
            return 0;
        }
    } else {
        n = read(r->src, buffer, sizeof buffer); /* nobody wants them */
        if (n < 0 && errno == EINTR)
            return 0;
    }
    if (n <= 0)
        r->open = 0;
    return n > 0 ? (size_t)n : 0;
}

/* Any other route: read into our buffer, then to the log, the sink and attached clients. */
static size_t pump_copied(struct crt_pump *p, struct route *r)
{
    ssize_t n = read(r->src, buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0) { /* EOF, or EIO from a pty whose other side closed */
        r->open = 0;
        return 0;
    }
    if (r->log >= 0) {
        add_times(p, r, r->offset, now_ns(CLOCK_REALTIME));
        errno = 0;
        if (write_all(r->log, buffer, (size_t)n) == 0)
            r->offset += n;
        else
            log_stopped(p, r, errno ? errno : EIO);
    }
    if (r->sink >= 0 && write_all(r->sink, buffer, (size_t)n) < 0)
        r->sink = -1;
    if (!r->input && n_clients > 0)
        send_to_clients(r->stream, buffer, (size_t)n);
    return (size_t)n;
}

/* One round of a route that poll said is ready: how many bytes it moved. */
static size_t pump(struct crt_pump *p, struct route *r)
{
    if (r->src_pipe && !r->input && (r->sink < 0 || r->sink_pipe) && n_clients == 0)
        return pump_spliced(p, r);
    return pump_copied(p, r);
}

/* What SRC and SINK are: whether the bytes can be spliced; /dev/null as an output's sink is none. */
static void classify(struct route *r)
{
    struct stat st;
    r->src_pipe = fstat(r->src, &st) == 0 && S_ISFIFO(st.st_mode);
    if (r->sink < 0 || fstat(r->sink, &st) < 0)
        return;
    if (!r->input && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
        r->sink = -1; /* a detached container's: writing there is copying for nothing */
    else
        r->sink_pipe = S_ISFIFO(st.st_mode);
}

static int add_route(struct crt_pump *p, const struct route *r)
{
    if (p->n_routes == MAX_ROUTES) {
        errno = EMFILE;
        return -1;
    }
    struct route *added = &p->routes[p->n_routes++];
    *added = *r;
    added->open = 1;
    if (!added->input && added->stream == 0)
        added->stream = ++p->n_outputs; /* stdout first, then stderr (IoPump.AddOutput); a handed-over route names its own */
    if (added->log >= 0) {
        off_t end = lseek(added->log, 0, SEEK_END);
        added->offset = end < 0 ? 0 : end;
    }
    classify(added);
    return 0;
}

static int parse_int(const char *s, int *out)
{
    if (s == NULL) /* a missing argument is bad input, like a malformed one */
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || (*end && *end != ':') || v < -1 || v > 1 << 30)
        return -1;
    *out = (int)v;
    return 0;
}

/* "o:SRC:LOG:TIMES:SINK:STREAM" or "i:SRC:SINK" */
static int parse_route(const char *s, struct route *r)
{
    memset(r, 0, sizeof *r);
    r->log = r->times = r->sink = -1;
    int *fields[5];
    int n;
    if (s[0] == 'o' && s[1] == ':') {
        fields[0] = &r->src, fields[1] = &r->log, fields[2] = &r->times, fields[3] = &r->sink, fields[4] = &r->stream;
        n = 5;
    } else if (s[0] == 'i' && s[1] == ':') {
        r->input = 1;
        fields[0] = &r->src, fields[1] = &r->sink;
        n = 2;
    } else {
        return -1;
    }
    const char *p = s + 2;
    for (int i = 0; i < n; i++) {
        if (parse_int(p, fields[i]) < 0)
            return -1;
        p = strchr(p, ':');
        if ((i < n - 1) != (p != NULL))
            return -1;
        if (p)
            p++;
    }
    return r->input || r->stream == 1 || r->stream == 2 ? 0 : -1;
}

/* The health check's probes (h:INTERVAL-MS): each a `craterun _monitor-health ROOT ID` of
 * its own, which execs the command in the container and records the result. */
static long long health_interval_ns;   /* 0: no health check */
static long long health_next_ns;       /* CLOCK_MONOTONIC time of the next probe */
static int health_pid = -1, health_pidfd = -1;

static void start_probe(void)
{
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0)
        return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    for (int fd = 0; fd < 3; fd++)
        posix_spawn_file_actions_adddup2(&fa, devnull, fd);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* not the CLI's socket, not the container's pipes */
    char *args[] = {"craterun", "_monitor-health", (char *)state_root, (char *)container_id, NULL};
    /* a process group of its own: end_probe kills the group, so that a launch stage the probe
     * cloned (waiting for it on a socket it also holds) cannot outlive it in the container's cgroup */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int spawned = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, args, environ) == 0;
    posix_spawnattr_destroy(&attr);
    if (spawned) {
        health_pid = pid;
        health_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    }
    posix_spawn_file_actions_destroy(&fa);
    close(devnull);
    if (health_pid < 0 || health_pidfd < 0) /* could not start one: try again next interval */
        health_next_ns = now_ns(CLOCK_MONOTONIC) + health_interval_ns;
}

/* The probe ended (or must: the container did): reaped, the next one an interval from now. */
static void end_probe(int kill_it)
{
    if (health_pid < 0)
        return;
    if (kill_it)
        kill(-health_pid, SIGKILL); /* the probe's group: it and whatever it was launching */
    while (waitpid(health_pid, NULL, 0) < 0 && errno == EINTR)
        ;
    if (health_pidfd >= 0)
        close(health_pidfd);
    health_pid = health_pidfd = -1;
    health_next_ns = now_ns(CLOCK_MONOTONIC) + health_interval_ns;
}

/* A route in a burst: its pipe grows from 64 KiB to 256 KiB once, so that the container can go
 * on writing while we wait for more (a pipe of that size for each container that bursts, not
 * for every container: the kernel's budget for a user's pipes, 64 MiB, is shared). */
static void grow_pipe(struct route *r)
{
    if (r->src_pipe && !r->input && !r->grown) {
        r->grown = 1;
        (void)fcntl(r->src, F_SETPIPE_SZ, 256 * 1024);
    }
}

/* Pumps until PID (our child) exits and its output is drained (or a second passed since the
 * exit: a process that escaped the pid namespace may hold the output open): returns 1 with
 * its wait status in STATUS (-1 if it could not be had). With GRACE_MS >= 0, returns 0 if
 * it still runs after that long (not reaped). */
static int wait_and_pump(struct crt_pump *p, int pid, int grace_ms, int *status_out)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int status = -1, exited = 0, still_running = 0;
    long long deadline = 0;
    long long grace_end = grace_ms < 0 ? -1 : now_ns(CLOCK_MONOTONIC) + grace_ms * 1000000LL;
    struct route *routes = p->routes;
    int n_routes = p->n_routes;
    long long last_data = 0; /* CLOCK_MONOTONIC of the last round that moved output */
    /* without a pidfd the exit cannot be polled for: keep pumping (a container that fills its
     * pipe must not block on us while we block on it) and ask waitpid(WNOHANG) every 50 ms */
    struct pollfd fds[MAX_ROUTES + 3 + MAX_CLIENTS];
    struct route *index[MAX_ROUTES + 3 + MAX_CLIENTS];
    static struct route health_mark, listen_mark, client_mark[MAX_CLIENTS]; /* index entries that are not routes */
    for (;;) {
        int n = 0;
        if (!exited) {
            fds[n] = (struct pollfd){.fd = pidfd, .events = POLLIN};
            index[n++] = NULL;
        }
        if (!exited && attach_listen >= 0) {
            fds[n] = (struct pollfd){.fd = attach_listen, .events = POLLIN};
            index[n++] = &listen_mark;
            for (int c = 0; c < n_clients; c++) {
                fds[n] = (struct pollfd){.fd = clients[c], .events = POLLIN};
                index[n++] = &client_mark[c];
            }
        }
        int health_wait = -1; /* ms until the next probe is due */
        if (!exited && health_interval_ns > 0) {
            if (health_pid < 0 && now_ns(CLOCK_MONOTONIC) >= health_next_ns)
                start_probe();
            if (health_pidfd >= 0) {
                fds[n] = (struct pollfd){.fd = health_pidfd, .events = POLLIN};
                index[n++] = &health_mark;
            } else {
                long long left = (health_next_ns - now_ns(CLOCK_MONOTONIC)) / 1000000 + 1;
                health_wait = left < 0 ? 0 : left > 60000 ? 60000 : (int)left;
            }
        }
        int times_waiting = 0;
        long long now = now_ns(CLOCK_MONOTONIC);
        for (int i = 0; i < n_routes; i++) {
            if (times_due(&routes[i], now))
                flush_times(p, &routes[i]);
            times_waiting |= routes[i].times_len > 0;
            if (!routes[i].open || (exited && routes[i].input))
                continue;
            fds[n] = (struct pollfd){.fd = routes[i].src, .events = POLLIN};
            index[n++] = &routes[i];
        }
        if (!exited && pidfd < 0) {
            int rc;
            while ((rc = waitpid(pid, &status, WNOHANG)) < 0 && errno == EINTR)
                ;
            if (rc == pid || (rc < 0 && errno == ECHILD)) {
                exited = 1;
                deadline = now_ns(CLOCK_MONOTONIC) + 1000000000LL;
                continue;
            }
        }
        if (exited && (n == 0 || now_ns(CLOCK_MONOTONIC) > deadline))
            break;
        int timeout = exited || pidfd < 0 ? 50 : health_wait;
        if (health_wait >= 0 && timeout > health_wait)
            timeout = health_wait;
        if (times_waiting && (timeout < 0 || timeout > 1))
            timeout = 1; /* index lines wait at most a millisecond */
        if (!exited && grace_end >= 0) {
            long long left = grace_end - now_ns(CLOCK_MONOTONIC);
            if (left <= 0) {
                still_running = 1;
                break;
            }
            int left_ms = (int)((left + 999999) / 1000000);
            if (timeout < 0 || timeout > left_ms)
                timeout = left_ms;
        }
        if (poll(fds, (nfds_t)n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        size_t moved = 0;
        for (int i = 0; i < n; i++) {
            if (fds[i].revents == 0)
                continue;
            if (index[i] == &health_mark) {
                end_probe(0);
                continue;
            }
            if (index[i] == &listen_mark) {
                accept_client();
                continue;
            }
            if (index[i] >= client_mark && index[i] < client_mark + MAX_CLIENTS) {
                /* clients only leave the table from the end or by swapping: handle one per poll round */
                client_input((int)(index[i] - client_mark));
                break;
            }
            if (index[i] == NULL) {
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                    ;
                exited = 1;
                deadline = now_ns(CLOCK_MONOTONIC) + 1000000000LL;
                continue;
            }
            if (!index[i]->input)
                moved += pump(p, index[i]);
            else
                pump(p, index[i]);
        }
        if (moved > 0) {
            /* A burst (output in rounds less than a millisecond apart) in small chunks: let the
             * pipe fill for a moment, so that one round moves more and the container's writes
             * wake us less often (a copy per write would cost as much again as the copying). */
            long long now_data = now_ns(CLOCK_MONOTONIC);
            if (moved < 32 * 1024 && now_data - last_data < 1000000LL) {
                for (int i = 0; i < n_routes; i++)
                    grow_pipe(&routes[i]);
                nanosleep(&(struct timespec){.tv_nsec = 200000}, NULL);
            }
            last_data = now_data;
        }
    }
    for (int i = 0; i < n_routes; i++)
        flush_times(p, &routes[i]);
    if (pidfd >= 0)
        close(pidfd);
    if (still_running)
        return 0;
    end_probe(1); /* a probe of a container that is gone has nothing to find */
    close_attach(); /* attached clients see the end; they read the exit code from the state */
    *status_out = status;
    return 1;
}

/* ---- The same pump for managed code (IoPump.cs): a monitor's first 100 ms, exec's and
 * the OCI face's terminal relay, a health probe's wait. Errors: -1 with errno. ---- */

/* A pump for the container whose state dir is CONTAINER_DIR (ROOT/ID; NULL: no logs). */
struct crt_pump *crt_pump_new(const char *container_dir)
{
    struct crt_pump *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    if (container_dir != NULL && snprintf(p->dir, sizeof p->dir, "%s", container_dir) >= (int)sizeof p->dir) {
        free(p);
        errno = ENAMETOOLONG;
        return NULL;
    }
    const char *slash = strrchr(p->dir, '/');
    p->id = slash ? slash + 1 : p->dir;
    return p;
}

/* Output: SRC to SINK (-1: none) and, with LOG_NAME, to the log of that name in the state dir
 * (opened, or created, here; the pump owns it). Outputs come stdout first, then stderr. */
int crt_pump_add_output(struct crt_pump *p, int src, const char *log_name, int sink)
{
    struct route r = {.src = src, .sink = sink, .log = -1, .times = -1};
    if (log_name != NULL && p->dir[0] != 0) {
        char path[4096 + 256];
        if (snprintf(path, sizeof path, "%s/%s.times", p->dir, log_name) >= (int)sizeof path) {
            errno = ENAMETOOLONG;
            return -1;
        }
        /* no O_APPEND: splice(2) refuses such a file; we are its only writer, at its end */
        r.times = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
        path[strlen(path) - strlen(".times")] = 0;
        r.log = r.times < 0 ? -1 : open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
        if (r.log < 0 || lseek(r.times, 0, SEEK_END) < 0) {
            int saved = errno;
            if (r.times >= 0)
                close(r.times);
            if (r.log >= 0)
                close(r.log);
            errno = saved;
            return -1;
        }
    }
    if (add_route(p, &r) < 0) {
        int saved = errno;
        if (r.log >= 0) {
            close(r.log);
            close(r.times);
        }
        errno = saved;
        return -1;
    }
    return 0;
}

/* Input for the process: SRC to SINK while it lives. */
int crt_pump_add_input(struct crt_pump *p, int src, int sink)
{
    struct route r = {.input = 1, .src = src, .sink = sink, .log = -1, .times = -1};
    return add_route(p, &r);
}

/* Pumps until PID (our child) exits: 1 with its wait status, or 0 if it still runs after
 * GRACE_MS (-1: no limit). */
int crt_pump_run(struct crt_pump *p, int pid, int grace_ms, int *status)
{
    *status = -1;
    return wait_and_pump(p, pid, grace_ms, status);
}

/* Route I as `craterun _monitor-wait` takes it ("o:SRC:LOG:TIMES:SINK:STREAM", "i:SRC:SINK") in ARG,
 * STREAM kept (a stdout that ended before the hand-over must not make stderr stream 1 for attach),
 * its fds made inheritable for the exec: the length, or 0 for a route that is done. */
int crt_pump_hand_over(struct crt_pump *p, int i, char *arg, int size)
{
    if (i < 0 || i >= p->n_routes) {
        errno = EINVAL;
        return -1;
    }
    struct route *r = &p->routes[i];
    if (!r->open)
        return 0;
    int fds[4] = {r->src, r->log, r->times, r->sink};
    for (int f = 0; f < 4; f++)
        if (fds[f] >= 0 && fcntl(fds[f], F_SETFD, 0) < 0)
            return -1;
    int len = r->input ? snprintf(arg, (size_t)size, "i:%d:%d", r->src, r->sink)
                       : snprintf(arg, (size_t)size, "o:%d:%d:%d:%d:%d", r->src, r->log, r->times, r->sink, r->stream);
    if (len >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return len;
}

/* Closes the logs the pump opened (not the routes' SRC and SINK: the caller's) and frees it. */
void crt_pump_free(struct crt_pump *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->n_routes; i++) {
        struct route *r = &p->routes[i];
        flush_times(p, r);
        if (r->log >= 0) {
            close(r->log);
            if (r->times >= 0)
                close(r->times);
        }
    }
    free(p);
}

/* Whether the dynamic linker wrote into this object's read-only segments: text relocations
 * (DT_TEXTREL, or DF_TEXTREL in DT_FLAGS), which an old LD_PRELOAD library may carry. */
static int has_text_relocations(const struct dl_phdr_info *info)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_DYNAMIC)
            continue;
        const ElfW(Dyn) *d = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
        for (; d->d_tag != DT_NULL; d++)
            if (d->d_tag == DT_TEXTREL || (d->d_tag == DT_FLAGS && (d->d_un.d_val & DF_TEXTREL)))
                return 1;
    }
    return 0;
}

/* One loaded object's read-only segments (code and constants: never written, not even by the
 * dynamic linker's relocations, which touch only writable and RELRO segments, so their pages
 * are the file's own), whole pages only: a page shared with a writable neighbour stays. An
 * object with text relocations keeps its pages: dropping them would bring back the file's. */
static int drop_read_only_segments(struct dl_phdr_info *info, size_t size, void *page_size)
{
    (void)size;
    const uintptr_t page = (uintptr_t)page_size;
    if (strncmp(info->dlpi_name, "linux-vdso", 10) == 0 || has_text_relocations(info))
        return 0; /* the vdso is the kernel's own mapping, not a file's */
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
            continue;
        uintptr_t start = (info->dlpi_addr + ph->p_vaddr + page - 1) & ~(page - 1);
        uintptr_t end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(page - 1);
        if (end > start)
            (void)madvise((void *)start, end - start, MADV_DONTNEED);
    }
    return 0;
}

/* The waiting phase runs a few pages of this file and of libc, but the exec mapped far more:
 * the dynamic linker read every library (libm, which nothing here calls, included), and each
 * page fault maps its 64 KiB neighbourhood from the page cache (fault-around). Those pages are
 * the page cache's, shared, yet each one counts in this process's RSS for as long as the
 * container runs (about 1.9 of its 2.1 MiB, bench/many.sh). Unmapped here, only the pages the
 * loop then touches come back (a minor fault each, from the page cache: nothing is read from
 * disk and nothing written is lost, as these segments are never written). */
static void drop_loaded_code_pages(void)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page > 0)
        (void)dl_iterate_phdr(drop_read_only_segments, (void *)(uintptr_t)page);
}

static int monitor_wait(int argc, char **argv, char **envp)
{
    /* the signals the managed phase ignored stay ignored (SIGPIPE: a CLI that went away is
     * an EPIPE, not our death); nothing stays blocked */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_IGN);

    static struct crt_pump waiting;
    int pid;
    int ok = argc >= 5 && argc - 5 <= MAX_ROUTES + 1 && parse_int(argv[4], &pid) == 0 && pid > 0;
    for (int i = 5; ok && i < argc; i++) {
        if (argv[i][0] == 'a' && argv[i][1] == ':') { /* a:INPUT */
            ok = parse_int(argv[i] + 2, &attach_input) == 0;
            continue;
        }
        if (argv[i][0] == 'h' && argv[i][1] == ':') { /* h:INTERVAL-MS */
            char *end;
            long long ms = strtoll(argv[i] + 2, &end, 10);
            ok = *end == 0 && ms > 0;
            health_interval_ns = ms * 1000000LL;
            health_next_ns = now_ns(CLOCK_MONOTONIC) + health_interval_ns;
            continue;
        }
        struct route r;
        ok = parse_route(argv[i], &r) == 0 && add_route(&waiting, &r) == 0;
    }
    if (!ok || kill(pid, 0) < 0) {
        static const char usage[] = "craterun: _monitor-wait is started by a container's monitor: ROOT ID PID ROUTE...\n";
        (void)write(2, usage, sizeof usage - 1);
        return 125;
    }

    state_root = argv[2];
    container_id = argv[3];
    snprintf(waiting.dir, sizeof waiting.dir, "%s/%s", state_root, container_id);
    waiting.id = container_id;
    if (attach_input != -2)
        open_attach_socket();
    drop_loaded_code_pages(); /* last: after the set-up, whose code the loop needs no more */
    int status = -1;
    (void)wait_and_pump(&waiting, pid, -1, &status);
    for (int i = 0; i < waiting.n_routes; i++) {
        struct route *r = &waiting.routes[i];
        close(r->src);
        if (r->log >= 0)
            close(r->log);
        if (r->times >= 0)
            close(r->times);
    }

    char status_text[16];
    snprintf(status_text, sizeof status_text, "%d", status);
    char *exit_argv[] = {argv[0], "_monitor-exit", argv[2], argv[3], status_text, NULL};
    execve("/proc/self/exe", exit_argv, envp);
    /* the managed phase cannot run (the executable is gone): at least tell an attached CLI */
    char msg[16];
    int len = crt_exited_message(msg, sizeof msg, crt_exit_code(status));
    (void)send(3, msg, (size_t)len, MSG_NOSIGNAL);
    return 125;
}

/* The OCI face: invoked as craterun-oci or runc (a symlink), or as `craterun oci ...`. */
static int is_oci_face(int argc, char **argv)
{
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    return strcmp(base, "craterun-oci") == 0 || strcmp(base, "runc") == 0 || (argc >= 2 && strcmp(argv[1], "oci") == 0);
}

/* A copy of FD numbered 3 or above (a caller may have closed its stdio: 0-2 are not ours).
 * Also run_front.c's. */
int crt_above_stdio(int fd)
{
    if (fd > 2)
        return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return moved;
}

/* The monitor: this executable in a new session, stdio /dev/null, the control socket on
 * fd 3, default signal dispositions, nothing blocked. Returns 0 with its pid and our end of
 * the control socket, or -1 (errno set). Called from managed code (`start`, `restart`:
 * ContainerMonitor.Spawn). */
int crt_spawn_monitor(int *pid_out, int *fd_out)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    sv[0] = crt_above_stdio(sv[0]);
    sv[1] = crt_above_stdio(sv[1]);
    if (sv[0] < 0 || sv[1] < 0) {
        int saved = errno;
        if (sv[0] >= 0)
            close(sv[0]);
        if (sv[1] >= 0)
            close(sv[1]);
        errno = saved;
        return -1;
    }
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    for (int fd = 0; fd < 3; fd++)
        posix_spawn_file_actions_adddup2(&fa, devnull, fd);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
    sigset_t set;
    sigemptyset(&set);
    posix_spawnattr_setsigmask(&attr, &set);
    sigfillset(&set);
    posix_spawnattr_setsigdefault(&attr, &set);
    char *args[] = {"craterun", "_monitor", NULL};
    pid_t pid;
    int rc = devnull < 0 ? errno : posix_spawn(&pid, "/proc/self/exe", &fa, &attr, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(sv[1]);
    if (devnull >= 0)
        close(devnull);
    if (rc != 0) {
        close(sv[0]);
        errno = rc;
        return -1;
    }
    *pid_out = pid;
    *fd_out = sv[0];
    return 0;
}

/* Runs before main, so before the .NET runtime starts; for any other argv it returns at once. */
__attribute__((constructor)) static void monitor_entry(int argc, char **argv, char **envp)
{
    if (argc >= 2 && strcmp(argv[1], "_monitor-wait") == 0)
        _exit(monitor_wait(argc, argv, envp));
    if (argc == 4 && strcmp(argv[1], "_front") == 0) {
        /* `craterun start -a`, once it handed the container to a monitor: run_front.c */
        int code = crt_front(atoi(argv[2]), atoi(argv[3]));
        fflush(NULL);
        _exit(code);
    }
    /* a health check's probe execs into the container: from a sealed copy (sealed_exec.c) */
    if (argc == 4 && strcmp(argv[1], "_monitor-health") == 0)
        crt_reexec_sealed(argv, envp);
    int word = argc >= 2 ? crt_command_word(argc - 1, argv + 1) : -1;
    if (word < 0)
        return;
    const char *command = argv[1 + word];
    /* exec joins a running container: from a sealed copy, before the runtime starts (Program.cs) */
    if (strcmp(command, "exec") == 0)
        crt_reexec_sealed(argv, envp);
    /* the Docker-like face's `run` (DockerCli.cs); `run --help` is split too: its monitor prints
     * the help and ends, and the front exits with its status */
    if (strcmp(command, "run") == 0 && !is_oci_face(argc, argv))
        crt_run_front(); /* returns in the monitor, which runs all of `run` (run_front.c) */
}
