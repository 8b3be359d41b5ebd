using System.Diagnostics;
using System.Text;
using CrateRun.Core.State;

namespace CrateRun.Core.Tests.State;

/// <summary>logs: both streams in the order they were written, stamps that never go back, linear time.</summary>
public sealed class LogMergeTests
{
    private static (LogCursor Cursor, byte[] Data) Stream(int stream, params (string Text, long Nanos)[] chunks)
    {
        var cursor = new LogCursor(stream);
        var data = new StringBuilder();
        var times = new StringBuilder();
        foreach (var (text, nanos) in chunks)
        {
            times.Append($"{Encoding.UTF8.GetByteCount(data.ToString())} {nanos}\n");
            data.Append(text);
        }
        cursor.AddTimes(Encoding.ASCII.GetBytes(times.ToString()));
        return (cursor, Encoding.UTF8.GetBytes(data.ToString()));
    }

    private static List<(int Stream, string Text, long Nanos)> Merged((LogCursor C, byte[] D) o, (LogCursor C, byte[] D) e) =>
        [.. LogCursor.Merge(o.C.Pieces(o.D, 0, 0), e.C.Pieces(e.D, 0, 0))
            .Select(p => (p.Stream, Encoding.UTF8.GetString(p.Stream == 0 ? o.D : e.D, p.Offset, p.Length), p.Nanos))];

    [Fact]
    public void Stdout_and_stderr_come_out_in_the_order_they_were_written()
    {
        // what `echo out1; echo err1 >&2; echo out2; echo err2 >&2; echo out3` leaves behind
        var o = Stream(0, ("out1\n", 100), ("out2\n", 300), ("out3\n", 500));
        var e = Stream(1, ("err1\n", 200), ("err2\n", 400));
        Assert.Equal(["out1\n", "err1\n", "out2\n", "err2\n", "out3\n"], Merged(o, e).Select(x => x.Text));
        Assert.Equal([0, 1, 0, 1, 0], Merged(Stream(0, ("out1\n", 100), ("out2\n", 300), ("out3\n", 500)), Stream(1, ("err1\n", 200), ("err2\n", 400))).Select(x => x.Stream));
    }

    [Fact]
    public void A_chunk_of_several_lines_stamps_each_with_its_time_and_a_line_split_over_chunks_takes_its_first()
    {
        var o = Stream(0, ("a\nb\npar", 100), ("tial\nc\n", 300));
        var e = Stream(1, ("x\n", 200));
        var m = Merged(o, e);
        // the lines that began in one chunk come as one piece, the split line whole with them
        Assert.Equal(["a\nb\npartial\n", "x\n", "c\n"], m.Select(x => x.Text));
        Assert.Equal([100L, 200, 300], m.Select(x => x.Nanos));
    }

    [Fact]
    public void Stamps_never_go_backwards_even_when_the_clock_did()
    {
        var o = Stream(0, ("a\n", 500), ("b\n", 100), ("c\n", 600));
        var e = Stream(1, ("x\n", 300), ("y\n", 550));
        var stamps = Merged(o, e).Select(x => x.Nanos).ToList();
        Assert.Equal(stamps.Order(), stamps);
    }

    [Fact]
    public void Times_are_read_in_complete_lines_only()
    {
        var c = new LogCursor(0);
        var text = "0 100\n5 20"u8.ToArray();
        Assert.Equal(6, c.AddTimes(text));
        Assert.Equal(6, c.AddTimes("5 200\n10"u8.ToArray()));
        var pieces = c.Pieces("0123\n5678\n"u8.ToArray(), 0, 0).ToList();
        Assert.Equal([100L, 200], pieces.Select(p => p.Nanos));
    }

    [Theory]
    [InlineData("a\nb\nc\n", 1, "c\n")]
    [InlineData("a\nb\nc\n", 2, "b\nc\n")]
    [InlineData("a\nb\nc", 1, "c")]
    [InlineData("a\nb\nc", 5, "a\nb\nc")]
    [InlineData("a\nb\n", 0, "")]
    [InlineData("", 3, "")]
    public void Tail_starts_at_the_last_lines_counting_an_unterminated_one(string text, int lines, string expected)
    {
        var data = Encoding.UTF8.GetBytes(text);
        Assert.Equal(expected, Encoding.UTF8.GetString(data, LogCursor.TailStart(data, lines), data.Length - LogCursor.TailStart(data, lines)));
    }

    [Fact]
    public void Tail_then_merge_keeps_the_times_of_the_lines_kept()
    {
        var o = Stream(0, ("o1\n", 100), ("o2\n", 300));
        var e = Stream(1, ("e1\n", 200), ("e2\n", 400));
        var m = LogCursor.Merge(o.Cursor.Pieces(o.Data, 0, 0, LogCursor.TailStart(o.Data, 1)), e.Cursor.Pieces(e.Data, 0, 0, LogCursor.TailStart(e.Data, 1)))
            .Select(p => (p.Stream, p.Nanos)).ToList();
        Assert.Equal([(0, 300L), (1, 400L)], m);
    }

    /// <summary>
    /// logs -t took 128 s on a 200 MB log: every line searched the whole chunk list. Doubling the
    /// log must about double the time (a quadratic reader quadruples it; measured in work, not wall time:
    /// lines × chunks visited would be 4x). 20k and 40k lines of one chunk each.
    /// </summary>
    [Fact]
    public void Stamping_is_linear_in_the_number_of_lines_and_chunks()
    {
        static TimeSpan Time(int lines)
        {
            var data = new StringBuilder();
            var times = new StringBuilder();
            for (var i = 0; i < lines; i++)
            {
                times.Append($"{data.Length} {i}\n");
                data.Append("line ").Append(i).Append('\n');
            }
            var bytes = Encoding.ASCII.GetBytes(data.ToString());
            var timeBytes = Encoding.ASCII.GetBytes(times.ToString());
            var best = TimeSpan.MaxValue;
            for (var round = 0; round < 3; round++)
            {
                var c = new LogCursor(0);
                var clock = Stopwatch.StartNew();
                c.AddTimes(timeBytes);
                var count = c.Pieces(bytes, 0, 0).Count();
                clock.Stop();
                Assert.Equal(lines, count);
                if (clock.Elapsed < best) best = clock.Elapsed;
            }
            return best;
        }
        Time(20_000); // warm-up
        var small = Time(50_000);
        var large = Time(200_000);
        // linear: about 4x for 4x the lines; quadratic would be 16x
        Assert.True(large.TotalMilliseconds < small.TotalMilliseconds * 8 + 20, $"50k lines: {small.TotalMilliseconds} ms, 200k lines: {large.TotalMilliseconds} ms");
    }
}
