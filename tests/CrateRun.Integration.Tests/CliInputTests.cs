using System.Text.Json;
using System.Text.RegularExpressions;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// The Docker-like CLI's answers to bad input found by a tester: ids that mean "unchanged" to
/// setresuid, flags it does not know, broken state roots, -it without a terminal, and the small
/// things (ps -a, wait, logs order and --tail, JSON, short ids).
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class CliInputTests(CrateRunFixture f)
{
    private static void AssertUsageError(ProcResult r, string command, params string[] mentions)
    {
        Assert.True(r.ExitCode == 125, $"expected exit 125\n{r}");
        Assert.True(r.ErrLines.Length == 2, $"expected the error and the help hint\n{r}");
        Assert.StartsWith("craterun: ", r.ErrLines[0]);
        foreach (var m in mentions) Assert.Contains(m, r.ErrLines[0]);
        Assert.Equal($"See '{command} --help'.", r.ErrLines[1]);
        Assert.DoesNotContain("System.", r.Stderr);
        Assert.DoesNotContain("Usage:", r.Stderr);
        Assert.Equal("", r.Stdout);
    }

    // ---- ids out of range: -1 is "unchanged" to setresuid, i.e. root -----------------------------

    [RootTheory]
    [InlineData("4294967295")]
    [InlineData("1000:4294967295")]
    [InlineData("4294967295:1000")]
    [InlineData("2147483648")]
    public async Task UserIdsAbove2147483647_AreRefused_AndNothingRuns(string user)
    {
        var before = Snapshot.Take(f);
        var r = await f.Run("--rm", "-u", user, "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "id; echo ran");
        Assert.True(r.ExitCode == 125, r.ToString());
        var line = Assert.Single(r.ErrLines);
        Assert.StartsWith("craterun: ", line);
        Assert.Contains("out of range", line);
        Assert.DoesNotContain("ran", r.Stdout);
        Assert.DoesNotContain("uid=0", r.Stdout);
        before.AssertNothingLeft(f, r);
    }

    [RootFact]
    public async Task TheLargestValidIds_RunAsThemselves()
    {
        var r = await f.Sh("id -u; id -g", "-u", "2147483647:2147483647");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("2147483647\n2147483647\n", r.Stdout);
    }

    [RootTheory]
    [InlineData("""{"uid":4294967295,"gid":0}""", "uid 4294967295")]
    [InlineData("""{"uid":0,"gid":4294967295}""", "gid 4294967295")]
    [InlineData("""{"uid":1000,"gid":1000,"additionalGids":[4294967295]}""", "additional gid 4294967295")]
    public async Task Oci_UserIdsOutOfRange_AreRefused_AndNothingRuns(string user, string mention)
    {
        var bundle = Path.Combine(f.TempBase, "oci-uid-" + Guid.NewGuid().ToString("N")[..8]);
        var ociRoot = Path.Combine(f.TempBase, "oci-uid-state");
        Directory.CreateDirectory(bundle);
        var spec = await Proc.Run(f.Binary, ["oci", "spec", "--bundle", bundle], env: f.Env);
        Assert.True(spec.ExitCode == 0, spec.ToString());
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(bundle, "config.json")))!;
        config["root"]!["path"] = f.Rootfs;
        config["process"]!["terminal"] = false;
        config["process"]!["args"] = new System.Text.Json.Nodes.JsonArray("/bin/sh", "-c", "id; echo ran");
        config["process"]!["user"] = System.Text.Json.Nodes.JsonNode.Parse(user);
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        var id = "uid-" + Guid.NewGuid().ToString("N")[..8];
        var r = await Proc.Run(f.Binary, ["oci", "--root", ociRoot, "run", "--bundle", bundle, id], env: f.Env);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains(mention, r.Stderr);
        Assert.DoesNotContain("ran", r.Stdout);
        Assert.DoesNotContain("uid=0", r.Stdout);
        Assert.False(Directory.Exists(Path.Combine(ociRoot, id)), "the OCI state of a refused container stayed");
    }

    // ---- unknown flags and parse errors: one line, the help hint, 125 --------------------------------

    [RootTheory]
    [InlineData("--bogus", new[] { "--bogus" })]
    [InlineData("--bogus", new[] { "--bogus=1" })]
    [InlineData("-Y", new[] { "-Y", "8080:80" })]
    [InlineData("-Z", new[] { "-Z" })]
    [InlineData("-itZ", new[] { "-itZ" })]
    public async Task UnknownFlagsBeforeTheCommand_AreErrors_NotTheCommand(string named, string[] flag)
    {
        var before = Snapshot.Take(f);
        var r = await f.Run([.. flag, "--rootfs", f.Rootfs, "--", "/bin/true"]);
        AssertUsageError(r, "craterun run", "unknown flag", named);
        before.AssertNothingLeft(f, r);
    }

    [RootFact]
    public async Task BundledShortFlags_StillWork()
    {
        var r = await f.Run("--rm", "-iw", "/tmp", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "pwd; cat");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("/tmp\n", r.Stdout);
    }

    public static TheoryData<string[], string, string> ParseErrors => new()
    {
        { ["logs", "--tail", "abc", "x"], "craterun logs", "\"abc\"" },
        { ["stop", "-t", "abc", "x"], "craterun stop", "\"abc\"" },
        { ["run", "--rootfs"], "craterun run", "--rootfs" },
        { ["ps", "--bogus"], "craterun ps", "--bogus" },
        { ["logs"], "craterun logs", "container" },
        { ["rm"], "craterun rm", "container" },
        { ["ps", "extra"], "craterun ps", "extra" },
        { ["nosuchcommand"], "craterun", "nosuchcommand" },
    };

    [RootTheory]
    [MemberData(nameof(ParseErrors))]
    public async Task ParseErrors_AreOneLine_AndExit125(string[] args, string command, string mention) =>
        AssertUsageError(await f.Cr(args), command, mention);

    [RootFact]
    public async Task Help_ListsTheOciFace()
    {
        var r = await f.Cr("--help");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(new Regex(@"^\s+oci\b", RegexOptions.Multiline), r.Stdout);
    }

    // ---- help and version: a command line without them parses under a plain root (ParserRoot) --------

    public static TheoryData<string[], string> HelpForms => new()
    {
        { ["run", "--help"], "craterun run [<command>...] [options]" },
        { ["run", "-h"], "craterun run [<command>...] [options]" },
        { ["run", "-?"], "craterun run [<command>...] [options]" },
        { ["run", "--rootfs", "/x", "--help"], "craterun run [<command>...] [options]" },
        { ["ps", "-h"], "craterun ps [options]" },
        { ["volume", "ls", "--help"], "craterun volume ls [options]" },
        { ["--help"], "craterun [command] [options]" },
        { ["oci", "--help"], "craterun oci [options]" },
    };

    [RootTheory]
    [MemberData(nameof(HelpForms))]
    public async Task Help_IsShownInEveryForm(string[] args, string usage)
    {
        var r = await f.Cr(args);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Usage:", r.Stdout);
        Assert.Contains(usage, r.Stdout);
    }

    // ---- a state root that cannot be used fails at once --------------------------------------------

    private async Task AssertRootRefused(ProcResult r, string root, List<(int Pid, string Cmdline)> processesBefore)
    {
        Assert.False(r.TimedOut, "run hung on the state root\n" + r);
        Assert.True(r.ExitCode == 125, r.ToString());
        var line = Assert.Single(r.ErrLines);
        Assert.StartsWith("craterun: ", line);
        Assert.Contains(root, line);
        Assert.True(r.Elapsed < TimeSpan.FromSeconds(10), $"took {r.Elapsed}");
        // nothing left: no monitor of ours
        for (var i = 0; i < 30 && f.OurProcesses().Any(p => !processesBefore.Contains(p)); i++) await Task.Delay(100);
        Assert.DoesNotContain(f.OurProcesses(), p => !processesBefore.Contains(p));
    }

    [RootTheory]
    [InlineData("mount -t tmpfs -o ro tmpfs \"$1\"")]
    [InlineData("mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro \"$1\"")]
    public async Task AReadOnlyStateRoot_FailsAtOnce(string mount)
    {
        var root = Path.Combine(f.TempBase, "ro-root-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        var procs = f.OurProcesses();
        // the read-only mount lives in a private mount namespace that ends with the command
        var r = await Proc.Run("unshare", ["-m", "--propagation", "private", "sh", "-c",
            mount + " && exec \"$2\" --root \"$1\" run --rm --rootfs \"$3\" -- /bin/true", "sh", root, f.Binary, f.Rootfs],
            timeout: TimeSpan.FromSeconds(30), env: f.Env);
        await AssertRootRefused(r, root, procs);
        Assert.Empty(Directory.EnumerateFileSystemEntries(root));
    }

    [RootFact]
    public async Task AnImmutableStateRoot_FailsAtOnce()
    {
        var root = Path.Combine(f.TempBase, "immutable-root");
        Directory.CreateDirectory(root);
        var chattr = await Proc.Run("chattr", ["+i", root]);
        Assert.True(chattr.ExitCode == 0, chattr.ToString());
        try
        {
            var procs = f.OurProcesses();
            var r = await Proc.Run(f.Binary, ["--root", root, "run", "--rm", "--rootfs", f.Rootfs, "--", "/bin/true"], timeout: TimeSpan.FromSeconds(30), env: f.Env);
            await AssertRootRefused(r, root, procs);
        }
        finally
        {
            await Proc.Run("chattr", ["-i", root]);
        }
        Assert.Empty(Directory.EnumerateFileSystemEntries(root));
    }

    [RootFact]
    public async Task AStateRootThatIsAFile_FailsAtOnce()
    {
        var root = Path.Combine(f.TempBase, "root-is-a-file");
        File.WriteAllText(root, "not a directory\n");
        var procs = f.OurProcesses();
        var r = await Proc.Run(f.Binary, ["--root", root, "run", "--rm", "--rootfs", f.Rootfs, "--", "/bin/true"], timeout: TimeSpan.FromSeconds(30), env: f.Env);
        await AssertRootRefused(r, root, procs);
        Assert.Equal("not a directory\n", File.ReadAllText(root));
    }

    [RootTheory]
    [InlineData("run", "--rm", "--rootfs", "{rootfs}", "--", "/bin/true")]
    [InlineData("ps")]
    public async Task AnEmptyStateRoot_IsAUsageError_NotACrash(params string[] args)
    {
        var r = await Proc.Run(f.Binary, ["--root", "", .. args.Select(a => a.Replace("{rootfs}", f.Rootfs))], timeout: TimeSpan.FromSeconds(30), env: f.Env);
        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.Contains("must not be empty", Assert.Single(r.ErrLines));
    }

    [RootFact]
    public async Task ACidfileInAMissingDirectory_FailsFirst_AndLeavesNothing()
    {
        var before = Snapshot.Take(f);
        var cidfile = Path.Combine(f.TempBase, "no-such-dir", "cid");
        var r = await f.Cr("run", "--rm", "--cidfile", cidfile, "--rootfs", f.Rootfs, "--", "/bin/true");
        Assert.True(r.ExitCode == 125, r.ToString());
        var line = Assert.Single(r.ErrLines);
        Assert.StartsWith("craterun: invalid --cidfile", line);
        Assert.Contains(cidfile, line);
        before.AssertNothingLeft(f, r);
    }

    [RootFact]
    public async Task ALeftoverDirectoryWithoutMetadata_IsRemovedByRm()
    {
        var id = "00c0ffee" + Guid.NewGuid().ToString("N")[..8];
        Directory.CreateDirectory(f.StateDir(id));
        File.WriteAllText(Path.Combine(f.StateDir(id), "metadata.json.tmp-12345"), "{\"id\":");
        Assert.DoesNotContain(id[..12], (await f.Cr("ps", "-a")).Stdout);
        var rm = await f.Cr("rm", id);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        Assert.False(Directory.Exists(f.StateDir(id)));
    }

    // ---- -it without a terminal ---------------------------------------------------------------

    [RootFact]
    public async Task RunIt_WithPipedStdin_IsRefused_NotAHang()
    {
        var before = Snapshot.Take(f);
        var r = await f.RunWith("hello\n", TimeSpan.FromSeconds(20), "-it", "--rm", "--rootfs", f.Rootfs, "--", "/bin/cat");
        Assert.False(r.TimedOut, "run -it hung on piped stdin\n" + r);
        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.Contains("the input device is not a TTY", Assert.Single(r.ErrLines));
        before.AssertNothingLeft(f, r);
    }

    [RootFact]
    public async Task ExecIt_WithPipedStdin_IsRefused()
    {
        var id = await f.Detached("while true; do sleep 0.1; done");
        try
        {
            var r = await f.CrWith("hello\n", TimeSpan.FromSeconds(20), "exec", "-it", id, "--", "/bin/cat");
            Assert.False(r.TimedOut, r.ToString());
            Assert.True(r.ExitCode == 125, r.ToString());
            Assert.Contains("the input device is not a TTY", Assert.Single(r.ErrLines));
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    // ---- logs ------------------------------------------------------------------------------

    private const string Interleaved = "echo out1; sleep 0.1; echo err1 >&2; sleep 0.1; echo out2; sleep 0.1; echo err2 >&2; sleep 0.1; echo out3";

    [RootFact]
    public async Task Logs_MergesBothStreamsInTimeOrder()
    {
        var r = await f.Run("--rootfs", f.Rootfs, "--", "/bin/sh", "-c", Interleaved);
        try
        {
            Assert.True(r.ExitCode == 0, r.ToString());
            var merged = await Proc.Run("sh", ["-c", "exec \"$@\" 2>&1", "sh", f.Binary, "--root", f.StateRoot, "logs", r.Id!], env: f.Env);
            Assert.Equal("out1\nerr1\nout2\nerr2\nout3\n", merged.Stdout);

            var stamped = await Proc.Run("sh", ["-c", "exec \"$@\" 2>&1", "sh", f.Binary, "--root", f.StateRoot, "logs", "-t", r.Id!], env: f.Env);
            var lines = stamped.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["out1", "err1", "out2", "err2", "out3"], lines.Select(l => l[(l.IndexOf(' ') + 1)..]));
            var stamps = lines.Select(l => DateTimeOffset.Parse(l[..l.IndexOf(' ')], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(stamps.Order(), stamps);
        }
        finally
        {
            await f.RemoveForce(r.Id!);
        }
    }

    [RootTheory]
    [InlineData("-1")]
    [InlineData("all")]
    public async Task LogsTail_NegativeOrAll_PrintsEverything(string tail)
    {
        var r = await f.Run("--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "echo a; echo b; echo c");
        try
        {
            var logs = await f.Cr("logs", "--tail", tail, r.Id!);
            Assert.True(logs.ExitCode == 0, logs.ToString());
            Assert.Equal("a\nb\nc\n", logs.Stdout);
        }
        finally
        {
            await f.RemoveForce(r.Id!);
        }
    }

    [RootFact]
    public async Task LogsFollow_EndsQuietly_WhenTheContainerIsRemoved()
    {
        var id = await f.Detached("echo started; while true; do sleep 0.1; done");
        using var follow = Proc.Start(f.Binary, ["--root", f.StateRoot, "logs", "-f", id], f.Env);
        Assert.True(await follow.WaitForOutput("started", TimeSpan.FromSeconds(20)), follow.Stderr);
        var rm = await f.Cr("rm", "-f", id);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        var r = await follow.Wait(TimeSpan.FromSeconds(20));
        Assert.False(r.TimedOut, r.ToString());
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stderr);
    }

    // ---- ps, wait, rm, inspect --------------------------------------------------------------------

    [RootFact]
    public async Task Ps_ShowsRunningOnly_AndAllWithA_WithTwelveCharacterIds()
    {
        var exited = await f.Run("--rootfs", f.Rootfs, "--", "/bin/true");
        var running = await f.Detached("hostname; while true; do sleep 0.1; done");
        try
        {
            Assert.True(exited.ExitCode == 0, exited.ToString());
            var ps = await f.Cr("ps");
            Assert.DoesNotContain(exited.Id![..12], ps.Stdout);
            var row = ps.Stdout.Split('\n').Single(l => l.StartsWith(running[..12], StringComparison.Ordinal));
            // one short id everywhere: the table's id is the default hostname
            await f.WaitForLog(running, running[..12]);
            Assert.Equal(running[..12], row.Split(' ')[0]);
            Assert.DoesNotContain(running, ps.Stdout); // not the 16-character id
            var all = await f.Cr("ps", "-a");
            Assert.Contains(exited.Id![..12], all.Stdout);
            Assert.Contains(running[..12], all.Stdout);
            Assert.Equal(new[] { running[..12] }, (await f.Cr("ps", "-q")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l == running[..12] || l == exited.Id![..12]));
            // and any unique prefix still names it
            Assert.True((await f.Cr("inspect", running[..12])).ExitCode == 0);
        }
        finally
        {
            await f.RemoveForce(running, exited.Id!);
        }
    }

    [RootFact]
    public async Task Wait_OnAnUnknownContainer_PrintsNoExitCode()
    {
        var r = await f.Cr("wait", "no-such-container");
        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.Equal("", r.Stdout);
        Assert.Contains("no such container", Assert.Single(r.ErrLines));
    }

    [RootFact]
    public async Task RmV_IsAccepted()
    {
        var r = await f.Run("--rootfs", f.Rootfs, "--", "/bin/true");
        var rm = await f.Cr("rm", "-v", r.Id!);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        Assert.False(Directory.Exists(f.StateDir(r.Id!)));
    }

    [RootFact]
    public async Task Inspect_PrintsQuotesPlusAndAmpersandsAsThemselves()
    {
        var r = await f.Run("--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "echo 'a+b' > /dev/null && test 1 -lt 2");
        try
        {
            var inspect = await f.Cr("inspect", r.Id!);
            Assert.True(inspect.ExitCode == 0, inspect.ToString());
            Assert.Contains("echo 'a+b' > /dev/null && test 1 -lt 2", inspect.Stdout);
            Assert.DoesNotContain("\\u00", inspect.Stdout);
            var ps = await f.Cr("ps", "-a", "--format", "json");
            Assert.Contains("'a+b' > /dev/null &&", ps.Stdout);
        }
        finally
        {
            await f.RemoveForce(r.Id!);
        }
    }

    [RootFact]
    public async Task AKilledMonitor_IsShownInPsAndInspect()
    {
        var id = await f.Detached("while true; do sleep 0.1; done");
        try
        {
            var monitor = (await f.Inspect(id)).GetProperty("monitorPid").GetInt32();
            Assert.True(monitor > 0);
            Assert.True((await Proc.Run("kill", ["-9", monitor.ToString()])).ExitCode == 0);
            for (var i = 0; i < 50 && File.Exists($"/proc/{monitor}/exe"); i++) await Task.Delay(100);
            var rec = await f.Inspect(id);
            Assert.Equal("running", rec.GetProperty("status").GetString());
            Assert.Contains("monitor", rec.GetProperty("logsStopped").GetString());
            var ps = await f.Cr("ps");
            Assert.Contains("logs stopped", ps.Stdout.Split('\n').Single(l => l.StartsWith(id[..12], StringComparison.Ordinal)));

            // nobody records its exit now: wait says so, and never prints 125 as if it were the exit code
            Assert.True((await f.Cr("kill", id)).ExitCode == 0);
            var wait = await f.CrWith(null, TimeSpan.FromSeconds(30), "wait", id);
            Assert.True(wait.ExitCode == 125, wait.ToString());
            Assert.Equal("", wait.Stdout);
            Assert.Contains("not recorded", Assert.Single(wait.ErrLines));
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    // ---- a full disk under the state root -------------------------------------------------------

    /// <summary>
    /// The state root is a 512 KiB tmpfs (in a private mount namespace) and each container writes
    /// 1 MB: at once (the monitor's managed phase copies it), after 0.5 s (its C waiting phase),
    /// and detached. The output keeps reaching the terminal, the loss is said once on stderr and
    /// in inspect, the exit code is recorded, and rm leaves nothing.
    /// </summary>
    [RootFact]
    public async Task AFullStateRoot_KeepsTheOutputFlowing_SaysSoOnce_AndRecordsTheExit()
    {
        var work = Path.Combine(f.TempBase, "full-" + Guid.NewGuid().ToString("N")[..8]);
        var root = Path.Combine(work, "root");
        Directory.CreateDirectory(root);
        const string Output = "yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde | head -c 1000000; echo; echo END; exit 3";
        const string Script = """
            w=$1; bin=$2; rootfs=$3; out=$4
            mount -t tmpfs -o size=512k tmpfs "$w/root" || exit 99
            cr() { "$bin" --root "$w/root" "$@"; }
            # one container at a time: each one's logs fill the root
            cr run --cidfile "$w/cid1" --rootfs "$rootfs" -- /bin/sh -c "$out" > "$w/out1" 2> "$w/err1"; echo $? > "$w/rc1"
            cr inspect "$(cat "$w/cid1")" > "$w/inspect1" 2>&1; cr ps -a > "$w/ps1" 2>&1
            cr rm "$(cat "$w/cid1")" > /dev/null 2>> "$w/rm"
            cr run --cidfile "$w/cid2" --rootfs "$rootfs" -- /bin/sh -c "sleep 0.5; $out" > "$w/out2" 2> "$w/err2"; echo $? > "$w/rc2"
            cr inspect "$(cat "$w/cid2")" > "$w/inspect2" 2>&1; cr ps -a > "$w/ps2" 2>&1
            cr rm "$(cat "$w/cid2")" > /dev/null 2>> "$w/rm"
            cr run -d --cidfile "$w/cid3" --rootfs "$rootfs" -- /bin/sh -c "sleep 0.5; $out" > /dev/null 2> "$w/err3"
            cr wait "$(cat "$w/cid3")" > "$w/wait3" 2>&1
            cr inspect "$(cat "$w/cid3")" > "$w/inspect3" 2>&1; cr ps -a > "$w/ps3" 2>&1
            cr rm "$(cat "$w/cid3")" > /dev/null 2>> "$w/rm"
            ls -A "$w/root" > "$w/left"
            umount "$w/root"
            """;
        var r = await Proc.Run("unshare", ["-m", "--propagation", "private", "sh", "-c", Script, "sh", work, f.Binary, f.Rootfs, Output],
            timeout: TimeSpan.FromSeconds(120), env: f.Env);
        foreach (var cid in new[] { "cid1", "cid2", "cid3" }) f.ReadCidFile(Path.Combine(work, cid));
        Assert.True(r.ExitCode == 0 && !r.TimedOut, r.ToString());
        string Read(string name) => File.ReadAllText(Path.Combine(work, name));
        var expected = 1_000_000 + "\nEND\n".Length;
        foreach (var i in new[] { 1, 2 })
        {
            Assert.True(Read($"rc{i}").Trim() == "3", $"run {i}: exit {Read($"rc{i}").Trim()} (the container's is 3)\n{Read($"err{i}")}");
            var output = Read($"out{i}");
            Assert.Equal(expected, output.Length);
            Assert.EndsWith("\nEND\n", output);
            var line = Assert.Single(Read($"err{i}").Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("craterun: ", line);
            Assert.Contains("No space left on device", line);
        }
        Assert.Equal("", Read("err3"));
        Assert.Equal("3", Read("wait3").Trim());
        foreach (var i in new[] { 1, 2, 3 })
        {
            using var doc = JsonDocument.Parse(Read($"inspect{i}"));
            var rec = doc.RootElement[0];
            Assert.Equal("exited", rec.GetProperty("status").GetString());
            Assert.Equal(3, rec.GetProperty("exitCode").GetInt32());
            Assert.Contains("space left on", rec.GetProperty("logsStopped").GetString(), StringComparison.OrdinalIgnoreCase);
        }
        foreach (var i in new[] { 1, 2, 3 }) Assert.Contains("exited (3) (logs stopped)", Read($"ps{i}"));
        // the managed phase (1) and the C waiting phase (2, 3) stop a log with one implementation:
        // the same line and the same reason, but for the id and the time
        string Same(int i, string text) => System.Text.RegularExpressions.Regex.Replace(
            text.Replace(Read($"cid{i}").Trim(), "ID"), @"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME");
        Assert.Equal(Same(1, Read("err1")), Same(2, Read("err2")));
        string Reason(int i)
        {
            using var doc = JsonDocument.Parse(Read($"inspect{i}"));
            return Same(i, doc.RootElement[0].GetProperty("logsStopped").GetString()!);
        }
        Assert.Equal(Reason(1), Reason(2));
        Assert.Equal(Reason(1), Reason(3));
        Assert.True(!File.Exists(Path.Combine(work, "rm")) || Read("rm") == "", "rm failed");
        // the root's lock and its event log (craterun events) stay; nothing of the containers
        Assert.Equal([".events", ".lock"], Read("left").Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
    }
}
