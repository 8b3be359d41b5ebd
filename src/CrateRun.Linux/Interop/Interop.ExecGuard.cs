using System.Runtime.InteropServices;

namespace CrateRun.Linux;

internal static partial class Interop
{
    /// <summary>What SealedBinary needs beyond the new mount API (Interop.Images): is a file writable, and execveat of an fd.</summary>
    internal static unsafe partial class ExecGuard
    {
        private const string Libc = "libc";

        public const int W_OK = 2, AT_EACCESS = 0x200, EROFS = 30;
        public const uint MOUNT_ATTR_RDONLY = 0x1, MOUNT_ATTR_NOSUID = 0x2, MOUNT_ATTR_NODEV = 0x4;

        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int faccessat(int dirfd, string path, int mode, int flags);

        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int openat(SafeFd dirfd, string path, int flags, uint mode);

        [LibraryImport(Libc, SetLastError = true)]
        public static partial int execveat(SafeFd dirfd, byte* path, byte** argv, byte** envp, int flags);
    }
}
