using System.Text.Json.Nodes;
using CrateRun.Core.Oci;
using CrateRun.Core.Security;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// runtime.md's lifecycle over a matrix of configs from `runc spec`, one factor at a time around its default
/// (namespaces new / omitted / joined by path, user namespace with mappings, every rootfsPropagation value,
/// seccomp none or Docker's default with and without no_new_privs, hooks that do and don't read their stdin,
/// kill by TERM or KILL). Each cell: create → state "created" with a live pid → start → state "running" →
/// kill → state "stopped" → delete → state "does not exist", and nothing left: no state directory under
/// --root, no process of the container or of the runtime, no cgroup named after the id.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class OciLifecycleMatrixTests(CrateRunFixture f)
{
    /// <summary>A process that ends on TERM even as pid 1 of a pid namespace (where TERM without a handler is ignored), taking its child along.</summary>
    private static readonly string[] WaitForSignal = ["/bin/sh", "-c", "trap 'kill $! 2>/dev/null; exit 0' TERM; sleep 30 & wait"];

    /// <summary>The namespace types varied, with their /proc/PID/ns file and unshare's flag.</summary>
    private static readonly (string Type, string File, string Flag)[] NamespaceTypes =
    [
        ("network", "net", "--net"), ("pid", "pid", "--pid"), ("ipc", "ipc", "--ipc"), ("uts", "uts", "--uts"), ("cgroup", "cgroup", "--cgroup"),
    ];

    private static readonly string[] Propagations = ["shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable"];

    private static readonly string[] HookPhases = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"];

    /// <summary>Hooks that run in the runtime's namespace (runtime-spec config.md); their path and files are the host's.</summary>
    private static readonly HashSet<string> RuntimeNamespaceHooks = ["prestart", "createRuntime", "poststart", "poststop"];

    public static TheoryData<string> Cells()
    {
        var cells = new TheoryData<string> { "default" };
        foreach (var (type, _, _) in NamespaceTypes)
            foreach (var mode in new[] { "new", "omitted", "joined" }) cells.Add($"ns-{type}-{mode}");
        cells.Add("ns-user-new-mapped");
        foreach (var p in Propagations) cells.Add($"propagation-{p}");
        foreach (var nnp in new[] { "nnp", "no-nnp" })
        {
            cells.Add($"seccomp-none-{nnp}");
            cells.Add($"seccomp-docker-{nnp}");
        }
        cells.Add("hook-prestart-true");
        foreach (var phase in HookPhases) cells.Add($"hook-{phase}-stdin");
        cells.Add("kill-KILL");
        return cells;
    }

    [RootTheory]
    [MemberData(nameof(Cells))]
    public async Task Every_cell_goes_through_the_lifecycle_and_leaves_nothing(string cell)
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec(WaitForSignal);
        var id = OciBundles.NewId("matrix");
        CrateRunFixture.Track(id);
        var signal = "TERM";
        var nsChecks = new List<(string File, string Expected)>(); // "new", "host", or a namespace link
        RunningProc? holder = null;
        var hookFiles = new List<string>();
        try
        {
            var parts = cell.Split('-');
            switch (parts[0])
            {
                case "default":
                    break;
                case "ns" when parts[1] == "user":
                    NewNamespace(config, "user");
                    var map = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 100000, ["size"] = 65536 });
                    config["linux"]!["uidMappings"] = map;
                    config["linux"]!["gidMappings"] = map.DeepClone();
                    nsChecks.Add(("user", "new"));
                    break;
                case "ns":
                    var (type, file, flag) = NamespaceTypes.Single(n => n.Type == parts[1]);
                    switch (parts[2])
                    {
                        case "new":
                            NewNamespace(config, type);
                            nsChecks.Add((file, "new"));
                            break;
                        case "omitted":
                            OciBundles.RemoveNamespace(config, type);
                            if (type == "uts") config.Remove("hostname"); // a hostname needs a UTS namespace (runc refuses it too)
                            nsChecks.Add((file, "host"));
                            break;
                        case "joined":
                            (holder, var nsPath) = await NamespaceHolder(flag, file);
                            NewNamespace(config, type);
                            OciBundles.SetNamespacePath(config, type, nsPath);
                            nsChecks.Add((file, new FileInfo(nsPath).LinkTarget!));
                            break;
                    }
                    break;
                case "propagation":
                    config["linux"]!["rootfsPropagation"] = parts[1];
                    break;
                case "seccomp":
                    config["process"]!["noNewPrivileges"] = parts[2] == "nnp";
                    if (parts[1] == "docker")
                    {
                        var caps = config["process"]!["capabilities"]!["bounding"]!.AsArray().Select(c => (string)c!).ToHashSet();
                        config["linux"]!["seccomp"] = JsonNode.Parse(OciJson.Write(DefaultSeccompProfile.Create(caps)));
                    }
                    break;
                case "hook":
                    var phase = parts[1];
                    JsonObject hook;
                    if (parts[2] == "true")
                        hook = new JsonObject { ["path"] = "/bin/true", ["args"] = new JsonArray("true") };
                    else if (RuntimeNamespaceHooks.Contains(phase))
                    {
                        // reads the state on its stdin to the end and keeps it, to show it got the state
                        var kept = Path.Combine(oci.Dir, $"hook-{phase}.json");
                        hookFiles.Add(kept);
                        hook = new JsonObject { ["path"] = "/bin/sh", ["args"] = new JsonArray("sh", "-c", $"cat > {kept}") };
                    }
                    else // runs in the container: its /bin/sh, and nothing written into the shared rootfs
                        hook = new JsonObject { ["path"] = "/bin/sh", ["args"] = new JsonArray("sh", "-c", "cat > /dev/null") };
                    config["hooks"] = new JsonObject { [phase] = new JsonArray(hook) };
                    break;
                case "kill":
                    signal = parts[1];
                    break;
                default:
                    throw new InvalidOperationException("unknown cell " + cell);
            }

            await Lifecycle(oci, config, id, signal, nsChecks);

            foreach (var kept in hookFiles)
            {
                Assert.True(File.Exists(kept), $"the hook never ran ({kept} missing)");
                var state = JsonNode.Parse(File.ReadAllText(kept))!;
                Assert.Equal(id, (string?)state["id"]);
            }
            if (holder is not null)
                Assert.False(holder.HasExited, "the namespace's holder died with the container that joined it");
        }
        finally
        {
            await oci.Run("delete", "--force", id);
            holder?.Dispose();
        }
    }

    /// <summary>runtime.md's operations in order, each checked as the spec says, then that nothing is left.</summary>
    private async Task Lifecycle(OciBundles oci, JsonObject config, string id, string signal, List<(string File, string Expected)> nsChecks)
    {
        var bundle = oci.Write(config);
        await Create(oci, bundle, id);

        var (status, pid) = await State(oci, id);
        Assert.Equal("created", status);
        Assert.True(pid > 0 && Directory.Exists($"/proc/{pid}"), $"created: pid {pid} does not exist");
        foreach (var (file, expected) in nsChecks)
        {
            var ns = OciBundles.Ns(pid.ToString(), file);
            var host = OciBundles.Ns("self", file);
            if (expected == "new") Assert.True(ns != host, $"{file}: the container shares the runtime's namespace {ns}");
            else if (expected == "host") Assert.True(ns == host, $"{file}: the container has {ns}, the runtime {host}");
            else Assert.True(ns == expected, $"{file}: the container has {ns}, the joined one is {expected}");
        }

        await Must(oci, "start", id);
        (status, var runningPid) = await State(oci, id);
        Assert.Equal("running", status);
        Assert.Equal(pid, runningPid);
        Assert.True(Directory.Exists($"/proc/{pid}"), $"running: pid {pid} does not exist");
        // the leak check below looks for these; they must be found while the container lives
        Assert.True(CgroupsNamed(id).Count > 0, $"running: no cgroup named after {id} under {HostState.CgroupRoot}");

        await Must(oci, "kill", id, signal);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while ((await State(oci, id)).Status != "stopped" && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Equal("stopped", (await State(oci, id)).Status);

        await Must(oci, "delete", id);
        var gone = await oci.Run("state", id);
        Assert.True(gone.ExitCode != 0 && gone.Stderr.Contains("does not exist"), "state after delete: " + gone);

        await AssertNothingLeft(oci, id, pid);
    }

    private async Task AssertNothingLeft(OciBundles oci, string id, int pid)
    {
        var deadline = DateTime.UtcNow.AddSeconds(3);
        List<string> problems;
        do
        {
            problems = [];
            if (oci.StateLeft(id)) problems.Add($"state directory {Path.Combine(oci.StateRoot, id)}");
            if (Directory.Exists($"/proc/{pid}")) problems.Add($"process {pid} (the container's): {Cmdline(pid)}");
            foreach (var cg in CgroupsNamed(id)) problems.Add($"cgroup {cg}");
            foreach (var (p, cmd) in HostState.ProcessesOf(f.Binary, oci.StateRoot)) problems.Add($"runtime process {p}: {cmd}");
            foreach (var (p, line) in HostState.ProcessesInContainers([id])) problems.Add($"process {p} in {line}");
            if (problems.Count == 0) return;
            await Task.Delay(100);
        } while (DateTime.UtcNow < deadline);
        Assert.Fail("left behind after delete:\n  " + string.Join("\n  ", problems));
    }

    private static string Cmdline(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' '); }
        catch (IOException) { return "(gone)"; }
    }

    /// <summary>Cgroup directories under /sys/fs/cgroup named after the id (bare, as runc names one without cgroupsPath, or craterun-ID).</summary>
    private static List<string> CgroupsNamed(string id)
    {
        var found = new List<string>();
        Walk(HostState.CgroupRoot, 1);
        return found;

        void Walk(string dir, int depth)
        {
            if (depth > 5) return;
            IEnumerable<string> subdirs;
            try { subdirs = Directory.EnumerateDirectories(dir).ToList(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
            foreach (var d in subdirs)
            {
                if (new DirectoryInfo(d).LinkTarget is not null) continue;
                var name = Path.GetFileName(d);
                if (name == id || name == "craterun-" + id) found.Add(d);
                Walk(d, depth + 1);
            }
        }
    }

    /// <summary>
    /// `create`, its stdio files of its own: the container's process inherits them (as with runc without a terminal),
    /// so pipes would stay open as long as the container runs.
    /// </summary>
    private async Task Create(OciBundles oci, string bundle, string id)
    {
        var output = Path.Combine(oci.Dir, "create-" + id);
        var line = Proc.Describe(oci.Oci, ["--root", oci.StateRoot, "create", "--bundle", bundle, id]);
        var r = await Proc.Run("/bin/sh", ["-c", $"exec {line} </dev/null >{output}.out 2>{output}.err"], timeout: TimeSpan.FromSeconds(30), env: f.Env);
        Assert.True(r.ExitCode == 0 && !r.TimedOut,
            $"{line}: exit {r.ExitCode}\n{File.ReadAllText(output + ".out")}{File.ReadAllText(output + ".err")}");
    }

    private static async Task Must(OciBundles oci, params string[] args)
    {
        var r = await oci.Run(args);
        Assert.True(r.ExitCode == 0 && !r.TimedOut, r.ToString());
    }

    private static async Task<(string Status, int Pid)> State(OciBundles oci, string id)
    {
        var r = await oci.Run("state", id);
        Assert.True(r.ExitCode == 0, r.ToString());
        var state = JsonNode.Parse(r.Stdout)!;
        Assert.Equal(id, (string?)state["id"]);
        return ((string)state["status"]!, (int?)state["pid"] ?? 0);
    }

    /// <summary>Adds a namespace of this type to linux.namespaces unless runc spec already has one.</summary>
    private static void NewNamespace(JsonObject config, string type)
    {
        var ns = OciBundles.Namespaces(config);
        if (!ns.Any(n => (string?)n!["type"] == type)) ns.Add((JsonNode)new JsonObject { ["type"] = type });
    }

    /// <summary>
    /// A namespace of our own making, held by a sleeping process: `unshare FLAG sleep 60` (for pid with --fork, since
    /// unshare itself stays outside the pid namespace it makes; its child is the one inside). Returns the holder and
    /// the /proc/PID/ns path to join.
    /// </summary>
    private static async Task<(RunningProc Holder, string Path)> NamespaceHolder(string flag, string file)
    {
        var holder = Proc.Start("unshare", flag == "--pid" ? [flag, "--fork", "sleep", "60"] : [flag, "sleep", "60"]);
        var own = OciBundles.Ns("self", file);
        for (var i = 0; i < 100; i++)
        {
            try
            {
                var pid = holder.Pid.ToString();
                if (flag == "--pid")
                {
                    var children = File.ReadAllText($"/proc/{pid}/task/{pid}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (children.Length == 1) pid = children[0];
                    else pid = "";
                }
                if (pid != "" && OciBundles.Ns(pid, file) != own) return (holder, $"/proc/{pid}/ns/{file}");
            }
            catch (IOException)
            {
            }
            await Task.Delay(20);
        }
        holder.Dispose();
        throw new InvalidOperationException($"unshare {flag} never made its {file} namespace");
    }
}
