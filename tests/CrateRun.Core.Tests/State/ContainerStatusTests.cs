using CrateRun.Core.State;

namespace CrateRun.Core.Tests.State;

/// <summary>
/// The lifecycle rules as runc 1.1 applies them (libcontainer's state machine and its
/// command texts), which containerd's shim, podman and Docker act on.
/// </summary>
public sealed class ContainerStatusTests
{
    private const string Creating = ContainerStatus.Creating, Created = ContainerStatus.Created, Running = ContainerStatus.Running,
        Paused = ContainerStatus.Paused, Exited = ContainerStatus.Exited;

    [Theory]
    [InlineData(Creating, false)]
    [InlineData(Created, true)]
    [InlineData(Running, false)]
    [InlineData(Paused, false)]
    [InlineData(Exited, false)]
    public void Only_a_created_container_starts(string status, bool can) => Assert.Equal(can, ContainerStatus.CanStart(status));

    [Theory]
    [InlineData(Creating, false)]
    [InlineData(Created, true)]
    [InlineData(Running, true)]
    [InlineData(Paused, true)]
    [InlineData(Exited, false)]
    public void A_live_process_can_be_signalled(string status, bool can) => Assert.Equal(can, ContainerStatus.CanKill(status));

    [Theory]
    [InlineData(Creating, false)]
    [InlineData(Created, true)] // runc deletes a never started container without --force
    [InlineData(Running, false)]
    [InlineData(Paused, false)]
    [InlineData(Exited, true)]
    public void Delete_without_force_takes_stopped_and_created(string status, bool can) => Assert.Equal(can, ContainerStatus.CanDelete(status));

    [Theory]
    [InlineData(Creating, false, false)]
    [InlineData(Created, false, true)]
    [InlineData(Running, false, true)]
    [InlineData(Paused, false, false)]
    [InlineData(Paused, true, true)]
    [InlineData(Exited, false, false)]
    [InlineData(Exited, true, false)]
    public void Exec_joins_created_and_running_and_paused_only_when_asked(string status, bool ignorePaused, bool can) =>
        Assert.Equal(can, ContainerStatus.CanExec(status, ignorePaused));

    [Theory]
    [InlineData(Created, true, false)]
    [InlineData(Running, true, false)]
    [InlineData(Paused, false, true)]
    [InlineData(Exited, false, false)]
    public void Pause_takes_a_live_container_resume_a_paused_one(string status, bool canPause, bool canResume)
    {
        Assert.Equal(canPause, ContainerStatus.CanPause(status));
        Assert.Equal(canResume, ContainerStatus.CanResume(status));
    }

    [Theory]
    [InlineData(Creating, "creating")]
    [InlineData(Created, "created")]
    [InlineData(Running, "running")]
    [InlineData(Paused, "paused")]
    [InlineData(Exited, "stopped")]
    [InlineData(ContainerStatus.Restarting, "stopped")] // no process while the monitor waits to restart it
    public void Oci_names_are_runtime_md_and_runc_paused(string status, string oci) => Assert.Equal(oci, ContainerStatus.Oci(status));

    [Fact]
    public void Refusals_carry_the_texts_callers_match()
    {
        // containerd's checkKillError maps "container not running" to NotFound
        Assert.Equal("container not running", ContainerStatus.NotRunning);
        Assert.Equal("cannot delete container c1 that is not stopped: running", ContainerStatus.DeleteRefusal("c1", Running));
        Assert.Equal("cannot delete container c1 that is not stopped: paused", ContainerStatus.DeleteRefusal("c1", Paused));
        Assert.Contains("cannot exec in a paused container", ContainerStatus.ExecRefusal("c1", Paused));
        Assert.Contains("--ignore-paused", ContainerStatus.ExecRefusal("c1", Paused));
        Assert.Equal("container c1 is not running: cannot exec in a stopped container", ContainerStatus.ExecRefusal("c1", Exited));
        Assert.Equal("cannot start a container that has stopped", ContainerStatus.StartRefusal(Exited));
        Assert.Equal("cannot start an already running container", ContainerStatus.StartRefusal(Running));
        Assert.Equal("cannot start a container in the paused state", ContainerStatus.StartRefusal(Paused));
    }
}
