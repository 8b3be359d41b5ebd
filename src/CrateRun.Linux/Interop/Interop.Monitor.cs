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
