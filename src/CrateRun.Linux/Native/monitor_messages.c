/*
 * What the C and the managed sides of the monitor share besides the message tags
 * (monitor_messages.h): a wait status turned into an exit code, and the one message monitor.c
 * sends itself. Linked into the executable; the unit tests build it as a shared library of its
 * own (libcraterun_native.so) to call the same code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exit_code.h"
#include "monitor_messages.h"

int crt_exit_code(int wait_status)
{
    return crt_exit_code_of(wait_status);
}

int crt_exited_message(char *buf, size_t size, int code)
{
    return snprintf(buf, size, "%c%c%d", CRT_MON_EXITED, CRT_MON_SEP_TO_CLI, code);
}

/* A decimal number from MIN to MAX at TEXT, which ends there or at a separator (*END). */
static int number(const char *text, const char **end, long min, long max, int *out)
{
    if (*text < '0' || *text > '9')
        return -1;
    char *e;
    long n = strtol(text, &e, 10);
    if (n < min || n > max || (*e != 0 && *e != CRT_MON_SEP_TO_CLI))
        return -1;
    *out = (int)n;
    *end = e;
    return 0;
}

static int flag(char c, char letter)
{
    return c == letter || c == CRT_MON_FLAG_UNSET;
}

int crt_decode_from_monitor(const char *text, int has_fd, struct crt_mon_message *m)
{
    const char *end;
    memset(m, 0, sizeof *m);
    m->kind = text[0];
    m->text = "";
    switch (text[0]) {
    case CRT_MON_TERMINAL:
        return text[1] == 0 && has_fd ? 0 : -1;
    case CRT_MON_STARTED:
        if (has_fd || text[1] != CRT_MON_SEP_TO_CLI || number(text + 2, &end, 1, 2147483647L, &m->number) != 0 || *end != CRT_MON_SEP_TO_CLI)
            return -1;
        end++;
        if (strlen(end) != 3 || !flag(end[0], CRT_MON_FLAG_INTERACTIVE) || !flag(end[1], CRT_MON_FLAG_DETACHED) || !flag(end[2], CRT_MON_FLAG_RESTARTS))
            return -1;
        memcpy(m->flags, end, 3);
        return 0;
    case CRT_MON_FAILED:
        if (has_fd || text[1] != CRT_MON_SEP_TO_CLI || number(text + 2, &end, 0, 255, &m->number) != 0)
            return -1;
        m->text = *end ? end + 1 : "";
        return 0;
    case CRT_MON_EXITED:
        return !has_fd && text[1] == CRT_MON_SEP_TO_CLI && number(text + 2, &end, 0, 255, &m->number) == 0 && *end == 0 ? 0 : -1;
    default:
        return -1;
    }
}
