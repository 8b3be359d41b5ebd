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
        var bundle = OciBundles.WriteBundle(dir, "ok", config);
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
        var bundle = OciBundles.WriteBundle(dir, "fail", BaseConfig(["/bin/true"],
            new JsonObject { ["createContainer"] = new JsonArray(new JsonObject { ["path"] = "/bin/false" }) }));
        var r = await Proc.Run(Oci(), ["--root", root, "create", "--bundle", bundle, id], timeout: TimeSpan.FromSeconds(30));
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Contains("hook", r.Stderr);
        Assert.False(Directory.Exists(Path.Combine(root, id)), "state left behind");
        Assert.Empty(Directory.GetDirectories("/sys/fs/cgroup/pids", "craterun-" + id));
    }

    /// <summary>Annotations that make the state JSON larger than a pipe holds (64 KiB).</summary>
    private static JsonObject LargeAnnotations()
    {
        var a = new JsonObject();
        for (var i = 0; i < 100; i++) a[$"org.example.big-{i}"] = new string('x', 1024);
        return a;
    }

    [RootFact]
    public async Task Hooks_that_never_read_a_large_state_do_not_fail()
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/true");
        config["annotations"] = LargeAnnotations();
        // /bin/true exits without reading stdin: the runtime's write of the state meets EPIPE
        JsonArray True() => new(new JsonObject { ["path"] = "/bin/true" });
        config["hooks"] = new JsonObject
        {
            ["prestart"] = True(), ["createRuntime"] = True(), ["createContainer"] = True(),
            ["startContainer"] = True(), ["poststart"] = True(), ["poststop"] = True(),
        };
        var id = OciBundles.NewId("hookpipe");
        var r = await oci.RunBundle(config, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stderr); // not even a warning
        Assert.False(oci.StateLeft(id));
    }

    [RootFact]
    public async Task A_prestart_hook_past_its_timeout_is_killed_and_fails_create_in_time()
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/true");
        config["annotations"] = LargeAnnotations(); // a state the hook never reads must not hold us past the timeout
        config["hooks"] = new JsonObject
        {
            ["prestart"] = new JsonArray(new JsonObject { ["path"] = "/bin/sleep", ["args"] = new JsonArray("sleep", "30"), ["timeout"] = 1 }),
        };
        var id = OciBundles.NewId("hooktime");
        CrateRunFixture.Track(id);
        var before = Snapshot.Take(f);
        var r = await oci.RunWith(TimeSpan.FromSeconds(25), "create", "--bundle", oci.Write(config), id);
        Assert.False(r.TimedOut, r.ToString());
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.True(r.Elapsed < TimeSpan.FromSeconds(10), $"create took {r.Elapsed}\n{r}");
        Assert.Contains("prestart hook /bin/sleep failed: timed out after 1s", Assert.Single(r.ErrLines));
        before.AssertNothingLeft(f, r);
        Assert.False(oci.StateLeft(id));
    }

    [RootFact]
    public async Task A_createContainer_hook_past_its_timeout_is_killed_and_fails_create_in_time()
    {
        // createContainer hooks are run by the container process itself (the C stage), with the state in a memfd
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/true");
        config["annotations"] = LargeAnnotations();
        config["hooks"] = new JsonObject
        {
            ["createContainer"] = new JsonArray(new JsonObject { ["path"] = "/bin/sleep", ["args"] = new JsonArray("sleep", "30"), ["timeout"] = 1 }),
        };
        var id = OciBundles.NewId("hooktime2");
        CrateRunFixture.Track(id);
        var before = Snapshot.Take(f);
        var r = await oci.RunWith(TimeSpan.FromSeconds(25), "create", "--bundle", oci.Write(config), id);
        Assert.False(r.TimedOut, r.ToString());
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.True(r.Elapsed < TimeSpan.FromSeconds(10), $"create took {r.Elapsed}\n{r}");
        Assert.Contains("hook", Assert.Single(r.ErrLines));
        before.AssertNothingLeft(f, r);
    }

    [RootFact]
    public async Task Failing_poststart_and_poststop_hooks_only_warn()
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/sh", "-c", "exit 3");
        config["hooks"] = new JsonObject
        {
            ["poststart"] = new JsonArray(new JsonObject { ["path"] = "/bin/false" }),
            ["poststop"] = new JsonArray(new JsonObject { ["path"] = "/bin/false" }),
        };
        var id = OciBundles.NewId("hookwarn");
        var r = await oci.RunBundle(config, id);
        // config.md: a poststart/poststop failure is logged as a warning; the operation goes on
        Assert.True(r.ExitCode == 3, r.ToString());
        Assert.Equal(2, r.ErrLines.Length);
        Assert.Contains("warning: poststart hook /bin/false failed: exit status 1", r.ErrLines[0]);
        Assert.Contains("warning: poststop hook /bin/false failed: exit status 1", r.ErrLines[1]);
        Assert.False(oci.StateLeft(id));
    }

    [RootFact]
    public async Task CreateContainer_hooks_run_in_the_containers_root()
    {
        var oci = new OciBundles(f);
        var log = Path.Combine(oci.Dir, "hook-cwd.log");
        var config = await oci.RuncSpec("/bin/true");
        // before pivot_root, in the container's mount namespace: host paths still resolve
        config["hooks"] = new JsonObject
        {
            ["createContainer"] = new JsonArray(new JsonObject { ["path"] = "/bin/sh", ["args"] = new JsonArray("sh", "-c", $"pwd > {log}") }),
        };
        var r = await oci.RunBundle(config, OciBundles.NewId("hookcwd"));
        Assert.True(r.ExitCode == 0, r.ToString());
        // runc runs them in the rootfs (its working directory then), not in the bundle
        Assert.Equal(f.Rootfs, File.ReadAllText(log).Trim());
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
        var bundle = OciBundles.WriteBundle(dir, "argv0", BaseConfig(["/bin/true"], new JsonObject
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

}
