using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>-t through a real pty (util-linux script), -i stdin, and signals sent to craterun.</summary>
[Collection(CrateRunCollection.Name)]
public sealed class TerminalTests(CrateRunFixture f)
{
    private const string Script = "/usr/bin/script";

    /// <summary>Runs a shell line under `script`: a real terminal of 30 rows and 100 columns. Stdin stays open until the end.</summary>
    private Task<ProcResult> UnderPty(string shellLine) =>
        Proc.Run(Script, ["-qec", "stty rows 30 cols 100; " + shellLine, "/dev/null"], timeout: TimeSpan.FromSeconds(30), keepStdinOpen: true, env: f.Env);

    [RootFact]
    public async Task RunTty_GetsAPtyWithTheCallersSize()
    {
        Assert.True(File.Exists(Script), "util-linux script is missing (apt-get install util-linux)");
        var cid = f.NewCidFile();
        var r = await UnderPty(f.ShellCommand("run", "-it", "--rm", "--cidfile", cid, "--rootfs", f.Rootfs, "--",
            "/bin/sh", "-c", "tty; stty size; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-tty; echo TERM=$TERM; exit 3"));
        f.ReadCidFile(cid);
        Assert.True(r.ExitCode == 3, r.ToString());
        Assert.Contains("/dev/pts/0", r.Stdout);
        Assert.Contains("30 100", r.Stdout);
        Assert.Contains("all-tty", r.Stdout);
        Assert.Contains("TERM=xterm", r.Stdout);
    }

    [RootFact]
    public async Task RunWithoutTty_HasNoTerminal()
    {
        var r = await f.Sh("tty; [ -t 1 ] && echo stdout-is-tty; echo end");
        Assert.Contains("not a tty", r.Stdout);
        Assert.DoesNotContain("stdout-is-tty", r.Stdout);
    }

    [RootFact]
    public async Task ExecTty_GetsAPtyWithTheCallersSize()
    {
        var id = await f.Detached("while true; do sleep 0.1; done");
        try
        {
            var r = await UnderPty(f.ShellCommand("exec", "-it", id, "--", "/bin/sh", "-c", "tty; stty size; exit 4"));
            Assert.True(r.ExitCode == 4, r.ToString());
            Assert.Matches(@"/dev/pts/\d+", r.Stdout);
            Assert.Contains("30 100", r.Stdout);
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task Interactive_PassesStdin()
    {
        var r = await f.RunWith("hi\nthere\n", null, "-i", "--rm", "--rootfs", f.Rootfs, "--", "/bin/cat");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("hi\nthere\n", r.Stdout);

        // without -i the container's stdin is not ours
        var closed = await f.RunWith("hi\n", null, "--rm", "--rootfs", f.Rootfs, "--", "/bin/cat");
        Assert.True(closed.ExitCode == 0, closed.ToString());
        Assert.Equal("", closed.Stdout);
    }

    [RootFact]
    public async Task ExecInteractive_PassesStdin()
    {
        var id = await f.Detached("while true; do sleep 0.1; done");
        try
        {
            var r = await f.CrWith("piped\n", null, "exec", "-i", id, "--", "/bin/sh", "-c", "read x; echo got-$x");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("got-piped\n", r.Stdout);
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task SigtermToCraterun_IsForwardedToTheContainer()
    {
        var (run, cid) = f.StartRun("--rm", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c",
            "trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.1; done");
        using (run)
        {
            Assert.True(await run.WaitForOutput("ready", TimeSpan.FromSeconds(20)), "container did not start\n" + run.Stderr);
            f.ReadCidFile(cid);
            run.Signal(Native.SIGTERM);
            var r = await run.Wait(TimeSpan.FromSeconds(20));
            Assert.True(r.ExitCode == 7, r.ToString());
            Assert.Contains("got-term", r.Stdout);
        }
    }

    [RootFact]
    public async Task SigintToCraterun_IsForwardedToTheContainer()
    {
        var (run, cid) = f.StartRun("--rm", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c",
            "trap 'echo got-int; exit 8' INT; echo ready; while true; do sleep 0.1; done");
        using (run)
        {
            Assert.True(await run.WaitForOutput("ready", TimeSpan.FromSeconds(20)), "container did not start\n" + run.Stderr);
            f.ReadCidFile(cid);
            run.Signal(2);
            var r = await run.Wait(TimeSpan.FromSeconds(20));
            Assert.True(r.ExitCode == 8, r.ToString());
            Assert.Contains("got-int", r.Stdout);
        }
    }

    // ---- the front of run (run_front.c): the process the shell waits for, in C ------------

    [RootFact]
    public async Task RunInteractiveTty_LeavesTheTerminalAsItFoundIt()
    {
        // -it makes the caller's terminal raw while the container runs; after it, the settings are the same again
        var r = await UnderPty("before=$(stty -g); " + f.ShellCommand("run", "-it", "--rm", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "stty -a | grep -q -- -icanon && echo raw-inside; exit 6")
            + "; rc=$?; [ \"$(stty -g)\" = \"$before\" ] && echo restored; echo rc=$rc");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("rc=6", r.Stdout);
        Assert.Contains("restored", r.Stdout);
    }

    [RootFact]
    public async Task RunTty_FollowsTheCallersWindowSize()
    {
        // the terminal is made larger while the container runs; SIGWINCH tells craterun, which resizes the pty
        var r = await UnderPty(f.ShellCommand("run", "-t", "--rm", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "stty size; sleep 2; stty size")
            + " & p=$!; sleep 1; stty rows 41 cols 121; kill -WINCH $p; wait $p; echo rc=$?");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("30 100", r.Stdout);
        Assert.Contains("41 121", r.Stdout);
        Assert.Contains("rc=0", r.Stdout);
    }

    [RootFact]
    public async Task Run_WhoseMonitorIsKilled_SaysSoInOneLineAndExits125()
    {
        var (run, cid) = f.StartRun("--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "echo ready; while true; do sleep 0.1; done");
        using (run)
        {
            Assert.True(await run.WaitForOutput("ready", TimeSpan.FromSeconds(20)), "container did not start\n" + run.Stderr);
            var id = f.ReadCidFile(cid)!;
            try
            {
                var monitor = (await f.Inspect(id)).GetProperty("monitorPid").GetInt32();
                Assert.True(monitor > 0 && monitor != run.Pid, $"monitor {monitor}, run {run.Pid}");
                Assert.Equal(0, Native.kill(monitor, 9));
                var r = await run.Wait(TimeSpan.FromSeconds(20));
                Assert.True(r.ExitCode == 125, r.ToString());
                var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
                Assert.Contains($"monitor (pid {monitor}) exited unexpectedly", line);
            }
            finally
            {
                await f.RemoveForce(id);
            }
        }
    }

    [RootFact]
    public async Task Run_FromACallerThatIgnoresSigchld_ExitsWithItsOwnStatus()
    {
        // an ignored SIGCHLD is inherited across exec: the front must still see how its monitor ended
        var help = await Proc.Run("/bin/bash", ["-c", "trap '' CHLD; exec \"$0\" --root \"$1\" run --help", f.Binary, f.StateRoot], env: f.Env);
        Assert.True(help.ExitCode == 0, help.ToString());
        Assert.Contains("Usage:", help.Stdout);
        Assert.DoesNotContain("unexpectedly", help.Stderr);

        // and with its stdio closed too, the container's exit code comes through
        var closed = await Proc.Run("/bin/bash", ["-c", "trap '' CHLD; exec \"$0\" --root \"$1\" run --rm --rootfs \"$2\" -- /bin/sh -c 'exit 7' <&- >&- 2>&-",
            f.Binary, f.StateRoot, f.Rootfs], env: f.Env);
        Assert.True(closed.ExitCode == 7, closed.ToString());
    }
}
