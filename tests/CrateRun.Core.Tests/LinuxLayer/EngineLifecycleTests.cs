using CrateRun.Core.State;
using CrateRun.Linux;
using CrateRun.Linux.Engine;

namespace CrateRun.Core.Tests.LinuxLayer;

/// <summary>
/// The engine's lifecycle rules without root: processes, launcher, cgroups and hooks are fakes
/// (<see cref="ContainerHost"/>); the state directory, config.json and exec.fifo are real files.
/// The rules are runtime.md's and runc's: create leaves nothing behind when it fails; delete of a
/// container that is not stopped fails and has no effect unless forced; start of a container
/// whose process is gone fails; the exit records an OOM kill; --rm removes the container.
/// </summary>
public sealed class EngineLifecycleTests : IDisposable
{
    private readonly TempDir _tmp = new();
    private readonly FakeProcesses _processes = new();
    private readonly FakeCgroups _cgroups;
    private readonly FakeLauncher _launcher;
    private readonly FakeHooks _hooks = new();
    private readonly ContainerEngine _engine;
    private readonly string _bundle;
    private const string Id = "lifecycle-test";

    public EngineLifecycleTests()
    {
        _cgroups = new FakeCgroups(_processes);
        _launcher = new FakeLauncher(_processes);
        // SIGKILL does not end a process in a frozen cgroup until it is thawed (the v1 freezer)
        _processes.IsFrozen = pid => _cgroups.ByDir.Values.Any(c => c.Frozen && c.Members.Contains(pid));
        var host = new ContainerHost { Processes = _processes, Launcher = _launcher, Cgroups = _cgroups, Hooks = _hooks, IsPrivileged = true };
        _engine = new ContainerEngine(new ContainerStore(_tmp.Dir("state")), host) { Warn = _ => { } };
        _bundle = _tmp.Dir("bundle");
        _tmp.Dir("bundle", "rootfs");
        WriteConfig(pidsLimit: null);
    }

    public void Dispose() => _tmp.Dispose();

    private void WriteConfig(long? pidsLimit) => File.WriteAllText(Path.Combine(_bundle, "config.json"), $$"""
        {
          "ociVersion": "1.0.2",
          "process": { "args": ["/bin/true"], "cwd": "/", "user": { "uid": 0, "gid": 0 } },
          "root": { "path": "rootfs" },
          "hooks": {
            "prestart": [{ "path": "/bin/true" }],
            "createRuntime": [{ "path": "/bin/true" }],
            "poststart": [{ "path": "/bin/true" }],
            "poststop": [{ "path": "/bin/true" }]
          },
          "linux": {
            "namespaces": [{ "type": "pid" }, { "type": "mount" }],
            {{(pidsLimit is { } p ? $"\"resources\": {{ \"pids\": {{ \"limit\": {p} }} }}," : "")}}
            "cgroupsPath": "/craterun-test/{{Id}}"
          }
        }
        """);

    private ContainerStore Store => _engine.Store;
    private FakeCgroup Cgroup => _cgroups.Get("/fake-cgroup/craterun-test/" + Id);
    private string[] Phases => [.. _hooks.Ran.Select(h => h.Phase)];

    private void Register(bool keepOnFailure = false) =>
        _engine.Register(new ContainerRecord { Id = Id, Bundle = _bundle, Face = "oci", Created = DateTimeOffset.UtcNow, KeepOnFailure = keepOnFailure });

    private ContainerRecord Create()
    {
        Register();
        return _engine.Create(Id, new CreateOptions());
    }

    /// <summary>What the container's process does at start: opens exec.fifo for writing (blocks until start reads) and writes a byte.</summary>
    private Task ProcessWritesExecFifo() => Task.Run(() =>
    {
        using var fifo = new FileStream(Store.PathOf(Id, ContainerEngine.ExecFifo), FileMode.Open, FileAccess.Write);
        fifo.WriteByte(0);
    });

    /// <summary>fifo(7): a non-blocking open for writing fails with ENXIO while nobody has it open for reading.</summary>
    private bool ExecFifoHasReader()
    {
        var fd = Interop.Sys.open(Store.PathOf(Id, ContainerEngine.ExecFifo), Interop.Sys.O_WRONLY | Interop.Sys.O_NONBLOCK | Interop.Sys.O_CLOEXEC, 0);
        if (fd < 0) return false;
        Interop.Sys.close(fd);
        return true;
    }

    /// <summary>Brings a created container to the state named, as the host would show it.</summary>
    private void Reach(string state)
    {
        if (state == ContainerStatus.Configured)
        {
            Register();
            _engine.MarkConfigured(Id);
            return;
        }
        var r = Create();
        if (state is ContainerStatus.Running or ContainerStatus.Paused)
        {
            var writer = ProcessWritesExecFifo();
            _engine.Start(Id);
            writer.Wait(TimeSpan.FromSeconds(10));
        }
        if (state == ContainerStatus.Paused) _engine.Pause(Id);
        if (state == ContainerStatus.Exited) _processes.Die(r.Pid);
        _hooks.Ran.Clear();
        _processes.Signals.Clear();
        Assert.Equal(state, _engine.StatusOf(Store.Load(Id)));
    }

    [Fact]
    public void Create_puts_the_process_in_its_cgroup_and_runs_the_create_hooks()
    {
        var r = Create();

        Assert.Equal(ContainerStatus.Created, Store.Load(Id).Status);
        Assert.Equal(4242, r.Pid);
        Assert.True(Cgroup.Exists);
        Assert.Contains(4242, Cgroup.Members);
        Assert.Equal(["prestart", "createRuntime"], Phases);
        Assert.True(File.Exists(Store.PathOf(Id, ContainerEngine.ExecFifo)));
    }

    [Fact]
    public void A_failed_launch_leaves_no_state_dir_no_cgroup_and_runs_no_hook()
    {
        _launcher.Failure = new SyscallException("clone3", "the container's process", 12);
        Register();

        Assert.Throws<SyscallException>(() => _engine.Create(Id, new CreateOptions()));

        Assert.False(Directory.Exists(Store.Dir(Id)));
        Assert.False(Cgroup.Exists);
        Assert.Empty(_hooks.Ran);
    }

    [Fact]
    public void A_failure_after_the_launch_kills_the_process_and_removes_everything()
    {
        WriteConfig(pidsLimit: 10);
        Cgroup.FailPidsLimit = new CrateRunException("pids.max: invalid argument");
        Register();

        var e = Assert.Throws<CrateRunException>(() => _engine.Create(Id, new CreateOptions()));

        Assert.Equal("pids.max: invalid argument", e.Message);
        Assert.Contains((4242, 9), _processes.Signals);
        Assert.False(_processes.Alive(4242));
        Assert.False(Directory.Exists(Store.Dir(Id)));
        Assert.False(Cgroup.Exists);
        Assert.DoesNotContain("poststart", Phases);
        Assert.DoesNotContain("poststop", Phases);
    }

    [Fact]
    public void A_failed_launch_of_a_container_made_by_create_keeps_its_state_but_not_its_cgroup()
    {
        _launcher.Failure = new CrateRunException("exec failed");
        Register(keepOnFailure: true);

        Assert.Throws<CrateRunException>(() => _engine.Create(Id, new CreateOptions()));

        Assert.True(Store.Exists(Id));
        Assert.False(Cgroup.Exists);
    }

    // runtime.md: delete of a container that is not stopped MUST fail and have no effect (runc
    // also deletes a created one, killing its waiting process); --force kills it first.
    [Theory]
    [InlineData(ContainerStatus.Configured, false, true)]
    [InlineData(ContainerStatus.Created, false, true)]
    [InlineData(ContainerStatus.Running, false, false)]
    [InlineData(ContainerStatus.Paused, false, false)]
    [InlineData(ContainerStatus.Exited, false, true)]
    [InlineData(ContainerStatus.Configured, true, true)]
    [InlineData(ContainerStatus.Created, true, true)]
    [InlineData(ContainerStatus.Running, true, true)]
    [InlineData(ContainerStatus.Paused, true, true)]
    [InlineData(ContainerStatus.Exited, true, true)]
    public void Delete_in_each_state(string state, bool force, bool removed)
    {
        Reach(state);
        var pid = Store.Load(Id).Pid;

        if (removed)
        {
            _engine.Delete(Id, force);

            Assert.False(Directory.Exists(Store.Dir(Id)));
            Assert.False(Cgroup.Exists);
            if (pid > 0) Assert.False(_processes.Alive(pid));
            // a container that was created has poststop hooks, run once it is gone; a configured one never ran
            Assert.Equal(state == ContainerStatus.Configured ? [] : ["poststop"], Phases);
        }
        else
        {
            var e = Assert.Throws<CrateRunException>(() => _engine.Delete(Id, force));

            Assert.Equal($"cannot delete container {Id} that is not stopped: {state}", e.Message);
            Assert.Equal(state, _engine.StatusOf(Store.Load(Id)));
            Assert.Empty(_processes.Signals);
            Assert.True(Cgroup.Exists);
            Assert.Empty(_hooks.Ran);
        }
    }

    [Fact]
    public async Task Start_runs_the_process_and_the_poststart_hooks()
    {
        Create();
        _hooks.Ran.Clear();
        var writer = ProcessWritesExecFifo();

        _engine.Start(Id);

        await writer.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(ContainerStatus.Running, Store.Load(Id).Status);
        Assert.Equal(["poststart"], Phases);
    }

    [Fact]
    public void Start_of_a_container_whose_process_died_before_it_is_refused()
    {
        var r = Create();
        _hooks.Ran.Clear();
        _processes.Die(r.Pid);

        var e = Assert.Throws<CrateRunException>(() => _engine.Start(Id));

        Assert.Equal("cannot start a container that has stopped", e.Message);
        Assert.Equal("stopped", _engine.State(Id).Status);
        Assert.Null(Store.Load(Id).Started);
        Assert.Empty(_hooks.Ran);
    }

    [Fact]
    public async Task Start_fails_when_the_process_dies_while_start_waits_for_it()
    {
        var r = Create();
        _hooks.Ran.Clear();
        // alive when start looks at the status; gone once start waits on exec.fifo, before writing to it
        _processes.OnIsAlive = pid => { if (pid == r.Pid && ExecFifoHasReader()) _processes.Die(pid); };

        var start = Task.Run(() => _engine.Start(Id));
        Assert.Same(start, await Task.WhenAny(start, Task.Delay(TimeSpan.FromSeconds(20)))); // no endless wait for a dead process
        var e = await Assert.ThrowsAsync<CrateRunException>(() => start);

        Assert.Equal($"container {Id} exited before it could start", e.Message);
        Assert.NotEqual(ContainerStatus.Running, Store.Load(Id).Status);
        Assert.Null(Store.Load(Id).Started);
        Assert.Empty(_hooks.Ran);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_exit_records_whether_the_oom_killer_ended_the_container(bool oomKilled)
    {
        Reach(ContainerStatus.Running);
        Cgroup.Oom = oomKilled;
        _processes.Die(4242);

        _engine.RecordExit(Id, 137);

        var r = Store.Load(Id);
        Assert.Equal(oomKilled, r.OomKilled);
        Assert.Equal(137, r.ExitCode);
        Assert.Equal(ContainerStatus.Exited, r.Status);
        Assert.NotNull(r.Finished);
        Assert.False(Cgroup.Exists);
        Assert.Empty(r.CgroupPaths);
    }

    [Fact]
    public void The_exit_kills_what_is_left_in_the_cgroup_before_removing_it()
    {
        Reach(ContainerStatus.Running);
        _processes.Spawn(4343); // a child the container's init left behind
        Cgroup.Members.Add(4343);
        _processes.Die(4242);

        _engine.RecordExit(Id, 0);

        Assert.Contains((4343, 9), _processes.Signals);
        Assert.False(Cgroup.Exists);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_run_with_rm_is_removed_when_it_exits(bool autoRemove)
    {
        Reach(ContainerStatus.Running);
        var r = Store.Load(Id);
        r.AutoRemove = autoRemove;
        Store.Save(r);
        _processes.Die(4242);

        _engine.CompleteRun(Id, 3);

        Assert.False(Cgroup.Exists);
        if (autoRemove) Assert.False(Directory.Exists(Store.Dir(Id)));
        else Assert.Equal((ContainerStatus.Exited, (int?)3), (Store.Load(Id).Status, Store.Load(Id).ExitCode));
    }
}
