using System.Runtime.InteropServices;

namespace CrateRun.Linux;

internal static partial class Interop
{
    /// <summary>The calls the image store needs: *at() file creation inside a snapshot, xattrs, the new mount API.</summary>
    internal static unsafe partial class Images
    {
        private const string Libc = "libc";

        public const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, AT_EMPTY_PATH = 0x1000;
        public const int O_EXCL = 0x80, O_TRUNC = 0x200;
        public const uint S_IFMT = 0xF000, S_IFCHR = 0x2000, S_IFBLK = 0x6000, S_IFIFO = 0x1000, S_IFDIR = 0x4000, S_IFLNK = 0xA000, S_IFREG = 0x8000;
        public const ulong RESOLVE_NO_MAGICLINKS = 0x02, RESOLVE_IN_ROOT = 0x10;
        public const long SYS_openat2 = 437;
        public const uint FSOPEN_CLOEXEC = 1, FSMOUNT_CLOEXEC = 1, MOVE_MOUNT_F_EMPTY_PATH = 4;
        public const uint FSCONFIG_SET_FLAG = 0, FSCONFIG_SET_STRING = 1, FSCONFIG_CMD_CREATE = 6;
        public const int MNT_DETACH = 2, UMOUNT_NOFOLLOW = 8;
        public const long UTIME_OMIT = (1L << 30) - 2;

        [StructLayout(LayoutKind.Sequential)]
        public struct OpenHow
        {
            public ulong Flags;
            public ulong Mode;
            public ulong Resolve;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct Timespec
        {
            public long Sec;
            public long Nsec;
        }

        [LibraryImport(Libc, SetLastError = true, EntryPoint = "syscall", StringMarshalling = StringMarshalling.Utf8)]
        public static partial long syscall_openat2(long number, SafeFd dirfd, string path, OpenHow* how, nuint size);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int openat(SafeFd dirfd, string path, int flags, uint mode);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int mkdirat(SafeFd dirfd, string path, uint mode);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int mknodat(SafeFd dirfd, string path, uint mode, ulong dev);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int symlinkat(string target, SafeFd dirfd, string path);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int linkat(SafeFd olddirfd, string oldpath, SafeFd newdirfd, string newpath, int flags);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int unlinkat(SafeFd dirfd, string path, int flags);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int fchownat(int dirfd, string path, uint uid, uint gid, int flags);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int fchmodat(int dirfd, string path, uint mode, int flags);
        [LibraryImport(Libc, SetLastError = true)] public static partial int fchown(int fd, uint uid, uint gid);
        [LibraryImport(Libc, SetLastError = true)] public static partial int fchmod(int fd, uint mode);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int utimensat(int dirfd, string path, Timespec* times, int flags);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int fstatat(int dirfd, string path, byte* buf, int flags);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int lsetxattr(string path, string name, byte* value, nuint size, int flags);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int setxattr(string path, string name, byte* value, nuint size, int flags);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int fsetxattr(int fd, string name, byte* value, nuint size, int flags);
        [LibraryImport(Libc, SetLastError = true)] public static partial int futimens(int fd, Timespec* times);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial nint lgetxattr(string path, string name, byte* value, nuint size);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int fsopen(string fsName, uint flags);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int fsconfig(SafeFd fd, uint cmd, string? key, string? value, int aux);
        [LibraryImport(Libc, SetLastError = true)] public static partial int fsmount(SafeFd fd, uint flags, uint attrFlags);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int move_mount(int fromDirfd, string fromPath, int toDirfd, string toPath, uint flags);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int umount2(string target, int flags);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int mount(string? source, string target, string? fsType, ulong flags, string? data);
        [LibraryImport(Libc, SetLastError = true)] public static partial nint read(SafeFd fd, byte* buf, nint count);

        /// <summary>makedev() of glibc.</summary>
        public static ulong MakeDev(long major, long minor) =>
            ((ulong)(major & 0xfff) << 8) | ((ulong)(minor & 0xff)) | ((ulong)(minor & ~0xffL) << 12) | ((ulong)(major & ~0xfffL) << 32);
    }
}
