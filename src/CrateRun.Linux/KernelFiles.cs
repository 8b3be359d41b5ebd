namespace CrateRun.Linux;

/// <summary>
/// The small text files of /proc and cgroupfs (a process's stat, freezer.state, pids.max...):
/// read with one pread into a stack buffer. File.ReadAllText allocates a StreamReader and its
/// buffers for each (these files report a size of 0 or 4096), which made `ps` over 500
/// containers spend half its time there (bench/many.sh).
/// </summary>
public static class KernelFiles
{
    private const int BufferSize = 4096;

    /// <summary>The whole file as text; IOException or UnauthorizedAccessException as File.ReadAllText throws them.</summary>
    public static string ReadText(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        Span<byte> buffer = stackalloc byte[BufferSize];
        var length = 0;
        while (length < buffer.Length)
        {
            var n = RandomAccess.Read(handle, buffer[length..], length);
            if (n == 0) return System.Text.Encoding.UTF8.GetString(buffer[..length]);
            length += n;
        }
        return File.ReadAllText(path); // larger than a page (a long cgroup.procs): the general way
    }
}
