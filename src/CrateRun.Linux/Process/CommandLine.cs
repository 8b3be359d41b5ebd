namespace CrateRun.Linux.Process;

/// <summary>What a command line asks for, read by Native/command_line.c: the same reading the constructor makes before the runtime starts.</summary>
public static unsafe class CommandLine
{
    /// <summary>
    /// The subcommand: the first word that is neither an option nor a global option's value (--root, --log,
    /// --log-format, --criu, --rootless), after a leading "oci"; after "--", the next word. Null when there is none.
    /// </summary>
    public static string? CommandWord(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0) return null;
        using var arena = new NativeArenaHandle();
        var i = Interop.Monitor.crt_command_word(args.Length, arena.StrArray(args));
        return i < 0 ? null : args[i];
    }
}
