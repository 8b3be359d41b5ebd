/*
 * The front of `craterun run`: the process the user's shell and terminal see, in C, without
 * the .NET runtime. It is why a `run` starts the .NET runtime once, not twice.
 *
 * For `craterun run ...` a constructor (monitor.c) calls crt_run_front before the runtime
 * starts. It forks: the child becomes the container's monitor, in a session of its own, with
 * the control socket on fd 3, and returns into the .NET runtime, where it runs all of `run`
 * in one process -- the flags, the config, create, start, the waiting (RunFlow.cs,
 * ContainerMonitor.cs). The parent stays here (crt_front) and acts on the monitor's word
 * (monitor_messages.h):
 *   P  (-t) the container's pty master: its size follows our terminal's (now, and on SIGWINCH)
 *   S  PID FLAGS: it runs. 'd': we are done (run -d; the monitor printed the id): exit 0.
 *      Else SIGINT, SIGTERM, SIGHUP and SIGQUIT go to PID, and with 'i' and a pty our terminal
 *      is raw until the end
 *   E  CODE MESSAGE: it did not start: say MESSAGE, exit CODE
 *   X  CODE: it exited: exit CODE (once the monitor is gone, unless 'r': it restarts it)
 * A monitor that ends without a word was only the CLI (a usage error, --help): its own exit
 * status is ours. `craterun start -a` becomes the same front (`craterun _front FD PID`, an
 * exec, so that the monitor it spawned stays its child).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "monitor_messages.h"

int crt_front(int sock, pid_t monitor);
void crt_run_front(void);
int crt_above_stdio(int fd);

/* The container's pid once it runs: where the forwarded signals go (0 before). */
static volatile sig_atomic_t container_pid;
/* -t: the container's pty master, and the terminal whose size it follows. */
static int master_fd = -1, size_from = -1;
static struct termios saved_termios;
static int terminal_raw;

static void forward_signal(int sig)
{
    if (container_pid > 0)
        kill(container_pid, sig);
}

static void copy_window_size(void)
{
    struct winsize ws;
    if (master_fd >= 0 && ioctl(size_from, TIOCGWINSZ, &ws) == 0)
        ioctl(master_fd, TIOCSWINSZ, &ws);
}

static void on_window_change(int sig)
{
    (void)sig;
    int saved = errno;
    copy_window_size();
    errno = saved;
}

static void handle(int sig, void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void make_terminal_raw(void)
{
    if (!isatty(0) || tcgetattr(0, &saved_termios) != 0)
        return;
    struct termios raw = saved_termios;
    cfmakeraw(&raw);
    terminal_raw = tcsetattr(0, TCSANOW, &raw) == 0;
}

static void restore_terminal(void)
{
    if (terminal_raw)
        tcsetattr(0, TCSANOW, &saved_termios);
    terminal_raw = 0;
}

/* One message (NUL-terminated in BUF) and the fd it carried (-1 if none). 0 at EOF, -1 on error. */
static ssize_t receive(int sock, char *buf, size_t size, int *fd)
{
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = buf, .iov_len = size - 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    *fd = -1;
    if (n < 0)
        return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(fd, CMSG_DATA(c), sizeof(int));
    buf[n] = 0;
    return n;
}

/* Waits for the monitor to end: its wait status, or -1. */
static int reap(pid_t monitor)
{
    int status;
    while (waitpid(monitor, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}

/* The monitor ended (wait STATUS) without telling how the container did: one line, exit 125. */
static int monitor_lost(pid_t monitor, int status)
{
    if (status != -1 && WIFSIGNALED(status))
        fprintf(stderr, "craterun: the container's monitor (pid %d) exited unexpectedly (signal %d)\n", (int)monitor, WTERMSIG(status));
    else
        fprintf(stderr, "craterun: the container's monitor (pid %d) exited unexpectedly\n", (int)monitor);
    return 125;
}

/* The loop described at the top: returns the exit code of `craterun run`. */
int crt_front(int sock, pid_t monitor)
{
    char buf[4096];
    int started = 0, reap_at_exit = 1;
    for (;;) {
        int fd;
        ssize_t n = receive(sock, buf, sizeof buf, &fd);
        if (n <= 0) {
            restore_terminal();
            int status = reap(monitor);
            /* before S it was only the CLI, and said why itself: its exit status is ours */
            if (!started && status != -1 && WIFEXITED(status))
                return WEXITSTATUS(status);
            return monitor_lost(monitor, status);
        }
        struct crt_mon_message m;
        if (crt_decode_from_monitor(buf, fd >= 0, &m) != 0) {
            if (fd >= 0)
                close(fd);
            restore_terminal();
            fprintf(stderr, "craterun: a message on the monitor's control socket that craterun does not understand: \"%.80s\"\n", buf);
            return 125;
        }
        switch (m.kind) {
        case CRT_MON_TERMINAL:
            if (master_fd < 0)
                master_fd = fd;
            else
                close(fd); /* a pty master again (a restart): the first one is the one in use */
            break;
        case CRT_MON_STARTED:
            if (m.flags[1] == CRT_MON_FLAG_DETACHED)
                return 0;
            started = 1;
            container_pid = m.number;
            handle(SIGINT, forward_signal);
            handle(SIGTERM, forward_signal);
            handle(SIGHUP, forward_signal);
            handle(SIGQUIT, forward_signal);
            if (master_fd >= 0) {
                size_from = isatty(0) ? 0 : 1;
                copy_window_size();
                handle(SIGWINCH, on_window_change);
                if (m.flags[0] == CRT_MON_FLAG_INTERACTIVE)
                    make_terminal_raw();
            }
            if (m.flags[2] == CRT_MON_FLAG_RESTARTS)
                reap_at_exit = 0; /* it stays after the exit, to run the container again: not ours to wait for */
            break;
        case CRT_MON_FAILED:
            restore_terminal();
            fprintf(stderr, "craterun: %s\n", m.text[0] ? m.text : "container failed to start");
            (void)reap(monitor);
            return m.number;
        case CRT_MON_EXITED:
            restore_terminal();
            if (reap_at_exit)
                (void)reap(monitor);
            return m.number;
        }
    }
}

/* A new session for the monitor, and a clean signal state: nothing blocked, nothing ignored.
 * A stdio the caller closed is /dev/null: the runtime's own fds must never take 0-2, which the
 * monitor hands on or replaces (a -i container's stdin, /dev/null for the rest). */
static void become_monitor(int control)
{
    setsid();
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0) {
            int null = open("/dev/null", O_RDWR);
            if (null >= 0 && null != fd) {
                dup2(null, fd);
                close(null);
            }
        }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
            signal(sig, SIG_DFL);
    }
    if (control != 3) {
        dup2(control, 3); /* dup2 leaves fd 3 without close-on-exec: it survives the monitor's execs */
        close(control);
    } else {
        fcntl(3, F_SETFD, 0);
    }
}

/* Called by monitor.c's constructor for `craterun run`: returns in the monitor (with
 * CRATERUN_FRONT set, DockerCli.cs), never in the front. If it cannot fork, it returns without
 * CRATERUN_FRONT and `run` says so. */
void crt_run_front(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return;
    sv[0] = crt_above_stdio(sv[0]); /* monitor.c */
    sv[1] = crt_above_stdio(sv[1]);
    if (sv[0] < 0 || sv[1] < 0) {
        if (sv[0] >= 0)
            close(sv[0]);
        if (sv[1] >= 0)
            close(sv[1]);
        return;
    }
    /* the front waits for the monitor: a caller that ignores SIGCHLD would have it reaped unseen */
    signal(SIGCHLD, SIG_DFL);
    pid_t front = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return;
    }
    if (pid == 0) {
        close(sv[0]);
        become_monitor(sv[1]);
        char value[16];
        snprintf(value, sizeof value, "%d", (int)front);
        setenv("CRATERUN_FRONT", value, 1);
        return;
    }
    close(sv[1]);
    int code = crt_front(sv[0], pid);
    fflush(NULL);
    _exit(code);
}
