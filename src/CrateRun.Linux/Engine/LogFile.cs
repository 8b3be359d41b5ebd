using System.Text;

namespace CrateRun.Linux.Engine;

/// <summary>
/// A container log: the raw bytes in NAME (stdout.log, stderr.log, as the seed has them) and,
/// beside it, NAME.times with one "offset unix-nanoseconds" line per chunk, for logs -t.
/// A write that fails (the disk under the state root is full) stops the log for good, says so
/// once on stderr and in the container's <see cref="StoppedMarker"/>; the output itself keeps
/// flowing to an attached terminal and the container keeps running.
/// </summary>
public sealed class LogFile : IDisposable
{
    private readonly FileStream _log;
    private readonly FileStream _times;
    private readonly string _path;

    /// <summary>The file beside the logs that says they stopped, and why (read by ps and inspect; monitor.c writes it too).</summary>
    public const string StoppedMarker = "logs-stopped";

    public LogFile(string path)
    {
        _path = path;
        _log = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        _times = new FileStream(path + ".times", FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
    }

    /// <summary>The fds of the log and of its times file (for the monitor's C waiting phase); -1 once the log stopped.</summary>
    public int LogFd => Stopped ? -1 : (int)_log.SafeFileHandle.DangerousGetHandle();
    public int TimesFd => Stopped ? -1 : (int)_times.SafeFileHandle.DangerousGetHandle();

    /// <summary>True once a write failed: nothing more is written.</summary>
    public bool Stopped { get; private set; }

    public void Write(ReadOnlySpan<byte> data)
    {
        if (Stopped) return;
        try
        {
            var nanos = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;
            _times.Write(Encoding.ASCII.GetBytes($"{_log.Position} {nanos}\n"));
            _times.Flush();
            _log.Write(data);
            _log.Flush();
        }
        catch (IOException e)
        {
            Stopped = true;
            ReportStopped(Path.GetDirectoryName(_path)!, Path.GetFileName(_path), e.Message);
        }
    }

    /// <summary>Once per container: the marker (an empty file still fits on a full disk; the reason if it can) and one line on stderr.</summary>
    public static void ReportStopped(string containerDir, string log, string reason)
    {
        var marker = Path.Combine(containerDir, StoppedMarker);
        if (File.Exists(marker)) return;
        var text = $"{log} stopped at {DateTimeOffset.UtcNow:yyyy-MM-dd'T'HH:mm:ss'Z'}: {reason}";
        try
        {
            using var f = new FileStream(marker, FileMode.CreateNew, FileAccess.Write);
            try { f.Write(Encoding.UTF8.GetBytes(text)); }
            catch (IOException) { } // no room for the reason: the empty marker still says it
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        // stderr is the attached CLI's (or /dev/null when detached)
        Console.Error.WriteLine($"craterun: container {Path.GetFileName(containerDir)}: {text}; the output still reaches this terminal");
    }

    /// <summary>Why a container's logs stopped (the marker's text), or null if they did not.</summary>
    public static string? StoppedReason(string containerDir)
    {
        var marker = Path.Combine(containerDir, StoppedMarker);
        try
        {
            if (!File.Exists(marker)) return null;
            var text = File.ReadAllText(marker).Trim();
            // empty: there was no room even for the reason (its time is the marker's own)
            return text.Length > 0 ? text
                : $"logs stopped at {File.GetLastWriteTimeUtc(marker):yyyy-MM-dd'T'HH:mm:ss'Z'}: a write failed, most likely no space left on the device of the state root";
        }
        catch (IOException) { return "the logs stopped: a write failed"; }
    }

    public void Dispose()
    {
        // a full disk may fail the final flush too: the loss was reported already
        try { _log.Dispose(); } catch (IOException) { }
        try { _times.Dispose(); } catch (IOException) { }
    }
}

/// <summary>Small fd helpers for the front ends.</summary>
public static class Fds
{
    public static SafeFd DevNull() =>
        new(Interop.Check(Interop.Sys.open("/dev/null", Interop.Sys.O_RDWR | Interop.Sys.O_CLOEXEC, 0), "open", "/dev/null"));
}
