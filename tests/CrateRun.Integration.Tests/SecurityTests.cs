using System.Text.Json.Nodes;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// Escape attempts. Each one fails under `craterun run`'s defaults, and the same test turns the
/// protection off (--privileged, --security-opt seccomp=unconfined, --cap-add X) to show that
/// the attempt then gets further or fails differently: the protection is what stopped it. The
/// raw syscalls come from tests/fixtures/escape/probe.c (static, bound read-only at /opt/escape).
/// Nothing here changes the host: no module is ever loaded (garbage images), no clock is set
/// (CLOCK_MONOTONIC cannot be), reboot gets invalid magic numbers, sysrq-trigger is never
/// written, the hostname written with --privileged is the container's own (UTS namespace),
/// and the runtime binary attacked is a copy.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class SecurityTests(CrateRunFixture f, SecurityFixture s) : IClassFixture<SecurityFixture>
{
    private const string P = SecurityFixture.ProbeInside;
    private const string Unconfined = "seccomp=unconfined";

    /// <summary>run --rm -v PROBE [FLAGS] -- /bin/sh -c SCRIPT</summary>
    private Task<ProcResult> Probe(string script, params string[] flags) => f.Sh(script, ["-v", s.ProbeVolume, .. flags]);

    private static string Of(ProcResult r, string what) => ProbeOutput.Of(r, what);

    // ---- mount, unshare, keyctl ----------------------------------------------------------

    [RootFact]
    public async Task Mount_Tmpfs_RefusedByDefault_WorksWhenPrivileged()
    {
        var source = "escape-" + Guid.NewGuid().ToString("N")[..8];
        var script = $"mkdir -p /dev/shm/m && if mount -t tmpfs {source} /dev/shm/m; then echo MOUNTED; fi; grep ' - tmpfs {source} ' /proc/self/mountinfo || true";

        var d = await Probe(script);
        Assert.True(d.ExitCode == 0, d.ToString());
        Assert.DoesNotContain("MOUNTED", d.Stdout);
        Assert.Contains("permission denied", d.Stderr); // busybox mount's words for EPERM

        var p = await Probe(script, "--privileged");
        Assert.True(p.ExitCode == 0, p.ToString());
        Assert.Contains("MOUNTED", p.Stdout);
        Assert.Contains($" - tmpfs {source} ", p.Stdout);
        // the mount lived in the container's mount namespace only
        Assert.DoesNotContain(HostState.MountInfo(), l => l.Contains(source, StringComparison.Ordinal));
    }

    [RootFact]
    public async Task Unshare_UserAndNet_RefusedBySeccomp_WorkInsideTheContainerWhenAllowed()
    {
        var script = $"{P} unshare user; {P} unshare net";

        var d = await Probe(script);
        Assert.Equal("EPERM", Of(d, "unshare user"));
        Assert.Equal("EPERM", Of(d, "unshare net"));

        // seccomp off: a user namespace needs no capability, so now it works; a network one still needs CAP_SYS_ADMIN
        var u = await Probe(script, "--security-opt", Unconfined);
        Assert.Equal("ok", Of(u, "unshare user"));
        Assert.Equal("EPERM", Of(u, "unshare net"));

        var a = await Probe(script, "--security-opt", Unconfined, "--cap-add", "SYS_ADMIN");
        Assert.Equal("ok", Of(a, "unshare user"));
        Assert.Equal("ok", Of(a, "unshare net"));
        // the new namespaces are nested in the container's own: its network namespace is not the host's
        var hostNet = new FileInfo("/proc/self/ns/net").LinkTarget;
        var before = Line(a.Stdout, "before net: ");
        var after = Line(a.Stdout, "after net: ");
        Assert.NotEqual(hostNet, before);
        Assert.NotEqual(before, after);
        Assert.NotEqual(hostNet, after);
        Assert.NotEqual(Line(a.Stdout, "before user: "), Line(a.Stdout, "after user: "));
    }

    [RootFact]
    public async Task Keyctl_RefusedBySeccomp_TheKernelAnswersWhenUnconfined()
    {
        var d = await Probe($"{P} keyctl");
        Assert.Equal("EPERM", Of(d, "keyctl"));
        // the same lookup without the filter: an id, or ENOKEY/EDQUOT/EACCES from the keyring code, never the filter's EPERM
        var u = await Probe($"{P} keyctl", "--security-opt", Unconfined);
        Assert.NotEqual("EPERM", Of(u, "keyctl"));
    }

    // ---- ptrace ---------------------------------------------------------------------------

    [RootFact]
    public async Task Ptrace_HostProcessIsInvisible_SiblingNeedsSysPtrace()
    {
        // a host process with a unique command line; the pattern below never contains it literally
        var n = Random.Shared.Next(100_000, 999_999);
        var marker = $"97.{n}";
        var host = Proc.Start("sleep", [marker]);
        var hostPid = host.Pid;
        var script =
            $"for c in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $c 2>/dev/null; echo; done | grep -c '97[.]{n}' | sed 's/^/host-matches=/'; " +
            $"[ -e /proc/{hostPid} ] && echo HOSTPID-VISIBLE; " +
            $"{P} ptrace {hostPid} | sed 's/^/host-/'; " +
            $"sleep 100 & {P} ptrace $! | sed 's/^/sibling-/'; kill $!";
        try
        {
            var d = await Probe(script);
            Assert.False(host.HasExited, "the host process ended early: the test proves nothing\n" + d);
            Assert.Contains("host-matches=0", d.Stdout);
            Assert.DoesNotContain("HOSTPID-VISIBLE", d.Stdout);
            Assert.Equal("EPERM", Of(d, "host-ptrace attach"));
            Assert.Equal("EPERM", Of(d, "sibling-ptrace attach"));

            // with CAP_SYS_PTRACE (and the syscall allowed by the profile): the sibling is attachable,
            // the host process still does not exist for the container (pid namespace)
            var t = await Probe(script, "--cap-add", "SYS_PTRACE");
            Assert.False(host.HasExited);
            Assert.Contains("host-matches=0", t.Stdout);
            Assert.Equal("ESRCH", Of(t, "host-ptrace attach"));
            Assert.Equal("ok", Of(t, "sibling-ptrace attach"));
            // the host sees it: it was there all along
            Assert.Contains(marker, File.ReadAllText($"/proc/{hostPid}/cmdline").Replace('\0', ' '));
        }
        finally
        {
            host.Dispose(); // SIGKILL by pid
        }
    }

    // ---- kernel modules, privileged syscalls ----------------------------------------------

    [RootFact]
    public async Task KernelModules_RefusedBySeccomp_TheKernelAnswersWhenPrivileged()
    {
        // garbage images only: nothing can ever load (and these machines' kernel has no module support)
        var d = await Probe($"{P} modules");
        foreach (var call in new[] { "init_module", "finit_module", "delete_module" })
            Assert.True(Of(d, call) == "EPERM", $"{call}: expected EPERM (seccomp, no CAP_SYS_MODULE)\n{d}");

        var p = await Probe($"{P} modules", "--privileged");
        var disabled = File.Exists("/proc/sys/kernel/modules_disabled") && File.ReadAllText("/proc/sys/kernel/modules_disabled").Trim() == "1";
        foreach (var call in new[] { "init_module", "finit_module", "delete_module" })
        {
            var r = Of(p, call);
            Assert.NotEqual("ok", r);
            // the kernel's own answer: ENOSYS (no CONFIG_MODULES), ENOEXEC/EINVAL (not an ELF image), ENOENT (no such module)
            if (!disabled) Assert.True(r != "EPERM", $"{call} with --privileged still EPERM: the test cannot show seccomp was the guard\n{p}");
        }
    }

    [RootTheory]
    [InlineData("clone3", "ENOSYS")]        // the profile answers ENOSYS so that libc falls back to clone
    [InlineData("clock_settime", "EPERM")]  // CLOCK_MONOTONIC: can never be set, the kernel says EINVAL
    [InlineData("reboot", "EPERM")]         // invalid magic numbers: EINVAL, checked after CAP_SYS_BOOT
    public async Task DefaultProfile_RefusesPrivilegedSyscalls(string call, string byDefault)
    {
        var d = await Probe($"{P} sc {call}");
        Assert.Equal(byDefault, Of(d, call));
        var p = await Probe($"{P} sc {call}", "--privileged");
        Assert.Equal("EINVAL", Of(p, call)); // past the filter: the kernel rejects the arguments
    }

    // ---- devices, raw sockets -------------------------------------------------------------

    [RootFact]
    public async Task Mknod_DiskDevice_CanBeMadeButNotOpened()
    {
        // CAP_MKNOD (Docker's set) lets the node be made; the devices cgroup refuses to open it
        var script = $"{P} mknod-open /dev/sda b 8 0 | sed 's/^/sda-/'; {P} mknod-open /dev/loop0 b 7 0 | sed 's/^/loop-/'; {P} open /dev/null w";
        var d = await Probe(script);
        Assert.Equal("ok", Of(d, "sda-mknod"));
        Assert.True(Of(d, "sda-open") == "EPERM", "open of a disk (8:0) made with mknod was not refused by the devices cgroup\n" + d);
        Assert.True(Of(d, "loop-open") == "EPERM", "open of /dev/loop0 (7:0) made with mknod was not refused by the devices cgroup\n" + d);
        Assert.Equal("ok", Of(d, "open /dev/null w")); // the default devices still work

        // --privileged: no device rule; 8:0 gets past the cgroup to the block layer (ENXIO here: no such disk).
        // Only opened, never read or written.
        var p = await Probe($"{P} mknod-open /dev/sda b 8 0 | sed 's/^/sda-/'", "--privileged");
        Assert.NotEqual("EPERM", Of(p, "sda-open"));
    }

    [RootFact]
    public async Task RawSocket_NeedsNetRaw()
    {
        var d = await Probe($"{P} rawsock");
        Assert.Equal("ok", Of(d, "raw socket")); // NET_RAW is in Docker's default set
        var x = await Probe($"{P} rawsock", "--cap-drop", "NET_RAW");
        Assert.Equal("EPERM", Of(x, "raw socket"));
    }

    // ---- /proc and /sys ------------------------------------------------------------------

    [RootTheory]
    [InlineData("/proc/kcore")]
    [InlineData("/proc/keys")]
    [InlineData("/proc/timer_list")]
    [InlineData("/proc/interrupts")]
    [InlineData("/proc/sched_debug")]
    [InlineData("/proc/latency_stats")]
    [InlineData("/proc/acpi")]
    [InlineData("/proc/scsi")]
    [InlineData("/sys/firmware")]
    [InlineData("/sys/devices/virtual/powercap")]
    public async Task MaskedPath_ReadsNothingInside_RealWhenPrivileged(string path)
    {
        var script = $"p={path}; if [ -d $p ]; then echo \"dir $(ls -A $p | wc -l)\"; elif [ -e $p ]; then echo \"file $(head -c 4096 $p | wc -c)\"; else echo absent; fi";
        var d = await Probe(script);
        Assert.True(d.ExitCode == 0, d.ToString());
        var inside = d.Stdout.Trim();
        Assert.True(inside is "absent" or "file 0" or "dir 0", $"{path} is readable in a default container: {inside}\n{d}");

        // the contrast: without masks the container sees what the host has (only shown where the host has something)
        var host = HostContent(path);
        var p = await Probe(script, "--privileged");
        if (host is { } h && h > 0)
        {
            var priv = p.Stdout.Trim().Split(' ');
            Assert.True(priv.Length == 2 && long.Parse(priv[1]) > 0, $"{path} has {h} bytes/entries on the host but nothing with --privileged\n{p}");
        }
        if (path == "/proc/kcore" && File.Exists(path))
        {
            // the real kcore is an ELF core file
            var elf = await Probe("head -c 4 /proc/kcore | od -An -c | tr -d ' '", "--privileged");
            Assert.Contains("177ELF", elf.Stdout);
        }
    }

    /// <summary>Bytes (first 4096) of a file or entries of a directory on the host; null if absent.</summary>
    private static long? HostContent(string path)
    {
        if (Directory.Exists(path)) return Directory.EnumerateFileSystemEntries(path).LongCount();
        if (!File.Exists(path)) return null;
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None);
            var buf = new byte[4096];
            long total = 0;
            int n;
            while (total < buf.Length && (n = fs.Read(buf, 0, buf.Length - (int)total)) > 0) total += n;
            return total;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    [RootFact]
    public async Task ReadonlyPaths_SysrqTriggerAndProcSys_ReadOnlyByDefault_WritableMountWhenPrivileged()
    {
        // opened for writing only: nothing is ever written to sysrq-trigger
        var d = await Probe($"{P} open /proc/sysrq-trigger w; cat /proc/self/mountinfo");
        var open = Of(d, "open /proc/sysrq-trigger w");
        if (File.Exists("/proc/sysrq-trigger"))
        {
            Assert.True(open is "EROFS" or "EACCES", $"/proc/sysrq-trigger could be opened for writing: {open}\n{d}");
            Assert.True(MountAt(d.Stdout, "/proc/sysrq-trigger")?.ReadOnly, "no read-only mount on /proc/sysrq-trigger\n" + d);
        }
        else
        {
            Assert.Equal("ENOENT", open); // this kernel has no magic SysRq at all
        }
        var sys = MountAt(d.Stdout, "/proc/sys");
        Assert.True(sys is { ReadOnly: true }, "/proc/sys is not a read-only mount\n" + d);

        // --privileged: no read-only paths; /proc/sys (and sysrq-trigger) are plain parts of the rw /proc.
        var p = await Probe("cat /proc/self/mountinfo", "--privileged");
        Assert.Null(MountAt(p.Stdout, "/proc/sys"));
        Assert.Null(MountAt(p.Stdout, "/proc/sysrq-trigger"));
        Assert.False(MountAt(p.Stdout, "/proc")!.ReadOnly);
    }

    [RootFact]
    public async Task ProcSysHostname_ReadOnly_WhenPrivilegedOnlyTheContainersOwnChanges()
    {
        var hostBefore = File.ReadAllText("/proc/sys/kernel/hostname");
        var name = "escape" + Guid.NewGuid().ToString("N")[..8];
        var script = $"if echo {name} > /proc/sys/kernel/hostname; then echo WROTE; fi; echo \"now=$(hostname)\"";

        var d = await Probe(script);
        Assert.DoesNotContain("WROTE", d.Stdout);
        Assert.Contains("Read-only file system", d.Stderr);
        Assert.DoesNotContain(name, d.Stdout);

        // kernel/hostname belongs to the UTS namespace: with --privileged the write reaches only the container's
        var p = await Probe(script, "--privileged");
        Assert.Contains("WROTE", p.Stdout);
        Assert.Contains($"now={name}", p.Stdout);
        Assert.Equal(hostBefore, File.ReadAllText("/proc/sys/kernel/hostname"));
    }

    // ---- CVE-2019-5736: the runtime binary through /proc/PID/exe ---------------------------

    /// <summary>
    /// A process in the container scans /proc for the runtime's exec'd processes, opens their
    /// /proc/PID/exe and keeps trying to reopen it for writing, while `craterun exec` runs again
    /// and again. On a COPY of the binary, with its own state root.
    /// </summary>
    [RootTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Exec_RuntimeBinaryCannotBeOverwritten_DockerFace(bool sysPtrace)
    {
        var bin = s.CopyBinary();
        var sha = SecurityFixture.Sha256(bin);
        var state = s.NewDir("state");
        string? id = null;
        try
        {
            string[] extra = sysPtrace ? ["--cap-add", "SYS_PTRACE"] : [];
            var run = await Proc.Run(bin, ["--root", state, "run", "-d", "-v", s.ProbeVolume, .. extra, "--rootfs", f.Rootfs, "--", P, "exe-attack", "8"]);
            Assert.True(run.ExitCode == 0, run.ToString());
            id = run.Stdout.Trim();
            CrateRunFixture.Track(id);
            await WaitForLog(bin, state, id, "exe-attack: started");
            for (var i = 0; i < 15; i++)
            {
                var e = await Proc.Run(bin, ["--root", state, "exec", id, "/bin/true"]);
                Assert.True(e.ExitCode == 0, $"exec #{i}\n{e}");
            }
            var wait = await Proc.Run(bin, ["--root", state, "wait", id], timeout: TimeSpan.FromSeconds(30));
            Assert.True(wait.ExitCode == 0, wait.ToString());
            var logs = (await Proc.Run(bin, ["--root", state, "logs", id])).Stdout;

            Assert.Equal(sha, SecurityFixture.Sha256(bin));
            Assert.DoesNotContain("WROTE", logs);
            Assert.Contains("exe-attack: done", logs);
            if (!sysPtrace)
            {
                // undumpable until exec: the container cannot even open the exe link of the runtime's process
                Assert.DoesNotContain("SAW", logs);
                Assert.True(Counter(logs, "denied") > 0, "the probe never met an exec'd runtime process: the race was not exercised\n" + logs);
            }
            else
            {
                // CAP_SYS_PTRACE overrides the undumpable flag: the exe is reached, so the flag is what hid it
                // by default. What it reaches is the binary through the read-only overlay exec runs from
                // (root: SealedBinary), which refuses the reopen for writing, never the file itself.
                Assert.Contains("SAW", logs);
                Assert.Contains("reopen for writing: errno=30 (EROFS)", logs);
                Assert.DoesNotContain("memfd:craterun-sealed", logs); // no 15 MB copy per exec
                Assert.DoesNotContain($"exe={bin}", logs);
            }
        }
        finally
        {
            if (id is not null) await Proc.Run(bin, ["--root", state, "rm", "-f", id]);
        }
    }

    /// <summary>
    /// The same attack through the OCI face (runc's shape: no monitor keeps the binary busy once
    /// `exec` returns). With CAP_SYS_PTRACE in the container (a spec may grant it; Docker's
    /// --cap-add SYS_PTRACE does) the undumpable flag does not hide /proc/PID/exe; runc protects
    /// its binary anyway by running from a sealed memfd copy of itself.
    /// </summary>
    [RootTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Exec_RuntimeBinaryCannotBeOverwritten_OciFace(bool sysPtrace)
    {
        var bin = s.CopyBinary();
        var sha = SecurityFixture.Sha256(bin);
        var state = s.NewDir("ocistate");
        var bundle = s.NewDir("bundle");
        var output = Path.Combine(bundle, "container.out");
        var id = "sec-exe-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            var spec = await OciSpec(bin, bundle, [P, "exe-attack", "6"], "/");
            if (sysPtrace)
                foreach (var set in new[] { "bounding", "effective", "permitted" })
                    spec["process"]!["capabilities"]![set]!.AsArray().Add((JsonNode)JsonValue.Create("CAP_SYS_PTRACE"));
            WriteSpec(bundle, spec);
            // the container's stdio is create's: a file, so that nothing waits on a pipe it holds
            var create = await Proc.Run("/bin/bash", ["-c", "exec \"$@\" >\"$OUT\" 2>&1 </dev/null", "bash", bin, "oci", "--root", state, "create", "--bundle", bundle, id],
                env: new Dictionary<string, string> { ["OUT"] = output });
            Assert.True(create.ExitCode == 0, create + "\n" + SafeRead(output));
            var start = await Proc.Run(bin, ["oci", "--root", state, "start", id]);
            Assert.True(start.ExitCode == 0, start.ToString());
            for (var i = 0; i < 10 && !SafeRead(output).Contains("WROTE"); i++)
                await Proc.Run(bin, ["oci", "--root", state, "exec", id, "/bin/true"]);
            // the probe runs 6 s; then the container stops
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (DateTime.UtcNow < deadline && !SafeRead(output).Contains("exe-attack: done")) await Task.Delay(100);
            var logs = SafeRead(output);

            Assert.True(sha == SecurityFixture.Sha256(bin),
                $"CVE-2019-5736: the container overwrote the runtime binary (a copy: {bin}) through /proc/PID/exe of `craterun-oci exec`" +
                $"{(sysPtrace ? " (container with CAP_SYS_PTRACE)" : "")}\n--- container output ---\n{logs}");
            Assert.DoesNotContain("WROTE", logs);
            Assert.Contains("exe-attack: done", logs);
            if (!sysPtrace) Assert.DoesNotContain("SAW", logs);
            else
            {
                Assert.DoesNotContain($"exe={bin}", logs); // only the read-only overlay's view of it is ever reachable
                if (logs.Contains("SAW", StringComparison.Ordinal)) Assert.Contains("reopen for writing: errno=30 (EROFS)", logs);
            }
        }
        finally
        {
            // a fresh copy: the one under attack may be broken
            var clean = s.CopyBinary();
            await Proc.Run(clean, ["oci", "--root", state, "delete", "-f", id]);
        }
    }

    private static async Task WaitForLog(string bin, string state, string id, string text)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            if ((await Proc.Run(bin, ["--root", state, "logs", id])).Stdout.Contains(text, StringComparison.Ordinal)) return;
            await Task.Delay(50);
        }
        Assert.Fail($"'{text}' never appeared in the logs of {id}");
    }

    private static long Counter(string text, string name)
    {
        var m = System.Text.RegularExpressions.Regex.Match(text, $@"\b{name}=(\d+)");
        return m.Success ? long.Parse(m.Groups[1].Value) : -1;
    }

    private static string SafeRead(string path)
    {
        try { return File.Exists(path) ? File.ReadAllText(path) : ""; }
        catch (IOException) { return ""; }
    }

    // ---- CVE-2024-21626: inherited fds, cwd through /proc/self/fd ---------------------------

    /// <summary>Opens host directories on fds 3..9 (inheritable), then execs the command: what a careless caller leaks.</summary>
    private const string LeakFds = "exec 3</ 4</tmp 5</etc 6</sys/fs/cgroup 7</ 8</proc 9</tmp; exec \"$@\"";

    private static List<int> FdsOf(ProcResult r)
    {
        var line = r.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith("fds:", StringComparison.Ordinal))
            ?? throw new Xunit.Sdk.XunitException("no fds: line\n" + r);
        return [.. line["fds:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(t => int.Parse(t.Split('=')[0]))];
    }

    [RootFact]
    public async Task InheritedFds_OnlyStdioInside_ForRunAndExec()
    {
        var cid = f.NewCidFile();
        var run = await Proc.Run("/bin/bash", ["-c", LeakFds, "bash", f.Binary, "--root", f.StateRoot, "run", "--rm", "--cidfile", cid,
            "-v", s.ProbeVolume, "--rootfs", f.Rootfs, "--", P, "fds"], env: f.Env);
        f.ReadCidFile(cid);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(FdsOf(run).SequenceEqual([0, 1, 2]), "run: the container process holds more than stdio\n" + run);

        var id = await f.Detached("sleep 60", "-v", s.ProbeVolume);
        try
        {
            var exec = await Proc.Run("/bin/bash", ["-c", LeakFds, "bash", f.Binary, "--root", f.StateRoot, "exec", id, P, "fds"], env: f.Env);
            Assert.True(exec.ExitCode == 0, exec.ToString());
            Assert.True(FdsOf(exec).SequenceEqual([0, 1, 2]), "exec: the process holds more than stdio\n" + exec);
            // the container's init too
            var init = await f.Cr("exec", id, "/bin/sh", "-c", "ls /proc/1/fd | tr '\\n' ' '");
            Assert.Equal("0 1 2", init.Stdout.Trim());
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootTheory]
    [InlineData(false)]
    [InlineData(true)]   // --preserve-fds 7: fds 3..9 are handed to the container on purpose, cwd through them still refused
    public async Task OciCwdThroughProcSelfFd_Fails_NeverLandsOutside(bool preserve)
    {
        var bin = f.Binary;
        var state = s.NewDir("ocistate");
        var bundle = s.NewDir("bundle");
        for (var n = 3; n <= 9; n++)
        {
            var spec = await OciSpec(bin, bundle, ["/bin/sh", "-c", "echo LANDED $(pwd); ls"], $"/proc/self/fd/{n}");
            WriteSpec(bundle, spec);
            var id = $"sec-cwd-{n}-" + Guid.NewGuid().ToString("N")[..6];
            string[] pf = preserve ? ["--preserve-fds", "7"] : [];
            var r = await Proc.Run("/bin/bash", ["-c", LeakFds, "bash", bin, "oci", "--root", state, "run", .. pf, "--bundle", bundle, id],
                timeout: TimeSpan.FromSeconds(30));
            try
            {
                Assert.True(r.ExitCode != 0, $"cwd /proc/self/fd/{n} was accepted\n{r}");
                Assert.DoesNotContain("LANDED", r.Stdout);
                Assert.StartsWith("craterun-oci: ", r.ErrLines.LastOrDefault() ?? "");
            }
            finally
            {
                await Proc.Run(bin, ["oci", "--root", state, "delete", "-f", id]);
            }
        }
        var list = await Proc.Run(bin, ["oci", "--root", state, "list", "-q"]);
        Assert.Equal("", list.Stdout.Trim());
    }

    /// <summary>`craterun oci spec` in a bundle, adjusted: no terminal, these args and cwd, the fixture's rootfs, the probe bound.</summary>
    private async Task<JsonNode> OciSpec(string bin, string bundle, string[] args, string cwd)
    {
        var path = Path.Combine(bundle, "config.json");
        File.Delete(path);
        var r = await Proc.Run(bin, ["oci", "spec", "--bundle", bundle]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var spec = JsonNode.Parse(File.ReadAllText(path))!;
        spec["process"]!["terminal"] = false;
        spec["process"]!["args"] = new JsonArray([.. args.Select(a => (JsonNode)JsonValue.Create(a))]);
        spec["process"]!["cwd"] = cwd;
        spec["root"] = new JsonObject { ["path"] = f.Rootfs, ["readonly"] = false };
        spec["mounts"]!.AsArray().Add((JsonNode)new JsonObject
        {
            ["destination"] = "/opt/escape",
            ["type"] = "bind",
            ["source"] = s.ProbeDir,
            ["options"] = new JsonArray("rbind", "ro"),
        });
        return spec;
    }

    private static void WriteSpec(string bundle, JsonNode spec) =>
        File.WriteAllText(Path.Combine(bundle, "config.json"), spec.ToJsonString());

    // ---- volumes through symlinks ----------------------------------------------------------

    /// <summary>
    /// -v HOST:CTR where CTR goes through a symlink of a rootfs COPY that points out of it; the
    /// directory the symlink names exists on the host, so a runtime that followed it on the host
    /// would bind over (and write into) a host directory.
    /// </summary>
    [RootTheory]
    [InlineData("../../../../../../../../tmp", "/evil/{name}", true)]   // climbs above the rootfs
    [InlineData("/", "/evil/tmp/{name}", true)]                        // the container's / (host / if followed outside)
    [InlineData("/tmp/{name}", "/evil", false)]                         // absolute host path as the mount point itself
    public async Task Volume_ThroughSymlinkInTheRootfs_LandsInsideTheCopy(string linkTarget, string containerPath, bool mustWork)
    {
        var rootfs = await s.CopyRootfs(f);
        var name = "craterun-escape-" + Guid.NewGuid().ToString("N")[..10];
        var hostDir = "/tmp/" + name;   // exists on the HOST: where a careless runtime would land
        Directory.CreateDirectory(hostDir);
        File.CreateSymbolicLink(Path.Combine(rootfs, "evil"), linkTarget.Replace("{name}", name));
        var vol = s.NewDir("vol");
        var target = containerPath.Replace("{name}", name);
        try
        {
            var r = await f.Run(["--rm", "-v", $"{vol}:{target}", "--rootfs", rootfs, "--", "/bin/sh", "-c", $"echo proof > {target}/proof && echo written"]);
            // never on the host, whatever the outcome
            Assert.Empty(Directory.EnumerateFileSystemEntries(hostDir));
            Assert.DoesNotContain(HostState.MountInfo(), l => l.Contains(name, StringComparison.Ordinal));
            if (r.ExitCode == 125 && !mustWork)
            {
                Assert.StartsWith("craterun: ", Assert.Single(r.ErrLines)); // refusing is fine, with one clear line
                return;
            }
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("written\n", r.Stdout);
            Assert.Equal("proof\n", File.ReadAllText(Path.Combine(vol, "proof")));
            // the mount point was made inside the copy
            Assert.True(Directory.Exists(Path.Combine(rootfs, "tmp", name)), $"no mount point {rootfs}/tmp/{name}");
        }
        finally
        {
            if (Directory.Exists(hostDir) && !Directory.EnumerateFileSystemEntries(hostDir).Any()) Directory.Delete(hostDir);
        }
    }

    // ---- rlimits, other containers ---------------------------------------------------------

    [RootFact]
    public async Task Rlimits_CannotBeRaisedAboveTheHardLimit()
    {
        var hard = HostHardNofile();
        var script = $"echo hard=$(ulimit -Hn); {P} setrlimit-nofile {hard + 1} | sed 's/^/above-/'; {P} setrlimit-nofile {hard} | sed 's/^/at-/'";
        var d = await Probe(script);
        Assert.Contains($"hard={hard}", d.Stdout);
        Assert.Equal("EPERM", Of(d, "above-setrlimit nofile"));
        Assert.Equal("ok", Of(d, "at-setrlimit nofile")); // up to the hard limit is allowed: the refusal is about the bound

        // --privileged gets every capability the runtime holds; CAP_SYS_RESOURCE is what raising needs
        var hasSysResource = (ProbeOutput.HostBounding() & (1UL << 24)) != 0;
        var p = await Probe(script, "--privileged");
        Assert.Equal(hasSysResource ? "ok" : "EPERM", Of(p, "above-setrlimit nofile"));
    }

    private static long HostHardNofile()
    {
        var line = File.ReadAllLines("/proc/self/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        return long.Parse(line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
    }

    [RootFact]
    public async Task TwoContainers_DoNotSeeEachOthersProcesses()
    {
        var a = "markA" + Guid.NewGuid().ToString("N")[..8];
        var b = "markB" + Guid.NewGuid().ToString("N")[..8];
        var idA = await f.Detached($"sleep 120; echo {a}");
        var idB = await f.Detached($"sleep 120; echo {b}");
        try
        {
            // from the host both are there
            Assert.Contains(await HostCmdlines(), c => c.Contains(a));
            Assert.Contains(await HostCmdlines(), c => c.Contains(b));
            const string look = "ps -o pid,args; for c in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $c 2>/dev/null; echo; done";
            var inA = await f.Cr("exec", idA, "/bin/sh", "-c", look);
            var inB = await f.Cr("exec", idB, "/bin/sh", "-c", look);
            Assert.True(inA.ExitCode == 0, inA.ToString());
            Assert.True(inB.ExitCode == 0, inB.ToString());
            Assert.Contains(a, inA.Stdout);
            Assert.DoesNotContain(b, inA.Stdout);
            Assert.Contains(b, inB.Stdout);
            Assert.DoesNotContain(a, inB.Stdout);
        }
        finally
        {
            await f.RemoveForce(idA, idB);
        }
    }

    private static Task<List<string>> HostCmdlines() => Task.Run(() =>
    {
        var list = new List<string>();
        foreach (var d in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(d), out _)) continue;
            try { list.Add(File.ReadAllText(Path.Combine(d, "cmdline")).Replace('\0', ' ')); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return list;
    });

    // ---- seccomp profiles ---------------------------------------------------------------------

    private const string Profile = """
    {
      "defaultAction": "SCMP_ACT_ALLOW",
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      "syscalls": [
        { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42 },
        { "names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42 },
        { "names": ["getsid"], "action": "SCMP_ACT_KILL_PROCESS" },
        { "names": ["getpgid"], "action": "SCMP_ACT_TRAP" },
        { "names": ["getppid"], "action": "SCMP_ACT_LOG" },
        { "names": ["getuid"], "action": "SCMP_ACT_ALLOW" },
        { "names": ["getpriority"], "action": "SCMP_ACT_TRACE" },
        { "names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 43,
          "args": [ { "index": 0, "value": 8, "op": "SCMP_CMP_EQ" } ] }
      ]
    }
    """;

    /// <summary>
    /// SCMP_ACT_NOTIFY: the runtime hands the listener to the agent at listenerPath with the
    /// container process state; the agent (on the host) answers the container's mkdir with EXDEV.
    /// </summary>
    [RootFact]
    public async Task SeccompNotify_ListenerReachesTheAgent_WhichAnswersTheCall()
    {
        var dir = s.NewDir("notify");
        var sock = Path.Combine(dir, "agent.sock");
        var profile = Path.Combine(dir, "notify.json");
        File.WriteAllText(profile, $$"""
            {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "listenerPath": "{{sock}}",
             "listenerMetadata": "craterun-test",
             "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}
            """);
        var agent = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(Path.Combine(s.ProbeDir, "probe"))
        {
            ArgumentList = { "seccomp-agent", sock, "18" /* EXDEV */ },
            RedirectStandardOutput = true,
        })!;
        try
        {
            for (var i = 0; i < 100 && !File.Exists(sock); i++) await Task.Delay(20);
            var r = await Probe($"{P} sc mkdir /tmp/notified-dir; ls -d /tmp/notified-dir 2>&1 || true", "--security-opt", "seccomp=" + profile);
            Assert.True(agent.WaitForExit(10_000), "the agent never finished");
            var log = await agent.StandardOutput.ReadToEndAsync();
            Assert.True(r.ExitCode == 0, r + "\n--- agent ---\n" + log);
            Assert.Equal("EXDEV", Of(r, "mkdir /tmp/notified-dir"));     // the agent's answer, not the kernel's
            Assert.Contains("agent: notified syscall=", log);
            Assert.Contains("\"fds\":[\"seccompFd\"]", log);
            Assert.Contains("\"metadata\":\"craterun-test\"", log);
            Assert.Equal(0, agent.ExitCode);
        }
        finally
        {
            if (!agent.HasExited) agent.Kill();
            agent.Dispose();
        }
    }

    private string ProfileFile()
    {
        var path = Path.Combine(s.NewDir("seccomp"), "profile.json");
        File.WriteAllText(path, Profile);
        return path;
    }

    [RootFact]
    public async Task SeccompProfile_EachAction()
    {
        var opt = "seccomp=" + ProfileFile();
        var script = $"for c in mkdir getcwd getppid getuid getpriority; do {P} sc $c /dev/shm/probe-dir; done; " +
                     $"{P} sc personality 8; {P} sc personality 0xffffffff; grep '^Seccomp:' /proc/self/status";
        var r = await Probe(script, "--security-opt", opt);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("ENOMSG", Of(r, "mkdir /dev/shm/probe-dir"));        // SCMP_ACT_ERRNO, errnoRet 42
        Assert.Equal("ENOMSG", Of(r, "getcwd /dev/shm/probe-dir"));       // same
        Assert.Equal("ok", Of(r, "getppid /dev/shm/probe-dir"));          // SCMP_ACT_LOG: logged, and it runs
        Assert.Equal("ok", Of(r, "getuid /dev/shm/probe-dir"));           // SCMP_ACT_ALLOW
        Assert.Equal("ENOSYS", Of(r, "getpriority /dev/shm/probe-dir"));  // SCMP_ACT_TRACE with no tracer
        Assert.Equal("EIDRM", Of(r, "personality 8"));                     // argument condition: errno 43 for 8 only
        Assert.Equal("ok", Of(r, "personality 0xffffffff"));              // any other value passes
        Assert.Contains("Seccomp:\t2", r.Stdout);

        // SCMP_ACT_KILL_PROCESS: killed by SIGSYS, a handler never runs
        var kill = await f.Run(["--rm", "-v", s.ProbeVolume, "--security-opt", opt, "--rootfs", f.Rootfs, "--", P, "sc-catch", "getsid"]);
        Assert.True(kill.ExitCode == 128 + 31, kill.ToString());
        Assert.DoesNotContain("SIGSYS caught", kill.Stdout);
        // SCMP_ACT_TRAP: SIGSYS is delivered, so a handler sees it (si_syscall 121 = getpgid) ...
        var trap = await f.Run(["--rm", "-v", s.ProbeVolume, "--security-opt", opt, "--rootfs", f.Rootfs, "--", P, "sc-catch", "getpgid"]);
        Assert.True(trap.ExitCode == 0, trap.ToString());
        Assert.Contains("SIGSYS caught: syscall=121", trap.Stdout);
        // ... and without a handler it kills just the same
        var trapped = await f.Run(["--rm", "-v", s.ProbeVolume, "--security-opt", opt, "--rootfs", f.Rootfs, "--", P, "sc", "getpgid"]);
        Assert.True(trapped.ExitCode == 128 + 31, trapped.ToString());

        // the contrast: the same calls under the default profile all go through
        var d = await Probe($"for c in mkdir getcwd getsid getpgid getpriority; do {P} sc $c /dev/shm/probe-dir; done; {P} sc personality 8");
        foreach (var c in new[] { "mkdir", "getcwd", "getsid", "getpgid", "getpriority" })
            Assert.Equal("ok", Of(d, $"{c} /dev/shm/probe-dir"));
        Assert.Equal("ok", Of(d, "personality 8"));
    }

    // ---- capabilities, no_new_privs, seccomp mode --------------------------------------------

    private const ulong DockerDefaultCaps = 0x00000000a80425fb;
    private const ulong AllCaps = 0x000001ffffffffff; // 41 capabilities, CAP_CHOWN .. CAP_CHECKPOINT_RESTORE

    [RootTheory]
    [InlineData("default")]
    [InlineData("--cap-drop ALL")]
    [InlineData("--cap-add SYS_ADMIN")]
    [InlineData("--cap-drop NET_RAW --cap-drop MKNOD")]
    [InlineData("--privileged")]
    public async Task Capabilities_FromProcSelfStatus(string flags)
    {
        // --privileged: all 41, except what the host withholds from us (CAP_SYS_RESOURCE on these machines)
        var expected = flags switch
        {
            "default" => DockerDefaultCaps,
            "--cap-drop ALL" => 0UL,
            "--cap-add SYS_ADMIN" => DockerDefaultCaps | (1UL << 21),
            "--cap-drop NET_RAW --cap-drop MKNOD" => DockerDefaultCaps & ~(1UL << 13) & ~(1UL << 27),
            "--privileged" => AllCaps & ProbeOutput.HostBounding(),
            _ => throw new ArgumentException(flags),
        };
        var r = await f.Sh("cat /proc/self/status", flags == "default" ? [] : flags.Split(' '));
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (var key in new[] { "CapBnd", "CapEff", "CapPrm" })
            Assert.True(ProbeOutput.StatusHex(r.Stdout, key) == expected,
                $"{flags}: {key} is {ProbeOutput.StatusHex(r.Stdout, key):x16}, expected {expected:x16}\n{r.Stdout}");
        Assert.Equal(0UL, ProbeOutput.StatusHex(r.Stdout, "CapInh"));
        Assert.Equal(0UL, ProbeOutput.StatusHex(r.Stdout, "CapAmb"));
    }

    [RootTheory]
    [InlineData("default", 1, 2)]
    [InlineData("--security-opt no-new-privileges=false", 0, 2)]
    [InlineData("--security-opt seccomp=unconfined", 1, 0)]
    [InlineData("--privileged", 0, 0)]
    public async Task NoNewPrivs_AndSeccompMode(string flags, int noNewPrivs, int seccomp)
    {
        var r = await f.Sh("cat /proc/self/status", flags == "default" ? [] : flags.Split(' '));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(noNewPrivs, ProbeOutput.StatusNumber(r.Stdout, "NoNewPrivs"));
        Assert.Equal(seccomp, ProbeOutput.StatusNumber(r.Stdout, "Seccomp"));
    }

    // ---- helpers ----------------------------------------------------------------------------

    private static string Line(string text, string prefix) =>
        text.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))?[prefix.Length..]
        ?? throw new Xunit.Sdk.XunitException($"no '{prefix}' line in\n{text}");

    /// <summary>The last mount whose mount point is exactly <paramref name="path"/> in a mountinfo text, or null.</summary>
    private static MountEntry? MountAt(string mountinfo, string path) =>
        HostState.ParseMountInfo(mountinfo).LastOrDefault(m => m.MountPoint == path);
}
