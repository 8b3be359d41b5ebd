/*
 * The messages between `craterun run` / `craterun start` (the CLI) and a container's monitor,
 * on the monitor's control socket (its fd 3; SOCK_SEQPACKET, one message per packet). Each is
 * text: its first byte says what it is, its fields follow, each after a separator.
 *
 * Defined here for monitor.c and in Engine/MonitorMessage.cs for the managed sides;
 * MonitorMessageTests (tests/CrateRun.Core.Tests) checks that the two agree.
 */
#ifndef CRATERUN_MONITOR_MESSAGES_H
#define CRATERUN_MONITOR_MESSAGES_H

#include <stddef.h>

/* CLI -> monitor, in this order, before the container exists */
#define CRT_MON_EXPLAIN      'V'  /* V\tFORMAT, with the fd the explanation goes to (run --explain) */
#define CRT_MON_ASSIGN_STDIO 'F'  /* F0, F1 or F2, with the fd the monitor makes its stdin, stdout or stderr */
#define CRT_MON_CONTAINER    'C'  /* C\tROOT\tID\tFLAGS\tCGROUPS-PATH: the container to create, start and watch */

/* monitor -> CLI */
#define CRT_MON_TERMINAL     'P'  /* P, with the container's pty master (-t) */
#define CRT_MON_STARTED      'S'  /* S PID FLAGS: the container runs (FLAGS below) */
#define CRT_MON_FAILED       'E'  /* E CODE MESSAGE: it did not start; exit with CODE, say MESSAGE */
#define CRT_MON_EXITED       'X'  /* X CODE: it exited, and CODE is run's exit code */

/* Between the fields: a tab in the CLI's messages (they carry paths), a space in the monitor's. */
#define CRT_MON_SEP_TO_MONITOR '\t'
#define CRT_MON_SEP_TO_CLI     ' '

/* FLAGS of C: three characters, each its letter or '-' */
#define CRT_MON_FLAG_INTERACTIVE 'i'
#define CRT_MON_FLAG_TTY         't'
#define CRT_MON_FLAG_DETACHED    'd'  /* run -d: the CLI's stdin is not the container's; attach types into it */
#define CRT_MON_FLAG_UNSET       '-'

/* FLAGS of S, for the CLI's front (run_front.c): three characters, each its letter or '-' */
#define CRT_MON_FLAG_RESTARTS    'r'  /* third: the monitor outlives this exit (a restart policy) */
/* first 'i': the container reads the CLI's terminal (raw while it runs, with a pty);
 * second 'd': detached, the CLI is done once it runs */

/* A wait status as an exit code (exit_code.h), for the managed code (Processes.ExitCode). */
int crt_exit_code(int wait_status);

/* Writes the exited message for CODE (X CODE) into BUF; returns its length, as snprintf. */
int crt_exited_message(char *buf, size_t size, int code);

/* A message from the monitor to the CLI (P, S, E, X), decoded. */
struct crt_mon_message {
    char kind;        /* CRT_MON_TERMINAL, _STARTED, _FAILED or _EXITED */
    int number;       /* S: the PID; E, X: the exit code */
    char flags[4];    /* S: FLAGS */
    const char *text; /* E: the MESSAGE (in the decoded text); else "" */
};

/* Decodes TEXT (NUL-terminated), which came with an fd if HAS_FD: 0, or -1 if it is no message
 * from the monitor (the managed MonitorMessage.Decode takes the same ones; MonitorMessageTests). */
int crt_decode_from_monitor(const char *text, int has_fd, struct crt_mon_message *m);

#endif
