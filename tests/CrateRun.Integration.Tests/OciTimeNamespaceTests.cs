using System.Text.Json.Nodes;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// config-linux.md: the "time" namespace type and linux.timeOffsets (the offsets of the
/// monotonic and boottime clocks in it, time_namespaces(7)). Seen from inside the container.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class OciTimeNamespaceTests(CrateRunFixture f)
{
    private const string ShowTime = "cat /proc/self/timens_offsets; readlink /proc/self/ns/time; cat /proc/uptime";

    [RootFact]
    public async Task A_new_time_namespace_has_the_configured_monotonic_and_boottime_offsets()
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/sh", "-c", ShowTime);
        OciBundles.Namespaces(config).Add((JsonNode)new JsonObject { ["type"] = "time" });
        const long bootSecs = 7 * 86400;
        config["linux"]!["timeOffsets"] = new JsonObject
        {
            ["monotonic"] = new JsonObject { ["secs"] = 3600, ["nanosecs"] = 250_000_000 },
            ["boottime"] = new JsonObject { ["secs"] = bootSecs, ["nanosecs"] = 0 },
        };
        var id = OciBundles.NewId("timens");
        var r = await oci.RunBundle(config, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.OutLines.Select(Words).ToList();
        Assert.Contains("monotonic 3600 250000000", lines);
        Assert.Contains($"boottime {bootSecs} 0", lines);
        Assert.NotEqual(OciBundles.Ns("self", "time"), r.OutLines.Single(l => l.StartsWith("time:", StringComparison.Ordinal)));
        // /proc/uptime is the boottime clock of the reader's time namespace
        var hostUptime = HostUptime();
        var uptime = double.Parse(r.OutLines[^1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(uptime - hostUptime, bootSecs - 60, bootSecs + 1);
        Assert.False(oci.StateLeft(id));
    }

    [RootFact]
    public async Task A_time_namespace_without_offsets_is_new_and_has_zero_offsets()
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/sh", "-c", ShowTime);
        OciBundles.Namespaces(config).Add((JsonNode)new JsonObject { ["type"] = "time" });
        var r = await oci.RunBundle(config, OciBundles.NewId("timens0"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.NotEqual(OciBundles.Ns("self", "time"), r.OutLines.Single(l => l.StartsWith("time:", StringComparison.Ordinal)));
        Assert.Contains("monotonic 0 0", r.OutLines.Select(Words));
        Assert.Contains("boottime 0 0", r.OutLines.Select(Words));
    }

    [RootFact]
    public async Task Exec_enters_the_containers_time_namespace()
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/sleep", "60");
        OciBundles.Namespaces(config).Add((JsonNode)new JsonObject { ["type"] = "time" });
        config["linux"]!["timeOffsets"] = new JsonObject { ["boottime"] = new JsonObject { ["secs"] = 4321, ["nanosecs"] = 0 } };
        var id = OciBundles.NewId("exectime");
        CrateRunFixture.Track(id);
        try
        {
            var created = await oci.Run("create", "--bundle", oci.Write(config), id);
            Assert.True(created.ExitCode == 0, created.ToString());
            var r = await oci.Run("exec", id, "/bin/sh", "-c", "cat /proc/self/timens_offsets; readlink /proc/self/ns/time");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("boottime 4321 0", r.OutLines.Select(Words));
            Assert.NotEqual(OciBundles.Ns("self", "time"), r.OutLines[^1]);
        }
        finally
        {
            await oci.Run("delete", "--force", id);
        }
    }

    [RootFact]
    public async Task Time_offsets_without_a_time_namespace_are_refused_with_one_line_and_nothing_left()
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/true");
        config["linux"]!["timeOffsets"] = new JsonObject { ["boottime"] = new JsonObject { ["secs"] = 100, ["nanosecs"] = 0 } };
        var id = OciBundles.NewId("timeoff");
        var before = Snapshot.Take(f);
        var r = await oci.RunBundle(config, id);
        Assert.True(r.ExitCode == 1, r.ToString());
        var line = Assert.Single(r.ErrLines);
        Assert.Contains("linux.timeOffsets needs a new time namespace", line);
        Assert.False(oci.StateLeft(id));
        before.AssertNothingLeft(f, r);
    }

    [RootFact]
    public async Task A_time_namespace_joined_by_path_is_shared_with_its_offsets()
    {
        var oci = new OciBundles(f);
        // util-linux unshare makes a time namespace for its children with a boottime offset
        // (sleep enters it at execve on recent kernels); the container joins it by path
        var holder = Proc.Start("unshare", ["-T", "--boottime", "5000", "sleep", "60"]);
        try
        {
            var pid = await HolderPid(holder);
            var path = $"/proc/{pid}/ns/time_for_children";
            var config = await oci.RuncSpec("/bin/sh", "-c", ShowTime);
            OciBundles.Namespaces(config).Add((JsonNode)new JsonObject { ["type"] = "time", ["path"] = path });
            var r = await oci.RunBundle(config, OciBundles.NewId("jointime"));
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains(new FileInfo(path).LinkTarget!, r.OutLines);
            Assert.Contains("boottime 5000 0", r.OutLines.Select(Words));
        }
        finally
        {
            holder.Dispose();
        }
    }

    [RootFact]
    public async Task Time_offsets_for_a_joined_time_namespace_are_refused()
    {
        // a joined namespace has its offsets already (frozen once a process entered it)
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/true");
        OciBundles.Namespaces(config).Add((JsonNode)new JsonObject { ["type"] = "time", ["path"] = "/proc/self/ns/time" });
        config["linux"]!["timeOffsets"] = new JsonObject { ["monotonic"] = new JsonObject { ["secs"] = 1, ["nanosecs"] = 0 } };
        var id = OciBundles.NewId("jointoff");
        var before = Snapshot.Take(f);
        var r = await oci.RunBundle(config, id);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("linux.timeOffsets needs a new time namespace", Assert.Single(r.ErrLines));
        before.AssertNothingLeft(f, r);
    }

    private static string Words(string line) => string.Join(' ', line.Split(' ', StringSplitOptions.RemoveEmptyEntries));

    private static double HostUptime() =>
        double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The pid of `unshare` once it has made the time namespace for its children.</summary>
    private static async Task<int> HolderPid(RunningProc holder)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                if (OciBundles.Ns(holder.Pid.ToString(), "time_for_children") != OciBundles.Ns("self", "time")) return holder.Pid;
            }
            catch (IOException)
            {
            }
            await Task.Delay(20);
        }
        throw new InvalidOperationException("unshare -T did not make a time namespace");
    }
}
