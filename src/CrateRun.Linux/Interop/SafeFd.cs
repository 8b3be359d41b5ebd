using System.Runtime.InteropServices;

namespace CrateRun.Linux;

/// <summary>A file descriptor owned by the runtime; closed exactly once.</summary>
public sealed class SafeFd : SafeHandle
{
    public SafeFd() : base(-1, ownsHandle: true) { }
    public SafeFd(int fd, bool ownsHandle = true) : base(-1, ownsHandle) => SetHandle(fd);

    public override bool IsInvalid => handle == -1;
    public int Fd => (int)handle;

    /// <summary>Gives up ownership, e.g. after handing the fd to a child.</summary>
    public int Release()
    {
        var fd = (int)handle;
        SetHandleAsInvalid();
        return fd;
    }

    protected override bool ReleaseHandle() => Interop.Sys.close((int)handle) == 0;
}
