using System.Runtime.InteropServices;
using System.Text;

namespace CrateRun.Linux.Engine;

/// <summary>
/// Copies bytes between fds until a child process exits: container output to its log files
/// (NAME and NAME.times, see <see cref="LogFile"/>) and the caller's terminal, the caller's input
/// to the container. The copying is monitor.c's (crt_pump_*), the same code a monitor's C
/// waiting phase runs when it takes over after a grace period (<see cref="HandOver"/>), so the
/// log format and what a full disk does exist once.
/// </summary>
public sealed unsafe class IoPump : IDisposable
{
    private readonly Interop.PumpHandle _pump;
    private int _routes;

    /// <param name="containerDir">The container's state dir (ROOT/ID), where the logs go; null: no logs.</param>
    public IoPump(string? containerDir = null)
    {
        _pump = Interop.Monitor.crt_pump_new(containerDir);
        if (_pump.IsInvalid) throw new SyscallException("crt_pump_new", containerDir, Marshal.GetLastPInvokeError());
    }

    /// <summary>
    /// Output of the process, read until end of stream (even after the process exited), to
    /// <paramref name="sink"/> (-1: none) and, with <paramref name="log"/> (stdout.log, stderr.log),
    /// to that log in the container's dir, opened (or created) now. Stdout first, then stderr.
    /// </summary>
    public void AddOutput(int src, int sink, string? log = null)
    {
        Interop.Check(Interop.Monitor.crt_pump_add_output(_pump, src, log, sink), "open", log);
        _routes++;
    }

    /// <summary>Input for the process: read while it lives.</summary>
    public void AddInput(int src, int sink)
    {
        Interop.Check(Interop.Monitor.crt_pump_add_input(_pump, src, sink), "crt_pump_add_input");
        _routes++;
    }

    /// <summary>
    /// Pumps until <paramref name="pid"/> (our child) exits and its output is drained; returns the
    /// wait status. With <paramref name="graceMs"/>, returns null if it still runs after that long.
    /// </summary>
    public int? RunUntilExit(int pid, int graceMs = -1)
    {
        int status;
        return Interop.Monitor.crt_pump_run(_pump, pid, graceMs, &status) == 1 ? status : null;
    }

    /// <summary>
    /// The open routes as monitor.c's waiting phase takes them: "o:SRC:LOG:TIMES:SINK:STREAM" and
    /// "i:SRC:SINK"; every fd named is made inheritable, as they must survive the exec.
    /// </summary>
    public List<string> HandOver()
    {
        var list = new List<string>();
        var arg = stackalloc byte[64];
        for (var i = 0; i < _routes; i++)
        {
            var len = Interop.Check(Interop.Monitor.crt_pump_hand_over(_pump, i, arg, 64), "fcntl(F_SETFD)", "route " + i);
            if (len > 0) list.Add(Encoding.ASCII.GetString(arg, len));
        }
        return list;
    }

    /// <summary>Closes the logs (not the routes' fds: the caller's).</summary>
    public void Dispose() => _pump.Dispose();
}
