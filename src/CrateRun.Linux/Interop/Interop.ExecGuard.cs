using System.Runtime.InteropServices;

namespace CrateRun.Linux;

internal static partial class Interop
{
    /// <summary>What SealedBinary needs: is the running file writable (the overlay copy is made in Native/sealed_exec.c).</summary>
    internal static partial class ExecGuard
    {
        private const string Libc = "libc";

        public const int W_OK = 2, AT_EACCESS = 0x200, EROFS = 30;

        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int faccessat(int dirfd, string path, int mode, int flags);
    }
}
