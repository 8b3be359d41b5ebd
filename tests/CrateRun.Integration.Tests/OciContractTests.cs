using System.Text.Json.Nodes;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// What runc's callers rely on, checked side by side with runc 1.1 (the reference, installed
/// here and in CI): for a container in each state (gone, created, running, paused, stopped)
/// the same command gives the same exit code and an error text of the same kind. containerd's
/// shim sends <c>kill --all ID 9</c> after every exit and maps "container not running" and
/// "does not exist" to NotFound (pkg/process/utils.go checkKillError); podman looks for
/// "does not exist"; runc exits 1 on an error, 255 on an exec error, else the process's code.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class OciContractTests(CrateRunFixture f)
{
    /// <summary>One command against a container in a known state; {id} stands for its id.</summary>
    private sealed record Step(string[] Args, int Code, string? Text = null);

    private static readonly Step[] Gone =
    [
        new(["state", "{id}"], 1, "does not exist"),
        new(["kill", "{id}", "9"], 1, "does not exist"),
        new(["delete", "{id}"], 1, "does not exist"),
        new(["delete", "--force", "{id}"], 0),
        new(["start", "{id}"], 1, "does not exist"),
        new(["exec", "{id}", "true"], 255, "does not exist"),
    ];

    private static readonly Step[] Created =
    [
        new(["state", "{id}"], 0, "\"created\""),
        new(["kill", "{id}", "0"], 0),
        // runc joins a created container's namespaces: the exec runs before the user's process
        new(["exec", "{id}", "echo", "exec-in-created"], 0, "exec-in-created"),
        new(["exec", "{id}", "sh", "-c", "exit 3"], 3),
    ];

    private static readonly Step[] Running =
    [
        new(["state", "{id}"], 0, "\"running\""),
        new(["start", "{id}"], 1, "cannot start an already running container"),
        new(["kill", "{id}", "0"], 0),
        new(["delete", "{id}"], 1, "cannot delete container {id} that is not stopped: running"),
        new(["resume", "{id}"], 1, "container not paused"),
        new(["exec", "{id}", "sh", "-c", "exit 3"], 3),
        new(["exec", "{id}", "no-such-command"], 255, "no-such-command"),
    ];

    private static readonly Step[] Paused =
    [
        new(["state", "{id}"], 0, "\"paused\""),
        // the exec would join the frozen cgroup and hang: refused, as runc does
        new(["exec", "{id}", "true"], 255, "cannot exec in a paused container"),
        new(["start", "{id}"], 1, "paused"),
        new(["delete", "{id}"], 1, "cannot delete container {id} that is not stopped: paused"),
        new(["kill", "{id}", "0"], 0),
    ];

    private static readonly Step[] Stopped =
    [
        new(["state", "{id}"], 0, "\"stopped\""),
        new(["kill", "{id}", "9"], 1, "container not running"),
        new(["kill", "{id}", "0"], 1, "container not running"),
        // what containerd's shim sends after every exit: must succeed
        new(["kill", "--all", "{id}", "9"], 0),
        new(["start", "{id}"], 1, "cannot start a container that has stopped"),
        new(["pause", "{id}"], 1, "container not running"),
        new(["exec", "{id}", "true"], 255, "cannot exec in a stopped container"),
    ];

    [RootFact]
    public async Task Every_state_answers_kill_delete_state_start_exec_as_runc_does()
    {
        var runc = RuncPath();
        var dir = NewDir("contract");
        var bundle = OciBundles.WriteBundle(dir, "b", BaseConfig(["sleep", "1000"]));
        var failures = new List<string>();
        foreach (var (name, binary) in new[] { ("runc", runc), ("craterun-oci", Oci()) })
        {
            var root = Path.Combine(dir, name + "-root");
            var id = "contract-" + Guid.NewGuid().ToString("N")[..8];
            try
            {
                await Walk(binary, root, bundle, id, failures);
            }
            finally
            {
                await Proc.Run(binary, ["--root", root, "resume", id]);
                await Proc.Run(binary, ["--root", root, "delete", "--force", id]);
            }
            Assert.False(Directory.Exists(Path.Combine(root, id)), $"{name}: state left behind");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>Takes one container through every state, checking each state's steps.</summary>
    private static async Task Walk(string binary, string root, string bundle, string id, List<string> failures)
    {
        async Task<ProcResult> Do(params string[] args)
        {
            var r = await Proc.Run(binary, ["--root", root, .. args], timeout: TimeSpan.FromSeconds(20));
            Assert.False(r.TimedOut, r.ToString());
            return r;
        }
        async Task Must(params string[] args)
        {
            var r = await Do(args);
            Assert.True(r.ExitCode == 0, r.ToString());
        }
        async Task Check(string state, Step[] steps)
        {
            foreach (var s in steps)
            {
                var r = await Do([.. s.Args.Select(a => a.Replace("{id}", id))]);
                var text = s.Text?.Replace("{id}", id);
                if (r.ExitCode != s.Code || (text is not null && !(r.Stdout + r.Stderr).Contains(text)))
                    failures.Add($"{Path.GetFileName(binary)}, {state}: want exit {s.Code}{(text is null ? "" : $" and \"{text}\"")}; got {r}");
            }
        }

        await Check("gone", Gone);
        await Must("create", "--bundle", bundle, id);
        await Check("created", Created);
        await Must("delete", id); // runc deletes a created container without --force
        await Check("deleted", Gone);

        await Must("create", "--bundle", bundle, id);
        await Must("start", id);
        await Check("running", Running);
        await Must("pause", id);
        await Check("paused", Paused);
        await Must("resume", id);
        await Must("kill", id, "KILL");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!(await Do("state", id)).Stdout.Contains("\"stopped\"") && DateTime.UtcNow < deadline) await Task.Delay(20);
        await Check("stopped", Stopped);
        await Must("delete", id);
        await Check("deleted", Gone);
    }

    // ---- item 1: a terminal without --console-socket -----------------------------------------

    private const string Script = "/usr/bin/script";

    /// <summary>A shell line under script(1): a real pty of 30x100 as the caller's terminal.</summary>
    private static Task<ProcResult> UnderPty(string shellLine) =>
        Proc.Run(Script, ["-qec", "stty rows 30 cols 100; " + shellLine, "/dev/null"], timeout: TimeSpan.FromSeconds(30), keepStdinOpen: true);

    [RootFact]
    public async Task Spec_then_run_relays_the_callers_terminal_as_runc_does()
    {
        Assert.True(File.Exists(Script), "util-linux script is missing (tests/install-prereqs.sh installs it)");
        var dir = NewDir("tty");
        var bundle = Path.Combine(dir, "b");
        Directory.CreateDirectory(bundle);
        var root = Path.Combine(dir, "root");
        var id = "tty-" + Guid.NewGuid().ToString("N")[..8];
        // the config `spec` writes (terminal: true), only pointed at our rootfs and a command
        var spec = await Proc.Run(Oci(), ["spec", "--bundle", bundle]);
        Assert.True(spec.ExitCode == 0, spec.ToString());
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(bundle, "config.json")))!;
        Assert.True((bool)config["process"]!["terminal"]!);
        config["root"]!["path"] = f.Rootfs;
        config["root"]!["readonly"] = false;
        config["process"]!["args"] = new JsonArray("sh", "-c", "tty; stty size; [ -t 0 ] && [ -t 1 ] && echo all-tty; exit 5");
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        try
        {
            var r = await UnderPty(Proc.Describe(Oci(), ["--root", root, "run", "--bundle", bundle, id]));
            Assert.True(r.ExitCode == 5, r.ToString());
            Assert.Contains("/dev/pts/0", r.Stdout);
            Assert.Contains("30 100", r.Stdout);
            Assert.Contains("all-tty", r.Stdout);
            Assert.False(Directory.Exists(Path.Combine(root, id)), "run left its state behind");

            // exec -t into a running container, same relay
            config["process"]!["terminal"] = false;
            config["process"]!["args"] = new JsonArray("sleep", "1000");
            File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
            var run = await Proc.Run(Oci(), ["--root", root, "run", "-d", "--bundle", bundle, id]);
            Assert.True(run.ExitCode == 0, run.ToString());
            var e = await UnderPty(Proc.Describe(Oci(), ["--root", root, "exec", "-t", id, "sh", "-c", "tty; stty size; exit 4"]));
            Assert.True(e.ExitCode == 4, e.ToString());
            Assert.Matches(@"/dev/pts/\d+", e.Stdout);
            Assert.Contains("30 100", e.Stdout);
        }
        finally
        {
            await Proc.Run(Oci(), ["--root", root, "delete", "--force", id]);
        }
    }

    [RootFact]
    public async Task A_detached_terminal_without_console_socket_is_refused_with_runcs_words_and_leaves_nothing()
    {
        var dir = NewDir("ttyd");
        var bundle = OciBundles.WriteBundle(dir, "b", BaseConfig(["sh", "-c", "tty"], terminal: true));
        foreach (var (name, binary) in new[] { ("runc", RuncPath()), ("craterun-oci", Oci()) })
        {
            var root = Path.Combine(dir, name + "-root");
            var id = "ttyd-" + Guid.NewGuid().ToString("N")[..8];
            foreach (string[] args in new[] { new[] { "create", "--bundle", bundle, id }, ["run", "-d", "--bundle", bundle, id] })
            {
                var r = await Proc.Run(binary, ["--root", root, .. args], timeout: TimeSpan.FromSeconds(20));
                Assert.True(r.ExitCode == 1 && r.Stderr.Contains("cannot allocate tty"), $"{name}: {r}");
                Assert.False(Directory.Exists(Path.Combine(root, id)), $"{name}: state left behind");
                Assert.Empty(HostState.CgroupsOf(id));
            }
        }
    }

    /// <summary>
    /// A variable that process.env gives twice reaches the program once, with its last value, in its
    /// first place, as runc's does; and exec --env replaces the container's. Read by the program itself
    /// (cat /proc/self/environ, no shell that would tidy the environment on the way).
    /// </summary>
    [RootFact]
    public async Task A_variable_given_twice_reaches_the_program_once_with_its_last_value_as_with_runc()
    {
        var dir = NewDir("envdup");
        var config = BaseConfig(["cat", "/proc/self/environ"]);
        config["process"]!["env"] = new JsonArray("PATH=/bin:/usr/bin", "FOO=1", "BAR=a", "FOO=2");
        var runBundle = OciBundles.WriteBundle(dir, "run", config);
        config["process"]!["args"] = new JsonArray("sleep", "1000");
        var execBundle = OciBundles.WriteBundle(dir, "exec", config);
        static string[] Ours(string environ) => [.. environ.Split('\0', StringSplitOptions.RemoveEmptyEntries).Where(e => e.StartsWith("FOO=", StringComparison.Ordinal) || e.StartsWith("BAR=", StringComparison.Ordinal))];
        var seen = new Dictionary<string, (string[] Run, string[] Exec)>();
        foreach (var (name, binary) in new[] { ("runc", RuncPath()), ("craterun-oci", Oci()) })
        {
            var root = Path.Combine(dir, name + "-root");
            var runId = "envdup-" + Guid.NewGuid().ToString("N")[..8];
            var execId = "envdup-" + Guid.NewGuid().ToString("N")[..8];
            try
            {
                var run = await Proc.Run(binary, ["--root", root, "run", "--bundle", runBundle, runId], timeout: TimeSpan.FromSeconds(20));
                Assert.True(run.ExitCode == 0, $"{name}: {run}");
                var detached = await Proc.Run(binary, ["--root", root, "run", "-d", "--bundle", execBundle, execId], timeout: TimeSpan.FromSeconds(20));
                Assert.True(detached.ExitCode == 0, $"{name}: {detached}");
                var exec = await Proc.Run(binary, ["--root", root, "exec", "--env", "FOO=3", execId, "cat", "/proc/self/environ"]);
                Assert.True(exec.ExitCode == 0, $"{name}: {exec}");
                seen[name] = (Ours(run.Stdout), Ours(exec.Stdout));
            }
            finally
            {
                await Proc.Run(binary, ["--root", root, "delete", "--force", runId]);
                await Proc.Run(binary, ["--root", root, "delete", "--force", execId]);
            }
        }
        Assert.Equal(["FOO=2", "BAR=a"], seen["craterun-oci"].Run);
        Assert.Equal(["FOO=3", "BAR=a"], seen["craterun-oci"].Exec);
        Assert.Equal(seen["runc"].Run, seen["craterun-oci"].Run);
        Assert.Equal(seen["runc"].Exec, seen["craterun-oci"].Exec);
    }

    /// <summary>
    /// exec's own flags on top of the container's process (ExecProcess.Build), as runc applies them: --env
    /// replaces a variable of config.json, --cwd, --user with --additional-gids, --cap into bounding, effective
    /// and permitted, --no-new-privs. The same command lines through runc and craterun-oci, looked at from inside.
    /// </summary>
    [RootFact]
    public async Task Exec_flags_build_the_process_as_runcs_do()
    {
        var dir = NewDir("execflags");
        var config = await new OciBundles(f).RuncSpec("sleep", "1000");
        config["process"]!["env"]!.AsArray().Add("FOO=1");
        var bundle = OciBundles.WriteBundle(dir, "b", config);
        const string Report = "echo $FOO $NEW; env | grep -c ^FOO=; pwd; id -u; id -g; id -G; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status";
        string[][] execs =
        [
            ["--env", "FOO=3", "--env", "NEW=x", "--cwd", "/tmp", "--user", "1000:1000", "--additional-gids", "20", "--cap", "CAP_NET_ADMIN", "--no-new-privs"],
            ["--cap", "CAP_NET_ADMIN"],
            [],
        ];
        var outputs = new Dictionary<string, List<string>>();
        foreach (var (name, binary) in new[] { ("runc", RuncPath()), ("craterun-oci", Oci()) })
        {
            var root = Path.Combine(dir, name + "-root");
            var id = "execflags-" + Guid.NewGuid().ToString("N")[..8];
            try
            {
                var run = await Proc.Run(binary, ["--root", root, "run", "-d", "--bundle", bundle, id], timeout: TimeSpan.FromSeconds(20));
                Assert.True(run.ExitCode == 0, $"{name}: {run}");
                outputs[name] = [];
                foreach (var flags in execs)
                {
                    var e = await Proc.Run(binary, ["--root", root, "exec", .. flags, id, "sh", "-c", Report]);
                    Assert.True(e.ExitCode == 0, $"{name} exec {string.Join(' ', flags)}: {e}");
                    outputs[name].Add(e.Stdout);
                }
            }
            finally
            {
                await Proc.Run(binary, ["--root", root, "delete", "--force", id]);
            }
        }
        Assert.Equal(outputs["runc"], outputs["craterun-oci"]);
        var all = outputs["craterun-oci"][0].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["3 x", "1", "/tmp", "1000", "1000", "1000 20"], all[..6]);
        Assert.Contains("NoNewPrivs:\t1", all);
        // CAP_NET_ADMIN (12) joins the bounding set; a non-root user's effective set is empty (runc's too)
        Assert.Contains(all, l => l.StartsWith("CapBnd:", StringComparison.Ordinal) && (Convert.ToUInt64(l[7..].Trim(), 16) & (1UL << 12)) != 0);
        var asRoot = outputs["craterun-oci"][1].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(asRoot, l => l.StartsWith("CapEff:", StringComparison.Ordinal) && (Convert.ToUInt64(l[7..].Trim(), 16) & (1UL << 12)) != 0);
        var plain = outputs["craterun-oci"][2].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(plain, l => l.StartsWith("CapEff:", StringComparison.Ordinal) && (Convert.ToUInt64(l[7..].Trim(), 16) & (1UL << 12)) == 0);
        Assert.Equal(["1", "1"], plain[..2]); // FOO=1 from config.json alone, once
    }

    /// <summary>
    /// The per-container commands in the spellings callers send them: containerd's shim puts
    /// --root/--log/--log-format json before the command and reads the error from the log
    /// (as JSON: level, msg); conmon and scripts write --root=R, -a, -f. runc is the reference
    /// for the exit code and the log line; both runtimes must leave a JSON error line.
    /// </summary>
    [RootFact]
    public async Task Short_commands_take_the_global_options_shims_send_and_log_errors_as_runc_does()
    {
        var dir = NewDir("short");
        var bundle = OciBundles.WriteBundle(dir, "b", BaseConfig(["sleep", "1000"]));
        foreach (var (name, binary) in new[] { ("runc", RuncPath()), ("craterun-oci", Oci()) })
        {
            var root = Path.Combine(dir, name + "-root");
            var log = Path.Combine(dir, name + "-log.json");
            var id = "short-" + Guid.NewGuid().ToString("N")[..8];
            string[] shim = ["--root", root, "--log", log, "--log-format", "json"];
            try
            {
                // errors on a container that is not there: exit 1, "does not exist", one JSON error line in --log
                foreach (string[] args in new[] { new[] { "state", id }, ["kill", "--all", id, "9"], ["delete", id], ["start", id] })
                {
                    File.Delete(log);
                    var r = await Proc.Run(binary, [.. shim, .. args]);
                    Assert.True(r.ExitCode == 1 && r.Stderr.Contains("does not exist"), $"{name} {string.Join(' ', args)}: {r}");
                    var error = File.ReadAllLines(log).Select(l => JsonNode.Parse(l)!.AsObject()).Where(o => (string?)o["level"] == "error").ToList();
                    Assert.True(error.Count == 1 && ((string)error[0]["msg"]!).Contains("does not exist"), $"{name} {string.Join(' ', args)}: log {File.ReadAllText(log)}");
                }
                Assert.Equal(0, (await Proc.Run(binary, [.. shim, "delete", "--force", id])).ExitCode);
                // two commands writing to one file, as a script's `{ ...; ...; } >FILE 2>&1`: both lines stay
                var both = Path.Combine(dir, name + "-both.txt");
                var sh = await Proc.Run("/bin/sh", ["-c", "{ \"$0\" --root \"$1\" state \"$2\"; \"$0\" --root \"$1\" state \"$2\"; } >\"$3\" 2>&1", binary, root, id, both]);
                Assert.True(File.ReadAllLines(both).Count(l => l.Contains("does not exist")) == 2, $"{name}: {File.ReadAllText(both)} ({sh})");

                // the shim's create and start; the pid file holds the process that state reports
                var pidFile = Path.Combine(dir, name + ".pid");
                var create = await Proc.Run(binary, [.. shim, "create", "--bundle", bundle, "--pid-file", pidFile, id], timeout: TimeSpan.FromSeconds(20));
                Assert.True(create.ExitCode == 0, $"{name}: {create}");
                var start = await Proc.Run(binary, [.. shim, "start", id]);
                Assert.True(start.ExitCode == 0, $"{name}: {start}");
                var state = await Proc.Run(binary, ["--root=" + root, "state", id]);
                Assert.True(state.ExitCode == 0 && (string?)JsonNode.Parse(state.Stdout)!["status"] == "running", $"{name}: {state}");
                Assert.Equal(File.ReadAllText(pidFile).Trim(), ((int)JsonNode.Parse(state.Stdout)!["pid"]!).ToString());
                var kill = await Proc.Run(binary, ["--root", root, "--log", log, "kill", "-a", id, "KILL"]);
                Assert.True(kill.ExitCode == 0, $"{name}: {kill}");
                var deadline = DateTime.UtcNow.AddSeconds(10);
                while (!(await Proc.Run(binary, ["--root", root, "state", id])).Stdout.Contains("\"stopped\"") && DateTime.UtcNow < deadline) await Task.Delay(20);
                var delete = await Proc.Run(binary, ["--root", root, "delete", "-f", id]);
                Assert.True(delete.ExitCode == 0, $"{name}: {delete}");
                Assert.False(Directory.Exists(Path.Combine(root, id)), $"{name}: state left behind");
            }
            finally
            {
                await Proc.Run(binary, ["--root", root, "delete", "--force", id]);
            }
        }
    }

    // ---- item 8: flags scripts use ----------------------------------------------------------

    [RootFact]
    public async Task Version_help_debug_log_and_runcs_flag_spellings_work()
    {
        foreach (string[] args in new[] { new[] { "--version" }, ["-v"], ["--root", "/tmp/x", "--version"] })
        {
            var v = await Proc.Run(Oci(), args);
            Assert.True(v.ExitCode == 0 && v.Stdout.Contains("version"), v.ToString());
        }
        // CMD -h for every command runc has and we have
        foreach (var cmd in new[] { "create", "start", "state", "kill", "delete", "run", "exec", "list", "ps", "pause", "resume", "events", "update", "spec", "features" })
        {
            var h = await Proc.Run(Oci(), [cmd, "-h"]);
            Assert.True(h.ExitCode == 0 && h.Stdout.Contains(cmd), $"{cmd} -h: {h}");
        }

        var dir = NewDir("flags");
        var root = Path.Combine(dir, "root");
        var id = "flags-" + Guid.NewGuid().ToString("N")[..8];
        var bundle = OciBundles.WriteBundle(dir, "b", BaseConfig(["sleep", "1000"]));
        try
        {
            Assert.Equal(0, (await Proc.Run(Oci(), ["--root", root, "run", "-d", "--bundle", bundle, id])).ExitCode);
            // --debug: logrus-shaped debug lines in --log, in both formats
            var jsonLog = Path.Combine(dir, "log.json");
            var s = await Proc.Run(Oci(), ["--root", root, "--debug", "--log", jsonLog, "--log-format", "json", "state", id]);
            Assert.True(s.ExitCode == 0, s.ToString());
            var lines = File.ReadAllLines(jsonLog);
            Assert.NotEmpty(lines);
            foreach (var line in lines)
            {
                var o = JsonNode.Parse(line)!.AsObject();
                Assert.Equal("debug", (string)o["level"]!);
                Assert.False(string.IsNullOrEmpty((string?)o["msg"]));
                Assert.True(DateTimeOffset.TryParse((string)o["time"]!, out _), line);
            }
            var textLog = Path.Combine(dir, "log.txt");
            await Proc.Run(Oci(), ["--root", root, "--debug", "--log", textLog, "state", id]);
            Assert.Matches("^time=\"[^\"]+\" level=debug msg=\".+\"$", File.ReadAllLines(textLog)[0]);

            // runc's spelling --cpu-share (scripts and older Docker send it)
            var u = await Proc.Run(Oci(), ["--root", root, "update", "--cpu-share", "512", id]);
            Assert.True(u.ExitCode == 0, u.ToString());
            var cgroups = Cgroups(root, id);
            Assert.Equal("512", HostState.ReadCgroupFile(cgroups["cpu"], "cpu.shares"));

            // exec --cgroup: the process runs in an existing sub-cgroup of the container's
            var sub = Path.Combine(cgroups["pids"], "sub");
            Directory.CreateDirectory(sub);
            try
            {
                var e = await Proc.Run(Oci(), ["--root", root, "exec", "--cgroup", "pids:sub", id, "cat", "/proc/self/cgroup"]);
                Assert.True(e.ExitCode == 0, e.ToString());
                Assert.Matches(@"(?m)^\d+:pids:/.*sub$", e.Stdout);
                var missing = await Proc.Run(Oci(), ["--root", root, "exec", "--cgroup", "pids:nosuch", id, "true"]);
                Assert.True(missing.ExitCode == 255 && missing.Stderr.Contains("nosuch"), missing.ToString());
            }
            finally
            {
                Directory.Delete(sub);
            }
        }
        finally
        {
            await Proc.Run(Oci(), ["--root", root, "delete", "--force", id]);
        }
    }

    /// <summary>The container's cgroup directories as its state records them.</summary>
    private static Dictionary<string, string> Cgroups(string root, string id)
    {
        var meta = JsonNode.Parse(File.ReadAllText(Path.Combine(root, id, "metadata.json")))!;
        return meta["cgroupPaths"]!.AsObject().ToDictionary(kv => kv.Key, kv => (string)kv.Value!);
    }

    private static string RuncPath() =>
        new[] { "/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc" }.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("runc is not installed (tests/install-prereqs.sh installs it): the reference for these tests");

    private string Oci()
    {
        var link = Path.Combine(Path.GetDirectoryName(f.Binary)!, "craterun-oci");
        return File.Exists(link) ? link : throw new InvalidOperationException($"{link} is missing (dotnet publish makes it)");
    }

    private string NewDir(string prefix)
    {
        var dir = Path.Combine(f.TempBase, prefix + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>A config both runtimes run as it is: runc spec's shape, without a terminal.</summary>
    private JsonObject BaseConfig(string[] args, bool terminal = false) => new()
    {
        ["ociVersion"] = "1.0.2",
        ["process"] = new JsonObject
        {
            ["terminal"] = terminal,
            ["args"] = new JsonArray([.. args.Select(a => (JsonNode)a!)]),
            ["cwd"] = "/",
            ["env"] = new JsonArray("PATH=/bin:/usr/bin:/sbin:/usr/sbin", "TERM=xterm"),
        },
        ["root"] = new JsonObject { ["path"] = f.Rootfs },
        ["mounts"] = new JsonArray(
            new JsonObject { ["destination"] = "/proc", ["type"] = "proc", ["source"] = "proc" },
            new JsonObject { ["destination"] = "/dev", ["type"] = "tmpfs", ["source"] = "tmpfs", ["options"] = new JsonArray("nosuid", "strictatime", "mode=755", "size=65536k") },
            new JsonObject { ["destination"] = "/dev/pts", ["type"] = "devpts", ["source"] = "devpts", ["options"] = new JsonArray("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620") },
            new JsonObject { ["destination"] = "/tmp", ["type"] = "tmpfs", ["source"] = "tmpfs" }),
        ["linux"] = new JsonObject
        {
            ["namespaces"] = new JsonArray(
                new JsonObject { ["type"] = "pid" }, new JsonObject { ["type"] = "mount" }, new JsonObject { ["type"] = "ipc" },
                new JsonObject { ["type"] = "uts" }, new JsonObject { ["type"] = "network" }),
        },
    };

}
