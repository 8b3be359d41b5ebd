using System.Runtime.InteropServices;
using System.Text;
using CrateRun.Core;

namespace CrateRun.Linux.Process;

/// <summary>
/// Starting helper programs with posix_spawn (glibc's clone(CLONE_VM|CLONE_VFORK) + execve: no
/// managed code runs in the child). Unlike System.Diagnostics.Process it starts no thread of its
/// own: Process.Start brings a SIGCHLD handler thread, thread-pool workers and the socket event
/// thread for its async pipe reads, each costing CPU to start and to end (about 8 ms of CPU per
/// container for the four CNI plugin calls of a run, measured with perf), and it leaves the
/// monitor's fds above 2 to the child unless they are CLOEXEC; here every fd above the ones given
/// is closed (closefrom).
/// </summary>
public static unsafe class Spawner
{
    /// <summary>posix_spawn of <paramref name="path"/> with these fds dup'ed into place and every other fd closed; returns the pid.</summary>
    /// <param name="newSession">setsid (a helper that outlives us) rather than a process group of its own (one we can kill whole).</param>
    public static int Spawn(string path, IReadOnlyList<string> argv, IEnumerable<string> environment, IReadOnlyList<(int From, int To)> fds, bool newSession)
    {
        var attr = stackalloc byte[Interop.Spawn.AttrBytes];
        var actions = stackalloc byte[Interop.Spawn.FileActionsBytes];
        var noSignals = stackalloc byte[Interop.Spawn.SigsetBytes];
        var allSignals = stackalloc byte[Interop.Spawn.SigsetBytes];
        var strings = new List<nint>();
        try
        {
            Interop.Spawn.Check(Interop.Spawn.posix_spawnattr_init(attr), "posix_spawnattr_init");
            Interop.Spawn.Check(Interop.Spawn.posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init");
            // they fail only for a null set
            _ = Interop.Spawn.sigemptyset(noSignals);
            _ = Interop.Spawn.sigfillset(allSignals);
            // no signal blocked, every handler default (.NET ignores SIGPIPE, for one); pgroup 0: the child's own pid
            var group = newSession ? Interop.Spawn.POSIX_SPAWN_SETSID : Interop.Spawn.POSIX_SPAWN_SETPGROUP;
            Interop.Spawn.Check(Interop.Spawn.posix_spawnattr_setflags(attr,
                (short)(group | Interop.Spawn.POSIX_SPAWN_SETSIGMASK | Interop.Spawn.POSIX_SPAWN_SETSIGDEF)), "posix_spawnattr_setflags");
            Interop.Spawn.Check(Interop.Spawn.posix_spawnattr_setsigmask(attr, noSignals), "posix_spawnattr_setsigmask");
            Interop.Spawn.Check(Interop.Spawn.posix_spawnattr_setsigdefault(attr, allSignals), "posix_spawnattr_setsigdefault");
            foreach (var (from, to) in fds)
                Interop.Spawn.Check(Interop.Spawn.posix_spawn_file_actions_adddup2(actions, from, to), "posix_spawn_file_actions_adddup2");
            Interop.Spawn.Check(Interop.Spawn.posix_spawn_file_actions_addclosefrom_np(actions, fds.Max(f => f.To) + 1), "posix_spawn_file_actions_addclosefrom_np");

            nint Utf8(string s)
            {
                var p = Marshal.StringToCoTaskMemUTF8(s);
                strings.Add(p);
                return p;
            }
            var argvPtrs = new nint[argv.Count + 1];
            for (var i = 0; i < argv.Count; i++) argvPtrs[i] = Utf8(argv[i]);
            var envPtrs = environment.Select(Utf8).Append(0).ToArray();
            var pathPtr = Utf8(path);
            int pid;
            fixed (nint* a = argvPtrs)
            fixed (nint* v = envPtrs)
                Interop.Spawn.Check(Interop.Spawn.posix_spawn(&pid, (byte*)pathPtr, actions, attr, (byte**)a, (byte**)v), "posix_spawn", path);
            return pid;
        }
        finally
        {
            // glibc's destroy calls only free memory and return 0
            _ = Interop.Spawn.posix_spawn_file_actions_destroy(actions);
            _ = Interop.Spawn.posix_spawnattr_destroy(attr);
            foreach (var p in strings) Marshal.FreeCoTaskMem(p);
        }
    }

    /// <summary>This process's environment as KEY=VALUE strings.</summary>
    public static IEnumerable<string> CurrentEnvironment() =>
        Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().Select(e => $"{e.Key}={e.Value}");

    /// <summary>What <see cref="Run"/> gives back.</summary>
    public sealed record Output(int ExitCode, string Stdout, string Stderr, bool TimedOut);

    /// <summary>
    /// Runs a program to its end on the calling thread: <paramref name="stdin"/> in a memfd it reads
    /// as fd 0 (no pipe to keep fed while its output is read), stdout and stderr through pipes read
    /// with poll until both reach EOF, then waitpid. Past <paramref name="timeoutMs"/> its process
    /// group (it and what it started) is killed and TimedOut is set. ExitCode is the exit status,
    /// or 128 + the signal that ended it.
    /// </summary>
    public static Output Run(string path, IReadOnlyList<string> argv, IEnumerable<string> environment, string stdin, int timeoutMs)
    {
        using var input = StdinMemfd(stdin);
        var fds = stackalloc int[2];
        Interop.Check(Interop.Sys.pipe2(fds, Interop.Sys.O_CLOEXEC), "pipe2", "stdout");
        using var outRead = new SafeFd(fds[0]);
        var outWrite = new SafeFd(fds[1]);
        Interop.Check(Interop.Sys.pipe2(fds, Interop.Sys.O_CLOEXEC), "pipe2", "stderr");
        using var errRead = new SafeFd(fds[0]);
        var errWrite = new SafeFd(fds[1]);
        int pid;
        using (outWrite)
        using (errWrite)
            pid = Spawn(path, argv, environment, [(input.Fd, 0), (outWrite.Fd, 1), (errWrite.Fd, 2)], newSession: false);

        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        var timedOut = !Drain(outRead, stdout, errRead, stderr, Environment.TickCount64 + timeoutMs);
        if (timedOut) Interop.Sys.kill(-pid, Interop.Sys.SIGKILL); // its group: the plugin and the iptables it runs
        var status = Reap(pid);
        var code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f);
        return new Output(code, Encoding.UTF8.GetString(stdout.GetBuffer(), 0, (int)stdout.Length),
            Encoding.UTF8.GetString(stderr.GetBuffer(), 0, (int)stderr.Length), timedOut);
    }

    /// <summary>
    /// Waits for the helper to exit, then releases it 0.2 ms later. Released the moment it turned
    /// zombie, a plugin that entered a network namespace (the bridge's ADD: /proc/PID/task/TID/ns/net)
    /// cost this thread 3-7 ms of CPU in wait4, about every other container (perf: d_walk in
    /// shrink_dcache_parent, from proc_flush_pid in release_task): the kernel wakes us from the
    /// plugin's last thread before that thread has dropped its own /proc dentries, and our walk of
    /// them spins until it has. Measured with a C caller of the bridge plugin (15 ADDs each): reap
    /// at once 5.8 ms median; after waitid(WNOWAIT) and sched_yield 5.4 ms; after waitid(WNOWAIT)
    /// and 50 us 0.07 ms (mean 1.8); and 200 us 0.06 ms (max 0.1).
    /// </summary>
    private static int Reap(int pid)
    {
        var info = stackalloc byte[Interop.Spawn.SiginfoBytes];
        while (Interop.Spawn.waitid(Interop.Spawn.P_PID, pid, info, Interop.Spawn.WEXITED | Interop.Spawn.WNOWAIT) != 0
            && Marshal.GetLastPInvokeError() == Interop.EINTR)
        {
        }
        _ = Interop.Spawn.usleep(200); // EINTR only cuts the pause short
        return Launcher.Reap(pid); // a waitid error (ECHILD) is waitpid's too, and reported as it was
    }

    private static SafeFd StdinMemfd(string text)
    {
        var memfd = new SafeFd(Interop.Check(Interop.Sys.memfd_create("craterun-stdin", 1 /* MFD_CLOEXEC */), "memfd_create", "stdin"));
        var bytes = Encoding.UTF8.GetBytes(text);
        fixed (byte* p = bytes)
        {
            for (var done = 0; done < bytes.Length;)
            {
                var n = Interop.Sys.write(memfd, p + done, bytes.Length - done);
                if (n < 0 && Marshal.GetLastPInvokeError() == Interop.EINTR) continue;
                if (n <= 0) throw new SyscallException("write", "stdin memfd", Marshal.GetLastPInvokeError());
                done += (int)n;
            }
        }
        // the child reads from where the shared file offset is: the start
        if (Interop.Sys.lseek(memfd, 0, 0 /* SEEK_SET */) != 0) throw new SyscallException("lseek", "stdin memfd", Marshal.GetLastPInvokeError());
        return memfd;
    }

    /// <summary>Reads both pipes until both are at EOF; false when the deadline came first.</summary>
    private static bool Drain(SafeFd outRead, MemoryStream stdout, SafeFd errRead, MemoryStream stderr, long deadline)
    {
        var pfds = stackalloc Interop.Sys.PollFd[2];
        pfds[0] = new Interop.Sys.PollFd { Fd = outRead.Fd, Events = Interop.Sys.POLLIN };
        pfds[1] = new Interop.Sys.PollFd { Fd = errRead.Fd, Events = Interop.Sys.POLLIN };
        var sinks = new[] { stdout, stderr };
        var buf = stackalloc byte[16384];
        while (pfds[0].Fd >= 0 || pfds[1].Fd >= 0)
        {
            var left = deadline - Environment.TickCount64;
            if (left <= 0) return false;
            var rc = Interop.Sys.poll(pfds, 2, (int)Math.Min(left, int.MaxValue));
            if (rc < 0)
            {
                var err = Marshal.GetLastPInvokeError();
                if (err == Interop.EINTR) continue;
                throw new SyscallException("poll", "child output", err);
            }
            for (var i = 0; i < 2; i++)
            {
                if (pfds[i].Fd < 0 || pfds[i].REvents == 0) continue;
                var n = Interop.Sys.read(pfds[i].Fd, buf, 16384);
                if (n > 0) sinks[i].Write(new ReadOnlySpan<byte>(buf, (int)n));
                else if (n == 0 || Marshal.GetLastPInvokeError() != Interop.EINTR) pfds[i].Fd = -1; // EOF (or a broken pipe): done with it
            }
        }
        return true;
    }
}
