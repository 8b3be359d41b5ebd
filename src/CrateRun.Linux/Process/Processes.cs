using System.Runtime.InteropServices;

namespace CrateRun.Linux.Process;

/// <summary>Facts about host processes, read from /proc.</summary>
public static unsafe class Processes
{
    /// <summary>State letter and start time (clock ticks) from /proc/PID/stat, or null if gone.</summary>
    public static (char State, ulong StartTime)? Stat(int pid)
    {
        if (pid <= 0) return null;
        string text;
        try { text = KernelFiles.ReadText($"/proc/{pid}/stat"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        // "pid (comm) S ppid ..." — comm may hold spaces and parentheses: split after the last ')'
        var close = text.LastIndexOf(')');
        if (close < 0) return null;
        var fields = text[(close + 2)..].Split(' ');
        // fields[0] is field 3 (state); starttime is field 22
        return fields.Length > 19 && ulong.TryParse(fields[19], out var start) ? (fields[0][0], start) : null;
    }

    public static ulong StartTime(int pid) => Stat(pid)?.StartTime ?? 0;

    /// <summary>Alive: exists, is not a zombie, and is the same process (same start time) we recorded.</summary>
    public static bool IsAlive(int pid, ulong startTime)
    {
        var st = Stat(pid);
        return st is { } s && s.State != 'Z' && s.State != 'X' && (startTime == 0 || s.StartTime == startTime);
    }

    /// <summary>Sends a signal; false if the process is gone.</summary>
    public static bool Signal(int pid, int sig)
    {
        if (Interop.Sys.kill(pid, sig) == 0) return true;
        var err = Marshal.GetLastPInvokeError();
        if (err == Interop.ESRCH) return false;
        throw new SyscallException("kill", $"{pid}, {sig}", err);
    }

    /// <summary>Waits until a process (not necessarily our child) has exited. False on timeout.</summary>
    public static bool WaitExit(int pid, ulong startTime, int timeoutMs)
    {
        var fd = Interop.Sys.pidfd_open(pid, 0);
        // only ESRCH says it is gone; any other failure (EMFILE, ENOSYS, EPERM...) says nothing: watch /proc instead
        if (fd < 0 && Marshal.GetLastPInvokeError() == Interop.ESRCH) return true;
        using var pidfd = fd >= 0 ? new SafeFd(fd) : null;
        if (!IsAlive(pid, startTime)) return true;
        var deadline = Environment.TickCount64 + timeoutMs;
        while (true)
        {
            var left = (int)Math.Max(0, deadline - Environment.TickCount64);
            var pfd = new Interop.Sys.PollFd { Fd = pidfd?.Fd ?? -1, Events = Interop.Sys.POLLIN };
            var rc = Interop.Sys.poll(&pfd, 1, Math.Min(left, pidfd is null ? 20 : 100)); // fd -1: poll just sleeps
            if (rc > 0 || !IsAlive(pid, startTime)) return true;
            if (left == 0) return false;
        }
    }

    /// <summary>Shell-style exit code of a wait status: the code, or 128+signal; 125 for -1 (no status).
    /// The arithmetic is monitor.c's too, so it is written once, in C (Native/monitor_messages.c).</summary>
    public static int ExitCode(int waitStatus) => Interop.Monitor.crt_exit_code(waitStatus);

    public static int LastCap()
    {
        try { return int.Parse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim()); }
        catch (Exception e) when (e is IOException or FormatException) { return 40; }
    }
}
