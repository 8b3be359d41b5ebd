using System.Runtime.InteropServices;
using CrateRun.Core;
using CrateRun.Core.Oci;

namespace CrateRun.Linux.Engine;

/// <summary>OCI hooks: each runs with the container's state JSON on stdin, in order, with its timeout.</summary>
public static class Hooks
{
    /// <summary>The hidden argument under which this binary execs a hook whose argv[0] is not its path.</summary>
    public const string ExecArg = "_hook-exec";

    public static void Run(List<Hook>? hooks, string phase, OciState state, bool failOnError = true)
    {
        if (hooks is not { Count: > 0 }) return;
        var json = OciJson.Serialize(state, indented: false);
        foreach (var h in hooks)
        {
            // args[0] is the hook's argv[0] (execv's argv). ProcessStartInfo always puts the path
            // there, so a hook whose args[0] differs (Docker's libnetwork-setkey: dockerd's own
            // executable, dispatching on argv[0]) starts as this binary, which execs it (ExecAs)
            var viaExec = h.Args is [var argv0, ..] && argv0 != h.Path;
            var psi = new System.Diagnostics.ProcessStartInfo(viaExec ? Environment.ProcessPath ?? "/proc/self/exe" : h.Path)
            {
                RedirectStandardInput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            if (viaExec)
            {
                psi.ArgumentList.Add(ExecArg);
                psi.ArgumentList.Add(h.Path);
            }
            foreach (var a in (h.Args ?? []).Skip(viaExec ? 0 : 1)) psi.ArgumentList.Add(a);
            if (h.Env is not null)
            {
                psi.Environment.Clear();
                foreach (var e in h.Env)
                {
                    var kv = e.Split('=', 2);
                    psi.Environment[kv[0]] = kv.Length > 1 ? kv[1] : "";
                }
            }
            string? error = null;
            try
            {
                using var p = System.Diagnostics.Process.Start(psi)!;
                p.StandardInput.Write(json);
                p.StandardInput.Close();
                var stderr = p.StandardError.ReadToEndAsync();
                if (!p.WaitForExit(h.Timeout is { } t and > 0 ? t * 1000 : -1))
                {
                    p.Kill(entireProcessTree: true);
                    error = $"timed out after {h.Timeout}s";
                }
                else if (p.ExitCode != 0)
                {
                    error = $"exit status {p.ExitCode}: {stderr.Result.Trim()}";
                }
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                error = e.Message;
            }
            if (error is not null && failOnError)
                throw new CrateRunException($"{phase} hook {h.Path} failed: {error}");
        }
    }

    /// <summary>
    /// The hook's side of <see cref="ExecArg"/>: replaces this process with PATH run as ARGV (argv[0]
    /// included), keeping the environment and the stdin/stderr pipes the runtime gave it.
    /// </summary>
    public static unsafe int ExecAs(string path, string[] argv)
    {
        string[] env = [.. Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().Select(e => $"{e.Key}={e.Value}")];
        using var arena = new Process.NativeArenaHandle();
        Interop.Sys.execve(arena.Str(path), arena.StrArray(argv), arena.StrArray(env));
        throw new SyscallException("execve", path, Marshal.GetLastPInvokeError());
    }
}
