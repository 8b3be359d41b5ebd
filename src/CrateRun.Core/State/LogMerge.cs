namespace CrateRun.Core.State;

/// <summary>A run of bytes of one log stream: whole lines that began in one chunk, or the part of a line written so far.</summary>
/// <param name="Stream">0 for stdout, 1 for stderr.</param>
/// <param name="Offset">Where it starts in the data given to <see cref="LogCursor.Pieces"/>.</param>
/// <param name="Nanos">When its first byte was written (Unix nanoseconds), never earlier than the piece before it.</param>
/// <param name="StartsLine">False for the rest of a line whose start was printed earlier.</param>
public readonly record struct LogPiece(int Stream, int Offset, int Length, long Nanos, bool StartsLine);

/// <summary>
/// Reads one container log (stdout.log or stderr.log) with its NAME.times file ("offset
/// unix-nanoseconds" per chunk written) into lines stamped with the time of the chunk that
/// holds their first byte. One pass, one pointer into the chunk list: linear in the log's size.
/// Used again and again on appended data by logs -f.
/// </summary>
public sealed class LogCursor(int stream)
{
    private readonly List<(long Offset, long Nanos)> _chunks = [];
    private int _chunk;
    private long _lastNanos = long.MinValue;
    private bool _midLine;

    public int Stream { get; } = stream;

    /// <summary>Adds the chunk times in <paramref name="text"/>; returns how many bytes of it were complete lines.</summary>
    public int AddTimes(ReadOnlySpan<byte> text)
    {
        var used = 0;
        while (true)
        {
            var end = text[used..].IndexOf((byte)'\n');
            if (end < 0) return used;
            var line = text.Slice(used, end);
            used += end + 1;
            var space = line.IndexOf((byte)' ');
            if (space > 0 && TryParse(line[..space], out var offset) && TryParse(line[(space + 1)..], out var nanos))
                _chunks.Add((offset, nanos));
        }
    }

    private static bool TryParse(ReadOnlySpan<byte> digits, out long value) =>
        long.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out value);

    /// <summary>
    /// The lines of <paramref name="data"/> (which starts at byte <paramref name="fileOffset"/> of
    /// the log) from <paramref name="start"/> on, in pieces of whole lines that share a time: the
    /// lines that begin in one chunk. Bytes with no recorded chunk (a log without its .times
    /// file) take <paramref name="fallbackNanos"/>.
    /// </summary>
    public IEnumerable<LogPiece> Pieces(byte[] data, long fileOffset, long fallbackNanos, int start = 0)
    {
        var i = start;
        while (i < data.Length)
        {
            var nanos = TimeAt(fileOffset + i, fallbackNanos);
            // the lines that begin before the next chunk does: up to the end of the line holding its first byte - 1
            var chunkEnd = _chunk + 1 < _chunks.Count ? _chunks[_chunk + 1].Offset - fileOffset : long.MaxValue;
            int end;
            if (chunkEnd >= data.Length)
            {
                end = data.Length;
            }
            else
            {
                var nl = Array.IndexOf(data, (byte)'\n', (int)Math.Max(i, chunkEnd - 1));
                end = nl < 0 ? data.Length : nl + 1;
            }
            yield return new LogPiece(Stream, i, end - i, nanos, !_midLine);
            _midLine = data[end - 1] != '\n';
            i = end;
        }
    }

    /// <summary>Where the last <paramref name="lines"/> lines of <paramref name="data"/> begin (an unterminated last one counts).</summary>
    public static int TailStart(ReadOnlySpan<byte> data, int lines)
    {
        if (lines <= 0) return data.Length;
        var i = data.Length - 1;
        if (i >= 0 && data[i] == '\n') i--;
        for (var count = 0; i >= 0; i--)
            if (data[i] == '\n' && ++count == lines) return i + 1;
        return 0;
    }

    /// <summary>
    /// The last <paramref name="lines"/> lines of the merged output (Docker's --tail counts over
    /// stdout and stderr together): pieces in order, the first one cut where its last lines
    /// begin. A newline in either stream ends a line; an unterminated last line counts.
    /// <paramref name="dataOf"/> gives the bytes a piece's offset refers to.
    /// </summary>
    public static List<LogPiece> TailOfMerged(IEnumerable<LogPiece> merged, Func<LogPiece, byte[]> dataOf, int lines)
    {
        var list = merged.ToList();
        if (lines <= 0) return [];
        var trailing = true; // the newline that ends the very last line does not start another
        var count = 0;
        for (var p = list.Count - 1; p >= 0; p--)
        {
            var piece = list[p];
            var data = dataOf(piece);
            for (var i = piece.Offset + piece.Length - 1; i >= piece.Offset; i--)
            {
                if (data[i] == '\n' && !trailing && ++count == lines)
                {
                    var cut = i + 1 - piece.Offset;
                    var rest = list.GetRange(p + 1, list.Count - p - 1);
                    if (cut < piece.Length) rest.Insert(0, piece with { Offset = i + 1, Length = piece.Length - cut, StartsLine = true });
                    return rest;
                }
                trailing = false;
            }
        }
        return list;
    }

    /// <summary>Pieces written in [<paramref name="sinceNanos"/>, <paramref name="untilNanos"/>] (Docker's --since/--until, both inclusive).</summary>
    public static IEnumerable<LogPiece> Between(IEnumerable<LogPiece> pieces, long? sinceNanos, long? untilNanos) =>
        pieces.Where(p => (sinceNanos is not { } s || p.Nanos >= s) && (untilNanos is not { } u || p.Nanos <= u));

    /// <summary>The time of the chunk holding <paramref name="offset"/>; offsets only grow, so the pointer only moves forward.</summary>
    private long TimeAt(long offset, long fallbackNanos)
    {
        while (_chunk + 1 < _chunks.Count && _chunks[_chunk + 1].Offset <= offset) _chunk++;
        var nanos = _chunks.Count > 0 ? _chunks[_chunk].Nanos : fallbackNanos;
        // a clock step back must not make a stamp go backwards
        _lastNanos = Math.Max(_lastNanos, nanos);
        return _lastNanos;
    }

    /// <summary>
    /// Both streams in the order they were written (by time; stdout first on a tie), as Docker
    /// merges them. Each input is in time order, so the output is too.
    /// </summary>
    public static IEnumerable<LogPiece> Merge(IEnumerable<LogPiece> stdout, IEnumerable<LogPiece> stderr)
    {
        using var a = stdout.GetEnumerator();
        using var b = stderr.GetEnumerator();
        var hasA = a.MoveNext();
        var hasB = b.MoveNext();
        while (hasA || hasB)
        {
            if (hasA && (!hasB || a.Current.Nanos <= b.Current.Nanos))
            {
                yield return a.Current;
                hasA = a.MoveNext();
            }
            else
            {
                yield return b.Current;
                hasB = b.MoveNext();
            }
        }
    }
}
