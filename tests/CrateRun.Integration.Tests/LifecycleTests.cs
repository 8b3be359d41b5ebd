using System.Text.Json;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>-d, exec, stop, rm, names, id prefixes, --rm, and the errors of each.</summary>
[Collection(CrateRunCollection.Name)]
public sealed class LifecycleTests(CrateRunFixture f)
{
    private static void AssertOneLineError(ProcResult r, int code, params string[] mentions)
    {
        Assert.True(r.ExitCode == code, $"expected exit {code}\n{r}");
        var line = Assert.Single(r.ErrLines);
        Assert.StartsWith("craterun: ", line);
        foreach (var m in mentions) Assert.Contains(m, line);
    }

    [RootFact]
    public async Task Detached_Exec_Stop_Rm()
    {
        var id = await f.Detached("echo started; while true; do sleep 0.1; done");
        try
        {
            var ps = await f.Cr("ps");
            Assert.Contains(id[..12], ps.Stdout); // the table shows the 12-character short id
            Assert.Contains("running", ps.Stdout.Split('\n').Single(l => l.Contains(id[..12])));

            var exec = await f.Cr("exec", id, "--", "/bin/sh", "-c", "exit 5");
            Assert.True(exec.ExitCode == 5, exec.ToString());

            // exec joins the container's namespaces: its pid 1 is the container's command, its hostname the short id
            var view = await f.Cr("exec", id, "--", "/bin/sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; echo; hostname; echo $$");
            Assert.True(view.ExitCode == 0, view.ToString());
            var lines = view.Stdout.Split('\n');
            Assert.StartsWith("/bin/sh -c echo started", lines[0]);
            Assert.Equal(id[..12], lines[1]);
            Assert.True(int.Parse(lines[2]) < 20, "exec'd process has a host-like pid: " + lines[2]);

            var env = await f.Cr("exec", "-e", "FOO=bar", "-w", "/data", id, "--", "/bin/sh", "-c", "echo $FOO; pwd; cat hello.txt");
            Assert.Equal("bar\n/data\nhello from the rootfs\n", env.Stdout);

            var stop = await f.CrWith(null, TimeSpan.FromSeconds(30), "stop", "-t", "1", id);
            Assert.True(stop.ExitCode == 0, stop.ToString());
            var rec = await f.Inspect(id);
            Assert.Equal("exited", rec.GetProperty("status").GetString());
            Assert.Equal(JsonValueKind.Number, rec.GetProperty("exitCode").ValueKind);
            Assert.Empty(HostState.CgroupsOf(id));

            var rm = await f.Cr("rm", id);
            Assert.True(rm.ExitCode == 0, rm.ToString());
            Assert.False(Directory.Exists(f.StateDir(id)));
            Assert.DoesNotContain(id[..12], (await f.Cr("ps", "-a")).Stdout);
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task Stop_WithATrap_ExitsWithTheTrapsCode()
    {
        var id = await f.Detached("trap 'exit 9' TERM; echo trap-set; while true; do sleep 0.1; done");
        try
        {
            await f.WaitForLog(id, "trap-set"); // PID 1 ignores SIGTERM until the trap is there
            var stop = await f.CrWith(null, TimeSpan.FromSeconds(30), "stop", "-t", "10", id);
            Assert.True(stop.ExitCode == 0, stop.ToString());
            Assert.True(stop.Elapsed < TimeSpan.FromSeconds(8), "stop waited for the timeout although the process exited on SIGTERM");
            Assert.Equal(9, (await f.Inspect(id)).GetProperty("exitCode").GetInt32());
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task Rm_OfARunningContainer_NeedsForce()
    {
        var id = await f.Detached("while true; do sleep 0.1; done");
        try
        {
            var rm = await f.Cr("rm", id);
            AssertOneLineError(rm, 125, id, "running", "force");
            Assert.True(Directory.Exists(f.StateDir(id)));
            Assert.NotEmpty(HostState.CgroupsOf(id));
            var rec = await f.Inspect(id);
            Assert.Equal("running", rec.GetProperty("status").GetString());
            // the leak detectors see a live container: its processes and its monitor
            Assert.NotEmpty(HostState.ProcessesInContainers([id]));
            var monitor = rec.GetProperty("monitorPid").GetInt32();
            Assert.True(monitor > 0, "no monitorPid in\n" + rec);
            Assert.Contains(f.OurProcesses(), p => p.Pid == monitor);

            var rmf = await f.Cr("rm", "-f", id);
            Assert.True(rmf.ExitCode == 0, rmf.ToString());
            Assert.False(Directory.Exists(f.StateDir(id)));
            Assert.Empty(HostState.CgroupsOf(id));
            Assert.Empty(HostState.ProcessesInContainers([id]));
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task Exec_IntoAStoppedContainer_FailsClearly()
    {
        var r = await f.Run("--rootfs", f.Rootfs, "--", "/bin/true");
        try
        {
            Assert.True(r.ExitCode == 0, r.ToString());
            var exec = await f.Cr("exec", r.Id!, "--", "/bin/true");
            AssertOneLineError(exec, 125, r.Id!, "not running");
        }
        finally
        {
            await f.RemoveForce(r.Id!);
        }
    }

    [RootTheory]
    [InlineData("inspect")]
    [InlineData("logs")]
    [InlineData("rm")]
    [InlineData("stop")]
    [InlineData("kill")]
    [InlineData("wait")]
    [InlineData("exec")]
    public async Task UnknownId_IsAClearError(string verb)
    {
        var args = verb == "exec" ? new[] { verb, "0123456789abcdef", "--", "/bin/true" } : [verb, "0123456789abcdef"];
        var r = await f.Cr(args);
        AssertOneLineError(r, 125, "no such container", "0123456789abcdef");
    }

    [RootFact]
    public async Task AmbiguousPrefix_ListsEveryMatch()
    {
        var made = new List<string>();
        try
        {
            string? prefix = null;
            for (var i = 0; i < 40 && prefix is null; i++)
            {
                var r = await f.Run("--rootfs", f.Rootfs, "--", "/bin/true");
                Assert.True(r.ExitCode == 0, r.ToString());
                made.Add(r.Id!);
                prefix = made.GroupBy(id => id[..1]).FirstOrDefault(g => g.Count() >= 2)?.Key;
            }
            Assert.NotNull(prefix);
            var matches = (await f.Cr("ps", "-a", "-q")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Where(id => id.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            Assert.True(matches.Count >= 2);
            var inspect = await f.Cr("inspect", prefix);
            AssertOneLineError(inspect, 125, "ambiguous");
            foreach (var id in matches) Assert.Contains(id, inspect.Stderr);

            // a longer, unique prefix works
            var one = made.First(id => id.StartsWith(prefix, StringComparison.Ordinal));
            var unique = Enumerable.Range(2, 15).Select(n => one[..n]).First(p => matches.Count(m => m.StartsWith(p, StringComparison.Ordinal)) == 1);
            Assert.Equal(one, (await f.Inspect(unique)).GetProperty("id").GetString());
        }
        finally
        {
            await f.RemoveForce([.. made]);
        }
    }

    [RootFact]
    public async Task Names_ResolveToTheContainer_AndAreUnique()
    {
        var name = "web-" + Guid.NewGuid().ToString("N")[..8];
        var id = await f.Detached("while true; do sleep 0.1; done", "--name", name);
        try
        {
            var rec = await f.Inspect(name);
            Assert.Equal(id, rec.GetProperty("id").GetString());
            Assert.Equal(name, rec.GetProperty("name").GetString());
            var exec = await f.Cr("exec", name, "--", "hostname");
            Assert.Equal(id[..12], exec.Stdout.Trim());
            Assert.Contains(name, (await f.Cr("ps")).Stdout);

            var dup = await f.Run("-d", "--name", name, "--rootfs", f.Rootfs, "--", "/bin/true");
            AssertOneLineError(dup, 125, name);
            Assert.Contains("in use", dup.Stderr);

            var rm = await f.Cr("rm", "-f", name);
            Assert.True(rm.ExitCode == 0, rm.ToString());
            Assert.False(Directory.Exists(f.StateDir(id)));
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task AutoRemove_RemovesStateAndCgroup()
    {
        var r = await f.Sh("echo hi");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.NotNull(r.Id);
        Assert.False(Directory.Exists(f.StateDir(r.Id!)), "--rm left " + f.StateDir(r.Id!));
        Assert.Empty(HostState.CgroupsOf(r.Id!));
        Assert.DoesNotContain(r.Id![..12], (await f.Cr("ps", "-a", "-q")).Stdout);
    }

    [RootFact]
    public async Task AutoRemove_AfterAnOomKill()
    {
        var r = await f.Sh("x=a; i=0; while [ $i -lt 27 ]; do x=$x$x; i=$((i+1)); done; echo survived", "--memory", "32m");
        Assert.True(r.ExitCode == 137, r.ToString());
        Assert.False(Directory.Exists(f.StateDir(r.Id!)), "--rm left " + f.StateDir(r.Id!));
        Assert.Empty(HostState.CgroupsOf(r.Id!));
        Assert.Empty(HostState.ProcessesInContainers([r.Id!]));
    }

    [RootFact]
    public async Task WithoutRm_TheExitedContainerStays_CgroupGoes()
    {
        var r = await f.Run("--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "exit 4");
        try
        {
            Assert.True(r.ExitCode == 4, r.ToString());
            Assert.True(Directory.Exists(f.StateDir(r.Id!)));
            Assert.Empty(HostState.CgroupsOf(r.Id!));
            var rec = await f.Inspect(r.Id!);
            Assert.Equal("exited", rec.GetProperty("status").GetString());
            Assert.Equal(4, rec.GetProperty("exitCode").GetInt32());
            Assert.False(rec.GetProperty("oomKilled").GetBoolean());
            var ps = await f.Cr("ps", "-a");
            Assert.Contains("exited (4)", ps.Stdout.Split('\n').Single(l => l.Contains(r.Id![..12])));
        }
        finally
        {
            await f.RemoveForce(r.Id!);
        }
    }
}
