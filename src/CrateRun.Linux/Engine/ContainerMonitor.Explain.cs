using CrateRun.Core.Explain;
using CrateRun.Linux.Explain;

namespace CrateRun.Linux.Engine;

/// <summary>`craterun run --explain`: the monitor creates and starts the container, so it is the one that explains (docs/the-monitor.md).</summary>
public static partial class ContainerMonitor
{
    /// <summary>The CLI's stderr, while the monitor explains; closed once the container runs.</summary>
    private static SafeFd? _explainFd;

    /// <summary>The last step: the container runs; the monitor told the CLI, and now copies its output and waits.</summary>
    private static void ExplainMonitor(ContainerEngine engine, int pid, long t0)
    {
        if (engine.Explainer is not { } explain) return;
        explain.Runtime(ExplainTopic.Monitor, "monitor",
            $"the monitor (pid {Environment.ProcessId}) tells craterun the container runs, then copies its output to the logs and waits for it",
            $"sendmsg(fd {ControlFd}, \"{new MonitorMessage.Started(pid).Encode()}\"); then poll(stdout/stderr pipes) and waitpid({pid})", t0,
            [$"after {GraceMs} ms it execs its small C waiting phase (monitor.c) to use less memory while the container runs"]);
        engine.Explainer = null;
        _explainFd?.Dispose();
        _explainFd = null;
    }
}
