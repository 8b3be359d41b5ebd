using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace CrateRun.Core.Network;

/// <summary>CrateRun's own networks: the default one and those of `network create`, as CNI configuration lists.</summary>
public static partial class NetworkConfigs
{
    /// <summary>The default network's name (Docker's), its bridge and subnet.</summary>
    public const string DefaultName = "bridge", DefaultBridge = "craterun0", DefaultSubnet = "10.211.0.0/16";

    /// <summary>Names that are modes of --network, never networks.</summary>
    public static readonly string[] Reserved = ["none", "host", "default", Slirp4netnsPlan.Mode];

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$")]
    private static partial Regex NamePattern();

    public static void CheckName(string name)
    {
        if (!NamePattern().IsMatch(name))
            throw new UsageException($"invalid network name '{name}': use [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 64 characters");
        if (Reserved.Contains(name) || name.StartsWith("container:", StringComparison.Ordinal))
            throw new UsageException($"invalid network name '{name}': it is a --network mode");
    }

    /// <summary>
    /// bridge + host-local + portmap + firewall + tuning, as podman's default list. ipMasq is off:
    /// the bridge plugin removes its masquerade rules on DEL only while the container's network
    /// namespace still exists, which is not so after the container exited; a per-container rule
    /// would be left behind.
    /// </summary>
    public static CniConfList Bridge(string name, string bridge, string subnet, string gateway, string ipamDataDir) => new()
    {
        CniVersion = "1.0.0",
        Name = name,
        Plugins =
        [
            new JsonObject
            {
                ["type"] = "bridge",
                ["bridge"] = bridge,
                ["isGateway"] = true,
                ["ipMasq"] = false,
                ["hairpinMode"] = true,
                ["ipam"] = new JsonObject
                {
                    ["type"] = "host-local",
                    ["dataDir"] = ipamDataDir,
                    ["routes"] = new JsonArray(new JsonObject { ["dst"] = "0.0.0.0/0" }),
                    ["ranges"] = new JsonArray(new JsonArray(new JsonObject { ["subnet"] = subnet, ["gateway"] = gateway })),
                },
            },
            new JsonObject { ["type"] = "portmap", ["capabilities"] = new JsonObject { ["portMappings"] = true } },
            new JsonObject { ["type"] = "firewall" },
            new JsonObject { ["type"] = "tuning" },
        ],
    };

    /// <summary>The bridge of a user network: "cr-" and a hash of its name (at most 15 characters, IFNAMSIZ).</summary>
    public static string BridgeNameFor(string network)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(network));
        return "cr-" + Convert.ToHexStringLower(hash)[..10];
    }

    /// <summary>An IPv4 subnet in CIDR form, normalised (host bits cleared); its gateway defaults to the first address.</summary>
    public static (string Subnet, string Gateway) ParseSubnet(string subnet, string? gateway)
    {
        var parts = subnet.Split('/');
        if (parts.Length != 2 || !TryParseAddress(parts[0], out var ip) || ip.AddressFamily != AddressFamily.InterNetwork
            || !int.TryParse(parts[1], out var prefix) || prefix is < 8 or > 30)
            throw new UsageException($"invalid --subnet '{subnet}': expected an IPv4 CIDR like 10.212.0.0/24 (prefix 8 to 30)");
        var mask = prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);
        var network = ToUint(ip) & mask;
        var normalised = $"{FromUint(network)}/{prefix}";
        if (gateway is null) return (normalised, FromUint(network + 1).ToString());
        if (!TryParseAddress(gateway, out var gw) || gw.AddressFamily != AddressFamily.InterNetwork || (ToUint(gw) & mask) != network
            || ToUint(gw) == network || ToUint(gw) == (network | ~mask))
            throw new UsageException($"invalid --gateway '{gateway}': not a host address of {normalised}");
        return (normalised, gw.ToString());
    }

    /// <summary>An IP address as people write one: IPv6, or IPv4 as four decimal parts (not inet_aton's "1.2.3" or "0x7f.1").</summary>
    public static bool TryParseAddress(string text, out IPAddress address)
    {
        address = IPAddress.None;
        if (!text.Contains(':'))
        {
            var parts = text.Split('.');
            if (parts.Length != 4 || parts.Any(p => p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit))) return false;
        }
        if (!IPAddress.TryParse(text, out var parsed)) return false;
        address = parsed;
        return true;
    }

    /// <summary>Whether two IPv4 CIDRs overlap.</summary>
    public static bool Overlap(string a, string b)
    {
        static (uint Net, uint Mask) Of(string cidr)
        {
            var p = cidr.Split('/');
            var prefix = int.Parse(p[1]);
            var mask = prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);
            return (ToUint(IPAddress.Parse(p[0])) & mask, mask);
        }
        var (na, ma) = Of(a);
        var (nb, mb) = Of(b);
        var common = ma & mb;
        return (na & common) == (nb & common);
    }

    private static uint ToUint(IPAddress ip)
    {
        var b = ip.GetAddressBytes();
        return (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    }

    private static IPAddress FromUint(uint v) => new([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);

    /// <summary>The subnet of a bridge list written by CrateRun (its host-local range), if it has one.</summary>
    public static string? SubnetOf(CniConfList list) =>
        list.Plugins.FirstOrDefault(p => p["ipam"] is not null)?["ipam"]?["ranges"]?[0]?[0]?["subnet"]?.GetValue<string>()
        ?? list.Plugins.FirstOrDefault(p => p["ipam"] is not null)?["ipam"]?["subnet"]?.GetValue<string>();

    public static string? GatewayOf(CniConfList list) =>
        list.Plugins.FirstOrDefault(p => p["ipam"] is not null)?["ipam"]?["ranges"]?[0]?[0]?["gateway"]?.GetValue<string>();

    public static string? BridgeOf(CniConfList list) =>
        list.Plugins.FirstOrDefault(p => p["type"]?.GetValue<string>() == "bridge")?["bridge"]?.GetValue<string>();

    /// <summary>
    /// -p [IP:]HOST:CTR[/tcp|udp], or CTR and IP::CTR for a host port chosen at ADD from the
    /// kernel's ephemeral range (Docker's spelling, without ranges). A chosen port is 0 here.
    /// </summary>
    public static PortMapping ParsePort(string text)
    {
        UsageException Bad(string why) => new($"invalid -p '{text}': {why}; expected [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]");
        var spec = text;
        var protocol = "tcp";
        var slash = spec.LastIndexOf('/');
        if (slash >= 0)
        {
            protocol = spec[(slash + 1)..].ToLowerInvariant();
            if (protocol is not ("tcp" or "udp")) throw Bad($"protocol '{spec[(slash + 1)..]}' is not tcp or udp");
            spec = spec[..slash];
        }
        string? hostIp = null;
        string hostPart, ctrPart;
        if (spec.StartsWith('['))
        {
            var close = spec.IndexOf(']');
            if (close < 0 || close + 1 >= spec.Length || spec[close + 1] != ':') throw Bad("unbalanced [ ] around the address");
            hostIp = spec[1..close];
            spec = spec[(close + 2)..];
            var colon = spec.IndexOf(':');
            if (colon < 0) throw Bad("no container port");
            (hostPart, ctrPart) = (spec[..colon], spec[(colon + 1)..]);
        }
        else
        {
            var parts = spec.Split(':');
            switch (parts.Length)
            {
                case 1: (hostPart, ctrPart) = ("", parts[0]); break;
                case 2: (hostPart, ctrPart) = (parts[0], parts[1]); break;
                case 3: (hostIp, hostPart, ctrPart) = (parts[0], parts[1], parts[2]); break;
                default: throw Bad("too many ':'");
            }
        }
        if (hostIp is not null && (hostIp.Length == 0 || !TryParseAddress(hostIp, out _))) throw Bad($"'{hostIp}' is not an IP address");
        // an empty host port (CTR, :CTR, IP::CTR) is one chosen at ADD, as Docker's
        var hostPort = hostPart.Length == 0 ? 0 : Port(hostPart, "host");
        return new PortMapping { HostIp = hostIp is null ? null : IPAddress.Parse(hostIp).ToString(), HostPort = hostPort, ContainerPort = Port(ctrPart, "container"), Protocol = protocol };

        int Port(string p, string which) =>
            int.TryParse(p, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 65535
                ? n
                : throw Bad($"{which} port '{p}' is not a number from 1 to 65535");
    }

    /// <summary>
    /// -P: every port of the image's ExposedPorts ("80/tcp", "53/udp", "8080" meaning tcp, as the
    /// image spec writes them) that -p does not already publish, each on a host port chosen at ADD.
    /// </summary>
    public static List<PortMapping> PublishAll(IEnumerable<string> exposedPorts, IReadOnlyList<PortMapping> published)
    {
        var all = new List<PortMapping>(published);
        foreach (var key in exposedPorts.Order(StringComparer.Ordinal))
        {
            var (port, protocol) = ParseExposed(key);
            if (all.Any(p => p.ContainerPort == port && p.Protocol == protocol)) continue;
            all.Add(new PortMapping { HostPort = 0, ContainerPort = port, Protocol = protocol });
        }
        return all;
    }

    private static (int Port, string Protocol) ParseExposed(string key)
    {
        var slash = key.IndexOf('/');
        var (number, protocol) = slash < 0 ? (key, "tcp") : (key[..slash], key[(slash + 1)..].ToLowerInvariant());
        if (!int.TryParse(number, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new UsageException($"-P: the image's exposed port '{key}' is not a port number from 1 to 65535");
        if (protocol is not ("tcp" or "udp"))
            throw new UsageException($"-P: the image's exposed port '{key}' uses protocol '{protocol}': only tcp and udp can be published");
        return (port, protocol);
    }

    /// <summary>/proc/sys/net/ipv4/ip_local_port_range ("32768\t60999"): where Docker takes the host ports of -P from.</summary>
    public static (int First, int Last) ParsePortRange(string? text)
    {
        var parts = (text ?? "").Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
        return parts.Length == 2 && int.TryParse(parts[0], out var first) && int.TryParse(parts[1], out var last) && first is >= 1 and <= 65535 && last >= first && last <= 65535
            ? (first, last)
            : (32768, 60999); // the kernel's default
    }

    /// <summary>
    /// `craterun port`'s lines, Docker's format: "80/tcp -> 0.0.0.0:32768" for every port, or only
    /// "0.0.0.0:32768" for the one asked (PORT or PORT/PROTO, tcp when no protocol is given).
    /// </summary>
    public static List<string> PortLines(IEnumerable<PortMapping> ports, string? privatePort)
    {
        static string Host(PortMapping p) => $"{(string.IsNullOrEmpty(p.HostIp) ? "0.0.0.0" : p.HostIp.Contains(':') ? $"[{p.HostIp}]" : p.HostIp)}:{p.HostPort}";
        var sorted = ports.OrderBy(p => p.ContainerPort).ThenBy(p => p.Protocol, StringComparer.Ordinal).ThenBy(p => p.HostIp ?? "", StringComparer.Ordinal).ThenBy(p => p.HostPort).ToList();
        if (privatePort is null) return [.. sorted.Select(p => $"{p.ContainerPort}/{p.Protocol} -> {Host(p)}")];
        var slash = privatePort.IndexOf('/');
        var (number, protocol) = slash < 0 ? (privatePort, "tcp") : (privatePort[..slash], privatePort[(slash + 1)..].ToLowerInvariant());
        if (!int.TryParse(number, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new UsageException($"invalid port '{privatePort}': expected PORT[/tcp|udp]");
        return [.. sorted.Where(p => p.ContainerPort == port && p.Protocol == protocol).Select(Host)];
    }

    /// <summary>--add-host NAME:IP (Docker's order; NAME=IP is accepted too).</summary>
    public static (string Name, string Address) ParseExtraHost(string text)
    {
        var sep = text.IndexOf('=') is var eq and >= 0 ? eq : text.IndexOf(':');
        if (sep <= 0 || sep == text.Length - 1) throw new UsageException($"invalid --add-host '{text}': expected NAME:IP");
        var (name, ip) = (text[..sep], text[(sep + 1)..].Trim('[', ']'));
        if (!TryParseAddress(ip, out _)) throw new UsageException($"invalid --add-host '{text}': '{ip}' is not an IP address");
        if (name.Any(c => char.IsWhiteSpace(c) || c == '#')) throw new UsageException($"invalid --add-host '{text}': bad host name");
        return (name, ip);
    }

    public static string ParseDns(string text) =>
        TryParseAddress(text, out var ip) ? ip.ToString() : throw new UsageException($"invalid --dns '{text}': not an IP address");
}
