/*
 * init.c - `craterun run --init`: the container's PID 1 when the user's program should not
 * be. A program written to be an ordinary process neither reaps the orphans that the kernel
 * hands to PID 1 (they stay zombies) nor gets signals it has no handler for (the kernel drops
 * those for a namespace's init). This init, like Docker's (tini), starts the command as its
 * only child, passes on every signal it receives, reaps every child, and exits with the
 * command's status (128+N when a signal N ended it).
 *
 * Static, no libc (like the hello-world image): it runs inside any rootfs. The bytes are
 * linked into craterun (initimage.c) and executed from a sealed memfd (execveat in
 * launch.c), so nothing is mounted into or written to the container's root.
 *
 *   craterun-init -- CMD [ARG...]      (CMD is looked up in PATH, as execvp does)
 */
#include <stddef.h>
#include <sys/syscall.h>

#include "exit_code.h"

#define SIGKILL_ 9
#define SIGCHLD_ 17
#define SIGSTOP_ 19
#define SIG_SETMASK_ 2
#define WNOHANG_ 1
#define TIOCSPGRP_ 0x5410
#define ENOENT_ 2
#define EINTR_ 4
#define EAGAIN_ 11
#define EACCES_ 13

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return ret;
}
#define sys3(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(n, a, b, c, d) sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

static size_t len(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static void say(const char *a, const char *b, const char *c)
{
    sys3(SYS_write, 2, a, len(a));
    sys3(SYS_write, 2, b, len(b));
    sys3(SYS_write, 2, c, len(c));
}

static __attribute__((noreturn)) void leave(int code)
{
    for (;;)
        sys3(SYS_exit_group, code, 0, 0);
}

static const char *path_of(char **envp)
{
    for (; *envp; envp++) {
        const char *e = *envp;
        if (e[0] == 'P' && e[1] == 'A' && e[2] == 'T' && e[3] == 'H' && e[4] == '=')
            return e + 5;
    }
    return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

/* execvp's lookup: a name with a '/' as it is, else each PATH entry in turn. Returns the errno. */
static long exec_command(char **argv, char **envp)
{
    const char *name = argv[0];
    for (const char *p = name; *p; p++)
        if (*p == '/')
            return -sys3(SYS_execve, name, argv, envp);
    static char buf[4096];
    long err = ENOENT_;
    const char *dirs = path_of(envp);
    while (1) {
        size_t n = 0;
        while (dirs[n] && dirs[n] != ':')
            n++;
        size_t nl = len(name);
        if (n + 1 + nl < sizeof buf) {
            size_t at = 0;
            for (size_t i = 0; i < n; i++)
                buf[at++] = dirs[i];
            if (n == 0)
                buf[at++] = '.';
            buf[at++] = '/';
            for (size_t i = 0; i <= nl; i++)
                buf[at++] = name[i];
            long e = -sys3(SYS_execve, buf, argv, envp);
            if (e == EACCES_)
                err = e; /* found but not runnable: say so, unless a later entry runs */
            else if (e != ENOENT_ && e != 20 /* ENOTDIR */)
                return e;
        }
        if (!dirs[n])
            return err;
        dirs += n + 1;
    }
}

/* The command, in a process group of its own that owns the terminal (if there is one), so
 * that ^C reaches it once, from the terminal, and not a second time through us. */
static __attribute__((noreturn)) void run_command(char **argv, char **envp, const unsigned long *mask)
{
    sys3(SYS_setpgid, 0, 0, 0);
    long pgrp = sys3(SYS_getpid, 0, 0, 0);
    sys3(SYS_ioctl, 0, TIOCSPGRP_, &pgrp); /* fails harmlessly without a terminal */
    sys4(SYS_rt_sigprocmask, SIG_SETMASK_, mask, 0, sizeof *mask);
    long err = exec_command(argv, envp);
    say("craterun-init: exec ", argv[0], err == ENOENT_ ? ": no such file or directory in $PATH\n" : ": permission denied or not executable\n");
    leave(err == ENOENT_ ? 127 : 126);
}

__attribute__((used)) void init_main(long *sp)
{
    int argc = (int)sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    int first = argc > 1 && argv[1][0] == '-' && argv[1][1] == '-' && argv[1][2] == 0 ? 2 : 1;
    if (first >= argc) {
        say("craterun-init: no command: craterun-init -- CMD [ARG...]", "", "\n");
        leave(125);
    }

    /* named for ps (an execveat of a memfd would show the fd's number) */
    sys3(SYS_prctl, 15 /* PR_SET_NAME */, "craterun-init", 0);

    /* Every signal waits in the queue for sigtimedwait below: a blocked signal is never
     * dropped, even one the kernel would otherwise not deliver to a namespace's init. */
    unsigned long all = ~0UL, before = 0;
    sys4(SYS_rt_sigprocmask, SIG_SETMASK_, &all, &before, sizeof all);
    long child = sys3(SYS_fork, 0, 0, 0);
    if (child < 0) {
        say("craterun-init: fork failed", "", "\n");
        leave(125);
    }
    if (child == 0)
        run_command(argv + first, envp, &before);

    unsigned char info[128];
    for (;;) {
        long sig = sys4(SYS_rt_sigtimedwait, &all, info, 0, sizeof all);
        if (sig < 0)
            continue; /* EINTR, EAGAIN: wait again */
        if (sig != SIGCHLD_) {
            if (sig != SIGKILL_ && sig != SIGSTOP_)
                sys3(SYS_kill, child, sig, 0);
            continue;
        }
        /* reap every child that ended: the command, and the orphans handed to PID 1 */
        for (;;) {
            int status = 0;
            long pid = sys4(SYS_wait4, -1, &status, WNOHANG_, 0);
            if (pid <= 0)
                break;
            if (pid == child)
                leave(crt_exit_code_of(status));
        }
    }
}

__asm__(".text\n"
        ".global _start\n"
        "_start:\n"
        "  xor %rbp, %rbp\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call init_main\n"
        "  hlt\n");
