/*
 * A wait status as an exit code, as a shell gives it: 128 + the signal that ended the process,
 * else its exit status; 125 (a runtime error) for -1, a wait that failed.
 *
 * The only implementation. Header-only, with no libc, so that init.c (the freestanding PID 1 of
 * --init) uses it as monitor.c does; the managed code calls it through crt_exit_code
 * (monitor_messages.c, Processes.ExitCode).
 */
#ifndef CRATERUN_EXIT_CODE_H
#define CRATERUN_EXIT_CODE_H

static inline int crt_exit_code_of(int wait_status)
{
    if (wait_status == -1)
        return 125;
    int termsig = wait_status & 0x7f;
    if (termsig != 0 && termsig != 0x7f) /* WIFSIGNALED: killed, not exited nor stopped */
        return 128 + termsig;
    return (wait_status >> 8) & 0xff; /* WEXITSTATUS */
}

#endif
