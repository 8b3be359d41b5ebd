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

    /// <summary>events --since T --until now+2s --filter ... --format json: each line's Docker fields.</summary>
    private async Task<List<JsonElement>> JsonEvents(DateTimeOffset since, params string[] filters)
    {
        var r = await f.Cr(["events", "--since", Since(since), "--until", Since(DateTimeOffset.UtcNow.AddSeconds(2)), "--format", "json",
            .. filters.SelectMany(x => new[] { "--filter", x })]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return [.. r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
    }

    private static string ActionOf(JsonElement e) => e.GetProperty("Action").GetString()!;

    private static string Attribute(JsonElement e, string key) =>
        e.GetProperty("Actor").GetProperty("Attributes").TryGetProperty(key, out var v) ? v.GetString()! : "";

    private async Task WaitForHealth(string id, string status)
    {
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); clock.ElapsedMilliseconds < 20_000; await Task.Delay(100))
            if ((await f.Inspect(id)).TryGetProperty("health", out var h) && h.GetProperty("status").GetString() == status) return;
        Assert.Fail($"{id} never became {status}");
    }

    [RootFact]
    public async Task Exec_Health_And_Restart_AreLogged_InDockersShapes()
    {
        var start = DateTimeOffset.UtcNow.AddSeconds(-1);
        var flag = "/tmp/ok-" + Guid.NewGuid().ToString("N")[..8]; // (the fixture's rootfs is shared: a name of this test's own)
        var id = await f.Detached("echo ready; while true; do sleep 0.1; done", "--health-cmd", "test -e " + flag, "--health-interval", "200ms", "--health-retries", "1");
        try
        {
            await f.WaitForLog(id, "ready");
            Assert.Equal(4, (await f.Cr("exec", id, "--", "/bin/sh", "-c", "exit 4")).ExitCode);
            await WaitForHealth(id, "unhealthy");
            Assert.Equal(0, (await f.Cr("exec", id, "--", "touch", flag)).ExitCode);
            await WaitForHealth(id, "healthy");
            await Task.Delay(600); // a few more probes: healthy again is no new event
            var restart = await f.Cr("restart", "-t", "1", id);
            Assert.True(restart.ExitCode == 0, restart.ToString());

            var events = await JsonEvents(start, "container=" + id);
            Assert.All(events, e => Assert.Equal(ActionOf(e), e.GetProperty("status").GetString()));
            Assert.All(events, e => Assert.Equal(id, e.GetProperty("Actor").GetProperty("ID").GetString()));
            // an exec: created, started (its command as Docker writes it), then its exit code, under one 64-hex exec id
            var create = events.Single(e => ActionOf(e) == "exec_create: /bin/sh -c exit 4");
            var execId = Attribute(create, "execID");
            Assert.Matches("^[0-9a-f]{64}$", execId);
            var mine = events.Where(e => Attribute(e, "execID") == execId).Select(ActionOf).ToList();
            Assert.Equal(["exec_create: /bin/sh -c exit 4", "exec_start: /bin/sh -c exit 4", "exec_die"], mine);
            Assert.Equal("4", Attribute(events.Single(e => Attribute(e, "execID") == execId && ActionOf(e) == "exec_die"), "exitCode"));
            // the probes are execs too (Docker's), and the health changes are events once each: unhealthy, then healthy
            Assert.Contains(events, e => ActionOf(e) == "exec_create: /bin/sh -c test -e " + flag);
            var health = events.Select(ActionOf).Where(a => a.StartsWith("health_status", StringComparison.Ordinal)).ToList();
            Assert.Equal(["health_status: unhealthy", "health_status: healthy"], health.Take(2));
            // restart: the stop's die, the start, then restart
            var lifecycle = events.Select(ActionOf).Where(a => a is "create" or "start" or "die" or "restart").ToList();
            Assert.Equal(["create", "start", "die", "start", "restart"], lifecycle);

            // --filter event=exec_create matches the "exec_create: CMD" forms, as Docker's
            var creates = await JsonEvents(start, "container=" + id, "event=exec_create");
            Assert.NotEmpty(creates);
            Assert.All(creates, e => Assert.StartsWith("exec_create: ", ActionOf(e)));
        }
        finally
        {
            await f.RemoveForce(id);
            File.Delete(Path.Combine(f.Rootfs, flag.TrimStart('/')));
        }
    }

    [RootFact]
    public async Task AnOomKill_IsAnOomEvent_BeforeTheDie()
    {
        var start = DateTimeOffset.UtcNow.AddSeconds(-1);
        // the string doubles until the kernel stops it (bounded in case no limit applies)
        var r = await f.Run("--memory", "32m", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "x=a; i=0; while [ $i -lt 27 ]; do x=$x$x; i=$((i+1)); done; echo survived");
        try
        {
            Assert.True(r.ExitCode == 137, r.ToString());
            var actions = (await JsonEvents(start, "container=" + r.Id)).Select(ActionOf).ToList();
            Assert.Equal(["create", "start", "oom", "die"], actions);
            // the control: an exit of its own is no oom
            var plain = await f.Sh("exit 137");
            Assert.DoesNotContain("oom", (await JsonEvents(start, "container=" + plain.Id)).Select(ActionOf));
        }
        finally
        {
            await f.RemoveForce(r.Id!);
        }
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
