using System.Text.Json.Nodes;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// config.md process.scheduler and process.ioPriority, config-linux.md personality, intelRdt
/// and timeOffsets: each is applied (looked at from inside the container, or from the host
/// for the I/O priority), or refused with one line naming it and nothing left behind.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class OciProcessAttributesTests(CrateRunFixture f)
{
    /// <summary>/proc/PID/stat fields by their proc(5) number (1-based), past the comm field.</summary>
    private static string StatField(string stat, int number) =>
        stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[number - 3];

    [RootFact]
    public async Task Personality_LINUX32_makes_uname_report_i686()
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/uname", "-m");
        config["linux"]!["personality"] = new JsonObject { ["domain"] = "LINUX32" };
        var r = await oci.RunBundle(config, OciBundles.NewId("pers32"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["i686"], r.OutLines);
    }

    [RootTheory]
    [InlineData("SCHED_BATCH", 3, 7)]
    [InlineData("SCHED_IDLE", 5, 0)]
    public async Task The_scheduler_policy_and_nice_are_seen_from_inside(string policy, int number, int nice)
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/cat", "/proc/self/stat");
        config["process"]!["scheduler"] = new JsonObject { ["policy"] = policy, ["nice"] = nice };
        var r = await oci.RunBundle(config, OciBundles.NewId("sched"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var stat = Assert.Single(r.OutLines);
        Assert.Equal(number.ToString(), StatField(stat, 41)); // policy
        Assert.Equal(nice.ToString(), StatField(stat, 19));   // nice
    }

    [RootFact]
    public async Task The_io_priority_is_seen_from_the_host()
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/true");
        config["process"]!["ioPriority"] = new JsonObject { ["class"] = "IOPRIO_CLASS_BE", ["priority"] = 6 };
        var id = OciBundles.NewId("ioprio");
        CrateRunFixture.Track(id);
        var create = await oci.Run("create", "--bundle", oci.Write(config), id);
        Assert.True(create.ExitCode == 0, create.ToString());
        try
        {
            var state = await oci.Run("state", id);
            Assert.True(state.ExitCode == 0, state.ToString());
            var pid = (int)JsonNode.Parse(state.Stdout)!["pid"]!;
            // ioprio_get(2) by util-linux on the process waiting for `start`
            var io = await Proc.Run("ionice", ["-p", pid.ToString()]);
            Assert.True(io.ExitCode == 0, "ionice (util-linux) failed\n" + io);
            Assert.Equal("best-effort: prio 6", io.Stdout.Trim());
        }
        finally
        {
            await oci.Run("delete", "--force", id);
        }
        Assert.False(oci.StateLeft(id));
    }

    public static TheoryData<string, string, string> Refused => new()
    {
        { "linux", "intelRdt", """{ "closID": "guaranteed_group", "l3CacheSchema": "L3:0=7f0" }""" },
        { "linux", "timeOffsets", """{ "monotonic": { "secs": 3600 }, "boottime": { "secs": 60 } }""" },
        { "linux", "personality", """{ "domain": "LINUX64" }""" },
        { "process", "scheduler", """{ "policy": "SCHED_ISO" }""" },
        { "process", "scheduler", """{ "policy": "SCHED_FIFO", "priority": 0 }""" },
        { "process", "ioPriority", """{ "class": "IOPRIO_CLASS_BE", "priority": 8 }""" },
    };

    [RootTheory]
    [MemberData(nameof(Refused))]
    public async Task A_field_not_applied_is_refused_with_one_line_and_nothing_left(string parent, string field, string value)
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/true");
        config[parent]![field] = JsonNode.Parse(value);
        var id = OciBundles.NewId("refuse");
        var before = Snapshot.Take(f);
        var r = await oci.RunBundle(config, id);
        Assert.True(r.ExitCode == 1, r.ToString());
        var line = Assert.Single(r.ErrLines);
        Assert.Contains($"{parent}.{field}", line);
        Assert.False(oci.StateLeft(id));
        before.AssertNothingLeft(f, r);
    }
}
