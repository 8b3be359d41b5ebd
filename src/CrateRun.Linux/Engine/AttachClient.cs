using System.Runtime.InteropServices;
using CrateRun.Core;
using CrateRun.Core.Docker;
using CrateRun.Core.State;

namespace CrateRun.Linux.Engine;

/// <summary>
/// Docker's attach: the terminal joins a running container's streams through its monitor,
/// which listens on the container's attach.sock (monitor.c) and sends its output as frames
/// (1 byte stream, 4 bytes big-endian length, the bytes). What the user types goes back (to a
/// -it container's terminal), except the detach keys, which end the attach and leave the
/// container running. When the container ends the monitor closes the socket; the attach then
/// returns the container's exit code, as recorded.
/// </summary>
public static unsafe class AttachClient
{
    public const string SocketName = "attach.sock";

    /// <summary>A connection to a running container's monitor; <see cref="Pid"/> is its process (for a signal proxy).</summary>
    public sealed class Session(SafeFd socket, string id, int pid, bool tty) : IDisposable
    {
        public SafeFd Socket { get; } = socket;
        public string Id { get; } = id;
        public int Pid { get; } = pid;
        public bool Tty { get; } = tty;
        public void Dispose() => Socket.Dispose();
    }

    /// <summary>Connects to the container's monitor: Docker's refusals for a stopped or paused container.</summary>
    public static Session Connect(ContainerEngine engine, string id)
    {
        var r = engine.Store.Load(id);
        var status = engine.StatusOf(r);
        if (status == ContainerStatus.Paused) throw new CrateRunException("You cannot attach to a paused container, unpause it first");
        if (status != ContainerStatus.Running) throw new CrateRunException("You cannot attach to a stopped container, start it first");
        try { return new Session(UnixSockets.Connect(engine.Store.PathOf(id, SocketName)), id, r.Pid, r.Tty); }
        catch (Exception e) when (e is SyscallException or CrateRunException)
        {
            throw new CrateRunException($"cannot attach to container {ContainerId.Short(id)}: its monitor does not listen for attaches ({e.Message})");
        }
    }

    /// <summary>Attaches this process's stdio until the container exits (its exit code) or the user detaches (0).</summary>
    public static int Run(ContainerEngine engine, Session session, bool withStdin, byte[] detachKeys)
    {
        using (var raw = withStdin && session.Tty && Terminal.IsTerminal(0) ? Terminal.MakeRaw(0) : null)
        {
            if (Pump(session.Socket.Fd, withStdin, new DetachKeyMatcher(detachKeys))) return 0; // detached: the container runs on
        }
        return ExitCodeOf(engine, session.Id);
    }

    /// <summary>Copies frames to stdout/stderr and stdin to the socket; true when the user detached, false at the socket's end.</summary>
    private static bool Pump(int socket, bool withStdin, DetachKeyMatcher keys)
    {
        var buffer = new byte[64 * 1024];
        var frames = new List<byte>();
        var forward = new List<byte>();
        var stdinOpen = withStdin;
        var fds = stackalloc Interop.Sys.PollFd[2];
        while (true)
        {
            fds[0] = new Interop.Sys.PollFd { Fd = socket, Events = Interop.Sys.POLLIN };
            fds[1] = new Interop.Sys.PollFd { Fd = 0, Events = Interop.Sys.POLLIN };
            if (Interop.Sys.poll(fds, stdinOpen ? 2u : 1u, -1) < 0)
            {
                if (Marshal.GetLastPInvokeError() == Interop.EINTR) continue;
                throw new SyscallException("poll", "attach", Marshal.GetLastPInvokeError());
            }
            if (fds[0].REvents != 0)
            {
                var n = Read(socket, buffer);
                if (n <= 0) return false;
                frames.AddRange(buffer.AsSpan(0, n).ToArray());
                WriteFrames(frames);
            }
            if (stdinOpen && fds[1].REvents != 0)
            {
                var n = Read(0, buffer);
                if (n <= 0) { stdinOpen = false; continue; }
                forward.Clear();
                var detach = keys.Feed(buffer.AsSpan(0, n), forward);
                if (forward.Count > 0) WriteAll(socket, [.. forward]);
                if (detach) return true;
            }
        }
    }

    /// <summary>Writes each complete frame to its stream (1 stdout, 2 stderr) and keeps the rest.</summary>
    private static void WriteFrames(List<byte> frames)
    {
        var at = 0;
        while (frames.Count - at >= 5)
        {
            var length = (frames[at + 1] << 24) | (frames[at + 2] << 16) | (frames[at + 3] << 8) | frames[at + 4];
            if (frames.Count - at - 5 < length) break;
            var stream = frames[at] == 2 ? 2 : 1;
            WriteAll(stream, [.. frames.GetRange(at + 5, length)]);
            at += 5 + length;
        }
        frames.RemoveRange(0, at);
    }

    private static int Read(int fd, byte[] buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                var n = Interop.Sys.read(fd, p, buffer.Length);
                if (n < 0 && Marshal.GetLastPInvokeError() == Interop.EINTR) continue;
                return (int)n;
            }
        }
    }

    private static void WriteAll(int fd, byte[] data)
    {
        fixed (byte* p = data)
        {
            var off = 0;
            while (off < data.Length)
            {
                var n = Interop.Sys.write(fd, p + off, data.Length - off);
                if (n < 0 && Marshal.GetLastPInvokeError() == Interop.EINTR) continue;
                if (n <= 0) return; // the reader went away
                off += (int)n;
            }
        }
    }

    /// <summary>The monitor closed the socket: the container ended (its exit code, once recorded), or it dropped us.</summary>
    private static int ExitCodeOf(ContainerEngine engine, string id)
    {
        for (var i = 0; i < 200; i++)
        {
            var r = engine.Store.TryLoad(id);
            if (r is null) return 0; // removed (--rm): the code went with it
            if (ContainerEngine.CurrentStatus(r) is ContainerStatus.Exited or ContainerStatus.Restarting && r.ExitCode is { } code) return code;
            Thread.Sleep(25);
        }
        throw new CrateRunException($"container {ContainerId.Short(id)}: the attach ended but the container still runs (its monitor dropped a client that did not read)");
    }
}
