using System.Runtime.InteropServices;

namespace CrateRun.Linux;

internal static partial class Interop
{
    /// <summary>The *at calls `craterun cp` uses to make entries inside a container's root.</summary>
    internal static unsafe partial class Copy
    {
        private const string Libc = "libc";

        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int mkdirat(SafeFd dirfd, string path, uint mode);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int symlinkat(string target, SafeFd dirfd, string path);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial nint readlinkat(SafeFd dirfd, string path, byte* buffer, nuint size);
        [LibraryImport(Libc, SetLastError = true)] public static partial int fchmod(SafeFd fd, uint mode);

        public const uint S_IFDIR = 0x4000, S_IFLNK = 0xA000, S_IFCHR = 0x2000, S_IFBLK = 0x6000, S_IFIFO = 0x1000;
        public const int EEXIST = 17, EISDIR = 21, EXDEV = 18;
        /// <summary>openat2: no path component may leave the starting directory (absolute symlinks, "..").</summary>
        public const ulong RESOLVE_BENEATH = 0x08;
    }
}
