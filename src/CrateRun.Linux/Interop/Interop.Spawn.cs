using System.Runtime.InteropServices;

namespace CrateRun.Linux;

internal static partial class Interop
{
    /// <summary>
    /// posix_spawn for helpers (slirp4netns, CNI plugins; Process/Spawner.cs): unlike Process.Start
    /// it closes every fd above the ones it is given (the monitor holds fds it keeps across its own
    /// exec, which a long-lived helper must not pin open) and starts no thread of ours. The attr and file-action types are opaque
    /// to us: buffers larger than glibc's (336 and 80 bytes on x86_64), initialised by glibc.
    /// </summary>
    internal static unsafe partial class Spawn
    {
        private const string Libc = "libc";
        public const int AttrBytes = 1024, FileActionsBytes = 256, SigsetBytes = 128;
        public const short POSIX_SPAWN_SETPGROUP = 0x02, POSIX_SPAWN_SETSIGDEF = 0x04, POSIX_SPAWN_SETSIGMASK = 0x08, POSIX_SPAWN_SETSID = 0x80;

        // these return an error number (0 = success), not -1 with errno
        [LibraryImport(Libc)] public static partial int posix_spawn(int* pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);
        [LibraryImport(Libc)] public static partial int posix_spawn_file_actions_init(void* fileActions);
        [LibraryImport(Libc)] public static partial int posix_spawn_file_actions_destroy(void* fileActions);
        [LibraryImport(Libc)] public static partial int posix_spawn_file_actions_adddup2(void* fileActions, int fd, int newFd);
        [LibraryImport(Libc)] public static partial int posix_spawn_file_actions_addclosefrom_np(void* fileActions, int from);
        [LibraryImport(Libc)] public static partial int posix_spawnattr_init(void* attr);
        [LibraryImport(Libc)] public static partial int posix_spawnattr_destroy(void* attr);
        [LibraryImport(Libc)] public static partial int posix_spawnattr_setflags(void* attr, short flags);
        [LibraryImport(Libc)] public static partial int posix_spawnattr_setsigmask(void* attr, void* sigset);
        [LibraryImport(Libc)] public static partial int posix_spawnattr_setsigdefault(void* attr, void* sigset);
        [LibraryImport(Libc)] public static partial int sigemptyset(void* sigset);
        [LibraryImport(Libc)] public static partial int sigfillset(void* sigset);

        // waiting for a helper without releasing it yet, then a pause before waitpid releases it (Spawner.Reap)
        public const int P_PID = 1, WEXITED = 4, WNOWAIT = 0x01000000, SiginfoBytes = 128;
        [LibraryImport(Libc, SetLastError = true)] public static partial int waitid(int idType, int id, void* info, int options);
        [LibraryImport(Libc, SetLastError = true)] public static partial int usleep(uint microseconds);

        /// <summary>An error number from a posix_spawn* call turned into an exception naming it.</summary>
        public static void Check(int error, string call, string? argument = null)
        {
            if (error != 0) throw new SyscallException(call, argument, error);
        }
    }
}
