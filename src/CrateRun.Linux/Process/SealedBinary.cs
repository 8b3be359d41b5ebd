using System.Runtime.InteropServices;

namespace CrateRun.Linux.Process;

/// <summary>
/// CVE-2019-5736. While `exec` joins a running container, a clone of this process lives in
/// the container's PID namespace until it execs the user's program. A container holding
/// CAP_SYS_PTRACE can open /proc/PID/exe of it and, once no process runs the binary any
/// more, write through that fd to the host's craterun. So before joining, the runtime
/// re-executes itself from a file nobody can write: its exe link then names that file. Only
/// exec-like operations pay for it (one more process start); a new container has nobody
/// inside to attack it.
/// That file is, as root, the binary seen through a read-only overlayfs mount that exists
/// only as an fd (fsopen + fsmount, never attached anywhere; runc 1.2 does the same): its
/// lower layers are the binary's directory and an empty detached tmpfs, there is no upper
/// layer, so every write is EROFS whatever the mount flags; 0.1 ms. Where that cannot be made
/// (no overlayfs, a user namespace), a sealed in-memory copy (memfd, F_SEAL_WRITE): a copy of
/// the whole binary, 15 MB, some 20 ms per exec.
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

    /// <summary>Returns if already running from an unwritable file; otherwise replaces this process with itself run from one (same argv).</summary>
    public static void EnsureOrReexec()
    {
        if (Environment.GetEnvironmentVariable("CRATERUN_NO_SEALED_EXEC") == "1" || IsSealed) return;
        var argv = Argv();
        var env = Environ();
        using var arena = new NativeArenaHandle();
        if (ReadOnlyOverlayCopy() is { } exe)
        {
            using (exe)
            {
                Interop.ExecGuard.execveat(exe, arena.Str(""), arena.StrArray(argv), arena.StrArray(env), Interop.Images.AT_EMPTY_PATH);
            }
            // cannot run from it (e.g. a noexec mount below): the sealed copy
        }
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

    /// <summary>
    /// This binary opened (O_PATH) through a read-only overlay of its directory that is attached
    /// nowhere, or null where one cannot be made (not root in the initial namespaces, no
    /// overlayfs, a kernel before "lowerdir+", a binary replaced on disk since it started).
    /// </summary>
    private static SafeFd? ReadOnlyOverlayCopy()
    {
        var path = File.ResolveLinkTarget("/proc/self/exe", false)?.ToString();
        if (path is null || path.EndsWith(" (deleted)", StringComparison.Ordinal) || Path.GetDirectoryName(path) is not { } dir) return null;
        using var empty = DetachedMount("tmpfs", []);
        if (empty is null) return null;
        using var overlay = DetachedMount("overlay", [("lowerdir+", dir), ("lowerdir+", $"/proc/self/fd/{empty.Fd}")]);
        if (overlay is null) return null;
        var fd = Interop.ExecGuard.openat(overlay, Path.GetFileName(path), Interop.Sys.O_PATH | Interop.Sys.O_CLOEXEC, 0);
        return fd < 0 ? null : new SafeFd(fd);
    }

    /// <summary>A read-only, nosuid, nodev mount of <paramref name="type"/> with <paramref name="options"/>, as an fd only; null if the kernel refuses.</summary>
    private static SafeFd? DetachedMount(string type, (string Key, string Value)[] options)
    {
        var fsfd = Interop.Images.fsopen(type, Interop.Images.FSOPEN_CLOEXEC);
        if (fsfd < 0) return null;
        using var fs = new SafeFd(fsfd);
        foreach (var (key, value) in options)
            if (Interop.Images.fsconfig(fs, Interop.Images.FSCONFIG_SET_STRING, key, value, 0) != 0) return null;
        if (Interop.Images.fsconfig(fs, Interop.Images.FSCONFIG_CMD_CREATE, null, null, 0) != 0) return null;
        var mnt = Interop.Images.fsmount(fs, Interop.Images.FSMOUNT_CLOEXEC,
            Interop.ExecGuard.MOUNT_ATTR_RDONLY | Interop.ExecGuard.MOUNT_ATTR_NOSUID | Interop.ExecGuard.MOUNT_ATTR_NODEV);
        return mnt < 0 ? null : new SafeFd(mnt);
    }
}
