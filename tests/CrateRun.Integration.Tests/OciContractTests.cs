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
        var bundle = Bundle(dir, "b", BaseConfig(["sleep", "1000"]));
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

    private static string Bundle(string dir, string name, JsonObject config)
    {
        var bundle = Path.Combine(dir, name);
        Directory.CreateDirectory(bundle);
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        return bundle;
    }
}
