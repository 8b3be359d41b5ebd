using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// `--explain` (issue 15): every step of a container's creation, as it happens, with the kernel
/// call and its cost, on stderr; `--explain=json` as JSON lines; a failing step with errno and hint.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed partial class ExplainTests(CrateRunFixture f)
{
    /// <summary>"[ 12] text    34 µs", then the call, why lines, and "→ docs/PAGE.md".</summary>
    private sealed record TextStep(int Seq, string Text, double Micros, string Block, string Docs);

    [GeneratedRegex(@"^\[\s*(\d+)\] (.*?)\s+([\d.]+) µs$", RegexOptions.Multiline)]
    private static partial Regex StepHead();

    private static List<TextStep> ParseText(string stderr)
    {
        var heads = StepHead().Matches(stderr).ToList();
        var steps = new List<TextStep>();
        for (var i = 0; i < heads.Count; i++)
        {
            var end = i + 1 < heads.Count ? heads[i + 1].Index : stderr.Length;
            var block = stderr[heads[i].Index..end];
            var docs = Regex.Match(block, @"→ (docs/[a-z0-9-]+\.md)").Groups[1].Value;
            steps.Add(new TextStep(int.Parse(heads[i].Groups[1].Value), heads[i].Groups[2].Value, double.Parse(heads[i].Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture), block, docs));
        }
        return steps;
    }

    /// <summary>The index of the first step whose text or call contains <paramref name="what"/>, after <paramref name="from"/>.</summary>
    private static int Find(List<TextStep> steps, string what, int from = 0)
    {
        for (var i = from; i < steps.Count; i++)
            if (steps[i].Block.Contains(what, StringComparison.Ordinal)) return i;
        Assert.Fail($"no step with '{what}' after step {from + 1}:\n{string.Join("", steps.Select(s => s.Block))}");
        return -1;
    }

    [RootFact]
    public async Task Run_explain_lists_every_step_in_order_with_nonzero_times()
    {
        var r = await f.Run("--rm", "--explain", "--memory", "64m", "--pids", "50", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "echo out-of-container");
        Assert.True(r.ExitCode == 0, r.ToString());
        // stdout is the container's only: explain never writes there
        Assert.Equal("out-of-container\n", r.Stdout);
        var steps = ParseText(r.Stderr);
        Assert.True(steps.Count >= 30, r.Stderr);
        Assert.Equal(Enumerable.Range(1, steps.Count), steps.Select(s => s.Seq));
        Assert.All(steps, s => Assert.True(s.Micros > 0, $"step {s.Seq} has no time:\n{s.Block}"));
        Assert.All(steps, s => Assert.False(string.IsNullOrEmpty(s.Docs), $"step {s.Seq} names no docs page:\n{s.Block}"));

        // the order the kernel needs: limits before the process, mounts before pivot_root,
        // capabilities, then no_new_privs and seccomp, execve last, then the monitor
        // the memory limit file: cgroup v1's or v2's
        var memory = File.Exists("/sys/fs/cgroup/cgroup.controllers") ? Find(steps, "memory.max\", O_WRONLY") : Find(steps, "memory.limit_in_bytes\", O_WRONLY");
        var clone = Find(steps, "clone(", memory);
        Assert.Contains("CLONE_NEWPID: ", steps[clone].Block);
        Assert.Contains("CLONE_NEWNS: ", steps[clone].Block);
        var bindRoot = Find(steps, "bind the rootfs", clone);
        var proc = Find(steps, "mount proc on /proc", bindRoot);
        Assert.Contains($"{f.Rootfs}/proc", steps[proc].Block); // the target, resolved inside the root
        Assert.Contains("MS_NOSUID", steps[proc].Block);
        Find(steps, "mknodat(", proc);
        var pivot = Find(steps, "pivot_root(\".\", \".\")", proc);
        var capbset = Find(steps, "PR_CAPBSET_DROP", pivot);
        Assert.Contains("CAP_SYS_ADMIN", steps[capbset].Block); // dropped, by name
        var setuid = Find(steps, "setresuid(0, 0, 0)", capbset);
        var capset = Find(steps, "capset(", setuid);
        var ready = Find(steps, "send(sync socket, {READY})", capset);
        var pids = Find(steps, "pids.max\", O_WRONLY", ready); // once the process is in its cgroup
        var start = Find(steps, "exec.fifo", pids);
        var nnp = Find(steps, "PR_SET_NO_NEW_PRIVS", start);
        var seccomp = Find(steps, "SECCOMP_SET_MODE_FILTER", nnp);
        Assert.Matches(@"BPF: \d+ instructions \(\d+ bytes\)", steps[seccomp].Block);
        Assert.Matches(@"profile: default action SCMP_ACT_ERRNO, \d+ rules", steps[seccomp].Block);
        var execve = Find(steps, "execve(\"/bin/sh\"", seccomp);
        Find(steps, "the monitor (pid", execve);
    }

    [RootFact]
    public async Task Explain_json_parses_line_by_line_and_has_the_same_steps_as_the_text()
    {
        var text = await f.Run("--rm", "--explain", "--rootfs", f.Rootfs, "--", "/bin/true");
        var json = await f.Run("--rm", "--explain=json", "--rootfs", f.Rootfs, "--", "/bin/true");
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.True(json.ExitCode == 0, json.ToString());
        var lines = json.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var parsed = lines.Select(l => JsonNode.Parse(l)!.AsObject()).ToList(); // each line on its own
        Assert.Equal(Enumerable.Range(1, parsed.Count), parsed.Select(o => (int)o["seq"]!));
        Assert.All(parsed, o =>
        {
            Assert.False(string.IsNullOrEmpty((string?)o["step"]));
            Assert.False(string.IsNullOrEmpty((string?)o["call"]));
            Assert.True((double)o["micros"]! > 0, o.ToJsonString());
            Assert.StartsWith("docs/", (string)o["docs"]!);
        });
        // the same steps as the text form: same number, same pages in the same order
        var textSteps = ParseText(text.Stderr);
        Assert.Equal(textSteps.Select(s => s.Docs), parsed.Select(o => (string)o["docs"]!));
        Assert.Contains(parsed, o => (string?)o["step"] == "clone");
        Assert.Contains(parsed, o => (string?)o["step"] == "pivot-root");
        Assert.Contains(parsed, o => (string?)o["step"] == "seccomp");
        Assert.Equal("execve", (string?)parsed[^2]["step"]);
    }

    [RootFact]
    public async Task A_bind_mount_whose_source_is_missing_is_the_failing_step_with_errno_and_hint()
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/true");
        var missing = Path.Combine(f.TempBase, "no-such-source-" + Guid.NewGuid().ToString("N")[..6]);
        JsonNode bind = new JsonObject
        {
            ["destination"] = "/data", ["type"] = "bind", ["source"] = missing, ["options"] = new JsonArray("rbind", "ro"),
        };
        config["mounts"]!.AsArray().Add(bind);
        var id = OciBundles.NewId("explain-fail");
        CrateRunFixture.Track(id);
        var r = await oci.Run("--explain", "run", "--bundle", oci.Write(config), id);
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Equal("", r.Stdout);
        var steps = ParseText(r.Stderr);
        var failed = steps.Where(s => s.Block.Contains("FAILED:")).ToList();
        Assert.True(failed.Count == 1, r.Stderr);
        Assert.Contains($"bind {missing} on /data", failed[0].Text);
        Assert.Contains("(errno 2)", failed[0].Block);
        Assert.Matches(@"hint: .*source does not exist", failed[0].Block);
        Assert.Equal("docs/rootfs-and-pivot-root.md", failed[0].Docs);
        Assert.Equal(steps[^1], failed[0]); // nothing after the step that failed
        Assert.False(oci.StateLeft(id), "a failed create left its state directory");
    }

    [RootFact]
    public async Task A_missing_command_fails_at_the_lookup_step_with_errno_and_hint()
    {
        var r = await f.Run("--rm", "--explain", "--rootfs", f.Rootfs, "--", "/no/such/program");
        Assert.Equal(127, r.ExitCode);
        var failed = ParseText(r.Stderr).Single(s => s.Block.Contains("FAILED:"));
        Assert.Contains("find /no/such/program inside the new root", failed.Text);
        Assert.Contains("(errno 2)", failed.Block);
        Assert.Contains("hint: the command was not found in the rootfs", failed.Block);
    }

    [RootFact]
    public async Task Exec_explain_shows_the_setns_steps_and_the_execve()
    {
        var id = await f.Detached("sleep 60");
        try
        {
            var r = await f.Cr("exec", "--explain", id, "--", "/bin/echo", "inside");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("inside\n", r.Stdout);
            var steps = ParseText(r.Stderr);
            Assert.All(steps, s => Assert.True(s.Micros > 0, s.Block));
            var setns = Find(steps, "setns(fd, CLONE_NEWPID)");
            var mnt = Find(steps, "setns(fd, CLONE_NEWNS)", setns);
            var clone = Find(steps, "CLONE_PARENT", mnt);
            Find(steps, "execve(\"/bin/echo\"", clone);
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task Oci_explain_goes_to_stderr_create_up_to_ready_and_start_from_there()
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/true");
        var id = OciBundles.NewId("explain-oci");
        CrateRunFixture.Track(id);
        var bundle = oci.Write(config);
        try
        {
            var create = await oci.Run("--explain", "create", "--bundle", bundle, id);
            Assert.True(create.ExitCode == 0, create.ToString());
            Assert.Equal("", create.Stdout);
            var created = ParseText(create.Stderr);
            Assert.Contains("send(sync socket, {READY})", created[^1].Block + created[^2].Block);
            Assert.DoesNotContain(created, s => s.Block.Contains("execve("));

            var state = await oci.Run("--explain", "state", id);
            Assert.Equal("created", JsonDocument.Parse(state.Stdout).RootElement.GetProperty("status").GetString()); // stdout stays the client's

            var start = await oci.Run("--explain", "start", id);
            Assert.True(start.ExitCode == 0, start.ToString());
            var started = ParseText(start.Stderr);
            var fifo = Find(started, "open exec.fifo");
            var nnp = Find(started, "PR_SET_NO_NEW_PRIVS", fifo);
            Find(started, "execve(\"/bin/true\"", nnp);
            Assert.All(started, s => Assert.True(s.Micros > 0, s.Block));
        }
        finally
        {
            await oci.Run("delete", "--force", id);
        }
    }
}
