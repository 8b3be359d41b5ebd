using CrateRun.Core;
using CrateRun.Core.Oci;

namespace CrateRun.Linux.Engine;

/// <summary>OCI hooks: each runs with the container's state JSON on stdin, in order, with its timeout.</summary>
public static class Hooks
{
    public static void Run(List<Hook>? hooks, string phase, OciState state, bool failOnError = true)
    {
        if (hooks is not { Count: > 0 }) return;
        var json = OciJson.Serialize(state, indented: false);
        foreach (var h in hooks)
        {
            var psi = new System.Diagnostics.ProcessStartInfo(h.Path)
            {
                RedirectStandardInput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            // args[0] is the hook's argv[0]; ProcessStartInfo always uses the path for it
            foreach (var a in (h.Args ?? []).Skip(1)) psi.ArgumentList.Add(a);
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
}
