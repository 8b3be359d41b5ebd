using System.Runtime.InteropServices;
using System.Text;

namespace CrateRun.Linux.Process;

/// <summary>
/// Files of a container's rootfs read from the host (its /etc/passwd for --user NAME). The
/// container controls that tree: every path, symlink included, resolves inside the rootfs
/// (openat2 RESOLVE_IN_ROOT), only a regular file of bounded size is read, and the open never
/// blocks (a FIFO planted there would otherwise hang the root CLI).
/// </summary>
public static unsafe class RootfsFiles
{
    public const int MaxBytes = 4 << 20;

    /// <summary>The text of ROOTFS/<paramref name="relative"/> as the container sees it; null when it does not exist.</summary>
    public static string? ReadInRoot(string rootfs, string relative, int maxBytes = MaxBytes)
    {
        var what = "/" + relative.TrimStart('/');
        using var root = new SafeFd(Interop.Check(
            Interop.Sys.open(rootfs, Interop.Sys.O_PATH | Interop.Sys.O_DIRECTORY | Interop.Sys.O_CLOEXEC, 0), "open", rootfs));
        var how = new Interop.Sys.OpenHow
        {
            Flags = (ulong)(Interop.Sys.O_RDONLY | Interop.Sys.O_CLOEXEC | Interop.Sys.O_NONBLOCK | Interop.Sys.O_NOCTTY),
            Resolve = Interop.Sys.RESOLVE_IN_ROOT | Interop.Sys.RESOLVE_NO_MAGICLINKS,
        };
        var pathBytes = Encoding.UTF8.GetBytes(relative.TrimStart('/') + "\0");
        long fd;
        fixed (byte* p = pathBytes)
            fd = Interop.Sys.syscall_openat2(Interop.Sys.SYS_openat2, root, p, &how, (nuint)sizeof(Interop.Sys.OpenHow));
        if (fd < 0)
        {
            var err = Marshal.GetLastPInvokeError();
            if (err is Interop.ENOENT or 20 /* ENOTDIR */) return null;
            throw new SyscallException("openat2", $"the container's {what}", err);
        }
        using var file = new SafeFd((int)fd);
        Interop.Sys.Stat st;
        Interop.Check(Interop.Sys.fstat(file, (byte*)&st), "fstat", $"the container's {what}");
        if ((st.Mode & Interop.Sys.S_IFMT) != Interop.Sys.S_IFREG)
            throw new Core.CrateRunException($"the container's {what} is not a regular file: not read");
        if (st.Size > maxBytes)
            throw new Core.CrateRunException($"the container's {what} is larger than {maxBytes} bytes: not read");
        var buffer = new byte[(int)st.Size + 1];
        var total = 0;
        fixed (byte* b = buffer)
        {
            while (total < buffer.Length)
            {
                var n = Interop.Sys.read(file, b + total, buffer.Length - total);
                if (n < 0 && Marshal.GetLastPInvokeError() == Interop.EINTR) continue;
                if (n < 0) throw new SyscallException("read", $"the container's {what}", Marshal.GetLastPInvokeError());
                if (n == 0) break;
                total += (int)n;
            }
        }
        if (total > maxBytes) throw new Core.CrateRunException($"the container's {what} is larger than {maxBytes} bytes: not read");
        return Encoding.UTF8.GetString(buffer, 0, total);
    }
}
