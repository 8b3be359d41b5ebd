using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>-v: read-write and read-only binds, and container paths that try to climb out of the rootfs.</summary>
[Collection(CrateRunCollection.Name)]
public sealed class VolumeTests(CrateRunFixture f)
{
    private string NewHostDir()
    {
        var dir = Path.Combine(f.TempBase, "vol-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "from-host.txt"), "host data\n");
        return dir;
    }

    [RootFact]
    public async Task ReadWrite_BothWays()
    {
        var host = NewHostDir();
        var r = await f.Sh("cat /mnt/vol/from-host.txt && echo container data > /mnt/vol/from-container.txt && echo ok", "-v", $"{host}:/mnt/vol");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("host data\nok\n", r.Stdout);
        Assert.Equal("container data\n", await File.ReadAllTextAsync(Path.Combine(host, "from-container.txt")));
        // the mount point was made inside the rootfs, and the bind did not outlive the container
        Assert.True(Directory.Exists(Path.Combine(f.Rootfs, "mnt", "vol")));
        Assert.False(File.Exists(Path.Combine(f.Rootfs, "mnt", "vol", "from-host.txt")));
    }

    [RootFact]
    public async Task ReadOnly_WritesFailInside()
    {
        var host = NewHostDir();
        var r = await f.Sh("cat /mnt/ro/from-host.txt; if echo x > /mnt/ro/new.txt; then echo WROTE; else echo refused; fi; " +
                           "grep ' /mnt/ro ' /proc/self/mountinfo", "-v", $"{host}:/mnt/ro:ro");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("host data", r.Stdout);
        Assert.Contains("refused", r.Stdout);
        Assert.DoesNotContain("WROTE", r.Stdout);
        Assert.Contains("Read-only file system", r.Stderr);
        Assert.False(File.Exists(Path.Combine(host, "new.txt")));
        var mountLine = r.Stdout.Split('\n').Single(l => l.Contains(" /mnt/ro "));
        Assert.True(HostState.ParseMountInfo(mountLine).Single().ReadOnly, mountLine);
    }

    /// <summary>-v DIR:/dev (or /sys) is the user's directory: nothing of the runtime's (device nodes, symlinks, mount points) is written into it.</summary>
    [RootTheory]
    [InlineData("/dev")]
    [InlineData("/sys")]
    public async Task A_volume_on_dev_or_sys_gets_nothing_written_into_it(string destination)
    {
        var host = NewHostDir();
        var r = await f.Sh($"ls {destination}", "-v", $"{host}:{destination}");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("from-host.txt\n", r.Stdout);
        Assert.Equal(["from-host.txt"], Directory.GetFileSystemEntries(host).Select(Path.GetFileName));
    }

    [RootTheory]
    [InlineData("/../../../../tmp/escape-{guid}")]
    [InlineData("/tmp/../../../tmp/escape-{guid}")]
    [InlineData("/escape-root/tmp/escape-{guid}")]   // rootfs symlink -> /
    [InlineData("/escape-up/tmp/escape-{guid}")]     // rootfs symlink -> ../../..
    [InlineData("/escape-root/../../tmp/escape-{guid}")]
    public async Task ContainerPathThatClimbsOut_LandsInsideTheRootfs(string template)
    {
        var guid = Guid.NewGuid().ToString("N")[..12];
        var target = template.Replace("{guid}", guid);
        var hostEscape = "/tmp/escape-" + guid;
        var host = NewHostDir();
        try
        {
            var r = await f.Sh($"echo proof > {target}/proof.txt && echo written", "-v", $"{host}:{target}");
            Assert.False(Directory.Exists(hostEscape), $"the volume's mount point was created on the host at {hostEscape}\n{r}");
            if (r.ExitCode == 125)
            {
                // refused is fine, as one line that says why
                Assert.StartsWith("craterun: ", Assert.Single(r.ErrLines));
                return;
            }
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("written\n", r.Stdout);
            // the bind landed inside the rootfs: the write went to the volume, the mount point is <rootfs>/tmp/escape-*
            Assert.Equal("proof\n", await File.ReadAllTextAsync(Path.Combine(host, "proof.txt")));
            Assert.True(Directory.Exists(Path.Combine(f.Rootfs, "tmp", "escape-" + guid)), "no mount point under <rootfs>/tmp");
            Assert.False(File.Exists(Path.Combine(f.Rootfs, "tmp", "escape-" + guid, "proof.txt")), "the write missed the volume");
        }
        finally
        {
            // never leave anything on the host; only remove an empty directory (no mount can be below it here)
            if (Directory.Exists(hostEscape) && !Directory.EnumerateFileSystemEntries(hostEscape).Any()) Directory.Delete(hostEscape);
        }
    }

    [RootFact]
    public async Task ContainerPathThroughSymlinkToHostPath_StaysInside()
    {
        // a symlink with an absolute target that exists on the host only
        var guid = Guid.NewGuid().ToString("N")[..12];
        var hostOnly = Path.Combine(f.TempBase, "host-only-" + guid);
        Directory.CreateDirectory(hostOnly);
        var link = Path.Combine(f.Rootfs, "link-" + guid);
        File.CreateSymbolicLink(link, hostOnly);
        var host = NewHostDir();
        try
        {
            var r = await f.Sh($"echo proof > /link-{guid}/proof.txt && echo written", "-v", $"{host}:/link-{guid}");
            Assert.False(File.Exists(Path.Combine(hostOnly, "proof.txt")), "the write reached a host directory through the symlink");
            Assert.Empty(Directory.EnumerateFileSystemEntries(hostOnly));
            if (r.ExitCode == 125) return;
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("proof\n", await File.ReadAllTextAsync(Path.Combine(host, "proof.txt")));
        }
        finally
        {
            File.Delete(link);
        }
    }
}
