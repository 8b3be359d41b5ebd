using System.Collections.Concurrent;

namespace CrateRun.Linux.Cgroups;

/// <summary>
/// A cgroup v1 container cgroup with a thread of ours already inside it, so that the
/// container's first process is born there and nothing has to move. Moving another process
/// in (writing its pid to cgroup.procs) takes the global threadgroup lock and waits for an
/// RCU grace period, 9-13 ms on these machines, the largest single cost of a start; a thread
/// that moves itself (writes "0" to tasks) does not. The thread does it as soon as the
/// container's id is known, while the config is still being read and planned; the clone then
/// runs on that thread. It counts as a task of the container's cgroups only until the launch
/// is done. (v2 starts the child directly in its cgroup with clone3(CLONE_INTO_CGROUP).)
/// The thread joins every controller but memory: a clone charges its copy of the runtime (page
/// tables, mappings: a few hundred KiB of a .NET process) to the memory cgroup of the thread
/// that clones, and the container's limit is for the container. The container process moves
/// itself into its memory cgroup instead (launch.c, enter_cgroup; <see cref="OpenMemoryTasks"/>).
/// </summary>
public sealed class PreparedCgroup : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;
    private readonly TaskCompletionSource _created = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _joined = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _kept, _disposed;

    public ICgroupManager Manager { get; }
    public string CgroupsPath { get; }

    private PreparedCgroup(ICgroupManager manager, string cgroupsPath)
    {
        Manager = manager;
        CgroupsPath = cgroupsPath;
        _thread = new Thread(Body) { IsBackground = true, Name = "craterun cgroup launcher" };
        _thread.Start();
    }

    /// <summary>Starts joining the cgroup for <paramref name="cgroupsPath"/>; null where this does not apply (v2, not root).</summary>
    public static PreparedCgroup? TryStart(ICgroupHost layout, string cgroupsPath)
    {
        if (layout.IsV2 || !Environment.IsPrivilegedProcess) return null;
        var manager = layout.ManagerFor(cgroupsPath);
        if (manager.Paths.Values.Any(Directory.Exists)) return null; // an existing cgroup: leave it to the usual path
        return new PreparedCgroup(manager, cgroupsPath);
    }

    /// <summary><see cref="TryStart"/>, with a bad path left for the usual path to report.</summary>
    public static PreparedCgroup? TryPrepare(ICgroupHost layout, string cgroupsPath)
    {
        try { return TryStart(layout, cgroupsPath); }
        catch (Core.CrateRunException) { return null; }
    }

    private void Body()
    {
        try
        {
            Manager.Create();
            // a thread joining a frozen cgroup would freeze with it, and the create would hang
            if (Manager.IsFrozen()) throw new Core.CrateRunException(ContainerCgroupFrozen);
        }
        catch (Exception e)
        {
            _created.SetException(e);
            _joined.SetException(e);
            return;
        }
        _created.SetResult();
        try
        {
            // "0" is the writing thread itself: a single thread moving itself skips the global
            // threadgroup lock, and with it the RCU grace period (Linux 5.18, "cgroup: Optimize
            // single thread migration"); its own tid would not
            foreach (var dir in Manager.Paths.Values.Distinct().Where(d => d != MemoryDir))
            {
                var t0 = Explain.ExplainSession.Active is null ? 0 : Explain.ExplainClock.Now();
                File.WriteAllText(Path.Combine(dir, "tasks"), "0");
                if (t0 != 0) Explain.ExplainSession.CgroupWrite(Path.Combine(dir, "tasks"), "0", t0, null); // this launcher thread: the clone is born here
            }
            _joined.SetResult();
        }
        catch (Exception e)
        {
            _joined.SetException(e);
            return;
        }
        foreach (var work in _work.GetConsumingEnumerable()) work();
    }

    /// <summary>The memory controller's directory when it is a hierarchy of its own (the thread does not join it), else null.</summary>
    private string? MemoryDir =>
        Manager.Paths.TryGetValue("memory", out var dir) && Manager.Paths.Count(p => p.Value == dir) == 1 ? dir : null;

    /// <summary>The memory cgroup's tasks file, for the container process to move itself in; null if the thread joined it.</summary>
    public SafeFd? OpenMemoryTasks()
    {
        if (MemoryDir is not { } dir) return null;
        var tasks = Path.Combine(dir, "tasks");
        return new SafeFd(Interop.Check(Interop.Sys.open(tasks, Interop.Sys.O_WRONLY | Interop.Sys.O_CLOEXEC, 0), "open", tasks));
    }

    /// <summary>runc's words for a cgroup frozen before the container's process is in it.</summary>
    public const string ContainerCgroupFrozen = "container's cgroup unexpectedly frozen";

    /// <summary>Waits until the directories exist (the limits can be written while the thread joins).</summary>
    public void WaitCreated() => _created.Task.GetAwaiter().GetResult();

    /// <summary>Runs <paramref name="launch"/> (the clone, nothing more) on the thread inside the cgroup, once it is there.</summary>
    public T Run<T>(Func<T> launch)
    {
        _joined.Task.GetAwaiter().GetResult();
        T result = default!;
        Exception? error = null;
        using var done = new ManualResetEventSlim();
        _work.Add(() =>
        {
            try { result = launch(); }
            catch (Exception e) { error = e; }
            finally { done.Set(); }
        });
        done.Wait();
        if (error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
        return result;
    }

    /// <summary>The container was created: its cgroup stays when the thread leaves.</summary>
    public void Keep() => _kept = true;

    /// <summary>The thread leaves (its exit takes it out of the cgroup); a cgroup not kept is removed (what it made of it).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _work.CompleteAdding();
        _thread.Join();
        _work.Dispose();
        if (!_kept)
        {
            try { Manager.RemoveCreated(); }
            catch (Core.CrateRunException) { }
        }
    }
}
