using System.Runtime.InteropServices;
using CrateRun.Core;

namespace CrateRun.Linux;

/// <summary>A failed system call: names the call, its argument and the errno text.</summary>
public sealed class SyscallException(string call, string? argument, int errno)
    : CrateRunException($"{call}({argument}): {Interop.ErrorText(errno)}")
{
    public string Call { get; } = call;
    public int Errno { get; } = errno;
}

internal static partial class Interop
{
    public const int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EAGAIN = 11, EACCES = 13, EBUSY = 16,
        EEXIST = 17, ENOTDIR = 20, EINVAL = 22, ENOEXEC = 8, ECHILD = 10, ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40;

    public static string ErrorText(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    /// <summary>Throws when rc is -1, with the call's name, its argument and errno.</summary>
    public static int Check(int rc, string call, string? argument = null)
    {
        if (rc == -1) throw new SyscallException(call, argument, Marshal.GetLastPInvokeError());
        return rc;
    }

    public static long Check(long rc, string call, string? argument = null)
    {
        if (rc == -1) throw new SyscallException(call, argument, Marshal.GetLastPInvokeError());
        return rc;
    }
}
