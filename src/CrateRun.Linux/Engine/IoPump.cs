using System.Runtime.InteropServices;

namespace CrateRun.Linux.Engine;

/// <summary>
/// Copies bytes between fds with poll(2) until a child process exits: container output to
/// log files and the caller's terminal, the caller's input to the container. A monitor hands
/// the same routes to its C waiting phase (monitor.c) when the container outlives a grace period.
/// </summary>
public sealed unsafe class IoPump
{
    private sealed class Route(int src, LogFile? log, int sink, bool isInput)
    {
        public readonly int Src = src;
        public readonly LogFile? Log = log;
        public int Sink = sink; // -1 once the reader went away
        public readonly bool IsInput = isInput;
        public bool Open = true;
    }

    private readonly List<Route> _routes = [];
    private readonly byte[] _buffer = new byte[32 * 1024];

    /// <summary>Output of the process: read until end of stream, even after the process exited.</summary>
    public void AddOutput(int src, LogFile? log, int sink) => _routes.Add(new Route(src, log, sink, false));

    /// <summary>Input for the process: read while it lives.</summary>
    public void AddInput(int src, int sink) => _routes.Add(new Route(src, null, sink, true));

    /// <summary>
    /// Pumps until <paramref name="pid"/> (our child) exits and its output is drained; returns the
    /// wait status. With <paramref name="graceMs"/>, returns null if it still runs after that long.
    /// </summary>
    public int? RunUntilExit(int pid, int graceMs = -1)
    {
        var pidfdRaw = Interop.Sys.pidfd_open(pid, 0);
        using var pidfd = new SafeFd(Interop.Check(pidfdRaw, "pidfd_open", pid.ToString()));
        var status = -1;
        var exited = false;
        long drainDeadline = 0;
        var graceEnd = graceMs < 0 ? long.MaxValue : Environment.TickCount64 + graceMs;
        var fds = stackalloc Interop.Sys.PollFd[_routes.Count + 1];
        var index = new Route?[_routes.Count + 1];
        while (true)
        {
            var n = 0;
            if (!exited)
            {
                fds[n] = new Interop.Sys.PollFd { Fd = pidfd.Fd, Events = Interop.Sys.POLLIN };
                index[n++] = null;
            }
            foreach (var r in _routes)
            {
                if (!r.Open || (exited && r.IsInput)) continue;
                fds[n] = new Interop.Sys.PollFd { Fd = r.Src, Events = Interop.Sys.POLLIN };
                index[n++] = r;
            }
            if (exited && (n == 0 || Environment.TickCount64 > drainDeadline)) return status;
            var timeout = exited ? 50 : graceEnd == long.MaxValue ? -1 : (int)Math.Max(0, graceEnd - Environment.TickCount64);
            if (!exited && timeout == 0) return null;
            var rc = Interop.Sys.poll(fds, (nuint)n, timeout);
            if (rc < 0)
            {
                if (Marshal.GetLastPInvokeError() == Interop.EINTR) continue;
                throw new SyscallException("poll", null, Marshal.GetLastPInvokeError());
            }
            for (var i = 0; i < n; i++)
            {
                if (fds[i].REvents == 0) continue;
                if (index[i] is not { } route)
                {
                    status = Process.Launcher.Reap(pid);
                    exited = true;
                    // whatever still holds the output open (a process that escaped the pid namespace) gets a second
                    drainDeadline = Environment.TickCount64 + 1000;
                    continue;
                }
                Pump(route);
            }
        }
    }

    /// <summary>
    /// The open routes as monitor.c takes them: "o:SRC:LOG:TIMES:SINK" and "i:SRC:SINK"; every
    /// fd named is made inheritable, as they must survive the exec.
    /// </summary>
    public List<string> HandOver()
    {
        var list = new List<string>();
        foreach (var r in _routes.Where(r => r.Open))
        {
            int[] fds = r.IsInput ? [r.Src, r.Sink] : [r.Src, r.Log?.LogFd ?? -1, r.Log?.TimesFd ?? -1, r.Sink];
            foreach (var fd in fds.Where(f => f >= 0))
                Interop.Check(Interop.Sys.fcntl(fd, Interop.Sys.F_SETFD, 0), "fcntl(F_SETFD)", fd.ToString());
            list.Add((r.IsInput ? "i:" : "o:") + string.Join(':', fds));
        }
        return list;
    }

    private void Pump(Route r)
    {
        fixed (byte* p = _buffer)
        {
            var n = Interop.Sys.read(r.Src, p, _buffer.Length);
            if (n < 0 && Marshal.GetLastPInvokeError() is Interop.EINTR or Interop.EAGAIN) return;
            if (n <= 0) { r.Open = false; return; } // EOF, or EIO from a pty whose other side closed
            var data = new ReadOnlySpan<byte>(p, (int)n);
            r.Log?.Write(data);
            if (r.Sink >= 0 && !WriteAll(r.Sink, data)) r.Sink = -1;
        }
    }

    /// <summary>Writes all of it; false at the first error (e.g. the reader went away).</summary>
    private static bool WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            var off = 0;
            while (off < data.Length)
            {
                var n = Interop.Sys.write(fd, p + off, data.Length - off);
                if (n < 0 && Marshal.GetLastPInvokeError() == Interop.EINTR) continue;
                if (n <= 0) return false;
                off += (int)n;
            }
            return true;
        }
    }
}
