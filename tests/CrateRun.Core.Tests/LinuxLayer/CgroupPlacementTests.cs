using CrateRun.Core.Oci;
using CrateRun.Linux.Cgroups;
using CrateRun.Linux.Process;

namespace CrateRun.Core.Tests.LinuxLayer;

/// <summary>
/// How a new container's process gets into its cgroup (<see cref="CgroupPlacement"/>), and the v2
/// manager's Create below a mount root that is a plain directory (cgroup.controllers and
/// cgroup.subtree_control are plain files there; new directories get none, as if delegating nothing).
/// </summary>
public sealed class CgroupPlacementTests : IDisposable
{
    private readonly TempDir _tmp = new();
    private readonly string _root;
    private readonly FakeCgroups _fakeHost = new(new FakeProcesses());

    public CgroupPlacementTests()
    {
        _root = _tmp.Dir("unified");
        File.WriteAllText(Path.Combine(_root, "cgroup.controllers"), "cpuset cpu io memory pids\n");
        File.WriteAllText(Path.Combine(_root, "cgroup.subtree_control"), "");
    }

    public void Dispose() => _tmp.Dispose();

    [Fact]
    public void V2_create_enables_the_controllers_top_down_and_makes_the_directories_below_its_mount_root()
    {
        var m = new CgroupV2Manager(Path.Combine(_root, "parent", "ctr"), mountRoot: _root);

        m.Create();

        // "cgroup.subtree_control ... Writes to this file enable or disable controllers for the children" (cgroup-v2.rst)
        Assert.Equal("+cpu +cpuset +memory +pids +io", File.ReadAllText(Path.Combine(_root, "cgroup.subtree_control")));
        Assert.True(Directory.Exists(Path.Combine(_root, "parent", "ctr")));
        Assert.Equal([Path.Combine(_root, "parent")], m.CreatedParents);
    }

    [Fact]
    public void V2_remove_created_takes_what_create_made_and_leaves_a_parent_that_was_there()
    {
        var existing = _tmp.Dir("unified", "existing");
        var m = new CgroupV2Manager(Path.Combine(existing, "made", "ctr"), mountRoot: _root);
        m.Create();

        m.RemoveCreated();

        Assert.False(Directory.Exists(Path.Combine(existing, "made")));
        Assert.True(Directory.Exists(existing));
    }

    [Fact]
    public void V2_create_refuses_a_directory_outside_its_mount_root()
    {
        var m = new CgroupV2Manager(_tmp.Sub("elsewhere", "ctr"), mountRoot: _root);

        var e = Assert.Throws<CrateRunException>(m.Create);

        Assert.Contains($"outside {_root}", e.Message);
        Assert.False(Directory.Exists(_tmp.Sub("elsewhere")));
    }

    private CgroupPlacement PrepareV2(CgroupV2Manager m, LinuxResources? limits = null) =>
        CgroupPlacement.Prepare(_fakeHost, "/ctr", given: null, limits, () =>
        {
            m.Create();
            m.Apply(limits);
            return m;
        });

    [Fact]
    public void On_v2_the_process_is_cloned_into_its_cgroup_directory_and_not_moved()
    {
        var m = new CgroupV2Manager(Path.Combine(_root, "ctr"), mountRoot: _root);
        var launch = new LaunchSpec();
        using var placement = PrepareV2(m);

        var callbacks = placement.Place(launch, new Launcher.Callbacks { JoinCgroup = _ => Assert.Fail("moved") });

        Assert.NotNull(launch.CgroupDir);
        Assert.Equal(Path.Combine(_root, "ctr"), new FileInfo($"/proc/self/fd/{launch.CgroupDir!.Fd}").LinkTarget);
        Assert.Null(callbacks.JoinCgroup);
        Assert.Null(launch.CloneOn);
    }

    [Fact]
    public void Without_a_directory_to_clone_into_the_waiting_child_is_moved_in()
    {
        var cgroup = (FakeCgroup)_fakeHost.ManagerFor("ctr");
        var launch = new LaunchSpec();
        using var placement = CgroupPlacement.Prepare(_fakeHost, "ctr", null, null, () => { cgroup.Create(); return cgroup; });

        placement.Place(launch, new Launcher.Callbacks()).JoinCgroup!(77);

        Assert.Equal([77], cgroup.Members);
        Assert.Null(launch.CgroupDir);
    }

    [Fact]
    public void No_cgroup_means_nothing_to_join()
    {
        var launch = new LaunchSpec();
        using var placement = CgroupPlacement.Prepare(_fakeHost, "ctr", null, null, () => null);

        var callbacks = placement.Place(launch, new Launcher.Callbacks());

        Assert.Null(placement.Cgroup);
        Assert.Null(callbacks.JoinCgroup);
        Assert.Null(launch.CgroupDir);
    }

    [Fact]
    public void Rollback_removes_the_cgroup_the_create_made()
    {
        var m = new CgroupV2Manager(Path.Combine(_root, "parent", "ctr"), mountRoot: _root);
        var placement = PrepareV2(m);

        placement.Rollback();
        placement.Dispose();

        Assert.False(Directory.Exists(Path.Combine(_root, "parent")));
    }

    [Fact]
    public void An_uncommitted_placement_rolls_back_when_disposed()
    {
        var m = new CgroupV2Manager(Path.Combine(_root, "ctr"), mountRoot: _root);

        PrepareV2(m).Dispose();

        Assert.False(Directory.Exists(Path.Combine(_root, "ctr")));
    }

    [Fact]
    public void A_committed_placement_keeps_the_cgroup()
    {
        var m = new CgroupV2Manager(Path.Combine(_root, "ctr"), mountRoot: _root);
        var placement = PrepareV2(m);

        placement.Commit();
        placement.Dispose();
        placement.Rollback();

        Assert.True(Directory.Exists(Path.Combine(_root, "ctr")));
    }
}
