using System.Text.Json;
using CrateRun.Core.Docker;

namespace CrateRun.Core.Tests.Docker;

/// <summary>Docker's event forms: `docker events` text and `--format '{{json .}}'`.</summary>
public sealed class ContainerEventsTests
{
    private static readonly ContainerEvent Die = new(
        ContainerEvent.NanosOf(new DateTimeOffset(2026, 11, 30, 5, 0, 0, TimeSpan.Zero)) + 123_456_700,
        "die", "0123456789abcdef", new Dictionary<string, string> { ["name"] = "web", ["exitCode"] = "3", ["image"] = "busybox" });

    [Fact]
    public void Text_is_Dockers_line_with_sorted_attributes() =>
        Assert.Equal("2026-11-30T05:00:00.123456700Z container die 0123456789abcdef (exitCode=3, image=busybox, name=web)", Die.ToText());

    [Fact]
    public void The_log_line_reads_back()
    {
        var back = ContainerEvent.FromLogLine(Die.ToLogLine())!;
        Assert.Equal(Die.ToText(), back.ToText());
        Assert.Null(ContainerEvent.FromLogLine("{\"time\":1,\"acti"u8));
        Assert.Null(ContainerEvent.FromLogLine("not json"u8));
    }

    [Fact]
    public void Json_has_Dockers_members()
    {
        using var doc = JsonDocument.Parse(Die.ToDockerJson());
        var e = doc.RootElement;
        Assert.Equal("die", e.GetProperty("status").GetString());
        Assert.Equal("container", e.GetProperty("Type").GetString());
        Assert.Equal("die", e.GetProperty("Action").GetString());
        Assert.Equal("0123456789abcdef", e.GetProperty("Actor").GetProperty("ID").GetString());
        Assert.Equal("3", e.GetProperty("Actor").GetProperty("Attributes").GetProperty("exitCode").GetString());
        Assert.Equal("busybox", e.GetProperty("from").GetString());
        Assert.Equal(new DateTimeOffset(2026, 11, 30, 5, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds(), e.GetProperty("time").GetInt64());
        Assert.Equal(Die.TimeNano, e.GetProperty("timeNano").GetInt64());
    }

    [Theory]
    [InlineData(new[] { "event=die" }, true)]
    [InlineData(new[] { "event=start", "event=die" }, true)]
    [InlineData(new[] { "event=start" }, false)]
    [InlineData(new[] { "container=web" }, true)]
    [InlineData(new[] { "container=0123" }, true)]
    [InlineData(new[] { "container=db" }, false)]
    [InlineData(new[] { "container=web", "event=start" }, false)]
    [InlineData(new[] { "type=container" }, true)]
    [InlineData(new[] { "type=image" }, false)]
    [InlineData(new[] { "label=name=web" }, true)]
    public void Filters_same_key_or_different_keys_and(string[] filters, bool matches) =>
        Assert.Equal(matches, EventFilter.Parse(filters).Matches(Die));

    [Fact]
    public void Unknown_filter_keys_are_refused() =>
        Assert.Contains("colour", Assert.Throws<UsageException>(() => EventFilter.Parse(["colour=red"])).Message);

    private static ContainerEvent Exec(string action) =>
        new(Die.TimeNano, action, Die.Id, new Dictionary<string, string> { ["execID"] = "ab" });

    [Theory]
    [InlineData("event=exec_create", "exec_create: sh -c date", true)]
    [InlineData("event=exec_start", "exec_start: sh -c date", true)]
    [InlineData("event=health_status", "health_status: unhealthy", true)]
    [InlineData("event=health_status: healthy", "health_status: healthy", true)]
    [InlineData("event=health_status: healthy", "health_status: unhealthy", false)]
    [InlineData("event=exec_die", "exec_die", true)]
    [InlineData("event=exec", "exec_create: sh -c date", false)]
    [InlineData("event=die", "exec_die", false)]
    public void Event_filters_match_execs_and_health_by_their_prefix_as_Dockers(string filter, string action, bool matches) =>
        Assert.Equal(matches, EventFilter.Parse([filter]).Matches(Exec(action)));

    [Fact]
    public void An_execs_command_is_written_as_Docker_writes_it()
    {
        Assert.Equal("sh -c echo hi", ContainerEvent.ExecCommand(["sh", "-c", "echo hi"]));
        Assert.Equal("date ", ContainerEvent.ExecCommand(["date"])); // Entrypoint + " " + the (no) arguments
        Assert.Matches("^[0-9a-f]{64}$", ContainerEvent.NewExecId());
        Assert.Equal("2026-11-30T05:00:00.123456700Z container exec_die 0123456789abcdef (execID=ab)",
            new ContainerEvent(Die.TimeNano, "exec_die", Die.Id, new Dictionary<string, string> { ["execID"] = "ab" }).ToText());
    }
}
