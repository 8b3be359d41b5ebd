using CrateRun.Core;

namespace CrateRun.Cli;

/// <summary>
/// One executable, two faces. Invoked as <c>craterun-oci</c> or <c>runc</c> (a symlink), or as
/// <c>craterun oci ...</c>, it is the runc-compatible OCI runtime; otherwise the Docker-like CLI.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        Timing.Mark("main");
        // rootless with subordinate ids: what holds files of the user's range is removed by a helper in that range
        Core.State.ContainerStore.DeleteTreeOfSubordinateOwners = Linux.Process.SubordinateOwners.DeleteTree;
        // a save over an existing file swaps the names (no write-out at once, see ContainerStore.WriteAtomic)
        Core.State.ContainerStore.ExchangeFiles = Linux.StateFiles.Exchange;
        if (args is [Linux.Process.SubordinateOwners.HelperArg, var helperOp, var helperPath])
            return Guard(() => Linux.Process.SubordinateOwners.HelperMain(helperOp, helperPath), "craterun (subordinate ids)");
        // a container's monitor: this same binary, started by `craterun run` (ContainerMonitor)
        if (args is [Linux.Engine.ContainerMonitor.MonitorArg])
            return Guard(Linux.Engine.ContainerMonitor.Main);
        if (args is [Linux.Engine.ContainerMonitor.ExitArg, var root, var id, var status])
            return Guard(() => Linux.Engine.ContainerMonitor.Exit(root, id, status));
        // an OCI hook whose argv[0] is not its path, started by Hooks.Run: exec it as asked
        // a health check's probe, started by the monitor (monitor.c): it execs into the container, so from a sealed copy
        if (args is [Linux.Engine.HealthChecks.ProbeArg, var probeRoot, var probeId])
        {
            Linux.Process.SealedBinary.EnsureOrReexec();
            return Guard(() => Linux.Engine.HealthChecks.Probe(probeRoot, probeId), "craterun health check");
        }
        if (args is [Linux.Engine.Hooks.ExecArg, var hookPath, .. var hookArgv] && hookArgv.Length > 0)
            return Guard(() => Linux.Engine.Hooks.ExecAs(hookPath, hookArgv), "craterun hook");
        var self = Path.GetFileName(Argv0());
        // exec joins a running container: run it from a sealed copy of this binary (CVE-2019-5736).
        // Decided by the command word only: "exec" elsewhere (a name, the container's argv) is data.
        // The constructor re-executed it from the read-only overlay already (sealed_exec.c); here only
        // the fallback where that could not be made.
        // read once (Native/command_line.c, as the constructor reads argv): each face builds only this command's parser
        var word = Linux.Process.CommandLine.CommandWord(args);
        if (word == "exec")
            Linux.Process.SealedBinary.EnsureOrReexec();
        if (self is "craterun-oci" or "runc")
            return OciCli.Run(args, word);
        if (args.Length > 0 && args[0] == "oci")
            return OciCli.Run(args[1..], word);
        return DockerCli.Run(args, word);
    }

    /// <summary>argv[0] as the caller wrote it (a symlink name survives, unlike the process path).</summary>
    private static string Argv0()
    {
        try
        {
            var cmdline = File.ReadAllBytes("/proc/self/cmdline");
            var end = Array.IndexOf(cmdline, (byte)0);
            return System.Text.Encoding.UTF8.GetString(cmdline, 0, end < 0 ? cmdline.Length : end);
        }
        catch (IOException)
        {
            return "craterun";
        }
    }

    /// <summary>Runs a handler: user errors become one line on stderr and their exit code.</summary>
    public static int Guard(Func<int> handler, string prefix = "craterun")
    {
        try
        {
            return handler();
        }
        catch (CrateRunException e)
        {
            Console.Error.WriteLine($"{prefix}: {e.Message}");
            return e.ExitCode;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            Console.Error.WriteLine($"{prefix}: {e.Message}");
            return ExitCodes.RuntimeError;
        }
    }
}
