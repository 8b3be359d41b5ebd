using System.Text;

namespace CrateRun.Linux;

/// <summary>
/// Text to stdout/stderr through write(2) on the descriptor as it is. Console's first use sets
/// up terminal handling (a signal-handling thread, ioctls, signal handlers), a tenth of a short
/// OCI command's run time; a FileStream over fd 1 writes with pwrite at its own offset, which
/// overwrites earlier output when stdout is a file shared with other writers.
/// </summary>
public static class StdStreams
{
    public const int Out = 1, Err = 2;

    /// <summary>
    /// Writes <paramref name="line"/> and a newline, all of it (partial writes and EINTR
    /// continue). As Console, a closed or broken descriptor (EBADF, EPIPE) loses the text silently.
    /// </summary>
    public static unsafe void WriteLine(int fd, string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line + "\n");
        fixed (byte* start = bytes)
        {
            var done = 0;
            while (done < bytes.Length)
            {
                var n = Interop.Sys.write(fd, start + done, bytes.Length - done);
                if (n > 0) done += (int)n;
                else if (n < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == Interop.EINTR) continue;
                else return;
            }
        }
    }
}
