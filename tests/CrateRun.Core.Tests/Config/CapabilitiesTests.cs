using System.Text.RegularExpressions;
using CrateRun.Core.Security;

namespace CrateRun.Core.Tests.Config;

public class CapabilitiesTests
{
    [Fact]
    public void All_is_in_kernel_order_with_41_capabilities()
    {
        Assert.Equal(41, Capabilities.All.Length);
        Assert.Equal(Capabilities.All.Length, Capabilities.All.Distinct().Count());
        Assert.Equal(0, Capabilities.Number("CAP_CHOWN"));
        Assert.Equal(7, Capabilities.Number("CAP_SETUID"));
        Assert.Equal(12, Capabilities.Number("CAP_NET_ADMIN"));
        Assert.Equal(13, Capabilities.Number("CAP_NET_RAW"));
        Assert.Equal(21, Capabilities.Number("CAP_SYS_ADMIN"));
        Assert.Equal(27, Capabilities.Number("CAP_MKNOD"));
        Assert.Equal(29, Capabilities.Number("CAP_AUDIT_WRITE"));
        Assert.Equal(31, Capabilities.Number("CAP_SETFCAP"));
        Assert.Equal(37, Capabilities.Number("CAP_AUDIT_READ"));
        Assert.Equal(38, Capabilities.Number("CAP_PERFMON"));
        Assert.Equal(39, Capabilities.Number("CAP_BPF"));
        Assert.Equal(40, Capabilities.Number("CAP_CHECKPOINT_RESTORE"));
    }

    [Fact]
    public void Numbers_match_linux_capability_h_when_the_kernel_headers_are_installed()
    {
        const string header = "/usr/include/linux/capability.h";
        if (!File.Exists(header)) return; // nothing to compare with on this machine
        var defined = Regex.Matches(File.ReadAllText(header), @"#define\s+(CAP_[A-Z_]+)\s+(\d+)\s*$", RegexOptions.Multiline)
            .Where(m => m.Groups[1].Value != "CAP_LAST_CAP")
            .ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value));
        Assert.NotEmpty(defined);
        foreach (var name in Capabilities.All)
            if (defined.TryGetValue(name, out var n))
                Assert.True(n == Capabilities.Number(name), $"{name}: header says {n}, Capabilities says {Capabilities.Number(name)}");
    }

    [Theory]
    [InlineData("net_raw")]
    [InlineData("NET_RAW")]
    [InlineData("CAP_NET_RAW")]
    [InlineData(" cap_net_raw ")]
    public void Normalize_accepts_docker_and_oci_spellings(string name)
    {
        Assert.Equal("CAP_NET_RAW", Capabilities.Normalize(name));
        Assert.Equal(13, Capabilities.Number(name));
    }

    [Fact]
    public void Unknown_capability_is_a_usage_error() =>
        Assert.Contains("CAP_FLY", Assert.Throws<UsageException>(() => Capabilities.Number("CAP_FLY")).Message);

    [Fact]
    public void Mask_sets_one_bit_per_capability_and_drops_those_above_the_last_cap()
    {
        Assert.Equal(0UL, Capabilities.Mask(null, 40));
        Assert.Equal((1UL << 0) | (1UL << 21), Capabilities.Mask(["CAP_CHOWN", "sys_admin"], 40));
        Assert.Equal((1UL << 0) | (1UL << 38), Capabilities.Mask(["CAP_CHOWN", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"], 38));
        Assert.Equal((1UL << 41) - 1, Capabilities.Mask(Capabilities.All, 40));
        Assert.Throws<UsageException>(() => Capabilities.Mask(["CAP_NOPE"], 40));
    }

    [Fact]
    public void DockerDefault_is_the_14_capabilities_docker_grants()
    {
        Assert.Equal(
            new[]
            {
                "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_MKNOD",
                "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
            },
            Capabilities.DockerDefault.Order(StringComparer.Ordinal));
        Assert.All(Capabilities.DockerDefault, c => Capabilities.Number(c));
    }

    [Fact]
    public void Adjust_adds_and_drops_by_any_spelling()
    {
        var set = Capabilities.Adjust(Capabilities.DockerDefault, ["sys_admin", "CAP_NET_ADMIN", "NET_RAW"], ["net_raw", "MKNOD"]);
        Assert.Contains("CAP_SYS_ADMIN", set);
        Assert.Contains("CAP_NET_ADMIN", set);
        Assert.DoesNotContain("CAP_MKNOD", set);
        // drops are applied first, so a capability both dropped and added stays
        Assert.Contains("CAP_NET_RAW", set);
        Assert.Equal(set.Count, set.Distinct().Count());
        Assert.Equal(15, set.Count);
    }

    [Fact]
    public void Adjust_drop_all_then_add()
    {
        Assert.Empty(Capabilities.Adjust(Capabilities.DockerDefault, [], ["ALL"]));
        Assert.Equal(["CAP_NET_BIND_SERVICE"], Capabilities.Adjust(Capabilities.DockerDefault, ["net_bind_service"], ["all"]));
    }

    [Fact]
    public void Adjust_add_all_gives_every_capability()
    {
        var set = Capabilities.Adjust(Capabilities.DockerDefault, ["ALL"], []);
        Assert.Equal(Capabilities.All, set);
    }

    [Fact]
    public void Adjust_rejects_unknown_names_in_add_and_drop()
    {
        Assert.Throws<UsageException>(() => Capabilities.Adjust(Capabilities.DockerDefault, ["CAP_FLY"], []));
        Assert.Throws<UsageException>(() => Capabilities.Adjust(Capabilities.DockerDefault, [], ["fly"]));
    }
}
