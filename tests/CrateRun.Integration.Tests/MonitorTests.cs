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
        // a marker of this test's own: the rootfs (and its /tmp) is shared by every test of the fixture
        var go = "/tmp/go-" + Guid.NewGuid().ToString("N");
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

                var touch = await f.Cr("exec", id, "--", "/bin/touch", go);
                Assert.True(touch.ExitCode == 0, touch.ToString());
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
                File.Delete(f.Rootfs + go);
            }
        }
    }

    /// <summary>
    /// Issue 14, target 5: a running container's monitor holds at most 2 MiB. The waiting phase drops
    /// the pages the exec and the dynamic linker mapped and it never runs again (libm, the managed
    /// code, the set-up); what the copying loop touches comes back. Measured while output flows, after
    /// the hand-over, from smaps_rollup (exact; /proc/PID/status's VmRSS is a per-CPU estimate).
    /// </summary>
    [RootFact]
    public async Task Detached_WaitingMonitor_ResidentUnder2MiB_WhileItCopiesOutput()
    {
        var id = await f.Detached("i=0; while [ $i -lt 40 ]; do echo line-$i; i=$((i+1)); sleep 0.05; done; sleep 1000");
        try
        {
            var monitor = (await f.Inspect(id)).GetProperty("monitorPid").GetInt32();
            Assert.Contains("_monitor-wait", await WaitingPhaseOf(monitor));
            var log = Path.Combine(f.StateDir(id), "stdout.log");
            for (var i = 0; i < 100 && !(File.Exists(log) && (await File.ReadAllTextAsync(log)).Contains("line-39\n", StringComparison.Ordinal)); i++)
                await Task.Delay(100);
            Assert.Equal(string.Concat(Enumerable.Range(0, 40).Select(i => $"line-{i}\n")), await File.ReadAllTextAsync(log));
            var rss = (await File.ReadAllLinesAsync($"/proc/{monitor}/smaps_rollup")).Single(l => l.StartsWith("Rss:", StringComparison.Ordinal));
            var kib = long.Parse(rss.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
            Assert.True(kib <= 2048, $"the waiting monitor holds {kib} KiB (target <= 2048)\n" + await File.ReadAllTextAsync($"/proc/{monitor}/smaps_rollup"));
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    /// <summary>
    /// The waiting phase drops its libraries' read-only pages, but not those of a library the
    /// dynamic linker wrote into (text relocations, as an old LD_PRELOAD library may have): its
    /// pages would come back from the file unrelocated. The library here wraps poll(), which the
    /// waiting loop calls, in code far enough from the segment's edges to span whole pages.
    /// </summary>
    [RootFact]
    public async Task Detached_WaitingMonitor_KeepsTheRelocatedCodeOfAPreloadedLibrary()
    {
        var dir = Directory.CreateTempSubdirectory("craterun-textrel-");
        try
        {
            var source = Path.Combine(dir.FullName, "wrap.c");
            var library = Path.Combine(dir.FullName, "libwrap.so");
            await File.WriteAllTextAsync(source, """
                #define _GNU_SOURCE
                #include <dlfcn.h>
                #include <poll.h>
                static int calls;
                static int (*real_poll)(struct pollfd *, nfds_t, int);
                __attribute__((aligned(4096))) int poll(struct pollfd *fds, nfds_t n, int timeout)
                {
                    if (!real_poll) real_poll = (int (*)(struct pollfd *, nfds_t, int))dlsym(RTLD_NEXT, "poll");
                    calls++;
                    return real_poll(fds, n, timeout);
                }
                __attribute__((aligned(4096))) void padding(void) { __asm__ volatile(".fill 8192, 1, 0x90"); }
                """);
            // absolute addresses in the code (no PIC, the large model): text relocations
            var cc = await Proc.Run("gcc", ["-shared", "-O1", "-fno-pic", "-mcmodel=large", "-Wl,-z,notext", "-o", library, source]);
            Assert.True(cc.ExitCode == 0, cc.ToString());
            Assert.Contains("TEXTREL", (await Proc.Run("readelf", ["-d", library])).Stdout);

            var r = await f.CrAt(f.StateRoot, new Dictionary<string, string> { ["LD_PRELOAD"] = library },
                "run", "-d", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "sleep 1; echo done");
            Assert.True(r.ExitCode == 0, r.ToString());
            var id = r.Stdout.Trim();
            CrateRunFixture.Track(id);
            try
            {
                var rec = await f.Inspect(id);
                for (var i = 0; i < 200 && rec.GetProperty("status").GetString() != "exited"; i++)
                {
                    await Task.Delay(100);
                    rec = await f.Inspect(id);
                }
                Assert.Equal("exited", rec.GetProperty("status").GetString());
                Assert.True(rec.TryGetProperty("exitCode", out var code) && code.ValueKind == System.Text.Json.JsonValueKind.Number && code.GetInt32() == 0,
                    "the exit was not recorded by the monitor: " + rec);
                Assert.Equal("done\n", await File.ReadAllTextAsync(Path.Combine(f.StateDir(id), "stdout.log")));
            }
            finally
            {
                await f.RemoveForce(id);
            }
        }
        finally
        {
            dir.Delete(recursive: true);
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

    /// <summary>
    /// A monitor whose control socket (fd 3) brings a message it cannot read (a container assignment
    /// short of its fields, an unknown kind, a stdio assignment without its fd) fails with 125 and one
    /// line: to the CLI, if one listens, else on its stderr. It creates nothing.
    /// </summary>
    [RootFact]
    public async Task Monitor_GivenABadMessage_FailsWithOneLine()
    {
        foreach (var (message, problem) in new[] { ($"C\t{f.StateRoot}\tbadmsg", "C takes 4 fields"), ("Q 1", "no message starts with 'Q'"), ("F1", "comes with an fd") })
        {
            // no CLI left to tell: the line goes to stderr
            var (cli, monitorEnd) = NewControlSocket();
            SeqPacket.Send(cli, message);
            SeqPacket.Close(cli);
            var r = await RunMonitor(monitorEnd);
            Assert.True(r.ExitCode == 125, r.ToString());
            Assert.Equal("", r.Stdout);
            var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(lines.Length == 1 && lines[0].StartsWith("craterun: ", StringComparison.Ordinal) && lines[0].Contains(problem), r.ToString());

            // a CLI that listens gets it as the failed message ("E CODE MESSAGE") it prints
            (cli, monitorEnd) = NewControlSocket();
            SeqPacket.Send(cli, message);
            r = await RunMonitor(monitorEnd);
            var reply = SeqPacket.ReceiveNow(cli);
            SeqPacket.Close(cli);
            Assert.True(r.ExitCode == 125 && r.Stderr == "", r.ToString());
            Assert.True(reply.StartsWith("E 125 ", StringComparison.Ordinal) && reply.Contains(problem) && !reply.Contains('\n'), reply);
        }
        Assert.False(Directory.Exists(Path.Combine(f.StateRoot, "badmsg")));
    }

    /// <summary>`craterun _monitor` with <paramref name="monitorEnd"/> as its fd 3 (the way craterun run starts it; bash: dash takes one-digit fds only).</summary>
    private async Task<ProcResult> RunMonitor(int monitorEnd)
    {
        try
        {
            return await Proc.Run("/bin/bash", ["-c", $"exec \"$0\" _monitor 3<&{monitorEnd} {monitorEnd}<&-", f.Binary], env: f.Env, timeout: TimeSpan.FromSeconds(20));
        }
        finally { SeqPacket.Close(monitorEnd); }
    }

    /// <summary>A SOCK_SEQPACKET pair as craterun run makes it: ours close-on-exec, the monitor's end inherited.</summary>
    private static unsafe (int Cli, int Monitor) NewControlSocket()
    {
        int* fds = stackalloc int[2];
        Assert.Equal(0, SeqPacket.socketpair(1 /* AF_UNIX */, 5 /* SOCK_SEQPACKET */ | 0x80000 /* SOCK_CLOEXEC */, 0, fds));
        Assert.Equal(0, SeqPacket.fcntl(fds[1], 2 /* F_SETFD */, 0));
        return (fds[0], fds[1]);
    }
}

/// <summary>The libc calls the control socket test needs.</summary>
internal static unsafe partial class SeqPacket
{
    public static void Send(int fd, string text)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        fixed (byte* b = bytes) Assert.Equal(bytes.Length, (int)send(fd, b, bytes.Length, 0x4000 /* MSG_NOSIGNAL */));
    }

    /// <summary>The message waiting on the socket ("" if none).</summary>
    public static string ReceiveNow(int fd)
    {
        var buffer = stackalloc byte[4096];
        var n = (int)recv(fd, buffer, 4096, 0x40 /* MSG_DONTWAIT */);
        return n <= 0 ? "" : System.Text.Encoding.UTF8.GetString(buffer, n);
    }

    public static void Close(int fd) => close(fd);

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    internal static partial int socketpair(int domain, int type, int protocol, int* sv);

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    internal static partial int fcntl(int fd, int cmd, int arg);

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    internal static partial nint send(int fd, byte* buf, nint len, int flags);

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    internal static partial nint recv(int fd, byte* buf, nint len, int flags);

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
