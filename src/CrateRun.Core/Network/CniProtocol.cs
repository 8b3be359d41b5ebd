using System.Text.Json;
using System.Text.Json.Nodes;

namespace CrateRun.Core.Network;

/// <summary>
/// The pure half of calling a CNI plugin (CNI spec, "Protocol parameters" and "Execution of
/// network configuration lists"): the environment, the configuration on stdin, and what comes
/// back on stdout. Executing the plugin is the Linux layer's.
/// </summary>
public static class CniProtocol
{
    public const string Add = "ADD", Del = "DEL", Check = "CHECK", Version = "VERSION";

    /// <summary>Where Debian (containernetworking-plugins) and upstream install the plugins.</summary>
    public static readonly string[] DefaultPluginDirs = ["/usr/lib/cni", "/opt/cni/bin"];

    /// <summary>
    /// What a plugin's environment holds besides the CNI_* variables and PATH (a runtime may pass
    /// anything more: libcni passes its whole environment). GOMAXPROCS=1: the plugins are Go
    /// programs that live a few milliseconds and run one thing at a time; with a processor each
    /// for the Go runtime (2 here) they woke idle threads to spin, and bridge + firewall ADD and
    /// DEL took ~5 ms more CPU (of ~55; bench/README.md). Only parallelism changes: goroutines,
    /// locked threads and blocking calls work the same with one.
    /// </summary>
    public static readonly string[] PluginProcessEnvironment = ["GOMAXPROCS=1"];

    /// <summary>The CNI_* variables of one call. CNI_NETNS may be empty for DEL (the namespace is gone).</summary>
    public static Dictionary<string, string> Environment(string command, string containerId, string netns, string ifName, IEnumerable<string> pluginDirs, string? args = null)
    {
        var env = new Dictionary<string, string>
        {
            ["CNI_COMMAND"] = command,
            ["CNI_CONTAINERID"] = containerId,
            ["CNI_NETNS"] = netns,
            ["CNI_IFNAME"] = ifName,
            ["CNI_PATH"] = string.Join(':', pluginDirs),
        };
        if (!string.IsNullOrEmpty(args)) env["CNI_ARGS"] = args;
        return env;
    }

    /// <summary>
    /// The configuration one plugin of a list reads on stdin: its own object with the list's
    /// name and cniVersion, the previous plugin's result as prevResult (ADD chains them; DEL and
    /// CHECK get the cached final result), and runtimeConfig with only the capabilities the plugin
    /// declares ("capabilities": {"portMappings": true}).
    /// </summary>
    public static string PluginInput(CniConfList list, JsonObject plugin, JsonNode? prevResult, IReadOnlyDictionary<string, JsonNode> capabilityArgs)
    {
        var conf = (JsonObject)plugin.DeepClone();
        conf["cniVersion"] = list.CniVersion;
        conf["name"] = list.Name;
        conf.Remove("prevResult");
        conf.Remove("runtimeConfig");
        if (prevResult is not null) conf["prevResult"] = prevResult.DeepClone();
        if (plugin["capabilities"] is JsonObject caps)
        {
            var runtime = new JsonObject();
            foreach (var (name, enabled) in caps)
            {
                if (enabled is JsonValue v && v.TryGetValue<bool>(out var on) && on && capabilityArgs.TryGetValue(name, out var arg))
                    runtime[name] = arg.DeepClone();
            }
            if (runtime.Count > 0) conf["runtimeConfig"] = runtime;
        }
        return conf.ToJsonString();
    }

    /// <summary>
    /// The list ADD runs for one container: the list without the plugins that have nothing to do
    /// for it, whose ADD only hands prevResult on and whose DEL only returns (containernetworking
    /// plugins' source): portmap when no port is published (it reads its mappings from runtimeConfig
    /// only), tuning when its object sets nothing (no sysctl, mac, mtu, ...) and no CNI_ARGS or
    /// runtimeConfig reach it. The attachment caches this list, so DEL and CHECK run exactly the
    /// plugins ADD ran. Saves two plugin execs per ADD and per DEL for the default network.
    /// </summary>
    public static CniConfList PluginsToRun(CniConfList list, IReadOnlyDictionary<string, JsonNode> capabilityArgs, string? cniArgs = null)
    {
        var kept = list.Plugins.Where(p => !HasNothingToDo(p, capabilityArgs, cniArgs)).ToList();
        if (kept.Count == list.Plugins.Count || kept.Count == 0) return list;
        return new CniConfList { CniVersion = list.CniVersion, Name = list.Name, DisableCheck = list.DisableCheck, Plugins = kept };
    }

    private static bool HasNothingToDo(JsonObject plugin, IReadOnlyDictionary<string, JsonNode> capabilityArgs, string? cniArgs)
    {
        var runtimeArgs = plugin["capabilities"] is JsonObject caps
            && caps.Any(c => c.Value is JsonValue v && v.TryGetValue<bool>(out var on) && on && capabilityArgs.ContainsKey(c.Key));
        if (runtimeArgs) return false;
        return TypeOf(plugin) switch
        {
            "portmap" => true,
            "tuning" => string.IsNullOrEmpty(cniArgs) && plugin.All(kv => kv.Key is "type" or "capabilities"),
            _ => false,
        };
    }

    /// <summary>portMappings as the portmap plugin takes them in runtimeConfig.</summary>
    public static JsonNode PortMappingsArg(IEnumerable<PortMapping> ports) =>
        JsonNode.Parse(JsonSerializer.Serialize(ports.ToList(), CniJsonContext.Default.ListPortMapping))!;

    public static string TypeOf(JsonObject plugin) =>
        plugin["type"] is JsonValue v && v.TryGetValue<string>(out var t) && t.Length > 0 && !t.Contains('/')
            ? t
            : throw new UsageException("a CNI plugin entry has no valid \"type\"");

    /// <summary>Parses a configuration list file; a single network configuration (.conf) becomes a list of one.</summary>
    public static CniConfList ParseConfList(string json, string source)
    {
        JsonObject root;
        try { root = JsonNode.Parse(json) as JsonObject ?? throw new FormatException("not a JSON object"); }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            throw new UsageException($"network configuration {source} is not valid JSON: {e.Message}");
        }
        return ParseConfList(root, source);
    }

    /// <summary>A configuration list already read as JSON (an attachment's cached list): no text round trip.</summary>
    public static CniConfList ParseConfList(JsonObject root, string source)
    {
        var list = new CniConfList
        {
            Name = root["name"]?.GetValue<string>() ?? throw new UsageException($"network configuration {source} has no \"name\""),
            CniVersion = root["cniVersion"]?.GetValue<string>() ?? "1.0.0",
            DisableCheck = root["disableCheck"] is JsonValue d && d.TryGetValue<bool>(out var dc) && dc,
        };
        if (root["plugins"] is JsonArray plugins)
        {
            foreach (var p in plugins)
                list.Plugins.Add(p as JsonObject ?? throw new UsageException($"network configuration {source}: a plugin is not a JSON object"));
        }
        else if (root["type"] is not null)
        {
            var single = (JsonObject)root.DeepClone();
            single.Remove("name");
            single.Remove("cniVersion");
            list.Plugins.Add(single);
        }
        if (list.Plugins.Count == 0) throw new UsageException($"network configuration {source} has no plugins");
        foreach (var p in list.Plugins) TypeOf(p);
        return list;
    }

    public static JsonObject ToJson(CniConfList list)
    {
        var plugins = new JsonArray();
        foreach (var p in list.Plugins) plugins.Add(p.DeepClone());
        var o = new JsonObject { ["cniVersion"] = list.CniVersion, ["name"] = list.Name };
        if (list.DisableCheck) o["disableCheck"] = true;
        o["plugins"] = plugins;
        return o;
    }

    /// <summary>A plugin's success output. A result that is not one is an error naming the plugin.</summary>
    public static (CniResult Result, JsonObject Raw) ParseResult(string stdout, string plugin)
    {
        try
        {
            var raw = JsonNode.Parse(stdout) as JsonObject ?? throw new FormatException("not a JSON object");
            var result = raw.Deserialize(CniJsonContext.Default.CniResult) ?? throw new FormatException("empty");
            return (result, raw);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            throw new CrateRunException($"CNI plugin {plugin} returned an unreadable result: {e.Message}");
        }
    }

    /// <summary>The message of a failed call: the plugin's error object (msg, details, code) when it printed one.</summary>
    public static string ErrorText(string plugin, string command, int exitCode, string stdout, string stderr)
    {
        CniError? error = null;
        try { error = string.IsNullOrWhiteSpace(stdout) ? null : JsonSerializer.Deserialize(stdout, CniJsonContext.Default.CniError); }
        catch (JsonException) { }
        var what = error?.Msg is { Length: > 0 } msg
            ? msg + (string.IsNullOrEmpty(error.Details) ? "" : $" ({error.Details})") + $" [code {error.Code}]"
            : (stderr.Trim() is { Length: > 0 } err ? err : $"exit status {exitCode}");
        return $"CNI plugin {plugin} {command} failed: {what.ReplaceLineEndings(" ")}";
    }

    /// <summary>The addresses of a result without their prefix length, and the first gateway.</summary>
    public static (List<string> Addresses, string? Gateway) AddressesOf(CniResult r)
    {
        var addresses = (r.Ips ?? []).Select(ip => ip.Address.Split('/')[0]).Where(a => a.Length > 0).ToList();
        return (addresses, r.Ips?.Select(ip => ip.Gateway).FirstOrDefault(g => g is not null));
    }
}
