using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using CrateRun.Core;
using CrateRun.Core.Network;
using CrateRun.Core.State;
using CrateRun.Linux.Process;

namespace CrateRun.Linux.Network;

/// <summary>
/// Starts and stops a container's slirp4netns (rootless networking, see <see cref="Slirp4netnsPlan"/>).
/// Its pid (with its start time) is kept in the container's state directory, so that whoever
/// ends the container — its monitor, `rm -f`, or the next command after a monitor was killed —
/// stops it by pid. It is nobody's child but init's: a shell starts it in the background and
/// exits, so no parent that forgot it (the monitor execs itself into its waiting phase) keeps
/// a zombie of it.
/// </summary>
public static unsafe class Slirp4netns
{
    public const string PidFile = "slirp4netns.pid", ApiSocketFile = "slirp4netns.sock", LogFile = "slirp4netns.log";

    /// <summary>Overrides the binary (else slirp4netns on PATH, then /usr/bin).</summary>
    public const string BinaryVariable = "CRATERUN_SLIRP4NETNS";

    private const int ReadyFd = 3, SunPathSize = 108;

    /// <summary>The binary, or one line saying what to install.</summary>
    public static string Find()
    {
        if (Environment.GetEnvironmentVariable(BinaryVariable) is { Length: > 0 } given) return given;
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin");
        return dirs.Select(d => Path.Combine(d, "slirp4netns")).FirstOrDefault(File.Exists)
            ?? throw new CrateRunException("rootless networking needs slirp4netns (apt-get install slirp4netns), or use --network none or host");
    }

    /// <summary>
    /// Before anything is made: the binary exists and the user may open /dev/net/tun (where the
    /// tap device comes from). udev makes it 0666 on Debian; a machine without udev leaves the
    /// kernel's 0600, and slirp4netns would only fail once the container exists.
    /// </summary>
    public static void CheckUsable()
    {
        Find();
        const string tun = "/dev/net/tun";
        var fd = Interop.Sys.open(tun, Interop.Sys.O_RDWR | Interop.Sys.O_CLOEXEC, 0);
        if (fd >= 0)
        {
            Interop.Sys.close(fd);
            return;
        }
        var errno = Marshal.GetLastPInvokeError();
        throw new CrateRunException($"rootless networking needs {tun} readable and writable by users (mode 0666, as udev makes it): " +
            $"open: {Interop.ErrorText(errno)}; use --network none or host, or as root: chmod 0666 {tun}");
    }

    /// <summary>
    /// Runs slirp4netns for the network namespace of <paramref name="pid"/> (made by the clone,
    /// nothing runs in it yet) and returns once tap0 is up with its address and every port is
    /// published. On failure nothing of it is left.
    /// </summary>
    public static void Start(string stateDir, int pid, IReadOnlyList<PortMapping> ports, int timeoutMs = 10_000)
    {
        var binary = Find();
        var socket = Path.Combine(stateDir, ApiSocketFile);
        if (Encoding.UTF8.GetByteCount(socket) >= SunPathSize)
            throw new CrateRunException($"slirp4netns: the API socket path {socket} is longer than a unix socket path may be (a shorter state root helps: --root)");
        File.Delete(socket);
        // the container's network namespace belongs to its user namespace: slirp4netns joins that first
        var userns = $"/proc/{pid}/ns/user";
        var ownUserns = new FileInfo(userns).LinkTarget != new FileInfo("/proc/self/ns/user").LinkTarget;
        var args = Slirp4netnsPlan.Arguments(pid, socket, ReadyFd, ownUserns ? userns : null);
        try
        {
            var slirpPid = SpawnDetached(binary, args, Path.Combine(stateDir, LogFile), out var ready);
            using (ready)
            {
                ContainerStore.WriteAtomic(Path.Combine(stateDir, PidFile), Encoding.ASCII.GetBytes(Slirp4netnsPlan.PidRecord(slirpPid, Processes.StartTime(slirpPid))));
                WaitReady(ready, timeoutMs, stateDir);
            }
            foreach (var p in ports)
            {
                var error = Slirp4netnsPlan.ErrorOf(Ask(socket, Slirp4netnsPlan.AddHostForward(p)));
                if (error is not null) throw new CrateRunException($"-p {p}: slirp4netns: {error}");
            }
        }
        catch
        {
            Stop(stateDir);
            throw;
        }
    }

    /// <summary>Kills the container's slirp4netns, if it has one and it still runs (by pid and start time). Safe to call twice, from anyone.</summary>
    public static void Stop(string stateDir)
    {
        var pidFile = Path.Combine(stateDir, PidFile);
        string? text;
        try { text = File.ReadAllText(pidFile); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return; }
        if (Slirp4netnsPlan.ParsePidRecord(text) is { } p && Processes.IsAlive(p.Pid, p.StartTime))
        {
            Processes.Signal(p.Pid, Interop.Sys.SIGKILL); // it keeps no state worth a graceful end
            Processes.WaitExit(p.Pid, p.StartTime, 5000);
        }
        File.Delete(Path.Combine(stateDir, ApiSocketFile));
        File.Delete(pidFile);
    }

    /// <summary>Whether the state directory names a slirp4netns (running or not) that nobody has stopped yet.</summary>
    public static bool HasOne(string stateDir) => File.Exists(Path.Combine(stateDir, PidFile));

    /// <summary>
    /// /bin/sh starts slirp4netns in the background, prints its pid and exits (slirp4netns then
    /// belongs to init). posix_spawn gives the shell exactly four fds — /dev/null, the pid pipe,
    /// the log, the ready pipe as fd 3 — and closes every other (closefrom), so slirp4netns pins
    /// none of the monitor's. Returns slirp4netns's pid and the read end of its ready pipe.
    /// </summary>
    private static int SpawnDetached(string binary, List<string> args, string logPath, out SafeFd ready)
    {
        var fds = stackalloc int[2];
        Interop.Check(Interop.Sys.pipe2(fds, Interop.Sys.O_CLOEXEC), "pipe2", "slirp4netns ready");
        ready = new SafeFd(fds[0]);
        using var readyWrite = new SafeFd(fds[1]);
        Interop.Check(Interop.Sys.pipe2(fds, Interop.Sys.O_CLOEXEC), "pipe2", "slirp4netns pid");
        using var pidRead = new SafeFd(fds[0]);
        int shell;
        using (var pidWrite = new SafeFd(fds[1]))
        using (var devNull = new SafeFd(Interop.Check(Interop.Sys.open("/dev/null", Interop.Sys.O_RDONLY | Interop.Sys.O_CLOEXEC, 0), "open", "/dev/null")))
        using (var log = new SafeFd(Interop.Check(Interop.Sys.open(logPath, Interop.Sys.O_WRONLY | Interop.Sys.O_CREAT | Interop.Sys.O_CLOEXEC | 0x200 /* O_TRUNC */, 0x180), "open", logPath)))
        {
            string[] argv = ["/bin/sh", "-c", "\"$@\" </dev/null >&2 & echo $!", "craterun-slirp4netns", binary, .. args];
            shell = Spawner.Spawn("/bin/sh", argv, Spawner.CurrentEnvironment(), [(devNull.Fd, 0), (pidWrite.Fd, 1), (log.Fd, 2), (readyWrite.Fd, ReadyFd)], newSession: true);
        }
        readyWrite.Dispose(); // only slirp4netns holds the write end now: EOF on it means it died
        var output = ReadAll(pidRead);
        Launcher.Reap(shell);
        if (!int.TryParse(output.Trim(), out var pid) || pid <= 0)
            throw new CrateRunException($"slirp4netns: the shell that starts it printed '{output.Trim()}', not a pid");
        return pid;
    }

    private static string ReadAll(SafeFd fd)
    {
        var sb = new StringBuilder();
        var buf = stackalloc byte[256];
        while (true)
        {
            var n = Interop.Sys.read(fd, buf, 256);
            if (n == 0) return sb.ToString();
            if (n < 0)
            {
                var err = Marshal.GetLastPInvokeError();
                if (err == Interop.EINTR) continue;
                throw new SyscallException("read", "slirp4netns pid pipe", err);
            }
            sb.Append(Encoding.ASCII.GetString(buf, (int)n));
        }
    }

    /// <summary>slirp4netns writes "1" on its ready fd once tap0 is configured and its API socket listens; EOF means it died.</summary>
    private static void WaitReady(SafeFd ready, int timeoutMs, string stateDir)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        var pfd = new Interop.Sys.PollFd { Fd = ready.Fd, Events = Interop.Sys.POLLIN };
        while (true)
        {
            var left = (int)Math.Max(0, deadline - Environment.TickCount64);
            var rc = Interop.Sys.poll(&pfd, 1, left);
            if (rc < 0 && Marshal.GetLastPInvokeError() == Interop.EINTR) continue;
            Interop.Check(rc, "poll", "slirp4netns ready");
            if (rc == 0) throw new CrateRunException($"slirp4netns: not ready after {timeoutMs} ms{LogTail(stateDir)}");
            byte b;
            var n = Interop.Sys.read(ready, &b, 1);
            if (n < 0 && Marshal.GetLastPInvokeError() == Interop.EINTR) continue;
            if (n == 1 && b == (byte)'1') return;
            throw new CrateRunException($"slirp4netns exited before the network was ready{LogTail(stateDir)}");
        }
    }

    private static string LogTail(string stateDir)
    {
        try
        {
            var lines = File.ReadAllLines(Path.Combine(stateDir, LogFile)).Where(l => l.Trim().Length > 0).TakeLast(2).ToList();
            return lines.Count == 0 ? "" : ": " + string.Join("; ", lines);
        }
        catch (IOException) { return ""; }
    }

    /// <summary>One request on the API socket, its one reply.</summary>
    private static string Ask(string socket, string request)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(socket));
        s.Send(Encoding.UTF8.GetBytes(request));
        s.Shutdown(SocketShutdown.Send);
        var reply = new MemoryStream();
        var buf = new byte[4096];
        int n;
        while ((n = s.Receive(buf)) > 0) reply.Write(buf, 0, n);
        return Encoding.UTF8.GetString(reply.ToArray());
    }
}
