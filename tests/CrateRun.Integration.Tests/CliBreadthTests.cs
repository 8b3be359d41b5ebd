using System.Globalization;
using System.Text.Json;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// Issue 11's breadth, as a Docker user reaches for it: create/start/restart, --env-file,
/// labels, ps --filter/--format, logs --since/--until/--tail, container prune. Each effect is
/// read from inside the container (a file it writes into a bind mount) or from our own output.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class CliBreadthTests(CrateRunFixture f)
{
    private static void AssertOneLineError(ProcResult r, params string[] mentions)
    {
        Assert.True(r.ExitCode == 125, $"expected exit 125\n{r}");
        var line = Assert.Single(r.ErrLines);
        Assert.StartsWith("craterun: ", line);
        foreach (var m in mentions) Assert.Contains(m, line);
    }

    private string NewDir(string prefix)
    {
        var dir = Path.Combine(f.TempBase, prefix + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private async Task<string> Create(params string[] args)
    {
        var r = await f.Cr(["create", .. args]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var id = r.Stdout.Trim();
        Assert.Matches("^[0-9a-f]{16}$", id);
        CrateRunFixture.Track(id);
        return id;
    }

    private static async Task WaitFor(Func<bool> condition, string what, int timeoutMs = 20_000)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.ElapsedMilliseconds > timeoutMs) Assert.Fail("timed out waiting for " + what);
            await Task.Delay(50);
        }
    }

    private static string[] LinesOf(string file) => File.Exists(file) ? File.ReadAllLines(file) : [];

    [RootFact]
    public async Task Create_RunsNothing_Start_RunsIt_StartAgain_RunsItAgain()
    {
        var vol = NewDir("create");
        var boots = Path.Combine(vol, "boots");
        var id = await Create("--name", "brd-create-" + Guid.NewGuid().ToString("N")[..6], "-v", $"{vol}:/mnt/vol", "--rootfs", f.Rootfs, "--",
            "/bin/sh", "-c", "echo $$ >> /mnt/vol/boots; echo hello from start; exit 3");
        try
        {
            // created: nothing ran, Docker's "created" in ps -a (not in ps), no process, no cgroup
            await Task.Delay(300);
            Assert.Empty(LinesOf(boots));
            var psA = await f.Cr("ps", "-a", "--filter", "id=" + id, "--format", "{{.ID}} {{.State}} {{.Status}}");
            Assert.Equal($"{id[..12]} created Created\n", psA.Stdout);
            Assert.DoesNotContain(id[..12], (await f.Cr("ps")).Stdout);
            Assert.Equal(0, (await f.Inspect(id)).GetProperty("pid").GetInt32());

            // start -a: the output here and the container's exit code as ours
            var attached = await f.Cr("start", "-a", id);
            Assert.True(attached.ExitCode == 3, attached.ToString());
            Assert.Equal("hello from start\n", attached.Stdout);
            Assert.Single(LinesOf(boots));
            var first = await f.Inspect(id);
            Assert.Equal("exited", first.GetProperty("status").GetString());
            Assert.Equal(3, first.GetProperty("exitCode").GetInt32());

            // start of an exited container runs it again (Docker): detached, it names the container back
            var again = await f.Cr("start", id[..12]);
            Assert.True(again.ExitCode == 0, again.ToString());
            Assert.Equal(id[..12] + "\n", again.Stdout);
            await WaitFor(() => LinesOf(boots).Length == 2, "the second start");
            await f.Cr("wait", id);
            var second = await f.Inspect(id);
            Assert.Equal(1, second.GetProperty("restartCount").GetInt32());
            Assert.Equal(3, second.GetProperty("exitCode").GetInt32());
            // logs keep both runs' output, as Docker's do
            Assert.Equal("hello from start\nhello from start\n", (await f.Cr("logs", id)).Stdout);
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task Start_OfACreatedContainerWhoseCommandIsMissing_Fails_AndTheContainerStays()
    {
        var id = await Create("--rootfs", f.Rootfs, "--", "/no/such/command");
        try
        {
            var start = await f.Cr("start", id);
            Assert.True(start.ExitCode is 125 or 127, start.ToString());
            Assert.Contains("/no/such/command", start.Stderr);
            // Docker keeps a created container whose start failed: it is there, exited, with no process or cgroup
            var r = await f.Inspect(id);
            Assert.Equal("exited", r.GetProperty("status").GetString());
            Assert.Empty(r.GetProperty("cgroupPaths").EnumerateObject());
            var rm = await f.Cr("rm", id);
            Assert.True(rm.ExitCode == 0, rm.ToString());
            Assert.DoesNotContain(id, f.StateEntries());
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task Restart_StopsTheRunningContainer_AndStartsItAgain()
    {
        var vol = NewDir("restart");
        var boots = Path.Combine(vol, "boots");
        var id = await f.Detached("echo $$ >> /mnt/vol/boots; trap 'exit 0' TERM; while true; do sleep 0.05; done", "-v", $"{vol}:/mnt/vol");
        try
        {
            await WaitFor(() => LinesOf(boots).Length == 1, "the first boot");
            var pidBefore = (await f.Inspect(id)).GetProperty("pid").GetInt32();
            var restart = await f.Cr("restart", "-t", "5", id);
            Assert.True(restart.ExitCode == 0, restart.ToString());
            Assert.Equal(id + "\n", restart.Stdout);
            await WaitFor(() => LinesOf(boots).Length == 2, "the second boot");
            var after = await f.Inspect(id);
            Assert.Equal("running", after.GetProperty("status").GetString());
            Assert.NotEqual(pidBefore, after.GetProperty("pid").GetInt32());
            Assert.False(Directory.Exists($"/proc/{pidBefore}") && File.ReadAllText($"/proc/{pidBefore}/cmdline").Contains("sh"), "the old process is still alive");
            Assert.Equal(1, after.GetProperty("restartCount").GetInt32());
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task EnvFile_IsReadAsDockerReadsIt_AndMinusE_Wins()
    {
        var dir = NewDir("envfile");
        var file = Path.Combine(dir, "env");
        // a comment, a value with spaces and quotes kept literally, a bare name taken from our environment,
        // a bare name that is not set (left out), a value -e overrides
        File.WriteAllText(file, "# comment\nPLAIN=1\n  SPACED=two words \"quoted\"\n" + CrateRunFixture.MarkerVariable + "\nNOT_SET_ANYWHERE_X\nOVER=file\n");
        var r = await f.Sh("echo \"P=$PLAIN|S=$SPACED|M=$" + CrateRunFixture.MarkerVariable + "|N=${NOT_SET_ANYWHERE_X-unset}|O=$OVER\"",
            "--env-file", file, "-e", "OVER=flag");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal($"P=1|S=two words \"quoted\"|M={f.StateRoot}|N=unset|O=flag\n", r.Stdout);

        // bad input: one line naming the file, 125, nothing left behind
        var before = f.StateEntries();
        AssertOneLineError(await f.Sh("true", "--env-file", Path.Combine(dir, "missing")), "--env-file", "missing");
        File.WriteAllText(file, "BAD KEY=1\n");
        AssertOneLineError(await f.Sh("true", "--env-file", file), "line 1", "BAD KEY");
        Assert.Equal(before, f.StateEntries());
    }

    [RootFact]
    public async Task Labels_Filters_AndTemplates_SelectAndPrintAsDockerDoes()
    {
        var tag = Guid.NewGuid().ToString("N")[..6];
        var web = await f.Detached("sleep 30", "--name", "brd-web-" + tag, "-l", "tier=web", "--label", "suite=" + tag);
        var db = await f.Detached("sleep 30", "--name", "brd-db-" + tag, "-l", "tier=db", "-l", "suite=" + tag, "-l", "flag");
        var done = (await f.Run("--name", "brd-done-" + tag, "-l", "suite=" + tag, "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "exit 4")).Id!;
        try
        {
            async Task<string[]> Names(params string[] filters)
            {
                var r = await f.Cr(["ps", .. filters.SelectMany(x => new[] { "--filter", x }), "--format", "{{.Names}}"]);
                Assert.True(r.ExitCode == 0, r.ToString());
                return [.. r.OutLines.Order()];
            }
            string[] All(params string[] names) => [.. names.Select(n => $"brd-{n}-{tag}").Order()];

            Assert.Equal(All("db", "web"), await Names("label=suite=" + tag)); // running only without -a
            Assert.Equal(All("web"), await Names("label=suite=" + tag, "label=tier=web"));
            Assert.Equal(All("db"), await Names("label=flag", "label=suite=" + tag)); // a key alone: present with any value
            Assert.Equal(All("db", "web"), await Names("label=suite=" + tag, "name=brd-(db|web)"));
            Assert.Equal(All("done"), await Names("label=suite=" + tag, "status=exited")); // a status filter sees stopped ones
            Assert.Equal(All("done"), await Names("label=suite=" + tag, "status=exited", "exited=4"));
            Assert.Empty(await Names("label=suite=" + tag, "status=exited", "exited=0"));
            Assert.Equal(All("db", "web"), await Names("id=" + web[..6], "id=" + db[..6]));

            // templates: fields, a label by key, tabs and a table header, json of one row
            var line = await f.Cr("ps", "--filter", "id=" + web, "--format", "{{.ID}}|{{.Names}}|{{.Label \"tier\"}}|{{.State}}|{{.Command}}");
            Assert.Equal($"{web[..12]}|brd-web-{tag}|web|running|\"/bin/sh -c sleep 30\"\n", line.Stdout);
            var table = await f.Cr("ps", "-a", "--filter", "label=suite=" + tag, "--format", "table {{.Names}}\\t{{.Status}}");
            Assert.Matches(@"^NAMES +STATUS\n", table.Stdout);
            Assert.Matches($@"\nbrd-done-{tag} +Exited \(4\) .* ago\n", table.Stdout);
            Assert.Matches($@"\nbrd-web-{tag} +Up ", table.Stdout);
            var json = await f.Cr("ps", "--filter", "id=" + db, "--format", "{{json .}}");
            using (var doc = JsonDocument.Parse(json.Stdout))
            {
                Assert.Equal(db[..12], doc.RootElement.GetProperty("ID").GetString());
                Assert.Equal($"flag=,suite={tag},tier=db", doc.RootElement.GetProperty("Labels").GetString());
            }
            // the labels are in inspect too
            Assert.Equal("db", (await f.Inspect(db)).GetProperty("labels").GetProperty("tier").GetString());
            // --no-trunc: full ids
            Assert.Equal(web + "\n", (await f.Cr("ps", "--no-trunc", "--filter", "id=" + web, "--format", "{{.ID}}")).Stdout);

            // bad filters and templates: one line, 125, before any output
            AssertOneLineError(await f.Cr("ps", "--filter", "colour=red"), "colour");
            AssertOneLineError(await f.Cr("ps", "--filter", "status=sleeping"), "status=sleeping");
            AssertOneLineError(await f.Cr("ps", "--filter", "novalue"), "novalue");
            AssertOneLineError(await f.Cr("ps", "--format", "{{.Nope}}"), "Nope");
            AssertOneLineError(await f.Cr("ps", "--format", "{{.ID"), "unclosed");
            AssertOneLineError(await f.Sh("true", "-l", "=x"), "label");
        }
        finally
        {
            await f.RemoveForce(web, db, done);
        }
    }

    [RootFact]
    public async Task LogsTail_CountsLinesOverStdoutAndStderrTogether()
    {
        var r = await f.Run("--rootfs", f.Rootfs, "--", "/bin/sh", "-c",
            "echo o1; sleep 0.05; echo e1 >&2; sleep 0.05; echo o2; sleep 0.05; echo e2 >&2; sleep 0.05; echo o3; sleep 0.05; echo e3 >&2");
        try
        {
            Assert.True(r.ExitCode == 0, r.ToString());
            // Docker's --tail 3 of the merged output o1 e1 o2 e2 o3 e3: e2 o3 e3
            var tail = await f.Cr("logs", "--tail", "3", r.Id!);
            Assert.Equal("o3\n", tail.Stdout);
            Assert.Equal("e2\ne3\n", tail.Stderr);
            var one = await f.Cr("logs", "-n", "1", r.Id!);
            Assert.Equal("", one.Stdout);
            Assert.Equal("e3\n", one.Stderr);
            var zero = await f.Cr("logs", "--tail", "0", r.Id!);
            Assert.Equal("", zero.Stdout + zero.Stderr);
        }
        finally
        {
            await f.RemoveForce(r.Id!);
        }
    }

    [RootFact]
    public async Task LogsSinceUntil_KeepWhatWasWrittenInTheWindow()
    {
        var r = await f.Run("--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "echo early; sleep 1; echo late");
        try
        {
            Assert.True(r.ExitCode == 0, r.ToString());
            var stamped = (await f.Cr("logs", "-t", r.Id!)).OutLines;
            Assert.Equal(2, stamped.Length);
            var earlyAt = stamped[0].Split(' ')[0];
            var lateAt = stamped[1].Split(' ')[0];

            Assert.Equal("late\n", (await f.Cr("logs", "--since", lateAt, r.Id!)).Stdout); // RFC 3339, inclusive
            Assert.Equal("early\n", (await f.Cr("logs", "--until", earlyAt, r.Id!)).Stdout);
            // a point between the two, as Unix seconds with a fraction
            var between = DateTimeOffset.Parse(earlyAt, CultureInfo.InvariantCulture).AddMilliseconds(500);
            var unix = (between - DateTimeOffset.UnixEpoch).TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);
            Assert.Equal("late\n", (await f.Cr("logs", "--since", unix, r.Id!)).Stdout);
            // relative: everything was written within the last hour, nothing before an hour ago
            Assert.Equal("early\nlate\n", (await f.Cr("logs", "--since", "1h", r.Id!)).Stdout);
            Assert.Equal("", (await f.Cr("logs", "--until", "1h", r.Id!)).Stdout);
            AssertOneLineError(await f.Cr("logs", "--since", "yesterday", r.Id!), "--since", "yesterday");
        }
        finally
        {
            await f.RemoveForce(r.Id!);
        }
    }

    [RootFact]
    public async Task ContainerPrune_RemovesStoppedContainersOnly()
    {
        var tag = Guid.NewGuid().ToString("N")[..6];
        var running = await f.Detached("sleep 30", "-l", "prune=" + tag);
        var exited = (await f.Run("-l", "prune=" + tag, "--rootfs", f.Rootfs, "--", "true")).Id!;
        var created = await Create("-l", "prune=" + tag, "--rootfs", f.Rootfs, "--", "true");
        var other = (await f.Run("-l", "prune=other-" + tag, "--rootfs", f.Rootfs, "--", "true")).Id!;
        try
        {
            // without --force it asks; anything but y keeps everything
            var declined = await f.CrWith("n\n", null, "container", "prune", "--filter", "label=prune=" + tag);
            Assert.True(declined.ExitCode == 0, declined.ToString());
            Assert.Contains("Are you sure", declined.Stdout);
            Assert.Contains(exited, f.StateEntries());

            var prune = await f.Cr("container", "prune", "-f", "--filter", "label=prune=" + tag);
            Assert.True(prune.ExitCode == 0, prune.ToString());
            Assert.StartsWith("Deleted Containers:\n", prune.Stdout);
            Assert.Contains(exited, prune.Stdout);
            Assert.Contains(created, prune.Stdout);
            Assert.Matches(@"Total reclaimed space: [0-9.]+[kMG]?B\n$", prune.Stdout);
            var left = f.StateEntries();
            Assert.DoesNotContain(exited, left);
            Assert.DoesNotContain(created, left);
            Assert.Contains(running, left); // running: never pruned
            Assert.Contains(other, left); // not selected by the filter
            Assert.Equal("running", (await f.Inspect(running)).GetProperty("status").GetString());
            AssertOneLineError(await f.Cr("container", "prune", "-f", "--filter", "status=exited"), "status");
        }
        finally
        {
            await f.RemoveForce(running, exited, created, other);
        }
    }

    [RootFact]
    public async Task Update_ChangesTheLimitsOfARunningContainer_AndKeepsThemForTheNextStart()
    {
        var id = await f.Detached("trap 'exit 0' TERM; while true; do sleep 0.05; done", "--memory", "64m");
        try
        {
            var update = await f.Cr("update", "--memory", "48m", "--pids-limit", "12", id[..12]);
            Assert.True(update.ExitCode == 0, update.ToString());
            Assert.Equal(id[..12] + "\n", update.Stdout);
            // from inside: the container's own cgroup files
            var inside = await f.Cr("exec", id, "--", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max");
            Assert.True(inside.ExitCode == 0, inside.ToString());
            Assert.Equal("50331648\n12\n", inside.Stdout);
            // pushed past: 20 more processes cannot all start under pids.max 12
            var fork = await f.Cr("exec", id, "--", "/bin/sh", "-c", "n=0; for i in $(seq 20); do sleep 2 2>/dev/null & n=$((n+1)); done; wait; echo done");
            Assert.Contains("can't fork", fork.Stderr + fork.Stdout);
            var rec = await f.Inspect(id);
            Assert.Equal(50331648, rec.GetProperty("limits").GetProperty("memoryBytes").GetInt64());

            // restarted: the new limits are the container's now
            var restart = await f.Cr("restart", "-t", "5", id);
            Assert.True(restart.ExitCode == 0, restart.ToString());
            var after = await f.Cr("exec", id, "--", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max");
            Assert.Equal("50331648\n12\n", after.Stdout);

            AssertOneLineError(await f.Cr("update", id), "--memory");
            AssertOneLineError(await f.Cr("update", "--memory", "lots", id), "lots");
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }
}
