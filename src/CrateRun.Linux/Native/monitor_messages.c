/*
 * What the C and the managed sides of the monitor share besides the message tags
 * (monitor_messages.h): a wait status turned into an exit code, and the one message monitor.c
 * sends itself. Linked into the executable; the unit tests build it as a shared library of its
 * own (libcraterun_native.so) to call the same code.
 */
#include <stdio.h>

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
