using System.Text;
using CrateRun.Core;

namespace CrateRun.Linux.Engine;

/// <summary>Refuses a rootfs that is the host's root in any spelling, or that is missing.</summary>
public static unsafe class RootfsCheck
{
    /// <summary>The rootfs with every symlink resolved. Throws a one-line error for a bad one.</summary>
    /// <summary>A root filesystem has at least one of these.</summary>
    private static readonly string[] TopLevelDirs = ["bin", "usr", "etc"];

    public static string Resolve(string path, bool requireLayout)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UsageException("a rootfs is required (--rootfs DIR)");
        if (!Directory.Exists(path)) throw new UsageException($"rootfs '{path}' does not exist or is not a directory");
        var real = RealPath(path);
        if (real == "/" || SameInode(real, "/"))
            throw new UsageException($"refusing to use the host's root filesystem as rootfs ('{path}' is /)");
        if (requireLayout && !TopLevelDirs.Any(d => Directory.Exists(Path.Combine(real, d))))
            throw new UsageException($"rootfs '{path}' does not look like a root filesystem: it has none of bin/, usr/, etc/");
        return real;
    }

    public static string RealPath(string path)
    {
        byte* buf = stackalloc byte[4097];
        if (Interop.Sys.realpath(path, buf) == null)
            throw new SyscallException("realpath", path, System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
        return Encoding.UTF8.GetString(new ReadOnlySpan<byte>(buf, new ReadOnlySpan<byte>(buf, 4097).IndexOf((byte)0)));
    }

    /// <summary>Same device and inode: catches a bind mount of / somewhere else.</summary>
    public static bool SameInode(string a, string b) => Identity(a) == Identity(b);

    private static (ulong Dev, ulong Ino) Identity(string path)
    {
        Interop.Sys.Stat st;
        Interop.Check(Interop.Sys.stat(path, (byte*)&st), "stat", path);
        return (st.Dev, st.Ino);
    }
}
