using CrateRun.Core.Explain;
using CrateRun.Core.Oci;
using CrateRun.Linux.Explain;
using CrateRun.Linux.Process;

namespace CrateRun.Linux.Engine;

/// <summary>
/// `--explain`: the engine's side. The runtime's own steps (cgroup files, id maps, the start)
/// are shown as they happen; the C stage's come back as records (Explain/LaunchTrace.cs) and
/// are shown at READY, after the execve, or at a failure. docs/README.md lists the pages.
/// </summary>
public sealed partial class ContainerEngine
{
    private ExplainSession? _explain;

    /// <summary>Where explain steps go; null = off (then each step costs one test, here and in launch.c).</summary>
    public ExplainSession? Explainer
    {
        get => _explain;
        set => ExplainSession.Active = _explain = value;
    }

    /// <summary>The trace buffer for a launch, or null when explain is off.</summary>
    private LaunchTrace? StartTrace(string? path)
    {
        if (_explain is null) return null;
        var trace = LaunchTrace.Create(path);
        _explain.Hold(); // from the clone on, the runtime's steps are sorted in with the stage's
        return trace;
    }

    /// <summary>Shows the C stage's records so far (at READY, or after a failure: the failed step with errno and hint).</summary>
    private void ShowTrace(LaunchTrace? trace, TraceContext context, bool failed = false)
    {
        if (_explain is null || trace is null) return;
        _explain.Release(trace.TakeNew(finishedOnly: !failed).Select(r => TraceDecoder.Describe(r, context)));
    }

    /// <summary>Runs a step of the runtime's own, shown with its cost (and its failure).</summary>
    private void Explained(ExplainTopic topic, string step, string text, string call, Action action, IReadOnlyList<string>? why = null)
    {
        if (_explain is null)
        {
            action();
            return;
        }
        var t0 = ExplainClock.Now();
        try
        {
            action();
        }
        catch (Exception e)
        {
            _explain.Runtime(topic, step, text, call, t0, why, e);
            throw;
        }
        _explain.Runtime(topic, step, text, call, t0, why);
    }

    private Action<int> ExplainedIdMaps(Spec spec) => pid => Explained(ExplainTopic.UserNamespaces, "id-maps",
        "map the container's uids and gids to the host's",
        $"write(\"/proc/{pid}/uid_map\", \"{Maps(spec.Linux?.UidMappings)}\"); write(\"/proc/{pid}/setgroups\", ...); write(\"/proc/{pid}/gid_map\", \"{Maps(spec.Linux?.GidMappings)}\")",
        () => UserNamespaces.WriteMaps(pid, spec.Linux?.UidMappings, spec.Linux?.GidMappings),
        ["the child waits for GO: until the maps exist its ids are the overflow id"]);

    private static string Maps(List<LinuxIdMapping>? maps) =>
        maps is null ? "" : string.Join("\\n", maps.Select(m => $"{m.ContainerId} {m.HostId} {m.Size}"));

    /// <summary>
    /// After `start` opened exec.fifo: the process runs the startContainer hooks, locks itself
    /// down and execs. The records of that come back through the trace file that create left;
    /// the execve's end is when its /proc/PID/exe stops being the runtime's binary.
    /// </summary>
    private void ExplainStart(string id, Core.State.ContainerRecord r, long t0)
    {
        if (_explain is null) return;
        _explain.Runtime(ExplainTopic.OciLifecycle, "start", "start: open exec.fifo, which lets the waiting process go on",
            $"open(\"{Store.PathOf(id, ExecFifo)}\", O_RDONLY|O_NONBLOCK); poll; read(fd, 1) = \"0\"", t0);
        using var trace = LaunchTrace.Open(Store.PathOf(id, LaunchTrace.FileName));
        if (trace is null)
        {
            _explain.Runtime(ExplainTopic.OciLifecycle, "start", "the C stage's records are not available (create ran without --explain)", "(none)", ExplainClock.Now());
            return;
        }
        ShowAfterExec(trace, r.Pid, new TraceContext(null, LoadSpec(r), r.Rootfs));
    }

    private void ShowAfterExec(LaunchTrace trace, int pid, TraceContext context)
    {
        var execNs = WaitForExec(trace, pid);
        var records = trace.TakeNew(finishedOnly: false);
        _explain!.Release(records.Select(rec =>
        {
            if (rec.What == TraceDecoder.Execve && rec.EndNs == 0 && rec.Err == 0) rec.EndNs = execNs;
            return TraceDecoder.Describe(rec, context);
        }));
    }

    /// <summary>When the process became its program: its exe link changed (or it is gone). Bounded: 2 s.</summary>
    private static long WaitForExec(LaunchTrace trace, int pid)
    {
        var ours = LinkOf("/proc/self/exe");
        var deadline = Environment.TickCount64 + 2000;
        while (Environment.TickCount64 < deadline)
        {
            if (trace.Failed()) return ExplainClock.Now();
            if (trace.Reached(TraceDecoder.Execve))
            {
                var theirs = LinkOf($"/proc/{pid}/exe");
                if (theirs is null || theirs != ours) return ExplainClock.Now();
            }
            Thread.SpinWait(200);
        }
        return ExplainClock.Now();
    }

    private static string? LinkOf(string path)
    {
        try { return new FileInfo(path).LinkTarget; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
