using System.Globalization;
using System.Text.Json;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// Issue 11: `stats` (Docker's figures, read from the container's cgroup) and `cp` (paths
/// resolved inside the container's root). Effects are made inside the container and checked
/// from the host, or planted on the host and checked from inside.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class CliStatsCpTests(CrateRunFixture f)
{
    /// <summary>Docker's "20.79MiB" back into bytes.</summary>
    private static double Bytes(string text)
    {
        string[] units = ["PiB", "TiB", "GiB", "MiB", "KiB", "B"];
        foreach (var (unit, i) in units.Select((u, i) => (u, i)))
            if (text.EndsWith(unit, StringComparison.Ordinal))
                return double.Parse(text[..^unit.Length], CultureInfo.InvariantCulture) * Math.Pow(1024, units.Length - 1 - i);
        throw new FormatException("not a size: " + text);
    }

    [RootFact]
    public async Task Stats_ShowsMemoryAboveWhatTheContainerHolds_TheMemoryLimit_AndItsProcesses()
    {
        // 20 MiB written to a tmpfs is charged to the container's memory cgroup; three sleeps besides sh
        var id = await f.Detached("dd if=/dev/zero of=/t/fill bs=1M count=20 2>/dev/null; echo filled; sleep 60 & sleep 60 & sleep 60 & wait",
            "--memory", "64m", "--tmpfs", "/t");
        try
        {
            await f.WaitForLog(id, "filled");
            await Task.Delay(200); // the sleeps forked after the echo
            var r = await f.Cr("stats", "--no-stream", "--format", "json", id);
            Assert.True(r.ExitCode == 0, r.ToString());
            using var doc = JsonDocument.Parse(Assert.Single(r.OutLines));
            var o = doc.RootElement;
            Assert.Equal(id[..12], o.GetProperty("ID").GetString());
            var usage = o.GetProperty("MemUsage").GetString()!.Split(" / ");
            Assert.True(Bytes(usage[0]) >= 20 * 1024 * 1024, "usage below the 20 MiB held: " + r.Stdout);
            Assert.Equal("64MiB", usage[1]);
            Assert.Equal("4", o.GetProperty("PIDs").GetString());
            Assert.Matches(@"^\d+\.\d\d%$", o.GetProperty("CPUPerc").GetString()!);

            // the table without names lists every running container, this one among them
            var table = await f.Cr("stats", "--no-stream");
            Assert.True(table.ExitCode == 0, table.ToString());
            Assert.StartsWith("CONTAINER ID", table.OutLines[0]);
            var row = Assert.Single(table.OutLines, l => l.StartsWith(id[..12], StringComparison.Ordinal));
            Assert.Contains("/ 64MiB", row);
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task Stats_OfAStoppedContainer_OneLineError125()
    {
        var r = await f.Run(["--rootfs", f.Rootfs, "--", "/bin/true"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        CrateRunFixture.Track(r.Id!);
        try
        {
            var s = await f.Cr("stats", "--no-stream", r.Id!);
            Assert.True(s.ExitCode == 125, s.ToString());
            Assert.Contains("not running", Assert.Single(s.ErrLines));
            var bad = await f.Cr("stats", "--no-stream", "--format", "xml");
            Assert.True(bad.ExitCode == 125, bad.ToString());
            Assert.Contains("--format", Assert.Single(bad.ErrLines));
        }
        finally
        {
            await f.RemoveForce(r.Id!);
        }
    }
}
