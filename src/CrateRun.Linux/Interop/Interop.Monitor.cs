using System.Runtime.InteropServices;

namespace CrateRun.Linux;

internal static partial class Interop
{
    /// <summary>Native/monitor.c: spawning a container's monitor (the same code `run` uses before .NET starts).</summary>
    internal static unsafe partial class Monitor
    {
        [LibraryImport("craterun_native", EntryPoint = "crt_spawn_monitor", SetLastError = true)]
        public static partial int crt_spawn_monitor(int* pid, int* fd);

        /// <summary>Native/initimage.c: run --init's init (init.c) as a sealed memfd; -1 with errno.</summary>
        [LibraryImport("craterun_native", EntryPoint = "crt_init_memfd", SetLastError = true)]
        public static partial int crt_init_memfd();
    }
}
