/* What the command line asks for, read the same way before the .NET runtime starts (monitor.c's
 * constructor) and after (Program.cs, through a P/Invoke): one reading, in C. */
#ifndef CRATERUN_COMMAND_LINE_H
#define CRATERUN_COMMAND_LINE_H

/* The index in ARGS (argv without the program name, COUNT words) of the subcommand: the first
 * word that is neither an option nor the value of a global option that takes one (--root,
 * --log, --log-format, --criu, --rootless; "--opt=value" is one word), after a leading "oci"
 * (the OCI face's own command follows it); after "--", the word that follows. -1: none. */
int crt_command_word(int count, char *const *args);

#endif
