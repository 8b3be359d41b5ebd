using System.Text.Json;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// run --restart (Docker's policies, carried out by the container's monitor) and run --init
/// (craterun's reaping init as PID 1), each with a real container, checked from the host
/// (inspect, ps, logs, the monitor's process) and from inside (/proc of the container).
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class RestartInitTests(CrateRunFixture f)
{
    /// <summary>Polls inspect until <paramref name="done"/> holds (or the time is up); returns the last record.</summary>
    private async Task<JsonElement> InspectUntil(string id, Func<JsonElement, bool> done, int timeoutMs = 20_000)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var rec = await f.Inspect(id);
        while (!done(rec) && clock.ElapsedMilliseconds < timeoutMs)
        {
            await Task.Delay(50);
            rec = await f.Inspect(id);
        }
        return rec;
    }

    private static string Status(JsonElement rec) => rec.GetProperty("status").GetString()!;
    /// <summary>Exited, and the monitor has recorded how (ps and inspect call a dead process exited before that).</summary>
    private static bool ExitRecorded(JsonElement rec) => Status(rec) == "exited" && rec.TryGetProperty("exitCode", out _);
    private static int Restarts(JsonElement rec) => rec.GetProperty("restartCount").GetInt32();

    [RootFact]
    public async Task OnFailure3_RestartsThreeTimesWithBackOff_ThenStaysExited()
    {
        var id = await f.Detached("echo run; exit 3", "--restart", "on-failure:3");
        try
        {
            var rec = await InspectUntil(id, r => ExitRecorded(r) && Restarts(r) == 3);
            Assert.True(Status(rec) == "exited" && Restarts(rec) == 3, rec.ToString());
            Assert.Equal(3, rec.GetProperty("exitCode").GetInt32());
            // four runs, each one's output in the logs; waits of 100 + 200 + 400 ms between them
            var logs = await f.Cr("logs", id);
            Assert.Equal("run\nrun\nrun\nrun\n", logs.Stdout);
            var elapsed = rec.GetProperty("finished").GetDateTimeOffset() - rec.GetProperty("created").GetDateTimeOffset();
            Assert.True(elapsed >= TimeSpan.FromMilliseconds(700), $"four runs took {elapsed.TotalMilliseconds} ms: no back-off");
            // and no more: the monitor has ended, the count stays
            var monitor = rec.GetProperty("monitorPid").GetInt32();
            for (var i = 0; i < 100 && Directory.Exists($"/proc/{monitor}"); i++) await Task.Delay(50);
            Assert.False(Directory.Exists($"/proc/{monitor}"), "the monitor outlived a policy that gave up");
            await Task.Delay(1000);
            Assert.Equal(3, Restarts(await f.Inspect(id)));
            Assert.Empty(HostState.CgroupsOf(id));
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task OnFailure_DoesNotRestartASuccess()
    {
        var id = await f.Detached("echo run; exit 0", "--restart", "on-failure");
        try
        {
            var rec = await InspectUntil(id, ExitRecorded);
            await Task.Delay(500); // a restart would have come after 100 ms
            rec = await f.Inspect(id);
            Assert.True(Status(rec) == "exited" && Restarts(rec) == 0, rec.ToString());
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task Always_PsShowsRestarting_AndStopEndsItForGood()
    {
        var id = await f.Detached("echo run; exit 0", "--restart", "always");
        try
        {
            // the back-off grows (100, 200, 400, 800 ms...): ps shows the wait as Docker does
            var clock = System.Diagnostics.Stopwatch.StartNew();
            string status = "";
            while (clock.ElapsedMilliseconds < 20_000 && !status.StartsWith("Restarting (0) ", StringComparison.Ordinal))
            {
                status = (await f.Cr("ps", "--filter", "id=" + id, "--format", "{{.Status}}")).Stdout.Trim();
                await Task.Delay(30);
            }
            Assert.Matches(@"^Restarting \(0\) (Less than a second|\d+ seconds?) ago$", status);
            var plain = await f.Cr("ps"); // without -a too, as Docker lists restarting containers
            Assert.Contains(id[..12], plain.Stdout);

            var stop = await f.Cr("stop", id);
            Assert.True(stop.ExitCode == 0, stop.ToString());
            var rec = await f.Inspect(id);
            var count = Restarts(rec);
            Assert.True(count >= 1, rec.ToString());
            await Task.Delay(2000); // longer than any back-off so far
            rec = await f.Inspect(id);
            Assert.Equal("exited", Status(rec));
            Assert.Equal(count, Restarts(rec));
            Assert.False(Directory.Exists($"/proc/{rec.GetProperty("monitorPid").GetInt32()}"), "the monitor still waits to restart");
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task UnlessStopped_KillOfARunningContainerIsFinal_StartBringsThePolicyBack()
    {
        var id = await f.Detached("echo up; sleep 100", "--restart", "unless-stopped");
        try
        {
            await f.WaitForLog(id, "up");
            var kill = await f.Cr("kill", id);
            Assert.True(kill.ExitCode == 0, kill.ToString());
            var rec = await InspectUntil(id, ExitRecorded);
            Assert.Equal(137, rec.GetProperty("exitCode").GetInt32());
            await Task.Delay(1000);
            rec = await f.Inspect(id);
            Assert.True(Status(rec) == "exited" && Restarts(rec) == 0, rec.ToString());

            // a start by the user: the policy applies again (a crash of the container's process restarts it)
            var start = await f.Cr("start", id);
            Assert.True(start.ExitCode == 0, start.ToString());
            rec = await InspectUntil(id, r => Status(r) == "running");
            var before = Restarts(rec);
            var pid = rec.GetProperty("pid").GetInt32();
            Assert.True(pid > 0, rec.ToString());
            System.Diagnostics.Process.GetProcessById(pid).Kill(); // not the user's kill: the process died
            rec = await InspectUntil(id, r => Restarts(r) > before && Status(r) == "running");
            Assert.True(Restarts(rec) == before + 1 && Status(rec) == "running", rec.ToString());
        }
        finally
        {
            await f.RemoveForce(id);
        }
        Assert.False(Directory.Exists(f.StateDir(id)));
        Assert.Empty(HostState.CgroupsOf(id));
    }

    [RootFact]
    public async Task Restart_WithRm_IsRefusedWithDockersText_NothingLeft()
    {
        var before = f.StateEntries();
        var r = await f.Run("--rm", "--restart", "always", "--rootfs", f.Rootfs, "--", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("Conflicting options: --restart and --rm", r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.Equal(before, f.StateEntries());
        var bad = await f.Run("--restart", "always:2", "--rootfs", f.Rootfs, "--", "true");
        Assert.Equal(125, bad.ExitCode);
        Assert.Contains("maximum retry count can only be used with 'on-failure'", bad.Stderr);
        Assert.Equal(before, f.StateEntries());
    }

    // ---- --init -------------------------------------------------------------------------

    /// <summary>The container's zombies, as its own /proc shows them.</summary>
    private async Task<string> ZombiesIn(string id)
    {
        var r = await f.Cr("exec", id, "--", "/bin/sh", "-c", "grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null; true");
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.Stdout.Trim();
    }

    [RootFact]
    public async Task Init_ReapsTheOrphansItIsHanded()
    {
        // a child that leaves a grandchild behind, then PID 1's own program becomes one that never waits (sleep)
        const string Script = "sh -c 'sleep 0.2 & exit 0'; echo orphaned; exec sleep 30";
        var without = await f.Detached(Script);
        var with = await f.Detached(Script, "--init");
        try
        {
            await f.WaitForLog(without, "orphaned");
            await f.WaitForLog(with, "orphaned");
            await Task.Delay(800); // the orphan's sleep 0.2 is over
            Assert.NotEqual("", await ZombiesIn(without)); // the contrast: sleep as PID 1 leaves it a zombie
            Assert.Equal("", await ZombiesIn(with));
            var pid1 = await f.Cr("exec", with, "--", "/bin/cat", "/proc/1/comm");
            Assert.Equal("craterun-init", pid1.Stdout.Trim());
        }
        finally
        {
            await f.RemoveForce(without, with);
        }
    }

    [RootFact]
    public async Task Init_ForwardsKillsSignalToTheCommand_AndExitsWithItsStatus()
    {
        // sleep has no handler for SIGTERM: as PID 1 the kernel would drop it; under the init it is PID 2
        var id = await f.Detached("echo up; exec sleep 100", "--init");
        try
        {
            await f.WaitForLog(id, "up");
            var kill = await f.Cr("kill", "-s", "TERM", id);
            Assert.True(kill.ExitCode == 0, kill.ToString());
            var rec = await InspectUntil(id, ExitRecorded, 10_000);
            Assert.Equal("exited", Status(rec));
            Assert.Equal(128 + 15, rec.GetProperty("exitCode").GetInt32());
        }
        finally
        {
            await f.RemoveForce(id);
        }

        var code = await f.Sh("exit 7", "--init");
        Assert.Equal(7, code.ExitCode);
        var missing = await f.Run("--rm", "--init", "--rootfs", f.Rootfs, "--", "no-such-command");
        Assert.Equal(127, missing.ExitCode);
    }
}

/// <summary>
/// --health-cmd: the monitor runs the command in the running container every interval; ps
/// shows "(health: starting)", "(healthy)", "(unhealthy)" as Docker does, inspect the state
/// with the last probes (exit code and output).
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class HealthCheckTests(CrateRunFixture f)
{
    private async Task<JsonElement> HealthWhen(string id, string status, int timeoutMs = 20_000)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var rec = await f.Inspect(id);
        while (clock.ElapsedMilliseconds < timeoutMs)
        {
            if (rec.TryGetProperty("health", out var h) && h.GetProperty("status").GetString() == status) return h;
            await Task.Delay(100);
            rec = await f.Inspect(id);
        }
        Assert.Fail($"health never became {status}\n{rec}");
        return default;
    }

    private async Task<string> PsStatus(string id) =>
        (await f.Cr("ps", "--filter", "id=" + id, "--format", "{{.Status}}")).Stdout.Trim();

    [RootFact]
    public async Task ACommandThatSucceedsInTheContainer_IsHealthy()
    {
        // the check looks inside: a file only the container has, its output kept
        // a file of this test's own: the rootfs (and its /tmp) is shared by every test of the fixture
        var ready = "/tmp/ready-" + Guid.NewGuid().ToString("N");
        var id = await f.Detached($"echo ok > {ready}; exec sleep 60", "--health-cmd", "cat " + ready, "--health-interval", "1s");
        try
        {
            Assert.EndsWith("(health: starting)", await PsStatus(id));
            var health = await HealthWhen(id, "healthy");
            Assert.Equal(0, health.GetProperty("failingStreak").GetInt32());
            var last = health.GetProperty("log").EnumerateArray().Last();
            Assert.Equal(0, last.GetProperty("exitCode").GetInt32());
            Assert.Equal("ok\n", last.GetProperty("output").GetString());
            Assert.Matches(@"^Up .* \(healthy\)$", await PsStatus(id));
        }
        finally
        {
            await f.RemoveForce(id);
            File.Delete(f.Rootfs + ready);
        }
    }

    [RootFact]
    public async Task ACommandThatFails_IsUnhealthyAfterTheRetries_AndATimeoutIsAFailure()
    {
        var failing = await f.Detached("exec sleep 60", "--health-cmd", "echo nope; exit 1", "--health-interval", "200ms", "--health-retries", "2");
        var slow = await f.Detached("exec sleep 60", "--health-cmd", "sleep 5", "--health-interval", "200ms", "--health-timeout", "300ms", "--health-retries", "1");
        try
        {
            var health = await HealthWhen(failing, "unhealthy");
            Assert.True(health.GetProperty("failingStreak").GetInt32() >= 2, health.ToString());
            var last = health.GetProperty("log").EnumerateArray().Last();
            Assert.Equal(1, last.GetProperty("exitCode").GetInt32());
            Assert.Equal("nope\n", last.GetProperty("output").GetString());
            Assert.Matches(@"^Up .* \(unhealthy\)$", await PsStatus(failing));
            Assert.True(health.GetProperty("log").GetArrayLength() <= 5);

            var timedOut = await HealthWhen(slow, "unhealthy");
            var probe = timedOut.GetProperty("log").EnumerateArray().Last();
            Assert.Equal(-1, probe.GetProperty("exitCode").GetInt32());
            Assert.Equal("Health check exceeded timeout (300ms)", probe.GetProperty("output").GetString());
            var took = probe.GetProperty("end").GetDateTimeOffset() - probe.GetProperty("start").GetDateTimeOffset();
            Assert.True(took < TimeSpan.FromSeconds(3), $"the probe ran {took.TotalMilliseconds} ms: not stopped at the timeout");
            // the killed probe command is gone from the container
            var inside = await f.Cr("exec", slow, "--", "/bin/sh", "-c", "ps -o args | grep -c '^sleep 5' || true");
            Assert.True(int.Parse(inside.Stdout.Trim()) <= 1, inside.ToString()); // at most the probe running right now
        }
        finally
        {
            await f.RemoveForce(failing, slow);
        }
    }

    [RootFact]
    public async Task HealthFlags_BadInput_OneLine_NothingMade()
    {
        var before = f.StateEntries();
        var r = await f.Run("--health-cmd", "true", "--health-interval", "5", "--rootfs", f.Rootfs, "--", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("invalid duration", r.Stderr);
        var conflict = await f.Run("--no-healthcheck", "--health-cmd", "true", "--rootfs", f.Rootfs, "--", "true");
        Assert.Equal(125, conflict.ExitCode);
        Assert.Contains("--no-healthcheck conflicts with --health-* options", conflict.Stderr);
        Assert.Equal(before, f.StateEntries());
    }
}

/// <summary>
/// attach: a terminal joins a running container's output through its monitor, late (the
/// container was started detached); the container's exit code comes back; the detach keys
/// leave it running.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class AttachTests(CrateRunFixture f)
{
    private RunningProc StartAttach(params string[] args) =>
        Proc.Start(f.Binary, ["--root", f.StateRoot, "attach", .. args], f.Env);

    /// <summary>The container's attach socket exists once its monitor is in its waiting phase.</summary>
    private async Task WaitForAttachSocket(string id)
    {
        var path = Path.Combine(f.StateDir(id), "attach.sock");
        for (var i = 0; i < 200 && !File.Exists(path); i++) await Task.Delay(25);
        Assert.True(File.Exists(path), "the monitor never listened on " + path);
    }

    [RootFact]
    public async Task Attach_LateToADetachedContainer_GetsBothStreams_AndItsExitCode()
    {
        // a marker of this test's own: the rootfs (and its /tmp) is shared by every test of the fixture
        var go = "/tmp/go-" + Guid.NewGuid().ToString("N");
        var id = await f.Detached($"echo before; while [ ! -e {go} ]; do sleep 0.05; done; echo out-line; echo err-line >&2; exit 3");
        try
        {
            await WaitForAttachSocket(id);
            using var attach = StartAttach("--no-stdin", id);
            await Task.Delay(500); // connected (the monitor accepts within a poll)
            var touch = await f.Cr("exec", id, "--", "/bin/touch", go);
            Assert.True(touch.ExitCode == 0, touch.ToString());
            var r = await attach.Wait(TimeSpan.FromSeconds(20));
            Assert.True(r.ExitCode == 3, r.ToString());
            Assert.Equal("out-line\n", r.Stdout); // what came after the attach, not the log before it
            Assert.Equal("err-line\n", r.Stderr);
        }
        finally
        {
            await f.RemoveForce(id);
            File.Delete(f.Rootfs + go);
        }
    }

    [RootFact]
    public async Task DetachKeys_EndTheAttach_TheContainerRunsOn()
    {
        var id = await f.Detached("while true; do echo tick; sleep 0.1; done");
        try
        {
            await WaitForAttachSocket(id);
            using var attach = StartAttach(id);
            Assert.True(await attach.WaitForOutput("tick", TimeSpan.FromSeconds(10)), "no output through the attach\n" + attach.Stderr);
            attach.Stdin.Write("\u0010\u0011"); // ctrl-p ctrl-q
            attach.Stdin.Flush();
            var r = await attach.Wait(TimeSpan.FromSeconds(10));
            Assert.True(r.ExitCode == 0 && !r.TimedOut, r.ToString());
            Assert.Equal("running", (await f.Inspect(id)).GetProperty("status").GetString());

            // --detach-keys: another sequence; the default one is then ordinary input
            using var custom = StartAttach("--detach-keys", "ctrl-a,x", id);
            Assert.True(await custom.WaitForOutput("tick", TimeSpan.FromSeconds(10)), custom.Stderr);
            custom.Stdin.Write("\u0010\u0011");
            custom.Stdin.Flush();
            await Task.Delay(300);
            Assert.False(custom.HasExited, "ctrl-p ctrl-q detached although --detach-keys replaced them");
            custom.Stdin.Write("\u0001x");
            custom.Stdin.Flush();
            var c = await custom.Wait(TimeSpan.FromSeconds(10));
            Assert.True(c.ExitCode == 0 && !c.TimedOut, c.ToString());
            Assert.Equal("running", (await f.Inspect(id)).GetProperty("status").GetString());
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task Attach_ToAStoppedContainer_IsRefusedInOneLine()
    {
        var r = await f.Run("--rootfs", f.Rootfs, "--", "true");
        try
        {
            var a = await f.Cr("attach", r.Id!);
            Assert.NotEqual(0, a.ExitCode);
            Assert.Contains("You cannot attach to a stopped container, start it first", a.Stderr);
            var keys = await f.Cr("attach", "--detach-keys", "ctrl-1", r.Id!);
            Assert.Contains("invalid detach keys", keys.Stderr);
        }
        finally
        {
            await f.RemoveForce(r.Id!);
        }
    }
}
