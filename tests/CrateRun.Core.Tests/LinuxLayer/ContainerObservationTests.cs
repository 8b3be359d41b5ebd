using CrateRun.Core.State;
using CrateRun.Linux.Engine;

namespace CrateRun.Core.Tests.LinuxLayer;

/// <summary>
/// What `ps` and `inspect` say of a container from one look at its process. A container's process
/// is its monitor's child, and a process's parent is always a live process (the kernel hands the
/// children of one that ended to a reaper), so while the container names its monitor as parent the
/// monitor is alive. A task frozen by the v1 freezer is reported in state D, so on v1 a container
/// process in another state is not paused.
/// </summary>
public sealed class ContainerObservationTests : IDisposable
{
    private readonly TempDir _tmp = new();
    private readonly FakeProcesses _processes = new();
    private readonly FakeCgroups _cgroups;
    private readonly ContainerEngine _engine;
    private const int ContainerPid = 4100, MonitorPid = 4000;
    private const string CgroupDir = "/fake-cgroup/observed";

    public ContainerObservationTests() : this(isV2: true) { }

    private ContainerObservationTests(bool isV2)
    {
        _cgroups = new FakeCgroups(_processes) { IsV2 = isV2 };
        _processes.IsFrozen = pid => _cgroups.ByDir.Values.Any(c => c.Frozen && c.Members.Contains(pid));
        var host = new ContainerHost { Processes = _processes, Cgroups = _cgroups, IsPrivileged = true };
        _engine = new ContainerEngine(new ContainerStore(_tmp.Dir("state")), host) { Warn = _ => { } };
    }

    public void Dispose() => _tmp.Dispose();

    private static ContainerRecord Running() => new()
    {
        Id = "observed",
        Status = ContainerStatus.Running,
        Pid = ContainerPid,
        PidStartTime = 1000,
        MonitorPid = MonitorPid,
        MonitorStartTime = 1000,
        Created = DateTimeOffset.UtcNow,
        CgroupPaths = new() { ["unified"] = CgroupDir, ["freezer"] = CgroupDir },
    };

    /// <summary>The monitor and its container, in the container's cgroup.</summary>
    private FakeCgroup Start()
    {
        _processes.Spawn(MonitorPid);
        _processes.Spawn(ContainerPid, parentPid: MonitorPid);
        var cgroup = _cgroups.Get(CgroupDir);
        cgroup.Create();
        cgroup.AddProcess(ContainerPid);
        return cgroup;
    }

    [Fact]
    public void A_container_whose_parent_is_its_monitor_has_a_live_monitor_without_a_look_at_the_monitor()
    {
        Start();
        var looked = new List<int>();
        _processes.OnIsAlive = looked.Add;

        Assert.Equal((ContainerStatus.Running, false), _engine.Observe(Running()));
        Assert.DoesNotContain(MonitorPid, looked);
    }

    [Fact]
    public void A_killed_monitor_is_gone_once_its_container_went_to_another_parent()
    {
        Start();
        _processes.Die(MonitorPid); // SIGKILL: the container is handed to init

        Assert.Equal((ContainerStatus.Running, true), _engine.Observe(Running()));
    }

    [Fact]
    public void A_container_of_another_parent_asks_the_monitor_itself()
    {
        // `craterun create` made the process and exited; `start` gave it a monitor that is not its parent
        _processes.Spawn(MonitorPid);
        _processes.Spawn(ContainerPid, parentPid: 1);

        Assert.Equal((ContainerStatus.Running, false), _engine.Observe(Running()));
        _processes.Die(MonitorPid);
        Assert.Equal((ContainerStatus.Running, true), _engine.Observe(Running()));
    }

    [Fact]
    public void An_exited_container_has_no_monitor_to_miss() =>
        Assert.Equal((ContainerStatus.Exited, false), _engine.Observe(Running()));

    [Fact]
    public void On_v1_a_container_process_that_is_not_in_state_D_is_not_paused_and_its_freezer_is_not_read()
    {
        using var v1 = new ContainerObservationTests(isV2: false);
        var cgroup = v1.Start();
        Assert.Equal(ContainerStatus.Running, v1._engine.StatusOf(Running()));
        Assert.Equal(0, cgroup.FrozenReads);

        cgroup.Freeze(); // its tasks now show D
        Assert.Equal(ContainerStatus.Paused, v1._engine.StatusOf(Running()));
        Assert.Equal(1, cgroup.FrozenReads);
    }

    [Fact]
    public void On_v2_the_freezer_is_always_read_as_frozen_tasks_look_like_sleepers()
    {
        var cgroup = Start();
        Assert.Equal(ContainerStatus.Running, _engine.StatusOf(Running()));
        cgroup.Freeze();
        Assert.Equal(ContainerStatus.Paused, _engine.StatusOf(Running()));
        Assert.Equal(2, cgroup.FrozenReads);
    }
}
