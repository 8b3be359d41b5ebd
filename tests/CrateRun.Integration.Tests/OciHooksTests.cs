using System.Text.Json.Nodes;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// The OCI face runs every kind of hook at its moment, with the state on stdin:
/// prestart/createRuntime in the runtime's namespace, createContainer in the container's
/// (before pivot_root, path on the host), startContainer inside the container after start,
/// poststart after start, poststop after delete. A failing hook fails create and leaves nothing.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class OciHooksTests(CrateRunFixture f)
{
    [RootFact]
    public async Task Every_hook_runs_at_its_moment_with_the_state_on_stdin()
    {
        var dir = Path.Combine(f.TempBase, "hooks-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var log = Path.Combine(dir, "hooks.log");
        var hook = Path.Combine(dir, "hook.sh");
        File.WriteAllText(hook, $"#!/bin/sh\necho \"$1 $(cat)\" >> {log}\n");
        File.SetUnixFileMode(hook, (UnixFileMode)0x1ED /* 0755 */);
        var root = Path.Combine(dir, "oci-root");
        var id = "hooks-" + Guid.NewGuid().ToString("N")[..8];
        var config = BaseConfig(
            ["/bin/sh", "-c", "echo user-process; cat /tmp/start-state.json; echo"],
            new JsonObject
            {
                ["prestart"] = Hooks(hook, "prestart"),
                ["createRuntime"] = Hooks(hook, "createRuntime"),
                ["createContainer"] = Hooks(hook, "createContainer"),
                ["startContainer"] = new JsonArray(new JsonObject { ["path"] = "/bin/sh", ["args"] = new JsonArray("sh", "-c", "cat > /tmp/start-state.json") }),
                ["poststart"] = Hooks(hook, "poststart"),
                ["poststop"] = Hooks(hook, "poststop"),
            });
        var bundle = Bundle(dir, "ok", config);
        var r = await Proc.Run(Oci(), ["--root", root, "run", "--bundle", bundle, id], timeout: TimeSpan.FromSeconds(30));
        Assert.True(r.ExitCode == 0, r.ToString());
        // startContainer ran inside the container (its /tmp) before the user's process, which saw the state
        Assert.Contains("user-process", r.Stdout);
        Assert.Contains($"\"id\":\"{id}\"", r.Stdout);
        var lines = File.ReadAllLines(log);
        Assert.Equal(["prestart", "createRuntime", "createContainer", "poststart", "poststop"], lines.Select(l => l.Split(' ')[0]));
        foreach (var l in lines) Assert.Contains($"\"id\":\"{id}\"", l);
        Assert.Contains("\"status\":\"creating\"", lines[0]);
        Assert.Contains("\"status\":\"stopped\"", lines[^1]);
        Assert.False(Directory.Exists(Path.Combine(root, id)));
    }

    [RootFact]
    public async Task A_failing_createContainer_hook_fails_create_and_leaves_nothing()
    {
        var dir = Path.Combine(f.TempBase, "hooks-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var root = Path.Combine(dir, "oci-root");
        var id = "hookfail-" + Guid.NewGuid().ToString("N")[..8];
        var bundle = Bundle(dir, "fail", BaseConfig(["/bin/true"],
            new JsonObject { ["createContainer"] = new JsonArray(new JsonObject { ["path"] = "/bin/false" }) }));
        var r = await Proc.Run(Oci(), ["--root", root, "create", "--bundle", bundle, id], timeout: TimeSpan.FromSeconds(30));
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Contains("hook", r.Stderr);
        Assert.False(Directory.Exists(Path.Combine(root, id)), "state left behind");
        Assert.Empty(Directory.GetDirectories("/sys/fs/cgroup/pids", "craterun-" + id));
    }

    [RootFact]
    public async Task A_hook_runs_with_its_own_argv0()
    {
        // The spec's args follow execv: args[0] is argv[0], which need not be the path. Docker's
        // libnetwork-setkey prestart hook is /proc/<dockerd>/exe with argv[0] "libnetwork-setkey"
        // (dockerd dispatches on it); busybox does the same, so "sh" runs only as argv[0].
        var dir = Path.Combine(f.TempBase, "hooks-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var log = Path.Combine(dir, "argv0.log");
        var root = Path.Combine(dir, "oci-root");
        var id = "hookargv0-" + Guid.NewGuid().ToString("N")[..8];
        var hook = new JsonObject
        {
            ["path"] = "/bin/busybox",
            ["args"] = new JsonArray("sh", "-c", $"read -r state; echo \"$0 ${{#state}}\" >> {log}"),
            ["env"] = new JsonArray("PATH=/bin:/usr/bin"),
        };
        var bundle = Bundle(dir, "argv0", BaseConfig(["/bin/true"], new JsonObject
        {
            ["prestart"] = new JsonArray(hook.DeepClone()),
            ["poststop"] = new JsonArray(hook.DeepClone()),
        }));
        var r = await Proc.Run(Oci(), ["--root", root, "run", "--bundle", bundle, id], timeout: TimeSpan.FromSeconds(30));
        Assert.True(r.ExitCode == 0, r.ToString());
        // each ran as "sh" and read the state from its stdin
        var lines = File.ReadAllLines(log);
        Assert.Equal(2, lines.Length);
        foreach (var l in lines) Assert.Matches("^sh [1-9][0-9]+$", l);
    }

    private string Oci()
    {
        var link = Path.Combine(Path.GetDirectoryName(f.Binary)!, "craterun-oci");
        return File.Exists(link) ? link : throw new InvalidOperationException($"{link} is missing (dotnet publish makes it)");
    }

    private static JsonArray Hooks(string path, string name) =>
        new(new JsonObject { ["path"] = path, ["args"] = new JsonArray("hook.sh", name) });

    private JsonObject BaseConfig(string[] args, JsonObject hooks) => new()
    {
        ["ociVersion"] = "1.2.0",
        ["process"] = new JsonObject
        {
            ["args"] = new JsonArray([.. args.Select(a => (JsonNode)a!)]),
            ["cwd"] = "/",
            ["env"] = new JsonArray("PATH=/bin:/usr/bin"),
        },
        ["root"] = new JsonObject { ["path"] = f.Rootfs },
        ["mounts"] = new JsonArray(
            new JsonObject { ["destination"] = "/proc", ["type"] = "proc", ["source"] = "proc" },
            new JsonObject { ["destination"] = "/tmp", ["type"] = "tmpfs", ["source"] = "tmpfs" }),
        ["hooks"] = hooks,
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
