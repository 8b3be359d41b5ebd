namespace CrateRun.Linux.Engine;

/// <summary>
/// A container's logs: the raw bytes in stdout.log and stderr.log and, beside each, NAME.times
/// with one "offset unix-nanoseconds" line per chunk, for logs -t. They are written by monitor.c
/// only (<see cref="IoPump"/>, in both phases of a monitor). A write that fails (the disk under
/// the state root is full) stops that log for good and says so once on stderr and in the
/// container's <see cref="StoppedMarker"/>; the output itself keeps flowing to an attached
/// terminal and the container keeps running.
/// </summary>
public static class LogFile
{
    /// <summary>The file beside the logs that says they stopped, and why (written by monitor.c, read by ps and inspect).</summary>
    public const string StoppedMarker = "logs-stopped";

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
}

/// <summary>Small fd helpers for the front ends.</summary>
public static class Fds
{
    public static SafeFd DevNull() =>
        new(Interop.Check(Interop.Sys.open("/dev/null", Interop.Sys.O_RDWR | Interop.Sys.O_CLOEXEC, 0), "open", "/dev/null"));
}
