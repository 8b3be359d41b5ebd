/*
 * userns.c - rootless: a process of this binary in a new user namespace whose id maps the
 * runtime writes (with newuidmap and newgidmap: the user's uid as 0, its subordinate range
 * as 1..N). It does what only a process with the subordinate ids can: give an unpacked image
 * layer the owners its tar named, and remove trees holding files of those owners
 * (SubordinateOwners.cs). podman does the same through its re-exec in the rootless namespace.
 *
 * The caller is a multi-threaded .NET process: between clone and execve the child makes raw
 * system calls only (no malloc, no stdio, no glibc wrapper that talks to other threads).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The kernel's struct sigaction (rt_sigaction), all zero: SIG_DFL, no flags, empty mask. */
struct kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

static _Noreturn void userns_child(const char *exe, char *const argv[], char *const envp[], int go_read, int go_write)
{
    /* our copy of the write end goes first: the read sees EOF when the runtime gives up */
    syscall(SYS_close, go_write);
    char go;
    if (syscall(SYS_read, go_read, &go, 1) != 1)
        syscall(SYS_exit_group, 125);
    syscall(SYS_close, go_read);
    /* the maps are written: become root of the namespace, without the host's extra groups
     * (newgidmap leaves setgroups allowed when a subordinate range is mapped) */
    if (syscall(SYS_setresgid, 0, 0, 0) < 0 || syscall(SYS_setresuid, 0, 0, 0) < 0)
        syscall(SYS_exit_group, 125);
    (void)syscall(SYS_setgroups, 0, NULL);
    /* nothing of the runtime's signal handling may reach the new program */
    struct kernel_sigaction dfl = {0};
    for (int sig = 1; sig < 65; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(uint64_t));
    uint64_t none = 0;
    (void)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
    syscall(SYS_execve, exe, argv, envp);
    syscall(SYS_exit_group, 127);
    __builtin_unreachable();
}

/* The child's pid, or -errno. It waits until the caller writes one byte to go_write (after its
 * maps), and exits with 125 if the caller closes it without. */
int crt_spawn_in_userns(const char *exe, char *const argv[], char *const envp[], int go_read, int go_write);
int crt_spawn_in_userns(const char *exe, char *const argv[], char *const envp[], int go_read, int go_write)
{
    /* every signal blocked across clone: no handler of the runtime runs in the child */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /* forked without a new stack, like fork(): the child has a copy of our memory */
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0)
        userns_child(exe, argv, envp, go_read, go_write);
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pid < 0 ? -err : (int)pid;
}
