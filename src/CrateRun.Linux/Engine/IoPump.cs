using System.Runtime.InteropServices;

namespace CrateRun.Linux.Engine;

/// <summary>
/// Copies bytes between fds with poll(2) until a child process exits: container output to
/// log files and the caller's terminal, the caller's input to the container.
/// </summary>
public sealed unsafe class IoPump
{
    private sealed class Route(int src, List<ISink> sinks, bool isInput)
    {
        public int Src = src;
        public readonly List<ISink> Sinks = sinks;
        public readonly bool IsInput = isInput;
        public bool Open = true;
    }

    /// <summary>Somewhere bytes go.</summary>
    public interface ISink
    {
        void Write(ReadOnlySpan<byte> data);
    }

    /// <summary>An fd, given up on at the first error (e.g. the reader went away).</summary>
    public sealed class FdSink(int fd) : ISink
    {
        private bool _broken;

        public void Write(ReadOnlySpan<byte> data)
        {
            if (_broken) return;
            fixed (byte* p = data)
            {
                var off = 0;
                while (off < data.Length)
                {
                    var n = Interop.Sys.write(fd, p + off, data.Length - off);
                    if (n < 0 && Marshal.GetLastPInvokeError() == Interop.EINTR) continue;
                    if (n <= 0) { _broken = true; return; }
                    off += (int)n;
                }
            }
        }
    }

    private readonly List<Route> _routes = [];
    private readonly byte[] _buffer = new byte[32 * 1024];

    /// <summary>Output of the process: read until end of stream, even after the process exited.</summary>
    public void AddOutput(int src, params ISink[] sinks) => _routes.Add(new Route(src, [.. sinks], false));

    /// <summary>Input for the process: read while it lives.</summary>
    public void AddInput(int src, params ISink[] sinks) => _routes.Add(new Route(src, [.. sinks], true));

    /// <summary>Pumps until <paramref name="pid"/> (our child) exits and its output is drained; returns the wait status.</summary>
    public int RunUntilExit(int pid)
    {
        var pidfdRaw = Interop.Sys.pidfd_open(pid, 0);
        using var pidfd = new SafeFd(Interop.Check(pidfdRaw, "pidfd_open", pid.ToString()));
        var status = -1;
        var exited = false;
        long drainDeadline = 0;
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
            var rc = Interop.Sys.poll(fds, (nuint)n, exited ? 50 : -1);
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

    private void Pump(Route r)
    {
        fixed (byte* p = _buffer)
        {
            var n = Interop.Sys.read(r.Src, p, _buffer.Length);
            if (n < 0 && Marshal.GetLastPInvokeError() is Interop.EINTR or Interop.EAGAIN) return;
            if (n <= 0) { r.Open = false; return; } // EOF, or EIO from a pty whose other side closed
            foreach (var s in r.Sinks) s.Write(new ReadOnlySpan<byte>(p, (int)n));
        }
    }
}
