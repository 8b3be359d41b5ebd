using System.Text.Json.Nodes;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// Issue 14: the runtime that launched a container dies while the half-made container process
/// waits for it (a client's SIGKILL or OOM kill of `create`, a crash). That process must notice
/// and exit by itself: it waits on the sync socket, which reaches EOF only when no process
/// holds the runtime's end any more. createRuntime hooks are run by the runtime itself (the
/// runtime-spec: "in the runtime namespace"), while the container process waits to be told to
/// go on, so a hook that kills its parent kills the runtime at exactly that point.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class RuntimeDeathTests(CrateRunFixture f)
{
    [RootTheory]
    [InlineData(false)] // the cloned process is the container process
    [InlineData(true)]  // a time namespace: stage 1 unshares it and clones the container process (the path exec's joins take too)
    public async Task A_container_process_whose_runtime_is_killed_during_create_exits_by_itself(bool twoStages)
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/sleep", "1000");
        if (twoStages) OciBundles.Namespaces(config).Add((JsonNode)new JsonObject { ["type"] = "time" });
        var stateCopy = Path.Combine(oci.Dir, "hook-state.json");
        var killedPid = Path.Combine(oci.Dir, "killed.pid");
        config["hooks"] = new JsonObject
        {
            // the hook's parent is the runtime that runs it: SIGKILL it while the container process waits
            ["createRuntime"] = new JsonArray(new JsonObject
            {
                ["path"] = "/bin/sh",
                ["args"] = new JsonArray("sh", "-c", $"cat > {stateCopy}; echo $PPID > {killedPid}; kill -KILL $PPID"),
            }),
        };
        var id = OciBundles.NewId("rtdeath");
        CrateRunFixture.Track(id);
        var before = Snapshot.Take(f);
        var r = await oci.RunWith(TimeSpan.FromSeconds(30), "create", "--bundle", oci.Write(config), id);
        r.Id = id;
        Assert.False(r.TimedOut, r.ToString());
        Assert.True(r.ExitCode == 128 + Native.SIGKILL, "the hook did not kill the runtime it ran under\n" + r);
        var state = JsonNode.Parse(File.ReadAllText(stateCopy))!.AsObject();
        var pid = (int)state["pid"]!;
        Assert.True(pid > 0, state.ToJsonString());
        ProcResult deleted;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(3);
            while (Alive(pid) && DateTime.UtcNow < deadline) await Task.Delay(50);
            Assert.False(Alive(pid), $"container process {pid} still waits for its dead runtime {File.ReadAllText(killedPid).Trim()}: {Describe(pid)}");
        }
        finally
        {
            // by pid: a process left waiting (before the fix) would stay for ever
            if (Alive(pid)) Native.kill(pid, Native.SIGKILL);
            // what the killed runtime made (state, cgroup) is the client's to delete, as after any failed create
            deleted = await oci.Run("delete", "--force", id);
        }
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.False(oci.StateLeft(id));
        before.AssertNothingLeft(f, r);
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains(oci.Dir, StringComparison.Ordinal));
    }

    /// <summary>Running or stopped, not a zombie waiting for its new parent to reap it.</summary>
    private static bool Alive(int pid)
    {
        try
        {
            var status = File.ReadAllLines($"/proc/{pid}/status");
            return !status.Any(l => l.StartsWith("State:", StringComparison.Ordinal) && (l.Contains("(zombie)") || l.Contains("(dead)")));
        }
        catch (IOException) { return false; }
    }

    private static string Describe(int pid)
    {
        try { return $"wchan {File.ReadAllText($"/proc/{pid}/wchan")}, {string.Join(", ", File.ReadAllLines($"/proc/{pid}/status").Where(l => l.StartsWith("State:") || l.StartsWith("PPid:")))}"; }
        catch (IOException e) { return e.Message; }
    }
}
