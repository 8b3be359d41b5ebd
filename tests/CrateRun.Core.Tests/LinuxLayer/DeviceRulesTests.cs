using CrateRun.Core.Oci;
using CrateRun.Linux.Cgroups;

namespace CrateRun.Core.Tests.LinuxLayer;

public class DeviceRulesTests
{
    private static List<DeviceRules.V1Rule> Own(params LinuxDeviceCgroup[] rules) =>
        [.. DeviceRules.V1(rules).SkipLast(DeviceRules.AlwaysAllowed.Count)];

    [Fact]
    public void Rules_become_devices_cgroup_lines()
    {
        Assert.Equal(
            [
                new(false, "a"),
                new(true, "c 1:3 rwm"),
                new(true, "b 8:* r"),
                new(true, "c *:* m"),
                new(false, "c 10:229 rw"),
            ],
            Own(
                new LinuxDeviceCgroup { Allow = false, Access = "rwm" },
                new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 1, Minor = 3, Access = "rwm" },
                new LinuxDeviceCgroup { Allow = true, Type = "b", Major = 8, Access = "r" },
                new LinuxDeviceCgroup { Allow = true, Type = "c", Major = -1, Minor = -1, Access = "m" },
                new LinuxDeviceCgroup { Allow = false, Type = "c", Major = 10, Minor = 229, Access = "rw" }));
    }

    [Fact]
    public void Missing_type_is_all_and_missing_access_is_rwm()
    {
        Assert.Equal([new(true, "a")], Own(new LinuxDeviceCgroup { Allow = true }));
        Assert.Equal([new(false, "a")], Own(new LinuxDeviceCgroup { Allow = false, Type = "a", Major = 1, Minor = 3 }));
        Assert.Equal([new(true, "c 4:* rwm")], Own(new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 4 }));
    }

    [Fact]
    public void Runcs_always_allowed_devices_follow_the_configs_rules()
    {
        var all = DeviceRules.V1([new LinuxDeviceCgroup { Allow = false, Access = "rwm" }]).ToList();
        Assert.Equal(new DeviceRules.V1Rule(false, "a"), all[0]);
        Assert.Equal(DeviceRules.AlwaysAllowed, all.Skip(1));
        Assert.All(DeviceRules.AlwaysAllowed, r => Assert.True(r.Allow));
        var texts = DeviceRules.AlwaysAllowed.Select(r => r.Text).ToHashSet();
        // mknod of anything, the six default devices, ptys, ptmx and tun
        foreach (var t in new[]
        {
            "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm",
            "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm",
        })
            Assert.Contains(t, texts);
        Assert.DoesNotContain(DeviceRules.AlwaysAllowed, r => r.Text.StartsWith("b ", StringComparison.Ordinal) && r.Text.Contains("rw"));
    }

    [Fact]
    public void The_default_device_nodes_are_all_allowed()
    {
        var texts = DeviceRules.AlwaysAllowed.Select(r => r.Text).ToHashSet();
        foreach (var d in CrateRun.Core.Setup.SetupPlanner.DefaultDevices)
            Assert.Contains($"c {d.Major}:{d.Minor} rwm", texts);
    }
}
