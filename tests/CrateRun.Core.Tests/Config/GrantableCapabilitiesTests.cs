using CrateRun.Core.Config;
using CrateRun.Core.Security;

namespace CrateRun.Core.Tests.Config;

/// <summary>
/// --privileged and --cap-add ALL grant what the runtime itself holds (its bounding set): on a host
/// that withholds CAP_SYS_RESOURCE, asking for all 41 made capset fail with EPERM.
/// </summary>
public class GrantableCapabilitiesTests
{
    /// <summary>Every capability but CAP_SYS_RESOURCE (bit 24): the bounding set of these machines.</summary>
    private static readonly List<string> HostBounding = Capabilities.FromMask(0x000001fffeffffff);

    private static RunOptions Options(bool privileged = false, string[]? add = null) => new()
    {
        Rootfs = "/r",
        Command = ["true"],
        Privileged = privileged,
        CapAdd = add ?? [],
        GrantableCapabilities = HostBounding,
    };

    [Fact]
    public void FromMask_names_the_set_bits_in_kernel_order()
    {
        Assert.Equal([.. Capabilities.DockerDefault.OrderBy(Capabilities.Number)], Capabilities.FromMask(0x00000000a80425fb));
        Assert.Empty(Capabilities.FromMask(0));
        Assert.Equal(Capabilities.All, Capabilities.FromMask(0x000001ffffffffff));
        Assert.Equal(40, HostBounding.Count);
        Assert.DoesNotContain("CAP_SYS_RESOURCE", HostBounding);
        // bits above the last known capability are ignored
        Assert.Equal(["CAP_CHOWN"], Capabilities.FromMask(0xff00_0000_0000_0001));
    }

    [Fact]
    public void Privileged_gets_the_bounding_set()
    {
        var caps = SpecBuilder.Build("0123456789abcdef", Options(privileged: true)).Process!.Capabilities!;
        Assert.Equal(HostBounding, caps.Bounding);
        Assert.Equal(HostBounding, caps.Effective);
        Assert.Equal(HostBounding, caps.Permitted);
    }

    [Fact]
    public void Cap_add_all_gets_the_bounding_set()
    {
        var caps = SpecBuilder.Build("0123456789abcdef", Options(add: ["ALL"])).Process!.Capabilities!;
        Assert.Equal(HostBounding, caps.Bounding);
    }

    [Fact]
    public void Adding_a_withheld_capability_by_name_is_a_clear_usage_error()
    {
        var e = Assert.Throws<UsageException>(() => SpecBuilder.Build("0123456789abcdef", Options(add: ["SYS_RESOURCE"])));
        Assert.Contains("CAP_SYS_RESOURCE", e.Message);
        Assert.Contains("bounding set", e.Message);
    }

    [Fact]
    public void Without_a_known_bounding_set_privileged_still_means_all()
    {
        var o = new RunOptions { Rootfs = "/r", Command = ["true"], Privileged = true };
        Assert.Equal(Capabilities.All, SpecBuilder.Build("0123456789abcdef", o).Process!.Capabilities!.Bounding);
    }
}
