using System.Runtime.InteropServices;

namespace CrateRun.Linux;

internal static partial class Interop
{
    /// <summary>Native/monitor.c: spawning a container's monitor (the same code `run` uses before .NET starts).</summary>
    internal static unsafe partial class Monitor
    {
        [LibraryImport("craterun_native", EntryPoint = "crt_spawn_monitor", SetLastError = true)]
        public static partial int crt_spawn_monitor(int* pid, int* fd);

        /// <summary>Native/monitor_messages.c: a wait status as a shell's exit code (-1: 125), for monitor.c and the managed code alike.</summary>
        [LibraryImport("craterun_native", EntryPoint = "crt_exit_code")]
        public static partial int crt_exit_code(int waitStatus);

        /// <summary>Native/monitor_messages.c: the exited message monitor.c sends when the managed exit phase cannot run; its length.</summary>
        [LibraryImport("craterun_native", EntryPoint = "crt_exited_message")]
        public static partial int crt_exited_message(byte* buffer, nuint size, int code);

        /// <summary>Native/initimage.c: run --init's init (init.c) as a sealed memfd; -1 with errno.</summary>
        [LibraryImport("craterun_native", EntryPoint = "crt_init_memfd", SetLastError = true)]
        public static partial int crt_init_memfd();
    }
}
