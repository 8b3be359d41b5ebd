using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>hello-world, exit codes, the PID and UTS namespaces.</summary>
[Collection(CrateRunCollection.Name)]
public sealed class BasicTests(CrateRunFixture f)
{
    [RootFact]
    public async Task HelloWorld_PrintsGreetingAsPid1()
    {
        var r = await f.Run("--rm", "hello-world");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Hello from CrateRun", r.Stdout);
        Assert.Contains("my pid is 1", r.Stdout);
        Assert.NotNull(r.Id);
        Assert.Contains($"my hostname is {r.Id![..12]}", r.Stdout);
        Assert.False(Directory.Exists(f.StateDir(r.Id)), "--rm left the state directory");
    }

    [RootTheory]
    [InlineData("exit 0", 0)]
    [InlineData("exit 3", 3)]
    [InlineData("exit 255", 255)]
    // PID 1 ignores signals it has no handler for, even SIGKILL from inside its namespace
    // (a bare `sh -c 'kill -9 $$'` as the container's command exits 0, as under Docker): the
    // signal goes to a child and the shell's status (128+N) becomes the container's exit code.
    // "; exit $?" keeps busybox sh from exec'ing its last command (which would make it PID 1).
    [InlineData("sh -c 'kill -9 $$'; exit $?", 137)]
    [InlineData("sleep 5 & kill -KILL $!; wait $!", 137)]
    [InlineData("sleep 5 & kill -TERM $!; wait $!", 143)]
    [InlineData("trap 'exit 143' TERM; sh -c 'kill -TERM $PPID'; sleep 5; exit 1", 143)]
    public async Task ExitCode_OfTheShellIsPropagated(string script, int expected)
    {
        var r = await f.Sh(script);
        Assert.True(r.ExitCode == expected, $"expected {expected}\n{r}");
    }

    [RootFact]
    public async Task ExitCode_126_ForANonExecutableFile()
    {
        var r = await f.Run("--rm", "--rootfs", f.Rootfs, "--", "/not-executable");
        Assert.True(r.ExitCode == 126, r.ToString());
        Assert.DoesNotContain("should-not-run", r.Stdout);
        var line = Assert.Single(r.ErrLines);
        Assert.StartsWith("craterun: ", line);
        Assert.Contains("/not-executable", line);
    }

    [RootTheory]
    [InlineData("/no/such/command")]
    [InlineData("no-such-command")]
    public async Task ExitCode_127_ForAMissingCommand(string command)
    {
        var r = await f.Run("--rm", "--rootfs", f.Rootfs, "--", command);
        Assert.True(r.ExitCode == 127, r.ToString());
        var line = Assert.Single(r.ErrLines);
        Assert.StartsWith("craterun: ", line);
        Assert.Contains(command, line);
    }

    [RootFact]
    public async Task ExitCode_137_WhenKilledFromOutside_WaitPrintsIt()
    {
        var id = await f.Detached("echo started; while true; do sleep 0.1; done");
        try
        {
            var kill = await f.Cr("kill", "-s", "KILL", id);
            Assert.True(kill.ExitCode == 0, kill.ToString());
            var wait = await f.CrWith(null, TimeSpan.FromSeconds(20), "wait", id);
            Assert.True(wait.ExitCode == 137, wait.ToString());
            Assert.Equal("137", wait.Stdout.Trim());
            var rec = await f.Inspect(id);
            Assert.Equal("exited", rec.GetProperty("status").GetString());
            Assert.Equal(137, rec.GetProperty("exitCode").GetInt32());
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task ExitCode_137_ForegroundRunWhoseInitIsKilled()
    {
        var name = "fg-" + Guid.NewGuid().ToString("N")[..8];
        var (run, cid) = f.StartRun("--rm", "--name", name, "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "echo ready; while true; do sleep 0.1; done");
        using (run)
        {
            Assert.True(await run.WaitForOutput("ready", TimeSpan.FromSeconds(20)), "container did not start\n" + run.Stderr);
            f.ReadCidFile(cid);
            var kill = await f.Cr("kill", name);
            Assert.True(kill.ExitCode == 0, kill.ToString());
            var r = await run.Wait(TimeSpan.FromSeconds(20));
            Assert.True(r.ExitCode == 137, r.ToString());
        }
    }

    [RootFact]
    public async Task PidNamespace_CommandIsPid1_NoHostProcessesVisible()
    {
        var r = await f.Run("--rm", "--rootfs", f.Rootfs, "--", "/bin/ps", "-o", "pid,args");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length < 5, "too many processes visible:\n" + r.Stdout);
        Assert.Equal(2, lines.Length); // header + ps itself
        Assert.Matches(@"^1\s+/bin/ps -o pid,args$", lines[1]);
        Assert.DoesNotContain("dotnet", r.Stdout);
        Assert.DoesNotContain("testhost", r.Stdout);

        var s = await f.Sh("ls /proc | grep -E '^[0-9]+$'; echo cmdline=$(tr '\\0' ' ' < /proc/1/cmdline)");
        Assert.True(s.ExitCode == 0, s.ToString());
        var pids = s.Stdout.Split('\n').Where(l => l.Length > 0 && l.All(char.IsAsciiDigit)).Select(int.Parse).ToList();
        Assert.True(pids.Count < 5, "pids: " + string.Join(' ', pids));
        Assert.Contains(1, pids);
        Assert.DoesNotContain(Environment.ProcessId, pids);
        Assert.Contains("cmdline=/bin/sh -c ls /proc", s.Stdout);
    }

    [RootFact]
    public async Task Hostname_DefaultsToShortId()
    {
        var r = await f.Run("--rm", "--rootfs", f.Rootfs, "--", "/bin/hostname");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.NotNull(r.Id);
        Assert.Equal(r.Id![..12], r.Stdout.Trim());
        var env = await f.Sh("echo $HOSTNAME; cat /proc/sys/kernel/hostname");
        Assert.Equal($"{env.Id![..12]}\n{env.Id[..12]}\n", env.Stdout);
    }

    [RootFact]
    public async Task Hostname_FlagSetsIt()
    {
        var r = await f.Sh("hostname; cat /proc/sys/kernel/hostname", "--hostname", "crate-test-host");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("crate-test-host\ncrate-test-host\n", r.Stdout);
        Assert.NotEqual("crate-test-host", Environment.MachineName);
    }

    [RootFact]
    public async Task Hostname_Empty_IsTheDefault_NotTheHosts()
    {
        // Docker: --hostname "" means no hostname given, so the short id
        var r = await f.Sh("hostname; echo $HOSTNAME", "--hostname", "");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal($"{r.Id![..12]}\n{r.Id[..12]}\n", r.Stdout);
    }

    [RootFact]
    public async Task Hostname_Of64Characters_IsTheLongestAccepted()
    {
        var name = new string('a', 31) + "." + new string('b', 32);
        var r = await f.Sh("hostname", "--hostname", name);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(name, r.Stdout.Trim());
    }

    [RootFact]
    public async Task Workdir_Missing_IsCreatedAsRoot0755()
    {
        var name = "workdir-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            var r = await f.Sh("pwd; stat -c '%U %a' .", "-w", $"/{name}/deeper", "-u", "1000:1000");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal($"/{name}/deeper\nroot 755\n", r.Stdout);
        }
        finally
        {
            if (Directory.Exists(Path.Combine(f.Rootfs, name))) Directory.Delete(Path.Combine(f.Rootfs, name), recursive: true);
        }
    }
}
