using CrateRun.Core.Oci;
using CrateRun.Linux.Process;

namespace CrateRun.Linux.Cgroups;

/// <summary>
/// How a new container's first process gets into its cgroup, and what happens to that cgroup if
/// the create fails. One of three ways, cheapest first:
/// <list type="bullet">
/// <item>v1 as root: the clone runs on a launcher thread already inside (<see cref="PreparedCgroup"/>), nothing moves;</item>
/// <item>v2: clone3(CLONE_INTO_CGROUP) with the directory's fd, the child is born there;</item>
/// <item>otherwise: the launcher writes the waiting child's pid to the cgroup (<see cref="ICgroupManager.AddProcess"/>).</item>
/// </list>
/// <see cref="Commit"/> once the container exists keeps the cgroup; <see cref="Rollback"/> (or
/// disposing it uncommitted) removes what this create made, never a cgroup that was there before.
/// </summary>
public sealed class CgroupPlacement : IDisposable
{
    private readonly PreparedCgroup? _prepared; // given or own: kept on commit
    private readonly PreparedCgroup? _ownPrepared; // started here: its thread leaves on commit or rollback
    private readonly bool _removeOnRollback; // a prepared cgroup removes what it made itself
    private SafeFd? _dir;
    private SafeFd? _memoryTasks;
    private bool _done;

    /// <summary>The container's cgroup; null when it has none (an unprivileged user without limits).</summary>
    public ICgroupManager? Cgroup { get; }

    private CgroupPlacement(ICgroupManager? cgroup, PreparedCgroup? prepared, PreparedCgroup? ownPrepared, bool removeOnRollback)
    {
        Cgroup = cgroup;
        _prepared = prepared;
        _ownPrepared = ownPrepared;
        _removeOnRollback = removeOnRollback;
    }

    /// <summary>
    /// The cgroup made and its <paramref name="limits"/> written, before the process exists. A
    /// <paramref name="given"/> prepared cgroup for the same path is used (the monitor started it
    /// early); otherwise one is started here where it applies (v1, root), else
    /// <paramref name="create"/> makes the cgroup (and writes the limits) the usual way.
    /// </summary>
    public static CgroupPlacement Prepare(ICgroupHost host, string cgroupsPath, PreparedCgroup? given, LinuxResources? limits, Func<ICgroupManager?> create)
    {
        PreparedCgroup? own = null;
        var prepared = given is not null && given.CgroupsPath == cgroupsPath ? given : null;
        if (given is null) prepared = own = PreparedCgroup.TryPrepare(host, cgroupsPath);
        if (prepared is not null)
        {
            var placement = new CgroupPlacement(prepared.Manager, prepared, own, removeOnRollback: false);
            try
            {
                prepared.WaitCreated();
                prepared.Manager.Apply(limits);
            }
            catch
            {
                placement.Rollback();
                throw;
            }
            return placement;
        }
        var cgroup = create();
        var made = new CgroupPlacement(cgroup, null, null, removeOnRollback: cgroup is not null);
        try
        {
            // cgroup v2: clone3(CLONE_INTO_CGROUP) starts the process in its cgroup
            if (host.IsV2 && cgroup is CgroupV2Manager v2) made._dir = OpenDir(v2.Dir);
        }
        catch
        {
            made.Rollback();
            throw;
        }
        return made;
    }

    /// <summary>Tells the launch how the child gets in: the thread to clone on, the directory to clone into, or the pid to move.</summary>
    public Launcher.Callbacks Place(LaunchSpec launch, Launcher.Callbacks callbacks)
    {
        if (_prepared is not null)
        {
            launch.CloneOn = _prepared.Run;
            launch.MemoryTasks = _memoryTasks ??= _prepared.OpenMemoryTasks(); // but memory: the process moves itself in
            return callbacks with { JoinCgroup = null }; // born in the prepared cgroup: nothing to move
        }
        launch.CgroupDir = _dir; // born in its v2 directory: nothing to move either
        return callbacks with { JoinCgroup = _dir is not null || Cgroup is null ? null : Cgroup.AddProcess };
    }

    /// <summary>The container was created: its cgroup stays (also when the launcher thread leaves it).</summary>
    public void Commit()
    {
        if (_done) return;
        _done = true;
        _prepared?.Keep();
        _ownPrepared?.Dispose();
    }

    /// <summary>The create failed: what it made of the cgroup goes (the process must be gone already).</summary>
    public void Rollback()
    {
        if (_done) return;
        _done = true;
        _ownPrepared?.Dispose(); // removes the cgroup it made, unless kept
        if (_removeOnRollback)
        {
            try { Cgroup!.RemoveCreated(); }
            catch (Core.CrateRunException) { }
        }
    }

    /// <summary>Closes the directory fd; uncommitted, rolls back.</summary>
    public void Dispose()
    {
        _dir?.Dispose();
        _dir = null;
        _memoryTasks?.Dispose();
        _memoryTasks = null;
        Rollback();
    }

    private static SafeFd OpenDir(string path) =>
        new(Interop.Check(Interop.Sys.open(path, Interop.Sys.O_RDONLY | Interop.Sys.O_DIRECTORY | Interop.Sys.O_CLOEXEC, 0), "open", path));
}
