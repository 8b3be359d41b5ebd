using System.Runtime.InteropServices;

namespace CrateRun.Linux;

internal static partial class Interop
{
    /// <summary>Rootless with subordinate ids (Process/SubordinateOwners.cs): the helper in a user namespace of its own.</summary>
    internal static unsafe partial class Userns
    {
        /// <summary>
        /// Native/userns.c: clones a child into a new user namespace; it becomes root there and execs
        /// <paramref name="exe"/> once a byte arrives on the pipe (exit 125 if the pipe closes first). Its pid or -errno.
        /// </summary>
        [LibraryImport("craterun_native", EntryPoint = "crt_spawn_in_userns")]
        public static partial int crt_spawn_in_userns(byte* exe, byte** argv, byte** envp, int goRead, int goWrite);

        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int lremovexattr(string path, string name);
    }
}
