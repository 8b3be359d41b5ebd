using System.Diagnostics;
using System.Text.Json;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// run's flags of issue 11, in Docker's syntax and meaning: --ulimit, --shm-size, --group-add,
/// --sysctl, --memory-swap, --memory-reservation, --cpu-shares, --cpuset-cpus/-mems,
/// --stop-signal/--stop-timeout, --ipc/--pid/--uts, --oom-score-adj. Each effect is looked at
/// from inside the container, or in the host's cgroup files; each bad value is refused.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class RunFlagsTests(CrateRunFixture f)
{
    private static string CgroupDir(JsonElement record, string controller)
    {
        Assert.True(record.GetProperty("cgroupPaths").TryGetProperty(controller, out var p), $"no {controller} cgroup in\n{record}");
        var path = p.GetString()!;
        Assert.True(Directory.Exists(path), $"{path} does not exist");
        return path;
    }

    private async Task<string> Ok(string script, params string[] flags)
    {
        var r = await f.Sh(script, flags);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.Stdout;
    }

    // ---- --ulimit -----------------------------------------------------------------------

    [RootFact]
    public async Task Ulimit_SoftAndHardSeenInside_AndAnFdPastTheSoftLimitIsRefused()
    {
        var outText = await Ok("ulimit -n; ulimit -Hn; (exec 30</dev/null) 2>/dev/null && echo opened-fd-30 || echo refused-fd-30", "--ulimit", "nofile=20:40");
        Assert.Equal(["20", "40", "refused-fd-30"], outText.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        // the control: without the flag the same descriptor opens
        Assert.Contains("opened-fd-30", await Ok("(exec 30</dev/null) 2>/dev/null && echo opened-fd-30 || echo refused-fd-30"));
    }

    [RootFact]
    public async Task Ulimit_WithoutHardTheHardIsTheSoft_AndMinusOneIsUnlimited()
    {
        // (the host's hard core limit is unlimited: -1 may be asked for without CAP_SYS_RESOURCE)
        var limits = await Ok("cat /proc/self/limits", "--ulimit", "nproc=50", "--ulimit", "core=-1", "--ulimit", "msgqueue=4096:8192");
        Assert.Matches(@"Max processes\s+50\s+50\s+processes", limits);
        Assert.Matches(@"Max core file size\s+unlimited\s+unlimited\s+bytes", limits);
        Assert.Matches(@"Max msgqueue size\s+4096\s+8192\s+bytes", limits);
    }

    [RootFact]
    public async Task Ulimit_AboveTheHostsHardLimit_IsOneClearError()
    {
        // this host: hard nofile 20000 and no CAP_SYS_RESOURCE; a test of the refusal needs both
        var host = File.ReadAllLines("/proc/self/limits").First(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        var hard = ulong.Parse(host.Split(' ', StringSplitOptions.RemoveEmptyEntries)[4]);
        var before = Snapshot.Take(f);
        var r = await f.Run("--ulimit", $"nofile=1024:{hard + 1}", "--rootfs", f.Rootfs, "--", "/bin/true");
        Assert.True(r.ExitCode == 125, r.ToString());
        var line = Assert.Single(r.ErrLines);
        Assert.StartsWith("craterun: ", line);
        Assert.Contains("RLIMIT_NOFILE", line);
        Assert.Contains("CAP_SYS_RESOURCE", line);
        before.AssertNothingLeft(f, r);
        // at the hard limit itself it runs
        Assert.Equal(hard.ToString(), (await Ok("ulimit -Hn", "--ulimit", $"nofile=1024:{hard}")).Trim());
    }

    // ---- --shm-size ---------------------------------------------------------------------

    [RootFact]
    public async Task ShmSize_IsTheSizeOfDevShm_AndWritingPastItFails()
    {
        var outText = await Ok("df -k /dev/shm | tail -1; dd if=/dev/zero of=/dev/shm/fill bs=1M count=12 2>&1 && echo wrote-12m || echo write-failed",
            "--shm-size", "8m");
        var fields = outText.Split('\n')[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("8192", fields[1]);
        Assert.Contains("No space left on device", outText);
        Assert.Contains("write-failed", outText);
        // the control: the default (64m) takes the same 12 MiB
        Assert.Contains("wrote-12m", await Ok("dd if=/dev/zero of=/dev/shm/fill bs=1M count=12 2>/dev/null && echo wrote-12m || echo write-failed"));
    }

    // ---- --group-add --------------------------------------------------------------------

    [RootFact]
    public async Task GroupAdd_GidsAndNamesFromTheContainersEtcGroup_AreSupplementaryGroups()
    {
        var outText = await Ok("id -G; grep Groups /proc/self/status", "--group-add", "1234", "--group-add", "tty", "-u", "65534");
        var lines = outText.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var groups = lines[0].Split(' ');
        Assert.Contains("1234", groups);
        Assert.Contains("5", groups); // tty is gid 5 in the rootfs's /etc/group
        Assert.Matches(@"^Groups:\s+5 1234\s*$", lines[1]);
    }

    // ---- --sysctl -----------------------------------------------------------------------

    [RootFact]
    public async Task Sysctl_IpcAndNetworkOnesAreSetInside_AndTheHostKeepsItsOwn()
    {
        var hostShmmax = File.ReadAllText("/proc/sys/kernel/shmmax").Trim();
        var hostMsgmax = File.ReadAllText("/proc/sys/kernel/msgmax").Trim();
        var outText = await Ok("cat /proc/sys/kernel/shmmax /proc/sys/kernel/msgmax /proc/sys/net/ipv4/ip_forward",
            "--sysctl", "kernel.shmmax=123456789", "--sysctl", "kernel.msgmax=4321", "--sysctl", "net.ipv4.ip_forward=1");
        Assert.Equal(["123456789", "4321", "1"], outText.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(hostShmmax, File.ReadAllText("/proc/sys/kernel/shmmax").Trim());
        Assert.Equal(hostMsgmax, File.ReadAllText("/proc/sys/kernel/msgmax").Trim());
    }

    // ---- memory and cpu, in the host's cgroup files ----------------------------------------

    [RootFact]
    public async Task MemorySwapAndReservation_AreWrittenToTheContainersMemoryCgroup()
    {
        var id = await f.Detached("while true; do sleep 0.1; done", "--memory", "32m", "--memory-swap", "64m", "--memory-reservation", "16m");
        try
        {
            var mem = CgroupDir(await f.Inspect(id), "memory");
            Assert.Equal("33554432", HostState.ReadCgroupFile(mem, "memory.limit_in_bytes"));
            Assert.Equal("67108864", HostState.ReadCgroupFile(mem, "memory.memsw.limit_in_bytes"));
            Assert.Equal("16777216", HostState.ReadCgroupFile(mem, "memory.soft_limit_in_bytes"));
            var inside = await f.Cr("exec", id, "--", "cat", "/sys/fs/cgroup/memory/memory.soft_limit_in_bytes", "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
            Assert.Equal(["16777216", "67108864"], inside.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task MemorySwapMinusOne_IsUnlimitedSwap()
    {
        var id = await f.Detached("while true; do sleep 0.1; done", "--memory", "32m", "--memory-swap", "-1");
        try
        {
            var mem = CgroupDir(await f.Inspect(id), "memory");
            Assert.Equal("33554432", HostState.ReadCgroupFile(mem, "memory.limit_in_bytes"));
            // -1 reads back as the largest page-aligned value
            Assert.Equal(long.MaxValue / 4096 * 4096, long.Parse(HostState.ReadCgroupFile(mem, "memory.memsw.limit_in_bytes")));
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task CpuSharesAndCpuset_AreWritten_AndTheProcessRunsOnlyOnThoseCpus()
    {
        var id = await f.Detached("while true; do sleep 0.1; done", "--cpu-shares", "512", "--cpuset-cpus", "1", "--cpuset-mems", "0");
        try
        {
            var rec = await f.Inspect(id);
            Assert.Equal("512", HostState.ReadCgroupFile(CgroupDir(rec, "cpu"), "cpu.shares"));
            var cpuset = CgroupDir(rec, "cpuset");
            Assert.Equal("1", HostState.ReadCgroupFile(cpuset, "cpuset.cpus"));
            Assert.Equal("0", HostState.ReadCgroupFile(cpuset, "cpuset.mems"));
            var inside = await f.Cr("exec", id, "--", "grep", "Cpus_allowed_list", "/proc/self/status");
            Assert.Matches(@"Cpus_allowed_list:\s+1\s*$", inside.Stdout);
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    // ---- --stop-signal / --stop-timeout -------------------------------------------------

    [RootFact]
    public async Task StopSignal_IsWhatStopSends()
    {
        var id = await f.Detached("trap 'echo got-usr1; exit 7' USR1; echo ready; while true; do sleep 0.1; done", "--stop-signal", "SIGUSR1");
        try
        {
            await f.WaitForLog(id, "ready");
            var stop = await f.Cr("stop", id);
            Assert.True(stop.ExitCode == 0, stop.ToString());
            await f.WaitForLog(id, "got-usr1");
            Assert.Equal(7, (await f.Inspect(id)).GetProperty("exitCode").GetInt32());
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task StopTimeout_IsHowLongStopWaitsBeforeSigkill()
    {
        // TERM ignored: stop must wait --stop-timeout (1 s), not the default 10 s, then SIGKILL
        var id = await f.Detached("trap '' TERM; echo ready; while true; do sleep 0.1; done", "--stop-timeout", "1");
        try
        {
            await f.WaitForLog(id, "ready");
            var clock = Stopwatch.StartNew();
            var stop = await f.Cr("stop", id);
            clock.Stop();
            Assert.True(stop.ExitCode == 0, stop.ToString());
            Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9) && clock.Elapsed < TimeSpan.FromSeconds(6), $"stop took {clock.Elapsed}");
            Assert.Equal(137, (await f.Inspect(id)).GetProperty("exitCode").GetInt32());
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    // ---- --ipc / --pid / --uts ---------------------------------------------------------

    private static readonly string[] NsTypes = ["ipc", "pid", "uts"];

    private static string NsScript => string.Join("; ", NsTypes.Select(t => $"readlink /proc/self/ns/{t}"));

    [RootFact]
    public async Task IpcPidUts_ContainerId_JoinsTheOtherContainersNamespaces()
    {
        var other = await f.Detached("echo ready; while true; do sleep 0.1; done", "--hostname", "firstbox", "--ipc", "shareable");
        try
        {
            await f.WaitForLog(other, "ready");
            var theirs = await f.Cr("exec", other, "--", "/bin/sh", "-c", NsScript);
            Assert.True(theirs.ExitCode == 0, theirs.ToString());
            var outText = await Ok(NsScript + "; hostname; ps -o comm | grep -c sleep >/dev/null && echo sees-their-sleep",
                "--ipc", "container:" + other, "--pid", "container:" + other, "--uts", "container:" + other[..12]);
            var lines = outText.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(theirs.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), lines[..3]);
            Assert.Equal("firstbox", lines[3]);
            Assert.Equal("sees-their-sleep", lines[4]);
            // the control: a container of its own has other namespaces
            var own = (await Ok(NsScript)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.All(own.Zip(lines[..3]), p => Assert.NotEqual(p.First, p.Second));
        }
        finally
        {
            await f.RemoveForce(other);
        }
    }

    private const string IpcScript = "readlink /proc/self/ns/ipc; grep -c ' /dev/shm ' /proc/self/mountinfo; test -e /dev/shm && echo has-dev-shm || echo no-dev-shm";

    [RootFact]
    public async Task Ipc_PrivateShareableNone_AreNamespacesOfTheirOwn_NoneHasNoDevShm()
    {
        var hostIpc = new FileInfo("/proc/self/ns/ipc").LinkTarget;
        foreach (var mode in new[] { "private", "shareable", "" })
        {
            var lines = (await Ok(IpcScript, "--ipc", mode)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.NotEqual(hostIpc, lines[0]);
            Assert.Equal(["1", "has-dev-shm"], lines[1..]);
        }
        var none = (await Ok(IpcScript, "--ipc", "none")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEqual(hostIpc, none[0]);
        Assert.Equal(["0", "no-dev-shm"], none[1..]);
    }

    [RootFact]
    public async Task Ipc_Container_JoinsOnlyAShareableOne_APrivateOneIsRefused()
    {
        var shareable = await f.Detached("echo ready; while true; do sleep 0.1; done", "--ipc", "shareable");
        var privateOne = await f.Detached("echo ready; while true; do sleep 0.1; done");
        var none = await f.Detached("echo ready; while true; do sleep 0.1; done", "--ipc", "none");
        try
        {
            await f.WaitForLog(shareable, "ready");
            var theirs = (await f.Cr("exec", shareable, "--", "readlink", "/proc/self/ns/ipc")).Stdout.Trim();
            // POSIX shared memory is files in /dev/shm: the joiner sees the donor's (Docker binds the donor's /dev/shm)
            Assert.Equal(0, (await f.Cr("exec", shareable, "--", "/bin/sh", "-c", "echo from-donor > /dev/shm/marker")).ExitCode);
            var joined = (await Ok("readlink /proc/self/ns/ipc; cat /dev/shm/marker", "--ipc", "container:" + shareable)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal([theirs, "from-donor"], joined);
            Assert.Equal("absent", (await Ok("cat /dev/shm/marker 2>/dev/null || echo absent")).Trim()); // the control: a /dev/shm of its own
            Assert.Equal("shareable", (await f.Inspect(shareable)).GetProperty("ipcMode").GetString());

            foreach (var (donor, mode) in new[] { (privateOne, "private"), (none, "none") })
            {
                var before = Snapshot.Take(f);
                var r = await f.Run("--ipc", "container:" + donor, "--rootfs", f.Rootfs, "--", "/bin/true");
                Assert.True(r.ExitCode == 125, r.ToString());
                var line = Assert.Single(r.ErrLines);
                Assert.StartsWith("craterun: ", line);
                Assert.Contains("non-shareable IPC", line);
                Assert.Contains($"--ipc {mode}", line);
                before.AssertNothingLeft(f, r);
            }
            // the donor's host-side /dev/shm goes with it
            await f.RemoveForce(shareable);
            Assert.DoesNotContain(HostState.MountInfo(), l => l.Contains(f.StateDir(shareable), StringComparison.Ordinal));
        }
        finally
        {
            await f.RemoveForce(shareable, privateOne, none);
        }
    }

    [RootFact]
    public async Task IpcPidUts_Host_AreTheHostsNamespaces_AndTheHostnameIsLeftAlone()
    {
        var hostNs = NsTypes.Select(t => new FileInfo($"/proc/self/ns/{t}").LinkTarget).ToArray();
        var hostname = File.ReadAllText("/proc/sys/kernel/hostname").Trim();
        var outText = await Ok(NsScript + "; hostname", "--ipc", "host", "--pid", "host", "--uts", "host");
        var lines = outText.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(hostNs, lines[..3]);
        Assert.Equal(hostname, lines[3]);
        Assert.Equal(hostname, File.ReadAllText("/proc/sys/kernel/hostname").Trim());
    }

    // ---- --oom-score-adj ----------------------------------------------------------------

    [RootFact]
    public async Task OomScoreAdj_IsTheProcesssOwn()
    {
        Assert.Equal("500", (await Ok("cat /proc/self/oom_score_adj", "--oom-score-adj", "500")).Trim());
        Assert.Equal("0", (await Ok("cat /proc/self/oom_score_adj")).Trim());
    }

    [RootFact]
    public async Task OomScoreAdj_BelowTheRuntimesMinimum_IsOneClearError()
    {
        // lowering it needs CAP_SYS_RESOURCE, which this host withholds
        var before = Snapshot.Take(f);
        var r = await f.Run("--oom-score-adj", "-500", "--rootfs", f.Rootfs, "--", "/bin/true");
        Assert.True(r.ExitCode == 125, r.ToString());
        var line = Assert.Single(r.ErrLines);
        Assert.StartsWith("craterun: ", line);
        Assert.Contains("-500", line);
        Assert.Contains("CAP_SYS_RESOURCE", line);
        before.AssertNothingLeft(f, r);
    }

    // ---- bad input ----------------------------------------------------------------------

    /// <summary>{rootfs} is the good rootfs; {other} a running container's id.</summary>
    public static TheoryData<string, string[], string> BadCases => new()
    {
        { "ulimit without =", ["--ulimit", "nofile"], "--ulimit" },
        { "ulimit unknown name", ["--ulimit", "files=10"], "files" },
        { "ulimit not a number", ["--ulimit", "nofile=ten"], "ten" },
        { "ulimit soft above hard", ["--ulimit", "nofile=20:10"], "--ulimit" },
        { "ulimit three values", ["--ulimit", "nofile=1:2:3"], "--ulimit" },
        { "shm-size words", ["--shm-size", "big"], "--shm-size" },
        { "shm-size zero", ["--shm-size", "0"], "--shm-size" },
        { "group-add unknown name", ["--group-add", "wheel"], "wheel" },
        { "group-add -1", ["--group-add", "4294967295"], "--group-add" },
        { "sysctl not namespaced", ["--sysctl", "vm.swappiness=10"], "vm.swappiness" },
        { "sysctl kernel.hostname", ["--sysctl", "kernel.hostname=x"], "kernel.hostname" },
        { "sysctl without =", ["--sysctl", "net.ipv4.ip_forward"], "--sysctl" },
        { "sysctl ipc one with --ipc host", ["--sysctl", "kernel.shmmax=1000000", "--ipc", "host"], "kernel.shmmax" },
        { "sysctl net one with --network host", ["--sysctl", "net.ipv4.ip_forward=1", "--network", "host"], "net.ipv4.ip_forward" },
        { "memory-swap without memory", ["--memory-swap", "64m"], "--memory-swap" },
        { "memory-swap below memory", ["--memory", "64m", "--memory-swap", "32m"], "--memory-swap" },
        { "memory-swap words", ["--memory", "64m", "--memory-swap", "lots"], "--memory-swap" },
        { "memory-reservation above memory", ["--memory", "32m", "--memory-reservation", "64m"], "--memory-reservation" },
        { "memory-reservation words", ["--memory-reservation", "x"], "--memory-reservation" },
        { "cpu-shares negative", ["--cpu-shares", "-5"], "--cpu-shares" },
        { "cpuset-cpus words", ["--cpuset-cpus", "one"], "--cpuset-cpus" },
        { "cpuset-cpus reversed range", ["--cpuset-cpus", "1-0"], "--cpuset-cpus" },
        { "cpuset-cpus not on this host", ["--cpuset-cpus", "63"], "--cpuset-cpus" },
        { "cpuset-mems not on this host", ["--cpuset-mems", "7"], "--cpuset-mems" },
        { "cpuset-mems words", ["--cpuset-mems", "zero"], "--cpuset-mems" },
        { "stop-signal unknown", ["--stop-signal", "SIGNOPE"], "--stop-signal" },
        { "stop-timeout words", ["--stop-timeout", "soon"], "--stop-timeout" },
        { "ipc bad mode", ["--ipc", "shared"], "--ipc" },
        { "ipc container without a name", ["--ipc", "container:"], "--ipc" },
        { "pid unknown container", ["--pid", "container:no-such-container"], "no-such-container" },
        { "uts host with --hostname", ["--uts", "host", "--hostname", "box"], "--hostname" },
        { "oom-score-adj out of range", ["--oom-score-adj", "1001"], "--oom-score-adj" },
        { "oom-score-adj words", ["--oom-score-adj", "low"], "--oom-score-adj" },
    };

    [RootTheory]
    [MemberData(nameof(BadCases))]
    public async Task BadValue_IsRefused_AndLeavesNothing(string name, string[] args, string mention)
    {
        var before = Snapshot.Take(f);
        var r = await f.Run([.. args, "--rootfs", f.Rootfs, "--", "/bin/true"]);
        Assert.True(r.ExitCode == 125, $"{name}: expected exit 125\n{r}");
        var line = Assert.Single(r.ErrLines);
        Assert.StartsWith("craterun: ", line);
        Assert.Contains(mention, line);
        Assert.Equal("", r.Stdout);
        before.AssertNothingLeft(f, r);
    }
}
