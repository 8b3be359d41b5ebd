using System.Buffers.Text;
using System.Runtime.InteropServices;

namespace CrateRun.Linux.Process;

/// <summary>A live process as one read of /proc/PID/stat shows it: its state letter (proc(5)) and its parent's pid.</summary>
public readonly record struct LiveProcess(char State, int ParentPid);

/// <summary>Facts about host processes, read from /proc.</summary>
public static unsafe class Processes
{
    /// <summary>State letter and start time (clock ticks) from /proc/PID/stat, or null if gone.</summary>
    public static (char State, ulong StartTime)? Stat(int pid) => StatOf(pid) is { } s ? (s.State, s.StartTime) : null;

    /// <summary>
    /// State letter, parent pid and start time (clock ticks) from /proc/PID/stat, or null if gone.
    /// Parsed from the bytes in place: `ps` reads this file once or twice per container.
    /// </summary>
    public static (char State, int ParentPid, ulong StartTime)? StatOf(int pid)
    {
        if (pid <= 0) return null;
        Span<byte> buffer = stackalloc byte[2048]; // 52 fields of at most 20 digits and a comm of at most 64 bytes
        var length = KernelFiles.Read($"/proc/{pid}/stat", buffer, oneRead: true);
        return length > 0 ? ParseStat(buffer[..length]) : null;
    }

    /// <summary>
    /// "pid (comm) S ppid ... starttime ...": comm may hold spaces and parentheses, so the fields
    /// are counted after the last ')'; the state is field 3, ppid field 4, starttime field 22 (proc(5)).
    /// </summary>
    public static (char State, int ParentPid, ulong StartTime)? ParseStat(ReadOnlySpan<byte> line)
    {
        var close = line.LastIndexOf((byte)')');
        if (close < 0 || close + 2 >= line.Length) return null;
        var rest = line[(close + 2)..];
        char state = default;
        var parent = 0;
        for (var field = 3; ; field++)
        {
            var space = rest.IndexOf((byte)' ');
            var value = space < 0 ? rest : rest[..space];
            if (field == 3) state = value.Length == 1 ? (char)value[0] : default;
            else if (field == 4)
            {
                if (!Utf8Parser.TryParse(value, out parent, out var used) || used != value.Length) return null;
            }
            else if (field == 22)
                return Utf8Parser.TryParse(value, out ulong start, out var n) && n == value.Length && state != default
                    ? (state, parent, start) : null;
            if (space < 0) return null;
            rest = rest[(space + 1)..];
        }
    }

    public static ulong StartTime(int pid) => Stat(pid)?.StartTime ?? 0;

    /// <summary>Alive: exists, is not a zombie, and is the same process (same start time) we recorded.</summary>
    public static bool IsAlive(int pid, ulong startTime) => Look(pid, startTime) is not null;

    /// <summary><see cref="IsAlive"/>, with what the same read says of the live process; null when it is not alive.</summary>
    public static LiveProcess? Look(int pid, ulong startTime) =>
        StatOf(pid) is { } s && s.State != 'Z' && s.State != 'X' && (startTime == 0 || s.StartTime == startTime)
            ? new LiveProcess(s.State, s.ParentPid) : null;

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
