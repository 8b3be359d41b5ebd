using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>stdout and stderr kept apart: live in a foreground run, and in logs (plain, --tail, -t, -f).</summary>
[Collection(CrateRunCollection.Name)]
public sealed class LogsTests(CrateRunFixture f)
{
    private const string ThreeAndTwo = "echo out1; echo err1 >&2; echo out2; echo err2 >&2; echo out3";

    [RootFact]
    public async Task Foreground_StdoutAndStderrAreSeparate_AndLive()
    {
        var (run, cid) = f.StartRun("--rm", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "echo out1; echo err1 >&2; sleep 3; echo out2");
        using (run)
        {
            Assert.True(await run.WaitForOutput("out1", TimeSpan.FromSeconds(20)), "out1 never arrived\n" + run.Stderr);
            Assert.True(await run.WaitForOutput("err1", TimeSpan.FromSeconds(5), stderr: true), "err1 never arrived on stderr");
            Assert.False(run.HasExited, "the output only came at the end, not live");
            Assert.DoesNotContain("out2", run.Stdout);
            var r = await run.Wait(TimeSpan.FromSeconds(30));
            f.ReadCidFile(cid);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("out1\nout2\n", r.Stdout);
            Assert.Equal("err1\n", r.Stderr);
        }
    }

    [RootFact]
    public async Task Logs_SeparateStreams_AndTheLogFiles()
    {
        var r = await f.Run("--rootfs", f.Rootfs, "--", "/bin/sh", "-c", ThreeAndTwo);
        try
        {
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("out1\nout2\nout3\n", r.Stdout);
            Assert.Equal("err1\nerr2\n", r.Stderr);

            var logs = await f.Cr("logs", r.Id!);
            Assert.True(logs.ExitCode == 0, logs.ToString());
            Assert.Equal("out1\nout2\nout3\n", logs.Stdout);
            Assert.Equal("err1\nerr2\n", logs.Stderr);

            Assert.Equal("out1\nout2\nout3\n", await File.ReadAllTextAsync(Path.Combine(f.StateDir(r.Id!), "stdout.log")));
            Assert.Equal("err1\nerr2\n", await File.ReadAllTextAsync(Path.Combine(f.StateDir(r.Id!), "stderr.log")));
        }
        finally
        {
            await f.RemoveForce(r.Id!);
        }
    }

    [RootFact]
    public async Task Logs_Tail_CountsTheMergedOutput()
    {
        // spaced out: lines written faster than the monitor reads the pipes share one chunk (and one time)
        var r = await f.Run("--rootfs", f.Rootfs, "--", "/bin/sh", "-c", ThreeAndTwo.Replace("; ", "; sleep 0.05; "));
        try
        {
            // Docker's --tail counts lines of stdout and stderr together: the last 1 is out3 alone
            var logs = await f.Cr("logs", "--tail", "1", r.Id!);
            Assert.True(logs.ExitCode == 0, logs.ToString());
            Assert.Equal("out3\n", logs.Stdout);
            Assert.Equal("", logs.Stderr);
            var two = await f.Cr("logs", "--tail", "2", r.Id!);
            Assert.Equal("out3\n", two.Stdout);
            Assert.Equal("err2\n", two.Stderr);
        }
        finally
        {
            await f.RemoveForce(r.Id!);
        }
    }

    [RootFact]
    public async Task Logs_Timestamps_PrefixEveryLine()
    {
        var before = DateTimeOffset.UtcNow.AddSeconds(-5);
        var r = await f.Run("--rootfs", f.Rootfs, "--", "/bin/sh", "-c", ThreeAndTwo);
        try
        {
            var logs = await f.Cr("logs", "-t", r.Id!);
            Assert.True(logs.ExitCode == 0, logs.ToString());
            var outLines = logs.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(3, outLines.Length);
            var errLines = logs.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(2, errLines.Length);
            var pattern = @"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)) (.*)$";
            foreach (var (line, text) in outLines.Zip(new[] { "out1", "out2", "out3" }).Concat(errLines.Zip(new[] { "err1", "err2" })))
            {
                var m = System.Text.RegularExpressions.Regex.Match(line, pattern);
                Assert.True(m.Success, $"no ISO timestamp on '{line}'");
                Assert.Equal(text, m.Groups[4].Value);
                var when = DateTimeOffset.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                Assert.InRange(when, before, DateTimeOffset.UtcNow.AddSeconds(5));
            }
        }
        finally
        {
            await f.RemoveForce(r.Id!);
        }
    }

    [RootFact]
    public async Task Logs_Follow_UntilTheContainerExits()
    {
        var id = await f.Detached("for i in 1 2 3 4 5; do echo line$i; echo eline$i >&2; sleep 0.3; done; exit 0");
        try
        {
            var logs = await f.CrWith(null, TimeSpan.FromSeconds(30), "logs", "-f", id);
            Assert.False(logs.TimedOut, "logs -f did not end when the container exited\n" + logs);
            Assert.True(logs.ExitCode == 0, logs.ToString());
            Assert.Equal("line1\nline2\nline3\nline4\nline5\n", logs.Stdout);
            Assert.Equal("eline1\neline2\neline3\neline4\neline5\n", logs.Stderr);
            Assert.True(logs.Elapsed > TimeSpan.FromMilliseconds(500), "logs -f returned at once: it did not follow");
            Assert.Equal("exited", (await f.Inspect(id)).GetProperty("status").GetString());
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    // ---- many bytes: every one reaches the CLI and the log, whatever the CLI's stdout is ----------------

    /// <summary>`seq 1 N` as busybox prints it.</summary>
    private static string Seq(int from, int to) => string.Concat(Enumerable.Range(from, to - from + 1).Select(i => i + "\n"));

    /// <summary>
    /// stdout.log holds exactly <paramref name="expected"/>, and stdout.log.times indexes it as the
    /// logs' format says: one "offset unix-ns" line per chunk, the first at 0, offsets rising and
    /// inside the log, times never going back and within the run.
    /// </summary>
    private void AssertLogAndIndex(string id, string expected, long notBeforeNs, long notAfterNs)
    {
        var dir = f.StateDir(id);
        var log = File.ReadAllText(Path.Combine(dir, "stdout.log"));
        Assert.True(log == expected, $"stdout.log: {log.Length} bytes, {expected.Length} expected");
        var index = File.ReadAllLines(Path.Combine(dir, "stdout.log.times"));
        Assert.NotEmpty(index);
        long lastOffset = -1, lastNs = 0;
        foreach (var line in index)
        {
            Assert.Matches(@"^\d+ \d+$", line);
            var parts = line.Split(' ');
            long offset = long.Parse(parts[0]), ns = long.Parse(parts[1]);
            if (lastOffset < 0) Assert.Equal(0, offset);
            Assert.True(offset > lastOffset && offset < expected.Length, $"offset {offset} after {lastOffset} (log of {expected.Length} bytes)");
            Assert.True(ns >= lastNs && ns >= notBeforeNs && ns <= notAfterNs, $"time {ns} after {lastNs}, run from {notBeforeNs} to {notAfterNs}");
            (lastOffset, lastNs) = (offset, ns);
        }
    }

    private static long NowNs() => (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;

    /// <summary>
    /// A few MB, half while the monitor's managed phase watches and half after its C waiting
    /// phase took over, to the run CLI's stdout as a pipe, as a regular file, and detached (no
    /// sink): the CLI gets every byte in order, and so does the log, with its index.
    /// </summary>
    [RootTheory]
    [InlineData("pipe")]
    [InlineData("file")]
    [InlineData("detached")]
    public async Task ManyBytes_ReachTheCliAndTheLog_InBothPhases(string sink)
    {
        const string Script = "seq 1 200000; sleep 0.4; seq 200001 400000";
        var expected = Seq(1, 400000);
        var before = NowNs();
        string? id = null;
        try
        {
            if (sink == "pipe")
            {
                var r = await f.RunWith(null, TimeSpan.FromSeconds(60), "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", Script);
                id = r.Id;
                Assert.True(r.ExitCode == 0, r.ToString()[..Math.Min(2000, r.ToString().Length)]);
                Assert.True(r.Stdout == expected, $"the CLI's stdout: {r.Stdout.Length} bytes, {expected.Length} expected");
            }
            else if (sink == "file")
            {
                var cid = f.NewCidFile();
                var file = Path.Combine(f.TempBase, "out-" + Guid.NewGuid().ToString("N")[..8]);
                try
                {
                    var r = await Proc.Run("/bin/sh", ["-c", f.ShellCommand("run", "--cidfile", cid, "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", Script) + " > " + Proc.ShellQuote(file)],
                        timeout: TimeSpan.FromSeconds(60), env: f.Env);
                    id = f.ReadCidFile(cid);
                    Assert.True(r.ExitCode == 0, r.ToString());
                    var got = await File.ReadAllTextAsync(file);
                    Assert.True(got == expected, $"the CLI's stdout (a file): {got.Length} bytes, {expected.Length} expected");
                }
                finally { File.Delete(file); }
            }
            else
            {
                id = await f.Detached(Script);
                var w = await f.CrWith(null, TimeSpan.FromSeconds(60), "wait", id);
                Assert.True(w.ExitCode == 0 && w.Stdout.Trim() == "0", w.ToString());
            }
            AssertLogAndIndex(id!, expected, before, NowNs());
            var logs = await f.Cr("logs", id!);
            Assert.True(logs.Stdout == expected, $"logs: {logs.Stdout.Length} bytes, {expected.Length} expected");
        }
        finally
        {
            if (id is not null) await f.RemoveForce(id);
        }
    }
}
