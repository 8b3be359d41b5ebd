using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace CrateRun.Core.Network;

/// <summary>
/// A CNI network configuration list (CNI spec, "Network configuration lists"): a name, a
/// version and the plugins run in order. A plugin's own keys are kept as they are written:
/// CrateRun only reads "type" and "capabilities" and passes the rest through.
/// </summary>
public sealed class CniConfList
{
    public string CniVersion { get; set; } = "1.0.0";
    public string Name { get; set; } = "";
    public bool DisableCheck { get; set; }
    public List<JsonObject> Plugins { get; set; } = [];
}

/// <summary>An ADD result (CNI spec, "Success"); versions 0.3.x-1.0 share these fields.</summary>
public sealed class CniResult
{
    public string? CniVersion { get; set; }
    public List<CniInterface>? Interfaces { get; set; }
    public List<CniIpConfig>? Ips { get; set; }
    public List<CniRoute>? Routes { get; set; }
    public CniDns? Dns { get; set; }
}

public sealed class CniInterface
{
    public string Name { get; set; } = "";
    public string? Mac { get; set; }
    public string? Sandbox { get; set; }
}

public sealed class CniIpConfig
{
    /// <summary>CIDR notation: 10.211.0.5/16.</summary>
    public string Address { get; set; } = "";
    public string? Gateway { get; set; }
    /// <summary>Index into the result's interfaces.</summary>
    public int? Interface { get; set; }
}

public sealed class CniRoute
{
    public string Dst { get; set; } = "";
    public string? Gw { get; set; }
}

public sealed class CniDns
{
    public List<string>? Nameservers { get; set; }
    public string? Domain { get; set; }
    public List<string>? Search { get; set; }
    public List<string>? Options { get; set; }
}

/// <summary>A plugin's error (CNI spec, "Error"): printed on stdout with a non-zero exit.</summary>
public sealed class CniError
{
    public string? CniVersion { get; set; }
    public uint Code { get; set; }
    public string? Msg { get; set; }
    public string? Details { get; set; }
}

/// <summary>The VERSION answer.</summary>
public sealed class CniVersionInfo
{
    public string? CniVersion { get; set; }
    public List<string>? SupportedVersions { get; set; }
}

/// <summary>One published port, as the portMappings capability (CONVENTIONS.md) spells it.</summary>
public sealed record PortMapping
{
    public int HostPort { get; init; }
    public int ContainerPort { get; init; }
    public string Protocol { get; init; } = "tcp";
    [JsonPropertyName("hostIP")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public string? HostIp { get; init; }

    public override string ToString() => $"{(string.IsNullOrEmpty(HostIp) ? "0.0.0.0" : HostIp)}:{HostPort}->{ContainerPort}/{Protocol}";
}

/// <summary>
/// What CrateRun keeps per container and network after ADD (libcni keeps the same): the exact
/// configuration list it ran, the capability arguments and the result, so that DEL runs the
/// same plugins with the same input, even if the network was changed or removed since.
/// </summary>
public sealed class CniAttachment
{
    public string ContainerId { get; set; } = "";
    public string? ContainerName { get; set; }
    public string Network { get; set; } = "";
    public string IfName { get; set; } = "eth0";
    public JsonObject ConfList { get; set; } = [];
    public List<PortMapping> PortMappings { get; set; } = [];
    /// <summary>The final result of the chain (the last plugin's), raw: DEL and CHECK get it as prevResult.</summary>
    public JsonObject? Result { get; set; }
    /// <summary>The container's addresses on this network, without the prefix length.</summary>
    public List<string> Addresses { get; set; } = [];
    public string? Gateway { get; set; }
    /// <summary>Where the container's hosts file is, to keep its peers' names current.</summary>
    public string? HostsFile { get; set; }
    public string? Hostname { get; set; }
}

/// <summary>How a container is networked (run --network, -p, --dns, --add-host), kept in its metadata.</summary>
public sealed class NetworkSettings
{
    /// <summary>none, host, container, cni (one or more CNI networks) or slirp4netns (rootless).</summary>
    public string Mode { get; set; } = "none";
    public List<string> Networks { get; set; } = [];
    /// <summary>Mode container: the full id of the container whose network namespace is joined.</summary>
    public string? JoinedContainer { get; set; }
    public List<PortMapping> Ports { get; set; } = [];
    public List<string> Dns { get; set; } = [];
    /// <summary>--add-host entries, NAME:IP.</summary>
    public List<string> ExtraHosts { get; set; } = [];
    /// <summary>Filled after ADD: NETWORK=ADDRESS/PREFIX, shown by ps and inspect.</summary>
    public List<string> Addresses { get; set; } = [];
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CniConfList))]
[JsonSerializable(typeof(CniResult))]
[JsonSerializable(typeof(CniError))]
[JsonSerializable(typeof(CniVersionInfo))]
[JsonSerializable(typeof(PortMapping))]
[JsonSerializable(typeof(List<PortMapping>))]
[JsonSerializable(typeof(CniAttachment))]
[JsonSerializable(typeof(List<CniAttachment>))]
[JsonSerializable(typeof(NetworkSettings))]
public sealed partial class CniJsonContext : JsonSerializerContext;
