using System.Runtime.InteropServices;

namespace CrateRun.Linux.Process;

/// <summary>
/// CVE-2019-5736. While `exec` joins a running container, a clone of this process lives in
/// the container's PID namespace until it execs the user's program. A container holding
/// CAP_SYS_PTRACE can open /proc/PID/exe of it and, once no process runs the binary any
/// more, write through that fd to the host's craterun. So before joining, the runtime
/// re-executes itself from a sealed in-memory copy: its exe link then names the copy, which
/// can never be written. Only exec-like operations pay for it (a copy of the binary and one
/// more process start); a new container has nobody inside to attack it.
/// </summary>
public static unsafe class SealedBinary
{
    private const uint MfdCloexec = 1, MfdAllowSealing = 2;
    private const int FAddSeals = 1033, SealSeal = 1, SealShrink = 2, SealGrow = 4, SealWrite = 8;
    private const string Name = "craterun-sealed";

    public static bool IsSealed => (File.ResolveLinkTarget("/proc/self/exe", false)?.ToString() ?? "").Contains("memfd:" + Name);

    /// <summary>Returns if already running from the sealed copy; otherwise replaces this process with it (same argv).</summary>
    public static void EnsureOrReexec()
    {
        if (Environment.GetEnvironmentVariable("CRATERUN_NO_SEALED_EXEC") == "1" || IsSealed) return;
        var mfd = Interop.Check(Interop.Sys.memfd_create(Name, MfdCloexec | MfdAllowSealing), "memfd_create", Name);
        using var memfd = new SafeFd(mfd);
        using (var self = new SafeFd(Interop.Check(Interop.Sys.open("/proc/self/exe", Interop.Sys.O_RDONLY | Interop.Sys.O_CLOEXEC, 0), "open", "/proc/self/exe")))
        {
            long offset = 0;
            while (true)
            {
                var n = Interop.Sys.sendfile(memfd.Fd, self.Fd, &offset, 1 << 30);
                if (n == 0) break;
                if (n < 0) throw new SyscallException("sendfile", "/proc/self/exe -> memfd", Marshal.GetLastPInvokeError());
            }
        }
        Interop.Check(Interop.Sys.fcntl(memfd.Fd, FAddSeals, SealSeal | SealShrink | SealGrow | SealWrite), "fcntl", "F_ADD_SEALS");
        var cmdline = File.ReadAllBytes("/proc/self/cmdline");
        var argv = System.Text.Encoding.UTF8.GetString(cmdline).TrimEnd('\0').Split('\0');
        var env = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().Select(e => $"{e.Key}={e.Value}").ToArray();
        using var arena = new NativeArenaHandle();
        Interop.Sys.execve(arena.Str($"/proc/self/fd/{memfd.Fd}"), arena.StrArray(argv), arena.StrArray(env));
        throw new SyscallException("execve", "sealed copy of craterun", Marshal.GetLastPInvokeError());
    }
}
