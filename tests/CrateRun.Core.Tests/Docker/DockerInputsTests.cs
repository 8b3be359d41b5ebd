using System.Text;
using CrateRun.Core.Docker;
using CrateRun.Core.State;

namespace CrateRun.Core.Tests.Docker;

/// <summary>The pure parsing behind the Docker-like flags: env files, labels, times, filters, templates, merged tail.</summary>
public sealed class DockerInputsTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void EnvFile_AsDockersParseEnvFile()
    {
        var env = KeyValueFiles.ParseEnvFile("# comment\n\nA=1\r\n  B= spaced value \nC=\"q\"\nFROM_HOST\nUNSET\nD=x=y\n", "f",
            k => k == "FROM_HOST" ? "host value" : null);
        Assert.Equal(["A=1", "B= spaced value ", "C=\"q\"", "FROM_HOST=host value", "D=x=y"], env);
    }

    [Theory]
    [InlineData("A B=1", "line 1", "whitespace")]
    [InlineData("ok=1\n=value", "line 2", "no variable name")]
    public void EnvFile_BadLines_NameTheLine(string text, string line, string why)
    {
        var e = Assert.Throws<UsageException>(() => KeyValueFiles.ParseEnvFile(text, "envs", _ => null));
        Assert.Contains("envs", e.Message);
        Assert.Contains(line, e.Message);
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void Labels_FlagsOverFiles_BareKeyIsEmpty()
    {
        var labels = KeyValueFiles.ParseLabels(KeyValueFiles.ParseLabelFile("# c\na=file\nb=file\n"), ["b=flag", "c", "d=x=y"]);
        Assert.Equal(new Dictionary<string, string> { ["a"] = "file", ["b"] = "flag", ["c"] = "", ["d"] = "x=y" }, labels);
        Assert.Throws<UsageException>(() => KeyValueFiles.ParseLabels([], ["=v"]));
    }

    [Theory]
    [InlineData("10m", "2026-11-30T11:50:00Z")]
    [InlineData("1h30m", "2026-11-30T10:30:00Z")]
    [InlineData("1.5h", "2026-11-30T10:30:00Z")]
    [InlineData("250ms", "2026-11-30T11:59:59.75Z")]
    [InlineData("1700000000", "2023-11-14T22:13:20Z")]
    [InlineData("10", "1970-01-01T00:00:10Z")] // a bare number is Unix seconds, not a duration (Go durations need a unit)
    [InlineData("1700000000.5", "2023-11-14T22:13:20.5Z")]
    [InlineData("2026-11-30T02:00:00Z", "2026-11-30T02:00:00Z")]
    [InlineData("2026-11-30T02:00:00.123456789Z", "2026-11-30T02:00:00.1234567Z")]
    [InlineData("2026-11-30T03:00:00+01:00", "2026-11-30T02:00:00Z")]
    public void Times_AsDockersGetTimestamp(string text, string expected)
    {
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), TimeArgument.Parse(text, Now, "--since"));
    }

    [Theory]
    [InlineData("2026-11-30T02:00:00.123456789Z", 1796004000_123456789L)]
    [InlineData("2026-11-30T03:00:00.000000001+01:00", 1796004000_000000001L)]
    [InlineData("2026-11-30T02:00:00.5Z", 1796004000_500000000L)]
    [InlineData("1796004000.000000007", 1796004000_000000007L)]
    public void Times_KeepAllNineDigitsOfAFraction(string text, long unixNanos)
    {
        Assert.Equal(unixNanos, TimeArgument.ParseNanos(text, Now, "--until"));
    }

    [Theory]
    [InlineData(1796004000_123456789L, "2026-11-30T02:00:00.123456789Z")]
    [InlineData(1796004000_000000000L, "2026-11-30T02:00:00.000000000Z")]
    public void Stamps_AreDockersRfc3339NanoFixed_AndReadBackExactly(long unixNanos, string text)
    {
        // what `logs -t` prints is what --since/--until take: the stamp names exactly its chunk
        Assert.Equal(text, TimeArgument.FormatNanos(unixNanos));
        Assert.Equal(unixNanos, TimeArgument.ParseNanos(TimeArgument.FormatNanos(unixNanos), Now, "--since"));
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("-10m")]
    [InlineData("2026-13-01")]
    [InlineData("")]
    public void Times_Bad_AreOneLineNamingTheFlag(string text)
    {
        var e = Assert.Throws<UsageException>(() => TimeArgument.Parse(text, Now, "--until"));
        Assert.Contains("--until", e.Message);
    }

    private static ContainerRow Row(string id, string name, string state, int? code = null, params (string K, string V)[] labels) => new()
    {
        Id = id, Name = name, State = state, ExitCode = code, Created = Now.AddMinutes(-5),
        Labels = labels.ToDictionary(l => l.K, l => l.V),
    };

    [Fact]
    public void Filters_SameKeyAny_LabelsAll_DifferentKeysAll()
    {
        var web = Row("aaaa1111", "web-1", "running", null, ("tier", "web"), ("env", "prod"));
        var db = Row("bbbb2222", "db-1", "exited", 3, ("tier", "db"));
        bool M(ContainerRow r, params string[] terms) => ContainerFilter.Parse(terms, Now).Matches(r);

        Assert.True(M(web, "status=running", "status=exited"));
        Assert.True(M(db, "status=running", "status=exited"));
        Assert.False(M(db, "status=running"));
        Assert.True(M(web, "label=tier=web", "label=env"));
        Assert.False(M(web, "label=tier=web", "label=missing"));
        Assert.False(M(db, "label=tier=web"));
        Assert.True(M(web, "name=^web"));
        Assert.False(M(db, "name=^web"));
        Assert.True(M(db, "id=bbbb", "id=cccc"));
        Assert.False(M(db, "id=bbbb", "status=running"));
        Assert.True(M(db, "exited=3"));
        Assert.False(M(web, "exited=0"));
        Assert.True(ContainerFilter.Parse(["status=exited"], Now).HasStatus);
    }

    [Theory]
    [InlineData("colour=red", "colour")]
    [InlineData("status=sleeping", "status")]
    [InlineData("novalue", "KEY=VALUE")]
    [InlineData("name=(", "name=(")]
    [InlineData("exited=x", "exit code")]
    [InlineData("until=10m", "until")] // prune only
    public void Filters_Bad_AreRefused(string term, string mention)
    {
        var e = Assert.Throws<UsageException>(() => ContainerFilter.Parse([term], Now));
        Assert.Contains(mention, e.Message);
    }

    [Fact]
    public void Filters_Until_ForPrune()
    {
        var f = ContainerFilter.Parse(["until=1m"], Now, allowUntil: true);
        Assert.True(f.Matches(Row("a", "a", "exited"))); // created 5 minutes ago
        Assert.False(ContainerFilter.Parse(["until=10m"], Now, allowUntil: true).Matches(Row("a", "a", "exited")));
    }

    [Fact]
    public void Template_FieldsLabelsJsonAndEscapes()
    {
        var row = Row("0123456789abcdef", "web", "running", null, ("tier", "web"));
        var t = GoTemplate.Parse(@"{{.ID}}\t{{.Names}} {{.Label ""tier""}} {{upper .State}}|{{json .Names}}", ContainerRow.Fields.Keys);
        Assert.False(t.IsTable);
        var text = t.Render(f => row.Field(f, Now, truncate: true), k => row.Labels.GetValueOrDefault(k, ""), f => "\"" + row.Field(f!, Now, true) + "\"");
        Assert.Equal("0123456789ab\tweb web RUNNING|\"web\"", text);
    }

    [Fact]
    public void Template_Table_HasDockersHeadersAndAlignment()
    {
        var t = GoTemplate.Parse(@"table {{.ID}}\t{{.Status}}", ContainerRow.Fields.Keys);
        Assert.True(t.IsTable);
        Assert.Equal("CONTAINER ID\tSTATUS", t.Header(ContainerRow.Fields));
        Assert.Equal("CONTAINER ID   STATUS\nabc            Up 5 minutes\n", GoTemplate.Align(["CONTAINER ID\tSTATUS", "abc\tUp 5 minutes"]));
    }

    [Theory]
    [InlineData("{{.Nope}}", "Nope")]
    [InlineData("{{.ID", "unclosed")]
    [InlineData("{{range .Labels}}x{{end}}", "unsupported")]
    [InlineData("{{.Label}}", "takes a key")]
    [InlineData("{{.}}", "json")]
    public void Template_Unsupported_IsRefusedBeforeOutput(string format, string mention)
    {
        var e = Assert.Throws<UsageException>(() => GoTemplate.Parse(format, ContainerRow.Fields.Keys));
        Assert.Contains(mention, e.Message);
    }

    [Theory]
    [InlineData(0.5, "Less than a second")]
    [InlineData(1, "1 second")]
    [InlineData(45, "45 seconds")]
    [InlineData(90, "About a minute")]
    [InlineData(600, "10 minutes")]
    [InlineData(3600, "About an hour")]
    [InlineData(5 * 3600, "5 hours")]
    [InlineData(3 * 86400, "3 days")]
    [InlineData(21 * 86400, "3 weeks")]
    public void HumanDurations_AsDockers(double seconds, string expected) =>
        Assert.Equal(expected, HumanDuration.Of(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public void Status_AsDockersStatusColumn()
    {
        Assert.Equal("Up 5 minutes", Row("a", "a", "running").StatusText(Now));
        Assert.Equal("Up 5 minutes (Paused)", Row("a", "a", "paused").StatusText(Now));
        Assert.Equal("Exited (3) 5 minutes ago", Row("a", "a", "exited", 3).StatusText(Now));
        Assert.Equal("Created", Row("a", "a", "created").StatusText(Now));
    }

    /// <summary>Pieces of two streams, as LogCursor makes them: one chunk per line, at the given times.</summary>
    private static (byte[][] Data, List<LogPiece> Merged) TwoStreams(params (int Stream, string Line, long Nanos)[] lines)
    {
        var data = new[] { new StringBuilder(), new StringBuilder() };
        var pieces = new List<LogPiece>();
        foreach (var (stream, line, nanos) in lines)
        {
            pieces.Add(new LogPiece(stream, data[stream].Length, line.Length, nanos, true));
            data[stream].Append(line);
        }
        return ([Encoding.ASCII.GetBytes(data[0].ToString()), Encoding.ASCII.GetBytes(data[1].ToString())], pieces);
    }

    private static string Text(byte[][] data, IEnumerable<LogPiece> pieces) =>
        string.Concat(pieces.Select(p => $"{p.Stream}:{Encoding.ASCII.GetString(data[p.Stream], p.Offset, p.Length)}"));

    [Fact]
    public void Tail_CountsOverBothStreams()
    {
        var (data, merged) = TwoStreams((0, "o1\n", 1), (1, "e1\n", 2), (0, "o2\n", 3), (1, "e2\n", 4));
        Assert.Equal("0:o2\n1:e2\n", Text(data, LogCursor.TailOfMerged(merged, p => data[p.Stream], 2)));
        Assert.Equal("1:e2\n", Text(data, LogCursor.TailOfMerged(merged, p => data[p.Stream], 1)));
        Assert.Equal("", Text(data, LogCursor.TailOfMerged(merged, p => data[p.Stream], 0)));
        Assert.Equal("0:o1\n1:e1\n0:o2\n1:e2\n", Text(data, LogCursor.TailOfMerged(merged, p => data[p.Stream], 10)));
    }

    [Fact]
    public void Tail_CutsAPieceOfSeveralLines_AndCountsAnUnterminatedLastLine()
    {
        var (data, merged) = TwoStreams((0, "a\nb\nc\n", 1), (1, "partial", 2));
        Assert.Equal("0:c\n1:partial", Text(data, LogCursor.TailOfMerged(merged, p => data[p.Stream], 2)));
    }

    [Fact]
    public void Between_IsInclusiveOnBothEnds()
    {
        var (data, merged) = TwoStreams((0, "a\n", 10), (1, "b\n", 20), (0, "c\n", 30));
        Assert.Equal("1:b\n0:c\n", Text(data, LogCursor.Between(merged, 20, null)));
        Assert.Equal("0:a\n1:b\n", Text(data, LogCursor.Between(merged, null, 20)));
        Assert.Equal("1:b\n", Text(data, LogCursor.Between(merged, 15, 25)));
    }
}
