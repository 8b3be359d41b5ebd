using System.Text;

namespace CrateRun.Linux.Engine;

/// <summary>
/// A container log: the raw bytes in NAME (stdout.log, stderr.log, as the seed has them) and,
/// beside it, NAME.times with one "offset unix-nanoseconds" line per chunk, for logs -t.
/// </summary>
public sealed class LogFile : IDisposable
{
    private readonly FileStream _log;
    private readonly FileStream _times;

    public LogFile(string path)
    {
        _log = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        _times = new FileStream(path + ".times", FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
    }

    /// <summary>The fds of the log and of its times file (for the monitor's C waiting phase).</summary>
    public int LogFd => (int)_log.SafeFileHandle.DangerousGetHandle();
    public int TimesFd => (int)_times.SafeFileHandle.DangerousGetHandle();

    public void Write(ReadOnlySpan<byte> data)
    {
        var nanos = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;
        _times.Write(Encoding.ASCII.GetBytes($"{_log.Position} {nanos}\n"));
        _times.Flush();
        _log.Write(data);
        _log.Flush();
    }

    public void Dispose()
    {
        _log.Dispose();
        _times.Dispose();
    }
}

/// <summary>Small fd helpers for the front ends.</summary>
public static class Fds
{
    public static SafeFd DevNull() =>
        new(Interop.Check(Interop.Sys.open("/dev/null", Interop.Sys.O_RDWR | Interop.Sys.O_CLOEXEC, 0), "open", "/dev/null"));
}
