using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// A monitor hands a container that outlives its grace period (100 ms) to its C waiting phase
/// (monitor.c, `craterun _monitor-wait`), which copies the output and waits, then to the
/// managed exit phase. Output, input, exit codes and cleanup must carry across both hand-overs.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class MonitorTests(CrateRunFixture f)
{
    /// <summary>The monitor's command line, once it is the C waiting phase (polled: it gets there after the grace period).</summary>
    private static async Task<string> WaitingPhaseOf(int monitorPid)
    {
        var cmdline = "";
        for (var i = 0; i < 100; i++)
        {
            // a monitor that execs from a thread other than its first vanishes from /proc for an instant
            // (the kernel gives that thread the pid): only a pid that stays unreadable is gone
            try { cmdline = (await File.ReadAllTextAsync($"/proc/{monitorPid}/cmdline")).Replace('\0', ' '); }
            catch (IOException) { cmdline = "(gone)"; }
            if (cmdline.Contains("_monitor-wait", StringComparison.Ordinal)) return cmdline;
            await Task.Delay(50);
        }
        return cmdline;
    }

    /// <summary>For a failure message: the run CLI's output, the record, and every craterun process with its parent.</summary>
    private async Task<string> WhatHappened(RunningProc run, string id)
    {
        var ps = await Proc.Run("/bin/ps", ["-eo", "pid,ppid,stat,lstart,args"]);
        var record = await f.Cr("inspect", id);
        return $"run: exited={run.HasExited}\nstdout: {run.Stdout}\nstderr: {run.Stderr}\ninspect: {record.Stdout}{record.Stderr}\n" +
            string.Join('\n', ps.Stdout.Split('\n').Where(l => l.Contains("craterun", StringComparison.Ordinal) || l.Contains("sleep", StringComparison.Ordinal)));
    }

    [RootFact]
    public async Task Foreground_OutputExitCodeAndLogs_CarryAcrossTheWaitingPhase()
    {
        // a name of its own: the rootfs is shared, and RestartInitTests' attach test touches a /tmp/go of its own
        var go = "/tmp/go-" + Guid.NewGuid().ToString("N")[..8];
        var (run, cid) = f.StartRun("--rootfs", f.Rootfs, "--", "/bin/sh", "-c",
            $"echo early; echo early-err >&2; while [ ! -e {go} ]; do sleep 0.05; done; echo late; echo late-err >&2; exit 5");
        string? id = null;
        using (run)
        {
            try
            {
                Assert.True(await run.WaitForOutput("early", TimeSpan.FromSeconds(20)), "early never arrived\n" + run.Stderr);
                id = f.ReadCidFile(cid)!;
                var monitor = (await f.Inspect(id)).GetProperty("monitorPid").GetInt32();
                var cmdline = await WaitingPhaseOf(monitor);
                Assert.True(cmdline.Contains("_monitor-wait", StringComparison.Ordinal), $"monitor {monitor}: {cmdline}\n" + await WhatHappened(run, id));
                Assert.Contains(id, cmdline);

                var touched = await f.Cr("exec", id, "--", "/bin/touch", go);
                Assert.True(touched.ExitCode == 0, touched.ToString());
                var r = await run.Wait(TimeSpan.FromSeconds(30));
                Assert.True(r.ExitCode == 5, r.ToString());
                Assert.Equal("early\nlate\n", r.Stdout);
                Assert.Equal("early-err\nlate-err\n", r.Stderr);

                // the exit phase recorded it, the log files have all of it, with a time per chunk
                var rec = await f.Inspect(id);
                Assert.Equal(5, rec.GetProperty("exitCode").GetInt32());
                Assert.Equal("exited", rec.GetProperty("status").GetString());
                Assert.Empty(HostState.CgroupsOf(id));
                Assert.Equal("early\nlate\n", await File.ReadAllTextAsync(Path.Combine(f.StateDir(id), "stdout.log")));
                Assert.Equal("early-err\nlate-err\n", await File.ReadAllTextAsync(Path.Combine(f.StateDir(id), "stderr.log")));
                var timed = await f.Cr("logs", "-t", id);
                Assert.Matches(@"^\d{4}-\d\d-\d\dT[\d:.]+Z early\n\d{4}-\d\d-\d\dT[\d:.]+Z late\n$", timed.Stdout);
                Assert.False(Directory.Exists($"/proc/{monitor}"), "the monitor outlived its container");
            }
            finally
            {
                if (id is not null) await f.RemoveForce(id);
            }
        }
    }

    [RootFact]
    public async Task Detached_WithRm_IsRemovedByTheExitPhase()
    {
        var id = await f.Detached("sleep 0.5; echo done", "--rm");
        var rec = await f.Inspect(id);
        var monitor = rec.GetProperty("monitorPid").GetInt32();
        Assert.Contains("_monitor-wait", await WaitingPhaseOf(monitor));
        for (var i = 0; i < 200 && Directory.Exists(f.StateDir(id)); i++) await Task.Delay(50);
        Assert.False(Directory.Exists(f.StateDir(id)), "--rm: the state directory is still there after the exit");
        Assert.Empty(HostState.CgroupsOf(id));
    }

    [RootFact]
    public async Task InteractiveTty_InputTypedAfterTheHandOver_ReachesTheContainer()
    {
        var cid = f.NewCidFile();
        var line = "stty rows 30 cols 100; " + f.ShellCommand("run", "-it", "--rm", "--cidfile", cid, "--rootfs", f.Rootfs, "--",
            "/bin/sh", "-c", "echo ready; read x; echo got-$x; exit 6");
        using var script = Proc.Start("/usr/bin/script", ["-qec", line, "/dev/null"], f.Env);
        Assert.True(await script.WaitForOutput("ready", TimeSpan.FromSeconds(20)), "no ready\n" + script.Stdout + script.Stderr);
        var id = f.ReadCidFile(cid)!;
        var monitor = (await f.Inspect(id)).GetProperty("monitorPid").GetInt32();
        Assert.Contains("_monitor-wait", await WaitingPhaseOf(monitor));
        await script.Stdin.WriteAsync("typed\r");
        await script.Stdin.FlushAsync();
        var r = await script.Wait(TimeSpan.FromSeconds(30));
        Assert.True(r.ExitCode == 6, r.ToString());
        Assert.Contains("got-typed", r.Stdout);
    }

    [RootFact]
    public async Task MonitorPhases_StartedByHand_FailWithOneLine()
    {
        foreach (var args in new[] { new[] { "_monitor" }, ["_monitor-wait", "a", "b", "c"], ["_monitor-wait", f.StateRoot, "x", "1", "o:bad"], ["_monitor-exit", f.StateRoot, "nosuchid", "0"] })
        {
            var r = await Proc.Run(f.Binary, args, env: f.Env);
            Assert.True(r.ExitCode == 125, r.ToString());
            Assert.Equal("", r.Stdout);
            var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(lines.Length == 1 && lines[0].StartsWith("craterun: ", StringComparison.Ordinal), r.ToString());
        }
    }
}
