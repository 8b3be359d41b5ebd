using System.Text.Json;
using System.Text.Json.Nodes;
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

    /// <summary>A docker-archive of the fixture's rootfs whose config carries <paramref name="healthcheck"/> (Docker's HealthConfig: nanoseconds), loaded as <paramref name="tag"/>.</summary>
    private async Task LoadImageWithHealthcheck(string tag, JsonObject? healthcheck)
    {
        var dir = Directory.CreateDirectory(Path.Combine(f.TempBase, "health-image-" + Guid.NewGuid().ToString("N")[..6])).FullName;
        var layer = Path.Combine(dir, "rootfs.tar");
        var tar = await Proc.Run("tar", ["--numeric-owner", "-C", f.Rootfs, "-cf", layer, "."]);
        Assert.True(tar.ExitCode == 0, tar.ToString());
        var config = new JsonObject { ["Cmd"] = new JsonArray("/bin/sh", "-c", "echo ok > /tmp/ready; exec sleep 60") };
        if (healthcheck is not null) config["Healthcheck"] = healthcheck;
        var load = await f.Cr("load", "-i", await ImageTests.DockerArchive(dir, tag, [layer], config));
        Assert.True(load.ExitCode == 0, load.ToString());
    }

    private static JsonArray TestOf(params string[] words) => new([.. words.Select(w => (JsonNode)w!)]);

    [RootFact]
    public async Task AnImagesHealthcheck_RunsAsIfTheFlagsWereGiven_FlagsOverrideIt_NoHealthcheckDisablesIt()
    {
        // as `docker build` writes HEALTHCHECK --interval=200ms --timeout=2s --retries=2 CMD-SHELL / CMD
        await LoadImageWithHealthcheck("test/health-shell:1", new()
        {
            ["Test"] = TestOf("CMD-SHELL", "cat /tmp/ready"), ["Interval"] = 200_000_000L, ["Timeout"] = 2_000_000_000L, ["Retries"] = 2,
        });
        await LoadImageWithHealthcheck("test/health-exec:1", new()
        {
            ["Test"] = TestOf("CMD", "/bin/cat", "/no/such/file"), ["Interval"] = 200_000_000L, ["Retries"] = 2,
        });
        var ids = new List<string>();
        async Task<string> Start(params string[] args)
        {
            var r = await f.Run(["-d", .. args]);
            Assert.True(r.ExitCode == 0, r.ToString());
            ids.Add(r.Id!);
            return r.Id!;
        }
        try
        {
            var healthy = await Start("test/health-shell:1");
            var sick = await Start("test/health-exec:1");
            var disabled = await Start("--no-healthcheck", "test/health-shell:1");
            var overridden = await Start("--health-cmd", "echo flag; exit 3", "test/health-shell:1");

            // the image's check runs in the container: healthy, with the image's interval, timeout and retries
            var check = (await f.Inspect(healthy)).GetProperty("healthcheck");
            Assert.Equal(["CMD-SHELL", "cat /tmp/ready"], check.GetProperty("test").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal((200, 2000, 2, 0), (check.GetProperty("intervalMs").GetInt64(), check.GetProperty("timeoutMs").GetInt64(),
                check.GetProperty("retries").GetInt32(), check.GetProperty("startPeriodMs").GetInt64()));
            var health = await HealthWhen(healthy, "healthy");
            Assert.Equal("ok\n", health.GetProperty("log").EnumerateArray().Last().GetProperty("output").GetString());
            Assert.Matches(@"^Up .* \(healthy\)$", await PsStatus(healthy));

            // the exec form (CMD) runs without a shell; its failures make it unhealthy after the image's 2 retries
            var failed = await HealthWhen(sick, "unhealthy");
            Assert.Equal(1, failed.GetProperty("log").EnumerateArray().Last().GetProperty("exitCode").GetInt32());
            Assert.Equal(30_000, (await f.Inspect(sick)).GetProperty("healthcheck").GetProperty("timeoutMs").GetInt64()); // not in the image: Docker's default

            // --health-cmd replaces the image's command and keeps its interval and retries
            var flagged = await HealthWhen(overridden, "unhealthy");
            Assert.Equal("flag\n", flagged.GetProperty("log").EnumerateArray().Last().GetProperty("output").GetString());
            Assert.Equal(200, (await f.Inspect(overridden)).GetProperty("healthcheck").GetProperty("intervalMs").GetInt64());

            // --no-healthcheck: no check at all, ps shows no health
            var none = await f.Inspect(disabled);
            Assert.True(!none.TryGetProperty("healthcheck", out var hc) || hc.ValueKind == JsonValueKind.Null, none.ToString());
            Assert.DoesNotContain("health", await PsStatus(disabled));
        }
        finally
        {
            await f.RemoveForce([.. ids]);
        }
    }

    [RootFact]
    public async Task AnImagesHealthcheck_BadValues_OneLine_NothingMade()
    {
        await LoadImageWithHealthcheck("test/health-bad:1", new() { ["Test"] = TestOf("CMD-SHELL", "true"), ["Interval"] = 500L }); // 500 ns
        await LoadImageWithHealthcheck("test/health-none:1", new() { ["Test"] = TestOf("NONE") });
        await LoadImageWithHealthcheck("test/health-absent:1", null);
        var before = f.StateEntries();
        var r = await f.Run("test/health-bad:1");
        Assert.Equal(125, r.ExitCode);
        var line = Assert.Single(r.ErrLines);
        Assert.Contains("test/health-bad:1", line);
        Assert.Contains("Interval cannot be less than 1ms", line);
        // interval flags without a command, and an image without one either
        var orphan = await f.Run("--health-interval", "1s", "test/health-absent:1");
        Assert.Equal(125, orphan.ExitCode);
        Assert.Contains("need --health-cmd (image test/health-absent:1 has no HEALTHCHECK)", Assert.Single(orphan.ErrLines));
        Assert.Equal(before, f.StateEntries());
        // Test ["NONE"] is no check, whatever interval the flags give (Docker's merge keeps the image's Test)
        var plain = await f.Run("-d", "--health-interval", "1s", "test/health-none:1");
        try
        {
            Assert.True(plain.ExitCode == 0, plain.ToString());
            var rec = await f.Inspect(plain.Id!);
            Assert.True(!rec.TryGetProperty("healthcheck", out var hc) || hc.ValueKind == JsonValueKind.Null, rec.ToString());
        }
        finally
        {
            await f.RemoveForce(plain.Id!);
        }
    }

    [RootFact]
    public async Task AContainerThatEndsDuringAProbe_LeavesNoProbeProcessNorCgroup()
    {
        // probes back to back (1ms): the exit lands while one is launching into the container;
        // the monitor kills it, and what it had started (a launch stage waiting for it) with it
        var ids = new List<string>();
        for (var i = 0; i < 8; i++)
            ids.Add(await f.Detached("exec sleep 60", "--health-cmd", "true", "--health-interval", "1ms"));
        await Task.Delay(500);
        await f.RemoveForce([.. ids]);
        await Task.Delay(500);
        foreach (var id in ids)
        {
            Assert.Empty(HostState.CgroupsOf(id));
            Assert.DoesNotContain(f.OurProcesses(), p => p.Cmdline.Contains(id, StringComparison.Ordinal));
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

    /// <summary>
    /// A detached container runs <paramref name="before"/>, waits for a marker of this test's own (the rootfs and
    /// its /tmp are shared by every test of the fixture), then runs <paramref name="after"/>. `attach` comes between:
    /// what it printed, and the container's stderr.log.
    /// </summary>
    private async Task<(ProcResult Attach, string StderrLog)> AttachBetween(string before, string after)
    {
        var go = "/tmp/go-" + Guid.NewGuid().ToString("N");
        var id = await f.Detached($"{before}; while [ ! -e {go} ]; do sleep 0.05; done; {after}");
        try
        {
            await WaitForAttachSocket(id);
            using var attach = StartAttach("--no-stdin", id);
            await Task.Delay(500); // connected (the monitor accepts within a poll)
            var touch = await f.Cr("exec", id, "--", "/bin/touch", go);
            Assert.True(touch.ExitCode == 0, touch.ToString());
            var r = await attach.Wait(TimeSpan.FromSeconds(20));
            return (r, await File.ReadAllTextAsync(Path.Combine(f.StateDir(id), "stderr.log")));
        }
        finally
        {
            await f.RemoveForce(id);
            File.Delete(f.Rootfs + go);
        }
    }

    [RootFact]
    public async Task Attach_LateToADetachedContainer_GetsBothStreams_AndItsExitCode()
    {
        var (r, _) = await AttachBetween("echo before", "echo out-line; echo err-line >&2; exit 3");
        Assert.True(r.ExitCode == 3, r.ToString());
        Assert.Equal("out-line\n", r.Stdout); // what came after the attach, not the log before it
        Assert.Equal("err-line\n", r.Stderr);
    }

    [RootFact]
    public async Task Attach_ToAContainerWhoseStdoutEndedBeforeTheHandOver_StillGetsStderrAsStderr()
    {
        // stdout closed at once (in the monitor's managed phase), stderr written after the hand-over to monitor.c:
        // the handed-over route must keep its stream number, not become the first output (stdout)
        var (r, stderrLog) = await AttachBetween("exec >&-", "echo err-line >&2; exit 4");
        Assert.True(r.ExitCode == 4, r.ToString());
        Assert.Equal("", r.Stdout);
        Assert.Equal("err-line\n", r.Stderr);
        Assert.Equal("err-line\n", stderrLog);
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
    public async Task Attach_ToADetachedInteractiveContainerWithoutATerminal_TypesIntoItsStdin_WhichStaysOpenBetweenAttaches()
    {
        // Docker's `run -d -i`: stdin is a pipe kept open; each attach writes into it
        var run = await f.Run("-d", "-i", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "echo ready; read a; echo got:$a; read b; echo then:$b; exit 5");
        Assert.True(run.ExitCode == 0, run.ToString());
        var id = run.Id!;
        // the control: without -i the same reads see the end of the input at once
        var closed = await f.Detached("read a || echo stdin-closed; exec sleep 60");
        try
        {
            await f.WaitForLog(closed, "stdin-closed");
            await WaitForAttachSocket(id);
            using (var first = StartAttach(id))
            {
                await Task.Delay(500); // connected (the monitor accepts within a poll)
                first.Stdin.Write("hello\n");
                first.Stdin.Flush();
                Assert.True(await first.WaitForOutput("got:hello", TimeSpan.FromSeconds(10)), "the line never reached the container\n" + first.Stdout + first.Stderr);
                first.Stdin.Write("\u0010\u0011"); // ctrl-p ctrl-q: this attach ends, the container reads on
                first.Stdin.Flush();
                var detached = await first.Wait(TimeSpan.FromSeconds(10));
                Assert.True(detached.ExitCode == 0 && !detached.TimedOut, detached.ToString());
            }
            Assert.Equal("running", (await f.Inspect(id)).GetProperty("status").GetString());
            using var second = StartAttach(id);
            await Task.Delay(500);
            second.Stdin.Write("world\n");
            second.Stdin.Flush();
            var r = await second.Wait(TimeSpan.FromSeconds(20));
            Assert.True(r.ExitCode == 5, r.ToString());
            Assert.Equal("then:world\n", r.Stdout);
            Assert.Equal("ready\ngot:hello\nthen:world\n", (await f.Cr("logs", id)).Stdout);
        }
        finally
        {
            await f.RemoveForce(id, closed);
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
