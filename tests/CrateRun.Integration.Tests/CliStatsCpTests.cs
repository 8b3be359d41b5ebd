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

    private string NewDir(string prefix)
    {
        var dir = Path.Combine(f.TempBase, prefix + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    [RootFact]
    public async Task Cp_BothWays_OnARunningContainer_SeesItsTmpfs_KeepsModes_AndPlantedSymlinksStayInside()
    {
        var probe = "cp-probe-" + Guid.NewGuid().ToString("N")[..8];
        // a tree on the container's own tmpfs (only its mount namespace has it), and two symlinks to /etc
        var id = await f.Detached("mkdir -p /t/d/sub && echo inner > /t/d/sub/f && chmod 750 /t/d/sub && chmod 640 /t/d/sub/f"
            + " && ln -s /etc /t/evil && ln -s ../../../../../etc /t/up && echo ready; sleep 60", "--tmpfs", "/t");
        var host = NewDir("cp");
        try
        {
            await f.WaitForLog(id, "ready");

            // out: a directory, its content and modes
            var r = await f.Cr("cp", id + ":/t/d", Path.Combine(host, "out"));
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("inner\n", File.ReadAllText(Path.Combine(host, "out/sub/f")));
            Assert.Equal((UnixFileMode)0x1E8 /* 0750 */, File.GetUnixFileMode(Path.Combine(host, "out/sub")));
            Assert.Equal((UnixFileMode)0x1A0 /* 0640 */, File.GetUnixFileMode(Path.Combine(host, "out/sub/f")));

            // out through the planted symlinks: the container's /etc/passwd, never the host's
            var containerPasswd = File.ReadAllText(Path.Combine(f.Rootfs, "etc/passwd"));
            Assert.NotEqual(File.ReadAllText("/etc/passwd"), containerPasswd);
            foreach (var link in new[] { "/t/evil/passwd", "/t/up/passwd" })
            {
                var dest = Path.Combine(host, "passwd-" + Path.GetFileName(Path.GetDirectoryName(link)));
                r = await f.Cr("cp", id + ":" + link, dest);
                Assert.True(r.ExitCode == 0, r.ToString());
                Assert.Equal(containerPasswd, File.ReadAllText(dest));
            }

            // in through the symlink: lands in the container's /etc, the host's /etc is untouched
            var src = Path.Combine(host, probe);
            File.WriteAllText(src, "probe\n");
            File.SetUnixFileMode(src, (UnixFileMode)0x184 /* 0604 */);
            r = await f.Cr("cp", src, id + ":/t/evil/" + probe);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.False(File.Exists("/etc/" + probe), "cp wrote into the host's /etc");
            var inside = await f.Cr("exec", id, "stat", "-c", "%a %s", "/etc/" + probe);
            Assert.Equal("604 6\n", inside.Stdout);

            // in: a directory onto the tmpfs (into an existing directory: under its own name)
            Directory.CreateDirectory(Path.Combine(host, "tree/deep"));
            File.WriteAllText(Path.Combine(host, "tree/deep/x"), "x");
            File.SetUnixFileMode(Path.Combine(host, "tree/deep"), (UnixFileMode)0x1ED /* 0755 */ & ~UnixFileMode.OtherRead);
            r = await f.Cr("cp", Path.Combine(host, "tree"), id + ":/t");
            Assert.True(r.ExitCode == 0, r.ToString());
            inside = await f.Cr("exec", id, "sh", "-c", "cat /t/tree/deep/x; stat -c ' %a' /t/tree/deep");
            Assert.Equal("x 751\n", inside.Stdout);
        }
        finally
        {
            File.Delete(Path.Combine(f.Rootfs, "etc", probe));
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task Cp_FromAStoppedContainer_AndBadArguments_OneLineError125()
    {
        var r = await f.Run(["--rootfs", f.Rootfs, "--", "/bin/true"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        CrateRunFixture.Track(r.Id!);
        var host = NewDir("cp-stopped");
        try
        {
            var c = await f.Cr("cp", r.Id! + ":/etc/passwd", host);
            Assert.True(c.ExitCode == 0, c.ToString());
            Assert.Equal(File.ReadAllText(Path.Combine(f.Rootfs, "etc/passwd")), File.ReadAllText(Path.Combine(host, "passwd")));

            foreach (var args in new[] { new[] { "cp", "a", "b" }, ["cp", r.Id! + ":/nonexistent", host], ["cp", "nosuchcontainer:/x", host] })
            {
                var bad = await f.Cr(args);
                Assert.True(bad.ExitCode == 125, bad.ToString());
                Assert.StartsWith("craterun: ", Assert.Single(bad.ErrLines));
            }
        }
        finally
        {
            await f.RemoveForce(r.Id!);
        }
    }

    [RootFact]
    public async Task Mount_BindReadonly_And_TmpfsWithASize_SeenFromInside()
    {
        var dir = NewDir("mount");
        File.WriteAllText(Path.Combine(dir, "hello"), "from host");
        var r = await f.Sh("cat /m/hello; echo; echo x > /m/new && echo WROTE; dd if=/dev/zero of=/t/big bs=1k count=2048 2>/dev/null || echo FULL; ls -l /t/big | awk '{print $5}'",
            "--mount", $"type=bind,source={dir},target=/m,readonly", "--mount", "type=tmpfs,destination=/t,tmpfs-size=1m");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["from host", "FULL", "1048576"], r.OutLines);
        Assert.False(File.Exists(Path.Combine(dir, "new")));

        var bad = await f.Sh("true", "--mount", "type=bind,target=/m");
        Assert.True(bad.ExitCode == 125, bad.ToString());
        Assert.Contains("source is required", Assert.Single(bad.ErrLines));
        Assert.Null(bad.Id); // nothing was made
    }
}
