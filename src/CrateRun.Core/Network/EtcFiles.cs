using System.Net;
using System.Text;

namespace CrateRun.Core.Network;

/// <summary>The container's own /etc/hosts, /etc/resolv.conf and /etc/hostname.</summary>
public static class EtcFiles
{
    /// <summary>
    /// Docker's layout: the loopback names, then the container's own addresses with its
    /// hostname (and name), then peers on its networks, then --add-host entries.
    /// </summary>
    public static string Hosts(string hostname, string? name, IEnumerable<string> ownAddresses,
        IEnumerable<(string Address, string Name)> peers, IEnumerable<(string Name, string Address)> extra)
    {
        var sb = new StringBuilder();
        sb.Append("127.0.0.1\tlocalhost\n");
        sb.Append("::1\tlocalhost ip6-localhost ip6-loopback\n");
        var names = name is null || name == hostname ? hostname : $"{hostname} {name}";
        foreach (var a in ownAddresses.Distinct()) sb.Append($"{a}\t{names}\n");
        foreach (var (address, peer) in peers) sb.Append($"{address}\t{peer}\n");
        foreach (var (host, address) in extra) sb.Append($"{address}\t{host}\n");
        return sb.ToString();
    }

    /// <summary>Public resolvers used when the host has none a container can reach (Docker's fallback).</summary>
    public static readonly string[] FallbackNameservers = ["8.8.8.8", "8.8.4.4"];

    /// <summary>
    /// The container's resolv.conf from the host's: nameservers on the host's loopback (systemd-resolved's
    /// 127.0.0.53, dnsmasq's 127.0.0.1) cannot be reached from the container's own network namespace,
    /// so they are replaced by the servers they forward to (<paramref name="upstream"/>, systemd-resolved's
    /// /run/systemd/resolve/resolv.conf), or by <see cref="FallbackNameservers"/> when none is known.
    /// --dns replaces the nameservers; search and options lines are kept.
    /// </summary>
    public static string ResolvConf(string? host, string? upstream, IReadOnlyList<string> dnsOverride, bool sharesHostNetwork)
    {
        var lines = (host ?? "").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] is not ('#' or ';')).ToList();
        var others = lines.Where(l => !l.StartsWith("nameserver", StringComparison.Ordinal)).ToList();
        List<string> servers;
        if (dnsOverride.Count > 0) servers = [.. dnsOverride];
        else
        {
            servers = Nameservers(lines);
            if (!sharesHostNetwork && servers.Any(IsLoopback))
            {
                servers = servers.Where(s => !IsLoopback(s)).ToList();
                if (servers.Count == 0) servers = Nameservers((upstream ?? "").Split('\n').Select(l => l.Trim())).Where(s => !IsLoopback(s)).ToList();
            }
            if (servers.Count == 0) servers = [.. FallbackNameservers];
        }
        var sb = new StringBuilder();
        foreach (var o in others) sb.Append(o).Append('\n');
        foreach (var s in servers) sb.Append("nameserver ").Append(s).Append('\n');
        return sb.ToString();
    }

    private static List<string> Nameservers(IEnumerable<string> lines) =>
        [.. lines.Where(l => l.StartsWith("nameserver", StringComparison.Ordinal))
            .Select(l => l.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
            .Where(p => p.Length >= 2).Select(p => p[1])];

    private static bool IsLoopback(string address) => IPAddress.TryParse(address.Split('%')[0], out var ip) && IPAddress.IsLoopback(ip);
}
