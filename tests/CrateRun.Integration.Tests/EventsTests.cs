using System.Text.Json;
using System.Text.RegularExpressions;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// craterun events, as `docker events` prints them: one line per lifecycle step
/// ("2026-11-30T05:00:00.000000000Z container start ID (image=..., name=NAME)"), in order,
/// with --since/--until, --filter and --format json; without --until it follows.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed partial class EventsTests(CrateRunFixture f)
{
    [GeneratedRegex(@"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) container ([a-z]+) ([0-9a-f]{16})(?: \((.*)\))?$")]
    private static partial Regex EventLine();

    private static string Since(DateTimeOffset t) => t.ToUnixTimeSeconds().ToString();

    private static List<(string Action, string Id, string Attributes)> Parse(string stdout) =>
        [.. stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l =>
        {
            var m = EventLine().Match(l);
            Assert.True(m.Success, $"not Docker's event form: {l}");
            return (m.Groups[2].Value, m.Groups[3].Value, m.Groups[4].Value);
        })];

    [RootFact]
    public async Task A_Containers_Lifecycle_IsLogged_InOrder_WithExitCodeAndName()
    {
        var start = DateTimeOffset.UtcNow.AddSeconds(-1);
        var name = "ev-" + Guid.NewGuid().ToString("N")[..8];
        var id = await f.Detached("trap 'exit 3' TERM; echo ready; while true; do sleep 0.1; done", "--name", name);
        try
        {
            await f.WaitForLog(id, "ready");
            Assert.Equal(0, (await f.Cr("pause", id)).ExitCode);
            Assert.Equal(0, (await f.Cr("unpause", id)).ExitCode);
            Assert.Equal(0, (await f.Cr("rename", id, name + "-b")).ExitCode);
            Assert.Equal(0, (await f.Cr("stop", id)).ExitCode);
            Assert.Equal(0, (await f.Cr("rm", id)).ExitCode);
            var until = DateTimeOffset.UtcNow.AddSeconds(1);
            var r = await f.Cr("events", "--since", Since(start), "--until", Since(until.AddSeconds(1)), "--filter", "container=" + id);
            Assert.True(r.ExitCode == 0, r.ToString());
            var events = Parse(r.Stdout);
            Assert.All(events, e => Assert.Equal(id, e.Id));
            Assert.Equal(["create", "start", "pause", "unpause", "rename", "kill", "die", "stop", "destroy"], events.Select(e => e.Action));
            Assert.Contains($"name={name}", events[0].Attributes);
            Assert.Contains($"oldName={name}", events[4].Attributes);
            Assert.Contains("signal=15", events[5].Attributes);
            Assert.Contains("exitCode=3", events[6].Attributes);
            Assert.Contains($"name={name}-b", events[6].Attributes);
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task Events_Follow_WhatHappens_FilteredByEvent_AsJson()
    {
        using var follow = Proc.Start(f.Binary, ["--root", f.StateRoot, "events", "--filter", "event=die", "--format", "json"], f.Env);
        await Task.Delay(500); // it skips the log so far, then follows
        var r = await f.Sh("exit 5");
        Assert.Equal(5, r.ExitCode);
        Assert.True(await follow.WaitForOutput(r.Id!, TimeSpan.FromSeconds(10)), $"no event of {r.Id}:\n{follow.Stdout}\n{follow.Stderr}");
        var line = follow.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Single(l => l.Contains(r.Id!, StringComparison.Ordinal));
        using var doc = JsonDocument.Parse(line);
        var e = doc.RootElement;
        Assert.Equal("container", e.GetProperty("Type").GetString());
        Assert.Equal("die", e.GetProperty("Action").GetString());
        Assert.Equal(r.Id, e.GetProperty("Actor").GetProperty("ID").GetString());
        Assert.Equal("5", e.GetProperty("Actor").GetProperty("Attributes").GetProperty("exitCode").GetString());
        Assert.True(Math.Abs(e.GetProperty("time").GetInt64() - DateTimeOffset.UtcNow.ToUnixTimeSeconds()) < 60);
        // only die events passed the filter
        Assert.All(follow.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Contains("\"Action\":\"die\"", l));
        Assert.False(follow.HasExited, "events without --until stopped following");
    }

    [RootFact]
    public async Task Until_BeforeAnEvent_LeavesItOut()
    {
        var before = DateTimeOffset.UtcNow.AddSeconds(-2);
        var r = await f.Sh("true");
        var list = await f.Cr("events", "--since", Since(before.AddSeconds(-10)), "--until", Since(before), "--filter", "container=" + r.Id);
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Equal("", list.Stdout);
    }

    [RootTheory]
    [InlineData("--filter", "colour=red")]
    [InlineData("--since", "yesterday")]
    [InlineData("--format", "{{.ID}}")]
    public async Task BadFlags_AreOneLine_125(string flag, string value)
    {
        var r = await f.Cr("events", flag, value, "--until", "0s");
        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.StartsWith("craterun: ", Assert.Single(r.ErrLines));
        Assert.Contains(flag, r.ErrLines[0]);
    }
}
