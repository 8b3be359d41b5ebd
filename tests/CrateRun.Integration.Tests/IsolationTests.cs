using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>The mount, /dev and network views from inside the container.</summary>
[Collection(CrateRunCollection.Name)]
public sealed class IsolationTests(CrateRunFixture f)
{
    private static readonly string[] AllowedMountPrefixes = ["/proc", "/dev", "/sys"];

    [RootFact]
    public async Task Mounts_OnlyTheContainersOwn()
    {
        var r = await f.Sh("cat /proc/self/mountinfo");
        Assert.True(r.ExitCode == 0, r.ToString());
        var mounts = HostState.ParseMountInfo(r.Stdout);
        Assert.NotEmpty(mounts);

        var hostPaths = new[] { Prerequisites.RepoRoot, "/work", "/home", "/var/lib", "/tmp", "/root", "/usr", "/etc", "/run", f.TempBase, f.Rootfs };
        // the container's own hosts, resolv.conf and hostname (files of its state directory), as Docker's
        string[] etcFiles = ["/etc/hosts", "/etc/resolv.conf", "/etc/hostname"];
        Assert.All(etcFiles, e => Assert.Single(mounts, m => m.MountPoint == e));
        foreach (var m in mounts.Where(m => !etcFiles.Contains(m.MountPoint)))
        {
            Assert.True(m.MountPoint == "/" || AllowedMountPrefixes.Any(p => m.MountPoint == p || m.MountPoint.StartsWith(p + "/", StringComparison.Ordinal)),
                $"unexpected mount point {m.MountPoint} inside the container:\n{m.Line}");
            foreach (var h in hostPaths)
                Assert.False(m.MountPoint == h || m.MountPoint.StartsWith(h.TrimEnd('/') + "/", StringComparison.Ordinal),
                    $"host path {h} is a mount point inside the container:\n{m.Line}");
        }
        Assert.Single(mounts, m => m.MountPoint == "/");

        Assert.Equal("proc", Assert.Single(mounts, m => m.MountPoint == "/proc").FsType);
        Assert.Equal("tmpfs", Assert.Single(mounts, m => m.MountPoint == "/dev").FsType);
        Assert.Equal("devpts", Assert.Single(mounts, m => m.MountPoint == "/dev/pts").FsType);
        var sys = Assert.Single(mounts, m => m.MountPoint == "/sys");
        Assert.Equal("sysfs", sys.FsType);
        Assert.True(sys.ReadOnly, "/sys is not read-only: " + sys.Line);
        Assert.Contains(mounts, m => m.MountPoint == "/dev/shm" && m.FsType == "tmpfs");
        Assert.Contains(mounts, m => m.MountPoint == "/dev/mqueue" && m.FsType == "mqueue");
    }

    [RootFact]
    public async Task Mounts_OldRootIsGone_SysIsReallyReadOnly()
    {
        var repo = Prerequisites.RepoRoot;
        var r = await f.Sh(
            $"for p in /work /home {Proc.ShellQuote(repo)} {Proc.ShellQuote(f.Rootfs)} /usr/lib/dotnet /old_root /.pivot_root /oldroot; do " +
            "  [ -e \"$p\" ] && echo \"visible: $p\"; done; " +
            "ls -a / | tr '\\n' ' '; echo; " +
            "if touch /sys/kernel/x 2>/dev/null; then echo sys-writable; fi; " +
            "if mkdir /sys/fs/cgroup/x 2>/dev/null; then echo cgroupfs-writable; fi; " +
            "echo done");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.DoesNotContain("visible:", r.Stdout);
        Assert.DoesNotContain("writable", r.Stdout);
        Assert.Contains("done", r.Stdout);
        // / is the busybox rootfs: bin, data, not-executable are there
        Assert.Contains(" not-executable ", " " + r.Stdout.Split('\n')[0] + " ");
    }

    [RootFact]
    public async Task Dev_HasTheStandardNodesAndLinks()
    {
        var r = await f.Sh(
            "for c in null zero full random urandom tty; do [ -c /dev/$c ] || echo \"missing char device /dev/$c\"; done; " +
            "[ -c /dev/ptmx ] || [ \"$(readlink /dev/ptmx)\" = pts/ptmx ] || echo 'bad /dev/ptmx'; " +
            "[ -c /dev/pts/ptmx ] || echo 'missing /dev/pts/ptmx'; " +
            "for d in pts shm mqueue; do [ -d /dev/$d ] || echo \"missing dir /dev/$d\"; done; " +
            "[ \"$(readlink /dev/fd)\" = /proc/self/fd ] || echo \"bad /dev/fd -> $(readlink /dev/fd)\"; " +
            "[ \"$(readlink /dev/stdin)\" = /proc/self/fd/0 ] || echo 'bad /dev/stdin'; " +
            "[ \"$(readlink /dev/stdout)\" = /proc/self/fd/1 ] || echo 'bad /dev/stdout'; " +
            "[ \"$(readlink /dev/stderr)\" = /proc/self/fd/2 ] || echo 'bad /dev/stderr'; " +
            "echo data > /dev/null || echo 'cannot write /dev/null'; " +
            "[ \"$(head -c 5 /dev/zero | wc -c)\" = 5 ] || echo 'bad /dev/zero'; " +
            "[ \"$(head -c 16 /dev/urandom | wc -c)\" = 16 ] || echo 'bad /dev/urandom'; " +
            "if echo x > /dev/full 2>/dev/null; then echo '/dev/full accepted a write'; fi; " +
            "[ -z \"$(cat /dev/null)\" ] || echo 'bad /dev/null read'; " +
            "echo to-stdout > /dev/stdout; " +
            "ls /dev | tr '\\n' ' '; echo; echo end");
        Assert.True(r.ExitCode == 0, r.ToString());
        var problems = r.Stdout.Split('\n').Where(l => l.StartsWith("missing") || l.StartsWith("bad") || l.StartsWith("cannot") || l.StartsWith("/dev/full")).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems) + "\n" + r);
        Assert.Contains("to-stdout", r.Stdout);
        Assert.EndsWith("end\n", r.Stdout);
        // nothing from the host's /dev (its disks, its consoles)
        var listing = r.Stdout.Split('\n').Single(l => l.Contains(" null ")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        foreach (var hostOnly in new[] { "vda", "sda", "kvm", "console", "mem", "kmsg", "loop0" })
            Assert.DoesNotContain(hostOnly, listing);
    }

    [RootFact]
    public async Task Network_OnlyLoopback_AndItIsUp()
    {
        var r = await f.Sh("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; echo flags=$(cat /sys/class/net/lo/flags); ip link show lo; ls /sys/class/net");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n');
        var ifaces = lines.TakeWhile(l => !l.StartsWith("flags=")).Where(l => l.Length > 0).ToList();
        Assert.Equal(["lo"], ifaces);
        var flags = Convert.ToInt32(lines.Single(l => l.StartsWith("flags="))["flags=".Length..], 16);
        Assert.True((flags & 0x1) != 0, $"lo is not up (flags 0x{flags:x})"); // IFF_UP
        Assert.Matches(@"lo: <[^>]*\bUP\b", r.Stdout);
        Assert.Equal("lo", lines[^2]);

        var ping = await f.Sh("ping -c 1 -W 2 127.0.0.1 >/dev/null 2>&1 && echo loopback-works || echo no-ping");
        Assert.True(ping.ExitCode == 0, ping.ToString());
        Assert.Contains("loopback-works", ping.Stdout); // lo is really up: packets go through it
    }
}
