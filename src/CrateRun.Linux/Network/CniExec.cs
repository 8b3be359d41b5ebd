using System.Text.Json.Nodes;
using CrateRun.Core;
using CrateRun.Core.Network;
using CrateRun.Linux.Process;

namespace CrateRun.Linux.Network;

/// <summary>
/// Runs CNI plugins (CNI spec, "Execution protocol"): the plugin named by "type" found on the
/// plugin path, CNI_* in its environment, its configuration on stdin, its result or error on stdout.
/// </summary>
public sealed class CniExec(IReadOnlyList<string> pluginDirs)
{
    public IReadOnlyList<string> PluginDirs { get; } = pluginDirs;

    /// <summary>
    /// A lock file held while a plugin that makes iptables chains runs (portmap, firewall): each
    /// checks that its chains exist and then creates them, two at once in one network namespace
    /// fail with "CHAIN_USER_ADD failed (File exists)" (seen with three `run -P` at once).
    /// </summary>
    public string? ChainsLockPath { get; init; }

    private static readonly HashSet<string> ChainMakers = ["portmap", "firewall"];

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

    /// <summary>
    /// One call; returns stdout. A non-zero exit throws with the plugin's error message. The plugin
    /// runs from posix_spawn on this thread (Process/Spawner.cs): its own process group, killed
    /// whole after 60 s; its configuration on stdin, and in its environment the CNI_* variables,
    /// a plain PATH (it execs iptables and friends) and GOMAXPROCS=1 (CniProtocol.PluginProcessEnvironment), nothing else of ours.
    /// </summary>
    public string Invoke(string type, IReadOnlyDictionary<string, string> cniEnv, string stdin)
    {
        var path = Find(type);
        using var chains = ChainsLockPath is not null && ChainMakers.Contains(type) ? Core.State.FileLock.Acquire(ChainsLockPath) : null;
        var env = cniEnv.Where(kv => kv.Key != "PATH").Select(kv => $"{kv.Key}={kv.Value}")
            .Prepend("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").Concat(CniProtocol.PluginProcessEnvironment);
        var run = Spawner.Run(path, [path], env, stdin, 60_000);
        if (run.TimedOut) throw new CrateRunException($"CNI plugin {type} {cniEnv["CNI_COMMAND"]} timed out after 60 s");
        Timing.Mark($"cni {type} {cniEnv["CNI_COMMAND"]} exited {run.ExitCode}");
        if (run.ExitCode != 0)
            throw new CrateRunException(CniProtocol.ErrorText(type, cniEnv["CNI_COMMAND"], run.ExitCode, run.Stdout, run.Stderr));
        return run.Stdout;
    }

    /// <summary>
    /// ADD over a list: each plugin in order, each getting the previous one's result as
    /// prevResult; the last result is the list's (read and raw: parsed once). When a plugin fails, those before it are
    /// deleted again (in reverse) before the error is thrown, so nothing is left half-made.
    /// </summary>
    public (CniResult Result, JsonObject Raw) AddList(CniConfList list, string containerId, string netns, string ifName, IReadOnlyDictionary<string, JsonNode> caps)
    {
        (CniResult Result, JsonObject Raw)? last = null;
        JsonObject? prev = null;
        for (var i = 0; i < list.Plugins.Count; i++)
        {
            var plugin = list.Plugins[i];
            var type = CniProtocol.TypeOf(plugin);
            try
            {
                var output = Invoke(type, CniProtocol.Environment(CniProtocol.Add, containerId, netns, ifName, PluginDirs),
                    CniProtocol.PluginInput(list, plugin, prev, caps));
                last = CniProtocol.ParseResult(output, type);
                prev = last.Value.Raw;
            }
            catch (CrateRunException)
            {
                TryDelList(list, containerId, netns, ifName, caps, prev, upTo: i + 1);
                throw;
            }
        }
        return last ?? throw new CrateRunException($"network {list.Name}: the plugins returned no result");
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
