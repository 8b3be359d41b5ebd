/* The subcommand of a command line: see command_line.h. */
#define _GNU_SOURCE
#include <string.h>

#include "command_line.h"

/* Global options of either face that take a value: the word after them is not the command. */
static const char *const global_options_with_value[] = {"--root", "--log", "--log-format", "--criu", "--rootless"};

static int takes_value(const char *option)
{
    if (strchr(option, '=') != NULL)
        return 0;
    for (size_t i = 0; i < sizeof global_options_with_value / sizeof global_options_with_value[0]; i++)
        if (strcmp(option, global_options_with_value[i]) == 0)
            return 1;
    return 0;
}

int crt_command_word(int count, char *const *args)
{
    for (int i = 0; i < count; i++) {
        const char *a = args[i];
        if (strcmp(a, "--") == 0)
            return i + 1 < count ? i + 1 : -1;
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (i == 0 && strcmp(a, "oci") == 0)
                continue;
            return i;
        }
        if (takes_value(a))
            i++;
    }
    return -1;
}
