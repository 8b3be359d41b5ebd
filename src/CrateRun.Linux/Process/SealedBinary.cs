using System.Runtime.InteropServices;

namespace CrateRun.Linux.Process;

/// <summary>
/// CVE-2019-5736. While `exec` joins a running container, a clone of this process lives in
/// the container's PID namespace until it execs the user's program. A container holding
/// CAP_SYS_PTRACE can open /proc/PID/exe of it and, once no process runs the binary any
/// more, write through that fd to the host's craterun. So before joining, the runtime
/// re-executes itself from a file nobody can write: its exe link then names that file. Only
/// exec-like operations pay for it; a new container has nobody inside to attack it.
/// As root, that file is the binary seen through a read-only overlayfs mount that exists only
/// as an fd, and the constructor makes it before the .NET runtime starts (Native/sealed_exec.c):
/// the runtime then starts once, in the copy. Where it cannot be made (no overlayfs, a user
/// namespace), <see cref="EnsureOrReexec"/> makes a sealed in-memory copy (memfd, F_SEAL_WRITE):
/// a copy of the whole binary, 15 MB, some 20 ms per exec.
/// </summary>
public static unsafe class SealedBinary
{
    private const uint MfdCloexec = 1, MfdAllowSealing = 2;
    private const int FAddSeals = 1033, SealSeal = 1, SealShrink = 2, SealGrow = 4, SealWrite = 8;
    private const string Name = "craterun-sealed";

    /// <summary>Whether this process runs from a file that cannot be written: the sealed copy, or a read-only filesystem (the overlay).</summary>
    public static bool IsSealed =>
        (File.ResolveLinkTarget("/proc/self/exe", false)?.ToString() ?? "").Contains("memfd:" + Name)
        || (Interop.ExecGuard.faccessat(Interop.Images.AT_FDCWD, "/proc/self/exe", Interop.ExecGuard.W_OK, Interop.ExecGuard.AT_EACCESS) != 0
            && Marshal.GetLastPInvokeError() == Interop.ExecGuard.EROFS);

    /// <summary>
    /// Returns if already running from an unwritable file (the constructor's overlay, usually); otherwise replaces this
    /// process with itself run from a sealed in-memory copy (same argv).
    /// </summary>
    public static void EnsureOrReexec()
    {
        if (Environment.GetEnvironmentVariable("CRATERUN_NO_SEALED_EXEC") == "1" || IsSealed) return;
        var argv = Argv();
        var env = Environ();
        using var arena = new NativeArenaHandle();
        var mfd = Interop.Check(Interop.Sys.memfd_create(Name, MfdCloexec | MfdAllowSealing), "memfd_create", Name);
        using var memfd = new SafeFd(mfd);
        using (var self = new SafeFd(Interop.Check(Interop.Sys.open("/proc/self/exe", Interop.Sys.O_RDONLY | Interop.Sys.O_CLOEXEC, 0), "open", "/proc/self/exe")))
        {
            long offset = 0;
            while (true)
            {
                var n = Interop.Sys.sendfile(memfd, self, &offset, 1 << 30);
                if (n == 0) break;
                if (n < 0) throw new SyscallException("sendfile", "/proc/self/exe -> memfd", Marshal.GetLastPInvokeError());
            }
        }
        Interop.Check(Interop.Sys.fcntl(memfd, FAddSeals, SealSeal | SealShrink | SealGrow | SealWrite), "fcntl", "F_ADD_SEALS");
        Interop.Sys.execve(arena.Str($"/proc/self/fd/{memfd.Fd}"), arena.StrArray(argv), arena.StrArray(env));
        throw new SyscallException("execve", "sealed copy of craterun", Marshal.GetLastPInvokeError());
    }

    private static string[] Argv() =>
        System.Text.Encoding.UTF8.GetString(File.ReadAllBytes("/proc/self/cmdline")).TrimEnd('\0').Split('\0');

    private static string[] Environ() =>
        [.. Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().Select(e => $"{e.Key}={e.Value}")];
}
