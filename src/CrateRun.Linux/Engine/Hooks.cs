using System.Runtime.InteropServices;
using CrateRun.Core;
using CrateRun.Core.Oci;

namespace CrateRun.Linux.Engine;

/// <summary>OCI hooks: each runs with the container's state JSON on stdin, in order, with its timeout.</summary>
public static class Hooks
{
    /// <summary>The hidden argument under which this binary execs a hook whose argv[0] is not its path.</summary>
    public const string ExecArg = "_hook-exec";

    /// <summary>
    /// Runs the hooks in order. Without <paramref name="warn"/> a failure throws (prestart,
    /// createRuntime: the operation fails); with it, a failure is reported there and the next
    /// hook runs (poststart, poststop: config.md says they only warn).
    /// </summary>
    public static void Run(List<Hook>? hooks, string phase, OciState state, Action<string>? warn = null)
    {
        if (hooks is not { Count: > 0 }) return;
        var json = OciJson.Serialize(state, indented: false);
        foreach (var h in hooks)
        {
            var error = RunOne(h, json);
            if (error is null) continue;
            var message = $"{phase} hook {h.Path} failed: {error}";
            if (warn is null) throw new CrateRunException(message);
            warn(message);
        }
    }

    /// <summary>Runs one hook; returns why it failed, or null.</summary>
    private static string? RunOne(Hook h, string json)
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
        try
        {
            using var p = System.Diagnostics.Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            // The state goes in from another thread: a hook may exit without reading it (the
            // write then fails with EPIPE, which is no failure of the hook) or never read it, and
            // a state larger than the pipe must not hold us past the hook's timeout.
            var input = p.StandardInput;
            var writer = Task.Run(() =>
            {
                try
                {
                    input.Write(json);
                    input.Close();
                }
                catch (IOException)
                {
                }
            });
            if (!p.WaitForExit(h.Timeout is { } t and > 0 ? t * 1000 : -1))
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit();
                return $"timed out after {h.Timeout}s";
            }
            // the pipe's reader is gone: the writer ends now, unless something the hook started holds it
            writer.Wait(TimeSpan.FromSeconds(1));
            if (p.ExitCode == 0) return null;
            var text = stderr.Wait(TimeSpan.FromSeconds(1)) ? stderr.Result.Trim() : "";
            return text.Length > 0 ? $"exit status {p.ExitCode}: {text}" : $"exit status {p.ExitCode}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return e.Message;
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
