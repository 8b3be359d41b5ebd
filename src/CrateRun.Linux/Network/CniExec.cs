using System.Diagnostics;
using System.Text.Json.Nodes;
using CrateRun.Core;
using CrateRun.Core.Network;

namespace CrateRun.Linux.Network;

/// <summary>
/// Runs CNI plugins (CNI spec, "Execution protocol"): the plugin named by "type" found on the
/// plugin path, CNI_* in its environment, its configuration on stdin, its result or error on stdout.
/// </summary>
public sealed class CniExec(IReadOnlyList<string> pluginDirs)
{
    public IReadOnlyList<string> PluginDirs { get; } = pluginDirs;

    /// <summary>CRATERUN_CNI_PATH (colon-separated) or the default directories.</summary>
    public static CniExec Default() =>
        new(Environment.GetEnvironmentVariable("CRATERUN_CNI_PATH") is { Length: > 0 } p ? p.Split(':', StringSplitOptions.RemoveEmptyEntries) : CniProtocol.DefaultPluginDirs);

    public string Find(string type)
    {
        foreach (var dir in PluginDirs)
        {
            var path = Path.Combine(dir, type);
            if (File.Exists(path)) return path;
        }
        throw new CrateRunException($"CNI plugin '{type}' not found in {string.Join(", ", PluginDirs)} (Debian: apt-get install containernetworking-plugins)");
    }

    /// <summary>One call; returns stdout. A non-zero exit throws with the plugin's error message.</summary>
    public string Invoke(string type, IReadOnlyDictionary<string, string> cniEnv, string stdin)
    {
        var path = Find(type);
        var psi = new ProcessStartInfo(path)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // the plugins exec iptables and friends: a plain PATH, nothing else of ours
        psi.Environment.Clear();
        psi.Environment["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        foreach (var (k, v) in cniEnv) psi.Environment[k] = v;
        using var p = System.Diagnostics.Process.Start(psi) ?? throw new CrateRunException($"cannot start CNI plugin {path}");
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new CrateRunException($"CNI plugin {type} {cniEnv["CNI_COMMAND"]} timed out after 60 s");
        }
        var output = stdout.GetAwaiter().GetResult();
        Timing.Mark($"cni {type} {cniEnv["CNI_COMMAND"]} exited {p.ExitCode}");
        if (p.ExitCode != 0)
            throw new CrateRunException(CniProtocol.ErrorText(type, cniEnv["CNI_COMMAND"], p.ExitCode, output, stderr.GetAwaiter().GetResult()));
        return output;
    }

    /// <summary>
    /// ADD over a list: each plugin in order, each getting the previous one's result as
    /// prevResult; the last result is the list's. When a plugin fails, those before it are
    /// deleted again (in reverse) before the error is thrown, so nothing is left half-made.
    /// </summary>
    public JsonObject AddList(CniConfList list, string containerId, string netns, string ifName, IReadOnlyDictionary<string, JsonNode> caps)
    {
        JsonObject? prev = null;
        for (var i = 0; i < list.Plugins.Count; i++)
        {
            var plugin = list.Plugins[i];
            var type = CniProtocol.TypeOf(plugin);
            try
            {
                var output = Invoke(type, CniProtocol.Environment(CniProtocol.Add, containerId, netns, ifName, PluginDirs),
                    CniProtocol.PluginInput(list, plugin, prev, caps));
                prev = CniProtocol.ParseResult(output, type).Raw;
            }
            catch (CrateRunException)
            {
                TryDelList(list, containerId, netns, ifName, caps, prev, upTo: i + 1);
                throw;
            }
        }
        return prev ?? throw new CrateRunException($"network {list.Name}: the plugins returned no result");
    }

    /// <summary>DEL over a list, in reverse order, with the cached result as prevResult. Every plugin runs; the first error is thrown after.</summary>
    public void DelList(CniConfList list, string containerId, string netns, string ifName, IReadOnlyDictionary<string, JsonNode> caps, JsonObject? result, int? upTo = null)
    {
        CrateRunException? first = null;
        for (var i = (upTo ?? list.Plugins.Count) - 1; i >= 0; i--)
        {
            var plugin = list.Plugins[i];
            try
            {
                Invoke(CniProtocol.TypeOf(plugin), CniProtocol.Environment(CniProtocol.Del, containerId, netns, ifName, PluginDirs),
                    CniProtocol.PluginInput(list, plugin, result, caps));
            }
            catch (CrateRunException e)
            {
                first ??= e;
            }
        }
        if (first is not null) throw first;
    }

    private void TryDelList(CniConfList list, string containerId, string netns, string ifName, IReadOnlyDictionary<string, JsonNode> caps, JsonObject? result, int upTo)
    {
        try { DelList(list, containerId, netns, ifName, caps, result, upTo); }
        catch (CrateRunException) { }
    }

    /// <summary>CHECK over a list, in order, with the cached result (skipped when the list sets disableCheck).</summary>
    public void CheckList(CniConfList list, string containerId, string netns, string ifName, IReadOnlyDictionary<string, JsonNode> caps, JsonObject result)
    {
        if (list.DisableCheck) return;
        foreach (var plugin in list.Plugins)
            Invoke(CniProtocol.TypeOf(plugin), CniProtocol.Environment(CniProtocol.Check, containerId, netns, ifName, PluginDirs),
                CniProtocol.PluginInput(list, plugin, result, caps));
    }

    /// <summary>VERSION of one plugin: the spec versions it supports.</summary>
    public CniVersionInfo Version(string type)
    {
        var output = Invoke(type, new Dictionary<string, string> { ["CNI_COMMAND"] = CniProtocol.Version, ["CNI_PATH"] = string.Join(':', PluginDirs) },
            "{\"cniVersion\":\"1.0.0\"}");
        try { return System.Text.Json.JsonSerializer.Deserialize(output, CniJsonContext.Default.CniVersionInfo) ?? new CniVersionInfo(); }
        catch (System.Text.Json.JsonException e) { throw new CrateRunException($"CNI plugin {type} VERSION: unreadable answer: {e.Message}"); }
    }
}
