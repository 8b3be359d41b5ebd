using CrateRun.Core.Config;

namespace CrateRun.Core.Tests.Config;

/// <summary>/etc/subuid and /etc/subgid as subuid(5) writes them, and the maps of a rootless container.</summary>
public class SubordinateIdsTests
{
    // as useradd writes them (shadow 4.13, SUB_UID_COUNT 65536), plus a numeric owner and a comment
    private const string File = "alice:100000:65536\nbob:165536:65536\n# a comment\n1003:231072:65536\n";

    [Fact]
    public void A_range_is_found_by_login_name_or_by_numeric_uid()
    {
        Assert.Equal(new SubordinateRange(165536, 65536), SubordinateIds.Find(File, "bob", 1002));
        Assert.Equal(new SubordinateRange(231072, 65536), SubordinateIds.Find(File, "carol", 1003));
        Assert.Null(SubordinateIds.Find(File, "dave", 1004));
        Assert.Null(SubordinateIds.Find(null, "alice", 1001));
        // a name that is only a prefix of another's is not its owner
        Assert.Null(SubordinateIds.Find(File, "ali", 1005));
    }

    [Theory]
    [InlineData("alice:100000:0\n")]           // no ids
    [InlineData("alice:x:65536\n")]            // not a number
    [InlineData("alice:4294967295:2\n")]       // past the last id
    [InlineData("alice:100000\n")]             // a field missing
    public void Lines_newuidmap_would_not_accept_give_no_range(string text) =>
        Assert.Null(SubordinateIds.Find(text, "alice", 1001));

    [Fact]
    public void With_a_range_of_each_the_user_is_root_and_the_ranges_follow_as_podman_maps_them()
    {
        var (uids, gids) = SubordinateIds.RootlessMaps(1001, 1001, new SubordinateRange(100000, 65536), new SubordinateRange(200000, 1000));
        Assert.Equal([(0u, 1001u, 1u), (1u, 100000u, 65536u)], uids.Select(m => (m.ContainerId, m.HostId, m.Size)));
        Assert.Equal([(0u, 1001u, 1u), (1u, 200000u, 1000u)], gids.Select(m => (m.ContainerId, m.HostId, m.Size)));
    }

    [Fact]
    public void Without_both_ranges_only_the_users_own_ids_are_mapped()
    {
        var (uids, gids) = SubordinateIds.RootlessMaps(1001, 1002, new SubordinateRange(100000, 65536), null);
        Assert.Equal([(0u, 1001u, 1u)], uids.Select(m => (m.ContainerId, m.HostId, m.Size)));
        Assert.Equal([(0u, 1002u, 1u)], gids.Select(m => (m.ContainerId, m.HostId, m.Size)));
    }

    [Fact]
    public void The_default_userns_of_a_user_holds_its_ranges_root_keeps_none_and_explicit_maps_win()
    {
        var range = new SubordinateRange(100000, 65536);
        var (uids, _) = SpecBuilder.ParseUserns(null, privileged: false, 1001, 1001, range, range)!.Value;
        Assert.Equal(2, uids.Count);
        Assert.Null(SpecBuilder.ParseUserns(null, privileged: true, 0, 0, range, range));
        var (given, _) = SpecBuilder.ParseUserns("0:300000:10", privileged: false, 1001, 1001, range, range)!.Value;
        Assert.Equal([(0u, 300000u, 10u)], given.Select(m => (m.ContainerId, m.HostId, m.Size)));
        Assert.Equal([(0u, 1001u, 1u)], SpecBuilder.ParseUserns(null, false, 1001, 1001)!.Value.Uids.Select(m => (m.ContainerId, m.HostId, m.Size)));
    }
}
