using System.Text;
using CrateRun.Core.State;
using CrateRun.Linux.Engine;
using CrateRun.Linux.Process;

namespace CrateRun.Cli;

/// <summary>
/// craterun logs: stdout.log to stdout and stderr.log to stderr, merged in the order they were
/// written (the .times files); -t stamps each line, -f follows, --tail N keeps the last N lines of the merged output,
/// --since/--until keep what was written in that window.
/// </summary>
public static class Logs
{
    /// <summary>One log file being read: how far, and the cursor that stamps its lines.</summary>
    private sealed class Source(string path, int stream, Stream sink)
    {
        public readonly string Path = path;
        public readonly Stream Sink = sink;
        public readonly LogCursor Cursor = new(stream);
        public long Position;
        public long TimesPosition;
        public byte[] Data = [];

        /// <summary>Reads what was appended since the last call (the data first: its times were written before it).</summary>
        public void ReadMore()
        {
            Data = ReadFrom(Path, Position);
            var times = ReadFrom(Path + ".times", TimesPosition);
            TimesPosition += Cursor.AddTimes(times);
        }

        public IEnumerable<LogPiece> Pieces(long fallbackNanos, int start) => Cursor.Pieces(Data, Position, fallbackNanos, start);
    }

    /// <summary><paramref name="sinceNanos"/> and <paramref name="untilNanos"/>: Unix nanoseconds (TimeArgument.ParseNanos), both inclusive.</summary>
    public static int Print(ContainerEngine engine, string id, bool follow, int? tail, bool timestamps, long? sinceNanos = null, long? untilNanos = null)
    {
        var window = (Since: sinceNanos, Until: untilNanos);
        using var stdout = new BufferedStream(Console.OpenStandardOutput(), 64 * 1024);
        using var stderr = new BufferedStream(Console.OpenStandardError(), 64 * 1024);
        var sources = new[]
        {
            new Source(engine.Store.PathOf(id, "stdout.log"), 0, stdout),
            new Source(engine.Store.PathOf(id, "stderr.log"), 1, stderr),
        };
        var writer = new Writer(timestamps);
        var fallback = engine.Store.TryLoad(id)?.Created is { } created ? (created - DateTimeOffset.UnixEpoch).Ticks * 100 : 0;
        Emit(sources, tail, writer, fallback, window);
        if (!follow) return 0;
        while (true)
        {
            // a container removed while we follow it (--rm, rm -f) simply ends the output, as with Docker
            var r = engine.Store.TryLoad(id);
            var running = r is not null && ContainerEngine.CurrentStatus(r) is ContainerStatus.Running or ContainerStatus.Created or ContainerStatus.Creating or ContainerStatus.Restarting;
            var monitorAlive = r is not null && r.MonitorPid > 0 && Processes.IsAlive(r.MonitorPid, r.MonitorStartTime);
            Emit(sources, null, writer, fallback, window);
            if (!running && !monitorAlive) return 0;
            Thread.Sleep(50);
        }
    }

    /// <summary>Prints what was appended to both logs since the last call, merged by time, within the --since/--until window.</summary>
    private static void Emit(Source[] sources, int? tail, Writer writer, long fallbackNanos, (long? Since, long? Until) window)
    {
        foreach (var s in sources) s.ReadMore();
        var merged = LogCursor.Between(LogCursor.Merge(sources[0].Pieces(fallbackNanos, 0), sources[1].Pieces(fallbackNanos, 0)), window.Since, window.Until);
        // --tail N: the last N lines of the merged output (Docker counts over both streams)
        if (tail is { } n) merged = LogCursor.TailOfMerged(merged, piece => sources[piece.Stream].Data, n);
        foreach (var piece in merged)
            writer.Write(sources[piece.Stream], piece);
        foreach (var s in sources)
        {
            s.Position += s.Data.Length;
            s.Sink.Flush();
        }
    }

    /// <summary>Writes pieces to their stream; flushes when the stream changes, so that 2>&amp;1 keeps the order.</summary>
    private sealed class Writer(bool timestamps)
    {
        private Stream? _last;
        private long _stampNanos = long.MinValue;
        private byte[] _stamp = [];

        public void Write(Source s, LogPiece p)
        {
            if (_last is not null && _last != s.Sink) _last.Flush();
            _last = s.Sink;
            if (!timestamps)
            {
                s.Sink.Write(s.Data, p.Offset, p.Length);
                return;
            }
            // every line of the piece began in the same chunk: one stamp for all of them
            if (p.Nanos != _stampNanos)
            {
                _stampNanos = p.Nanos;
                _stamp = Encoding.ASCII.GetBytes(Core.Docker.TimeArgument.FormatNanos(p.Nanos) + " ");
            }
            var i = p.Offset;
            var end = p.Offset + p.Length;
            var atLineStart = p.StartsLine;
            while (i < end)
            {
                var nl = Array.IndexOf(s.Data, (byte)'\n', i, end - i);
                var lineEnd = nl < 0 ? end : nl + 1;
                if (atLineStart) s.Sink.Write(_stamp);
                s.Sink.Write(s.Data, i, lineEnd - i);
                atLineStart = true;
                i = lineEnd;
            }
        }
    }

    /// <summary>The bytes of a file from <paramref name="from"/> to its end (none if it does not exist, or no longer).</summary>
    private static byte[] ReadFrom(string path, long from)
    {
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (f.Length <= from) return [];
            f.Position = from;
            var data = new byte[f.Length - from];
            f.ReadExactly(data);
            return data;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return [];
        }
    }
}
