using System.Runtime.InteropServices;

namespace CrateRun.Linux;

/// <summary>
/// The small text files of /proc and cgroupfs (a process's stat, freezer.state, pids.max...):
/// read with open, one read into a stack buffer, close. File.ReadAllText allocates a
/// StreamReader and its buffers for each (these files report a size of 0 or 4096), and even
/// File.OpenHandle adds an fstat and an flock per file: `ps` over 500 containers reads three
/// such files per container (bench/many.sh).
/// </summary>
public static unsafe class KernelFiles
{
    private const int BufferSize = 4096;

    /// <summary>The whole file as text; IOException or UnauthorizedAccessException as File.ReadAllText throws them.</summary>
    public static string ReadText(string path)
    {
        Span<byte> buffer = stackalloc byte[BufferSize];
        var length = Read(path, buffer);
        // an error (thrown as .NET names it) or larger than a page (a long cgroup.procs): the general way
        if (length < 0 || length == buffer.Length) return File.ReadAllText(path);
        return System.Text.Encoding.UTF8.GetString(buffer[..length]);
    }

    /// <summary>
    /// Reads the file into <paramref name="buffer"/>, as much as it holds: the byte count, or
    /// -errno when it cannot be opened or read. With <paramref name="oneRead"/>, one read(2) only:
    /// for files the kernel makes in one piece (/proc/PID/stat, a single_open seq file, gives all
    /// of itself to a read whose buffer holds it), which saves the read that would find the end.
    /// </summary>
    public static int Read(string path, Span<byte> buffer, bool oneRead = false)
    {
        var fd = Interop.Sys.open(path, Interop.Sys.O_RDONLY | Interop.Sys.O_CLOEXEC, 0);
        if (fd < 0) return -Marshal.GetLastPInvokeError();
        var length = 0;
        fixed (byte* p = buffer)
        {
            while (length < buffer.Length)
            {
                var n = Interop.Sys.read(fd, p + length, buffer.Length - length);
                if (n < 0)
                {
                    var err = Marshal.GetLastPInvokeError();
                    if (err == Interop.EINTR) continue;
                    Interop.Sys.close(fd);
                    return -err;
                }
                if (n == 0) break;
                length += (int)n;
                if (oneRead) break;
            }
        }
        Interop.Sys.close(fd);
        return length;
    }
}
