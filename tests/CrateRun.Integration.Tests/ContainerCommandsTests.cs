using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>pause, unpause, rename, top: Docker's meaning, checked by their effect; bad input is one line and 125.</summary>
[Collection(CrateRunCollection.Name)]
public sealed class ContainerCommandsTests(CrateRunFixture f)
{
    private static void AssertOneLineError(ProcResult r, params string[] mentions)
    {
        Assert.True(r.ExitCode == 125, $"expected exit 125\n{r}");
        var line = Assert.Single(r.ErrLines);
        Assert.StartsWith("craterun: ", line);
        foreach (var m in mentions) Assert.Contains(m, line);
    }

    private static string PsLine(ProcResult ps, string id) => ps.Stdout.Split('\n').Single(l => l.StartsWith(id[..12], StringComparison.Ordinal));

    private static async Task<long> CounterAfter(string file, long above, int timeoutMs = 20_000)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < timeoutMs)
        {
            if (File.Exists(file) && long.TryParse(File.ReadAllText(file).Trim(), out var n) && n > above) return n;
            await Task.Delay(50);
        }
        Assert.Fail($"the counter in {file} did not pass {above}");
        return 0;
    }

    [RootFact]
    public async Task Pause_FreezesTheContainer_Unpause_LetsItGoOn()
    {
        var vol = Path.Combine(f.TempBase, "pause-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(vol);
        var counter = Path.Combine(vol, "count");
        // the container itself counts: what it writes is what it sees of its own progress
        var id = await f.Detached("i=0; while true; do i=$((i+1)); echo $i > /mnt/vol/count.tmp; mv /mnt/vol/count.tmp /mnt/vol/count; sleep 0.02; done",
            "-v", $"{vol}:/mnt/vol");
        try
        {
            await CounterAfter(counter, 3);

            var pause = await f.Cr("pause", id);
            Assert.True(pause.ExitCode == 0, pause.ToString());
            Assert.Equal(id + "\n", pause.Stdout); // as Docker: each container named back
            var frozenAt = File.ReadAllText(counter).Trim();
            await Task.Delay(600);
            Assert.Equal(frozenAt, File.ReadAllText(counter).Trim()); // ~30 iterations would have run

            // ps (without -a, as Docker) lists it, as paused; inspect agrees
            Assert.Contains("paused", PsLine(await f.Cr("ps"), id));
            Assert.Equal("paused", (await f.Inspect(id)).GetProperty("status").GetString());

            // pausing twice is refused; so is exec into a frozen container
            AssertOneLineError(await f.Cr("pause", id), id);

            var unpause = await f.Cr("unpause", id[..12]);
            Assert.True(unpause.ExitCode == 0, unpause.ToString());
            await CounterAfter(counter, long.Parse(frozenAt) + 3);
            Assert.Contains("running", PsLine(await f.Cr("ps"), id));

            // unpausing a running container is refused, naming it and why
            AssertOneLineError(await f.Cr("unpause", id), id, "not paused");
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task Stop_OfAPausedContainer_DeliversTheSignal_AndRecordsTheExit()
    {
        // Docker stops a paused container: the signal must reach it, so it is thawed after the signal is sent
        var id = await f.Detached("trap 'exit 7' TERM; while true; do sleep 0.1; done");
        try
        {
            var pause = await f.Cr("pause", id);
            Assert.True(pause.ExitCode == 0, pause.ToString());
            var started = System.Diagnostics.Stopwatch.StartNew();
            var stop = await f.Cr("stop", "-t", "20", id);
            Assert.True(stop.ExitCode == 0, stop.ToString());
            // the trap ran (exit 7), well before the 20 s grace period would have ended in a SIGKILL (137)
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"stop took {started.Elapsed}");
            var state = await f.Inspect(id);
            Assert.Equal("exited", state.GetProperty("status").GetString());
            Assert.Equal(7, state.GetProperty("exitCode").GetInt32());
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task Pause_Unpause_UnknownOrStopped_OneLine125()
    {
        AssertOneLineError(await f.Cr("pause", "no-such-container-xyz"), "no-such-container-xyz");
        AssertOneLineError(await f.Cr("unpause", "no-such-container-xyz"), "no-such-container-xyz");

        var id = await f.Detached("true");
        try
        {
            var wait = await f.Cr("wait", id);
            Assert.True(wait.ExitCode == 0, wait.ToString());
            AssertOneLineError(await f.Cr("pause", id), id, "not running");
            Assert.Contains("exited", PsLine(await f.Cr("ps", "-a"), id));
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task Rename_NewNameResolves_OldDoesNot()
    {
        var old = "ren-old-" + Guid.NewGuid().ToString("N")[..8];
        var fresh = "ren-new-" + Guid.NewGuid().ToString("N")[..8];
        var other = "ren-other-" + Guid.NewGuid().ToString("N")[..8];
        var id = await f.Detached("sleep 60", "--name", old);
        var id2 = await f.Detached("sleep 60", "--name", other);
        try
        {
            var rename = await f.Cr("rename", old, fresh);
            Assert.True(rename.ExitCode == 0, rename.ToString());
            Assert.Equal("", rename.Stdout);

            Assert.Equal(id, (await f.Inspect(fresh)).GetProperty("id").GetString());
            Assert.Equal(fresh, (await f.Inspect(id)).GetProperty("name").GetString());
            AssertOneLineError(await f.Cr("inspect", old), old);
            Assert.Contains(fresh, PsLine(await f.Cr("ps"), id));

            // a name in use, a name Docker refuses, the same name, an unknown container: one line, 125, nothing changed
            AssertOneLineError(await f.Cr("rename", fresh, other), other, "in use");
            AssertOneLineError(await f.Cr("rename", fresh, "-bad"), "-bad");
            AssertOneLineError(await f.Cr("rename", fresh, "a/b"), "a/b");
            AssertOneLineError(await f.Cr("rename", fresh, fresh), fresh);
            AssertOneLineError(await f.Cr("rename", "no-such-container-xyz", "whatever-name"), "no-such-container-xyz");
            Assert.Equal(fresh, (await f.Inspect(id)).GetProperty("name").GetString());
            Assert.Equal(other, (await f.Inspect(id2)).GetProperty("name").GetString());
        }
        finally
        {
            await f.RemoveForce(id, id2);
        }
    }

    [RootFact]
    public async Task Top_ListsTheContainersProcesses_AsPsEf()
    {
        var id = await f.Detached("sleep 1000 & sleep 2000 & wait");
        try
        {
            var pid = (await f.Inspect(id)).GetProperty("pid").GetInt32();
            ProcResult top = null!;
            for (var i = 0; i < 100; i++)
            {
                top = await f.Cr("top", id);
                if (top.Stdout.Contains("sleep 2000")) break;
                await Task.Delay(50);
            }
            Assert.True(top.ExitCode == 0, top.ToString());
            var lines = top.Stdout.TrimEnd('\n').Split('\n');
            Assert.Matches(@"^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$", lines[0]);
            Assert.Equal(3, lines.Length - 1); // the shell and its two sleeps, nothing of the host
            var rows = lines[1..].Select(l => l.Split(' ', 8, StringSplitOptions.RemoveEmptyEntries)).ToList();
            var shell = rows.Single(r => r[1] == pid.ToString());
            Assert.StartsWith("/bin/sh -c sleep 1000", shell[7]);
            foreach (var sleep in rows.Where(r => r[7].StartsWith("sleep", StringComparison.Ordinal)))
            {
                Assert.Equal("root", sleep[0]);
                Assert.Equal(pid.ToString(), sleep[2]); // host pids: their parent is the container's shell
                Assert.Equal("?", sleep[5]); // detached: no terminal
                Assert.Matches(@"^\d\d:\d\d:\d\d$", sleep[6]);
                Assert.Matches(@"^\d\d:\d\d$", sleep[4]);
                // the pid is the host's view of the same process
                Assert.Equal(sleep[7], File.ReadAllText($"/proc/{sleep[1]}/cmdline").TrimEnd('\0').Replace('\0', ' '));
            }
            Assert.Equal(2, rows.Count(r => r[7].StartsWith("sleep", StringComparison.Ordinal)));

            AssertOneLineError(await f.Cr("top", "no-such-container-xyz"), "no-such-container-xyz");
        }
        finally
        {
            await f.RemoveForce(id);
        }
        AssertOneLineError(await f.Cr("top", id), id);
    }

    [RootFact]
    public async Task Top_OfAStoppedContainer_OneLine125()
    {
        var id = await f.Detached("true");
        try
        {
            await f.Cr("wait", id);
            AssertOneLineError(await f.Cr("top", id), id, "not running");
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task Version_NamesTheBinary_AndTheHost()
    {
        var v = await f.Cr("version");
        Assert.True(v.ExitCode == 0, v.ToString());
        Assert.StartsWith("Client:\n", v.Stdout);
        Assert.Matches(@"\n Version: +\d+\.\d+\.\d+", v.Stdout);
        var arch = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.X64 ? "amd64" : "arm64";
        Assert.Contains($" OS/Arch:           linux/{arch}\n", v.Stdout);
    }

    [RootFact]
    public async Task Info_CountsContainersByStatus_AndSaysWhatTheHostHas()
    {
        var running = await f.Detached("sleep 60");
        var paused = await f.Detached("sleep 60");
        try
        {
            Assert.Equal(0, (await f.Cr("pause", paused)).ExitCode);
            var info = await f.Cr("info");
            Assert.True(info.ExitCode == 0, info.ToString());
            var text = info.Stdout;
            // the suite's state root holds other tests' containers too: ours are counted at least
            int Count(string label) => int.Parse(System.Text.RegularExpressions.Regex.Match(text, $@"\n +{label}: (\d+)\n").Groups[1].Value);
            Assert.True(Count("Running") >= 1 && Count("Paused") >= 1, text);
            Assert.Equal(Count("Containers"), Count("Running") + Count("Paused") + Count("Stopped"));
            Assert.Contains($" Kernel Version: {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}\n", text);
            Assert.Contains($" CrateRun Root Dir: {f.StateRoot}\n", text);
            var v2 = File.ReadAllText("/proc/self/mountinfo").Contains(" /sys/fs/cgroup rw") &&
                     File.ReadAllLines("/proc/self/mountinfo").Any(l => l.Split(' ')[4] == "/sys/fs/cgroup" && l.Contains(" - cgroup2 "));
            Assert.Contains(v2 ? " Cgroup Version: 2\n" : " Cgroup Version: 1", text);
            Assert.Contains("\n  seccomp\n", text);
        }
        finally
        {
            await f.RemoveForce(running, paused);
        }
    }
}
