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
}
