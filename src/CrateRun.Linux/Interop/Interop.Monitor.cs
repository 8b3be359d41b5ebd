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

        /// <summary>Native/command_line.c: the index in ARGS of the subcommand, -1 if none (the constructor reads argv the same way).</summary>
        [LibraryImport("craterun_native", EntryPoint = "crt_command_word")]
        public static partial int crt_command_word(int count, byte** args);

        /// <summary>Native/initimage.c: run --init's init (init.c) as a sealed memfd; -1 with errno.</summary>
        [LibraryImport("craterun_native", EntryPoint = "crt_init_memfd", SetLastError = true)]
        public static partial int crt_init_memfd();

        // Native/monitor.c: the one pump of container output and input, its log format and its
        // full-disk handling (IoPump.cs); the monitor's C waiting phase runs the same code.

        [LibraryImport("craterun_native", EntryPoint = "crt_pump_new", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial PumpHandle crt_pump_new(string? containerDir);

        [LibraryImport("craterun_native", EntryPoint = "crt_pump_add_output", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int crt_pump_add_output(PumpHandle pump, int src, string? logName, int sink);

        [LibraryImport("craterun_native", EntryPoint = "crt_pump_add_input", SetLastError = true)]
        public static partial int crt_pump_add_input(PumpHandle pump, int src, int sink);

        [LibraryImport("craterun_native", EntryPoint = "crt_pump_run", SetLastError = true)]
        public static partial int crt_pump_run(PumpHandle pump, int pid, int graceMs, int* status);

        [LibraryImport("craterun_native", EntryPoint = "crt_pump_hand_over", SetLastError = true)]
        public static partial int crt_pump_hand_over(PumpHandle pump, int route, byte* arg, int size);

        [LibraryImport("craterun_native", EntryPoint = "crt_pump_free")]
        public static partial void crt_pump_free(nint pump);
    }

    /// <summary>A <c>struct crt_pump</c> of monitor.c, freed (with the logs it opened) exactly once.</summary>
    internal sealed class PumpHandle : SafeHandle
    {
        public PumpHandle() : base(0, ownsHandle: true) { }
        public override bool IsInvalid => handle == 0;
        protected override bool ReleaseHandle()
        {
            Monitor.crt_pump_free(handle);
            return true;
        }
    }
}
