using System.Runtime.InteropServices;

namespace CrateRun.Linux;

internal static partial class Interop
{
    /// <summary>explain: the shared buffer the C stage records its steps in, and the clock they use.</summary>
    internal static unsafe partial class Explain
    {
        private const string Libc = "libc";
        public const int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, CLOCK_MONOTONIC = 1;

        [StructLayout(LayoutKind.Sequential)]
        public struct Timespec
        {
            public long Sec, Nsec;
        }

        [LibraryImport(Libc, SetLastError = true)] public static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, long offset);
        [LibraryImport(Libc, SetLastError = true)] public static partial int munmap(void* addr, nuint length);
        [LibraryImport(Libc, SetLastError = true)] public static partial int ftruncate(int fd, long length);
        [LibraryImport(Libc)] public static partial int clock_gettime(int clock, Timespec* ts);
    }
}
