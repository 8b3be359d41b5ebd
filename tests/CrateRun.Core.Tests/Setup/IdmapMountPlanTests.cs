using CrateRun.Core.Oci;
using CrateRun.Core.Setup;
using OciLinux = CrateRun.Core.Oci.Linux;

namespace CrateRun.Core.Tests.Setup;

/// <summary>
/// Id-mapped mounts as runtime-spec config.md describes them ("idmap", "ridmap", a mount's
/// uidMappings/gidMappings): which bind gets which mapping, and what is refused with one line.
/// </summary>
public class IdmapMountPlanTests
{
    private const string Rootfs = "/run/craterun/bundle/rootfs";
    private static readonly HostInfo V2 = new(true, []);

    private static List<LinuxIdMapping> Map(uint container, uint host, uint size) => [new LinuxIdMapping { ContainerId = container, HostId = host, Size = size }];

    private static Spec With(Mount m, bool userns = false)
    {
        var s = new Spec
        {
            OciVersion = "1.2.0",
            Root = new Root { Path = "rootfs" },
            Mounts = [m],
            Linux = new OciLinux { Namespaces = [new LinuxNamespace { Type = "mount" }] },
        };
        if (userns)
        {
            s.Linux.Namespaces.Add(new LinuxNamespace { Type = "user" });
            s.Linux.UidMappings = Map(0, 100000, 65536);
            s.Linux.GidMappings = Map(0, 200000, 65536);
        }
        return s;
    }

    private static Mount Bind(params string[] options) => new() { Destination = "/data", Type = "bind", Source = "/srv/data", Options = [.. options] };

    private static SetupStep PlanData(Spec s) => SetupPlanner.Plan(s, Rootfs, V2).Single(x => x.Target == "/data");

    private static string Refusal(Spec s) => Assert.Throws<UsageException>(() => SetupPlanner.Plan(s, Rootfs, V2)).Message;

    [Fact]
    public void Idmap_with_the_mounts_own_mappings_uses_them_on_the_top_mount_only()
    {
        var m = Bind("rbind", "idmap");
        (m.UidMappings, m.GidMappings) = (Map(0, 1000, 10), Map(0, 2000, 10));
        var step = PlanData(With(m));
        Assert.True(step.Flags.HasFlag(StepOptions.IdmapMount));
        Assert.True(step.Flags.HasFlag(StepOptions.Recursive));
        Assert.False(step.Flags.HasFlag(StepOptions.IdmapRecursive));
        Assert.Equal(1000u, Assert.Single(step.IdmapUids!).HostId);
        Assert.Equal(2000u, Assert.Single(step.IdmapGids!).HostId);
        Assert.Equal("", step.Data ?? "");
    }

    [Fact]
    public void Ridmap_maps_the_whole_tree()
    {
        var m = Bind("rbind", "ridmap");
        (m.UidMappings, m.GidMappings) = (Map(0, 1000, 10), Map(0, 1000, 10));
        Assert.True(PlanData(With(m)).Flags.HasFlag(StepOptions.IdmapRecursive));
    }

    [Fact]
    public void Idmap_without_mappings_takes_the_containers_user_namespace_mappings()
    {
        var step = PlanData(With(Bind("rbind", "idmap"), userns: true));
        Assert.Equal(100000u, Assert.Single(step.IdmapUids!).HostId);
        Assert.Equal(200000u, Assert.Single(step.IdmapGids!).HostId);
    }

    [Fact]
    public void Mappings_without_the_option_are_an_idmap_as_runc_11_configs_send_them()
    {
        var m = Bind("rbind");
        (m.UidMappings, m.GidMappings) = (Map(0, 1000, 10), Map(0, 1000, 10));
        var step = PlanData(With(m));
        Assert.True(step.Flags.HasFlag(StepOptions.IdmapMount));
        Assert.False(step.Flags.HasFlag(StepOptions.IdmapRecursive));
    }

    [Fact]
    public void A_plain_bind_has_no_mapping()
    {
        var step = PlanData(With(Bind("rbind"), userns: true));
        Assert.False(step.Flags.HasFlag(StepOptions.IdmapMount));
        Assert.Null(step.IdmapUids);
    }

    [Theory]
    [InlineData("idmap")]
    [InlineData("ridmap")]
    public void Idmap_without_mappings_and_without_a_user_namespace_is_refused(string option) =>
        Assert.Contains($"'{option}'", Refusal(With(Bind("rbind", option))));

    [Fact]
    public void Idmap_on_a_new_filesystem_is_refused()
    {
        var m = new Mount { Destination = "/data", Type = "tmpfs", Source = "tmpfs", Options = ["idmap"] };
        Assert.Contains("only a bind mount", Refusal(With(m, userns: true)));
    }

    [Fact]
    public void Uid_mappings_without_gid_mappings_are_refused()
    {
        var m = Bind("rbind", "idmap");
        m.UidMappings = Map(0, 1000, 10);
        Assert.Contains("together", Refusal(With(m)));
    }

    public static TheoryData<uint, uint, uint, uint, uint, uint, string> BadMappings() => new()
    {
        { 0, 1000, 0, 0, 1000, 0, "empty" },
        { 4294967295, 0, 2, 0, 0, 2, "runs past" },
        { 0, 4294967295, 2, 0, 0, 2, "runs past" },
        { 0, 1000, 10, 5, 2000, 10, "overlap" }, // two container ranges share ids 5..9
        { 0, 1000, 10, 100, 1005, 10, "overlap" }, // two host ranges share ids 1005..1009
    };

    [Theory]
    [MemberData(nameof(BadMappings))]
    public void A_mapping_the_kernel_would_refuse_is_refused_with_one_line(uint c1, uint h1, uint s1, uint c2, uint h2, uint s2, string why)
    {
        var m = Bind("rbind", "idmap");
        var uids = new List<LinuxIdMapping> { new() { ContainerId = c1, HostId = h1, Size = s1 } };
        if (why == "overlap") uids.Add(new LinuxIdMapping { ContainerId = c2, HostId = h2, Size = s2 });
        (m.UidMappings, m.GidMappings) = (uids, Map(0, 1000, 10));
        var message = Refusal(With(m));
        Assert.Contains(why, message);
        Assert.Contains("uidMappings", message);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void More_than_340_entries_are_refused()
    {
        var m = Bind("rbind", "idmap");
        m.UidMappings = [.. Enumerable.Range(0, 341).Select(i => new LinuxIdMapping { ContainerId = (uint)i, HostId = 1000 + (uint)i, Size = 1 })];
        m.GidMappings = Map(0, 1000, 10);
        Assert.Contains("340", Refusal(With(m)));
    }
}
