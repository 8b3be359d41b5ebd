using CrateRun.Linux.Engine;

namespace CrateRun.Core.Tests.LinuxLayer;

/// <summary>--no-pivot: which host mounts must go from the container's namespace.</summary>
public class HostMountsTests
{
    private const string MountInfo = """
        22 27 0:21 / /proc rw,relatime shared:5 - proc proc rw
        23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
        24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,mode=755
        30 22 0:30 / /proc/sys/fs/binfmt_misc rw,relatime - binfmt_misc binfmt_misc rw
        40 27 0:21 /sys /mnt/proc-sys ro,relatime - proc proc rw
        41 27 0:40 / /var/lib/x/rootfs/proc rw,relatime - proc proc rw
        42 27 0:41 / /srv/with\040space rw - sysfs sysfs rw
        """;

    [Fact]
    public void Full_proc_and_sysfs_mounts_outside_the_rootfs_deepest_first()
    {
        var found = HostMounts.FullProcAndSysfs(MountInfo, "/var/lib/x/rootfs");
        // /mnt/proc-sys is a part of proc (not its root): it makes no proc "fully visible"
        Assert.Equal(["/srv/with space", "/proc", "/sys"], found);
    }
}
