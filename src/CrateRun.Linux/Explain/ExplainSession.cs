using System.Text;
using CrateRun.Core.Explain;

namespace CrateRun.Linux.Explain;

/// <summary>
/// Where `--explain` steps go as they happen: to stderr (or the fd a CLI handed to the
/// container's monitor), as text or JSON lines, numbered in order. While the C stage runs
/// (clone to READY) the runtime's own steps are held, then shown merged with the stage's
/// records by their start time, so that the list reads in the order things happened.
/// </summary>
public sealed class ExplainSession(ExplainFormat format, Action<string> write)
{
    private readonly Lock _lock = new();
    private int _seq;
    private List<ExplainEvent>? _held;

    public ExplainFormat Format { get; } = format;

    /// <summary>This process's session (one container per runtime process): cgroup file writes report to it.</summary>
    public static ExplainSession? Active { get; set; }

    /// <summary>A session writing to <paramref name="fd"/> directly (no buffering: lines interleave correctly with stderr).</summary>
    public static unsafe ExplainSession ToFd(ExplainFormat format, int fd) => new(format, text =>
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        fixed (byte* p = bytes)
        {
            for (var off = 0; off < bytes.Length;)
            {
                var n = Interop.Sys.write(fd, p + off, bytes.Length - off);
                if (n <= 0) return; // a reader that went away: explaining is not worth failing the container
                off += (int)n;
            }
        }
    });

    public void Emit(ExplainEvent e)
    {
        lock (_lock)
        {
            if (_held is not null) _held.Add(e);
            else Write(e);
        }
    }

    /// <summary>From the clone on: the runtime's steps wait for the C stage's, to be shown in order.</summary>
    public void Hold()
    {
        lock (_lock) _held ??= [];
    }

    /// <summary>Shows what was held together with <paramref name="more"/>, by start time.</summary>
    public void Release(IEnumerable<ExplainEvent> more)
    {
        lock (_lock)
        {
            var all = (_held ?? []).Concat(more).OrderBy(e => e.StartNs).ToList();
            _held = null;
            foreach (var e in all) Write(e);
        }
    }

    private void Write(ExplainEvent e)
    {
        e.Seq = ++_seq;
        write(ExplainText.Format(e, Format));
    }

    /// <summary>A step the runtime itself did, from <paramref name="startNs"/> to now; a failure carries errno and hint.</summary>
    public void Runtime(ExplainTopic topic, string step, string text, string call, long startNs, IReadOnlyList<string>? why = null, Exception? error = null)
    {
        var end = ExplainClock.Now();
        var errno = error switch
        {
            SyscallException s => s.Errno,
            IOException io when io.HResult != 0 => io.HResult & 0xffff,
            UnauthorizedAccessException => ExplainHints.EACCES,
            null => (int?)null,
            _ => 0,
        };
        Emit(new ExplainEvent
        {
            Topic = topic, Step = step, Text = text, Call = call, Why = why, StartNs = startNs, Micros = ExplainClock.Micros(startNs, end),
            Errno = error is null ? null : errno, Error = error?.Message, Hint = error is null ? null : ExplainHints.For(CallOf(call), errno ?? 0),
        });
    }

    private static string CallOf(string call) => call.Split('(', ' ')[0];

    /// <summary>Called around every cgroup file write and directory made (Cgroups/CgroupFiles.cs): one flag test when off.</summary>
    public static void CgroupWrite(string path, string value, long startNs, Exception? error) =>
        Active?.Runtime(ExplainTopic.Cgroups, "cgroup-write", $"cgroup: write {value} to {Path.GetFileName(path)}",
            $"openat(AT_FDCWD, \"{path}\", O_WRONLY|O_TRUNC); write(fd, \"{value}\", {Encoding.UTF8.GetByteCount(value)})", startNs, error: error);

    /// <summary>"the memory hierarchy" (v1: one per controller) or "the cgroup v2 tree".</summary>
    private static string Hierarchy(string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length > 3 && parts[0] == "sys" && parts[2] == "cgroup" && parts[3] != "unified" && !File.Exists("/sys/fs/cgroup/cgroup.controllers")
            ? $"the {parts[3]} hierarchy" : "the cgroup tree";
    }

    public static void CgroupMkdir(string path, long startNs, Exception? error) =>
        Active?.Runtime(ExplainTopic.Cgroups, "cgroup-mkdir", $"cgroup: make {Path.GetFileName(path)} in {Hierarchy(path)}",
            $"mkdir(\"{path}\", 0755)", startNs, error: error);
}
