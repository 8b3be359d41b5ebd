using CrateRun.Core;
using CrateRun.Core.Network;
using CrateRun.Core.Oci;
using Xunit;

namespace CrateRun.Core.Tests.Network;

public class NetworkConfigTests
{
    [Theory]
    [InlineData("8080:80", null, 8080, 80, "tcp")]
    [InlineData("8080:80/udp", null, 8080, 80, "udp")]
    [InlineData("127.0.0.1:8080:80/tcp", "127.0.0.1", 8080, 80, "tcp")]
    [InlineData("[::1]:53:53/udp", "::1", 53, 53, "udp")]
    [InlineData("0.0.0.0:65535:1/TCP", "0.0.0.0", 65535, 1, "tcp")]
    [InlineData("80", null, 0, 80, "tcp")]
    [InlineData(":80", null, 0, 80, "tcp")]
    [InlineData("127.0.0.1::53/udp", "127.0.0.1", 0, 53, "udp")]
    public void Docker_spellings_of_p_parse(string text, string? ip, int host, int ctr, string proto)
    {
        var p = NetworkConfigs.ParsePort(text);
        Assert.Equal(new PortMapping { HostIp = ip, HostPort = host, ContainerPort = ctr, Protocol = proto }, p);
    }

    [Theory]
    [InlineData("", "container port ''")]
    [InlineData("8080:80/sctp", "protocol 'sctp'")]
    [InlineData("0:80", "host port '0'")]
    [InlineData("70000:80", "host port '70000'")]
    [InlineData("8080:", "container port ''")]
    [InlineData("a:80", "host port 'a'")]
    [InlineData("1.2.3:80:80", "'1.2.3' is not an IP address")]
    [InlineData("1:2:3:4", "too many ':'")]
    [InlineData("+80:80", "host port '+80'")]
    public void A_bad_p_is_one_line_naming_the_problem(string text, string expected)
    {
        var e = Assert.Throws<UsageException>(() => NetworkConfigs.ParsePort(text));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith($"invalid -p '{text}'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Publish_all_adds_each_exposed_port_that_p_does_not_publish_on_a_port_chosen_later()
    {
        var explicitly = new List<PortMapping> { NetworkConfigs.ParsePort("8080:80") };
        var all = NetworkConfigs.PublishAll(["80/tcp", "53/udp", "9000", "80/udp"], explicitly);
        Assert.Equal(
            [
                new PortMapping { HostPort = 8080, ContainerPort = 80, Protocol = "tcp" },
                new PortMapping { HostPort = 0, ContainerPort = 53, Protocol = "udp" },
                new PortMapping { HostPort = 0, ContainerPort = 80, Protocol = "udp" },
                new PortMapping { HostPort = 0, ContainerPort = 9000, Protocol = "tcp" },
            ], all);
        Assert.Empty(NetworkConfigs.PublishAll([], []));
        Assert.Contains("'80/sctp'", Assert.Throws<UsageException>(() => NetworkConfigs.PublishAll(["80/sctp"], [])).Message);
        Assert.Contains("'x/tcp'", Assert.Throws<UsageException>(() => NetworkConfigs.PublishAll(["x/tcp"], [])).Message);
    }

    [Theory]
    [InlineData("32768\t60999\n", 32768, 60999)]
    [InlineData("49153 65535", 49153, 65535)]
    [InlineData(null, 32768, 60999)]
    [InlineData("garbage", 32768, 60999)]
    [InlineData("60999 32768", 32768, 60999)]
    public void The_ephemeral_range_is_read_from_ip_local_port_range(string? text, int first, int last) =>
        Assert.Equal((first, last), NetworkConfigs.ParsePortRange(text));

    [Fact]
    public void Port_lines_are_dockers()
    {
        List<PortMapping> ports =
        [
            new() { HostPort = 32769, ContainerPort = 443, Protocol = "tcp" },
            new() { HostPort = 32768, ContainerPort = 80, Protocol = "tcp" },
            new() { HostPort = 5353, ContainerPort = 53, Protocol = "udp", HostIp = "127.0.0.1" },
            new() { HostPort = 8053, ContainerPort = 53, Protocol = "udp", HostIp = "::1" },
        ];
        Assert.Equal(["53/udp -> 127.0.0.1:5353", "53/udp -> [::1]:8053", "80/tcp -> 0.0.0.0:32768", "443/tcp -> 0.0.0.0:32769"], NetworkConfigs.PortLines(ports, null));
        Assert.Equal(["0.0.0.0:32768"], NetworkConfigs.PortLines(ports, "80"));
        Assert.Equal(["0.0.0.0:32768"], NetworkConfigs.PortLines(ports, "80/tcp"));
        Assert.Equal(["127.0.0.1:5353", "[::1]:8053"], NetworkConfigs.PortLines(ports, "53/udp"));
        Assert.Empty(NetworkConfigs.PortLines(ports, "80/udp"));
        Assert.Empty(NetworkConfigs.PortLines([], null));
        Assert.Contains("invalid port 'http'", Assert.Throws<UsageException>(() => NetworkConfigs.PortLines(ports, "http")).Message);
    }

    [Fact]
    public void The_default_list_is_bridge_hostlocal_portmap_firewall_tuning()
    {
        var list = NetworkConfigs.Bridge("bridge", "craterun0", "10.211.0.0/16", "10.211.0.1", "/var/lib/craterun/.networks/ipam");
        Assert.Equal(["bridge", "portmap", "firewall", "tuning"], list.Plugins.Select(CniProtocol.TypeOf));
        var bridge = list.Plugins[0];
        Assert.Equal("craterun0", (string?)bridge["bridge"]);
        Assert.True((bool)bridge["isGateway"]!);
        Assert.Equal("host-local", (string?)bridge["ipam"]!["type"]);
        Assert.Equal("/var/lib/craterun/.networks/ipam", (string?)bridge["ipam"]!["dataDir"]);
        Assert.True((bool)list.Plugins[1]["capabilities"]!["portMappings"]!);
        Assert.Equal("10.211.0.0/16", NetworkConfigs.SubnetOf(list));
        Assert.Equal("10.211.0.1", NetworkConfigs.GatewayOf(list));
        // it goes through the same parser as a user's list
        var again = CniProtocol.ParseConfList(CniProtocol.ToJson(list).ToJsonString(), "x");
        Assert.Equal("10.211.0.0/16", NetworkConfigs.SubnetOf(again));
    }

    [Fact]
    public void Bridge_names_fit_IFNAMSIZ_and_differ_per_network()
    {
        var a = NetworkConfigs.BridgeNameFor("frontend");
        Assert.True(a.Length <= 15);
        Assert.NotEqual(a, NetworkConfigs.BridgeNameFor("backend"));
    }

    [Theory]
    [InlineData("10.5.3.7/24", null, "10.5.3.0/24", "10.5.3.1")]
    [InlineData("172.20.0.0/16", "172.20.9.9", "172.20.0.0/16", "172.20.9.9")]
    public void Subnets_are_normalised_and_get_a_gateway(string subnet, string? gw, string expectedSubnet, string expectedGw) =>
        Assert.Equal((expectedSubnet, expectedGw), NetworkConfigs.ParseSubnet(subnet, gw));

    [Theory]
    [InlineData("10.0.0.0", null)]
    [InlineData("10.0.0.0/31", null)]
    [InlineData("fd00::/64", null)]
    [InlineData("10.0.0.0/24", "10.0.1.1")]
    [InlineData("10.0.0.0/24", "10.0.0.0")]
    [InlineData("10.0.0.0/24", "10.0.0.255")]
    public void Bad_subnets_and_gateways_are_refused(string subnet, string? gw) =>
        Assert.Throws<UsageException>(() => NetworkConfigs.ParseSubnet(subnet, gw));

    [Theory]
    [InlineData("10.211.0.0/16", "10.211.5.0/24", true)]
    [InlineData("10.212.0.0/24", "10.212.1.0/24", false)]
    public void Overlaps_are_seen(string a, string b, bool overlap) => Assert.Equal(overlap, NetworkConfigs.Overlap(a, b));

    [Theory]
    [InlineData("none")]
    [InlineData("host")]
    [InlineData("slirp4netns")]
    [InlineData("-x")]
    [InlineData("a b")]
    public void Reserved_and_malformed_network_names_are_refused(string name) => Assert.Throws<UsageException>(() => NetworkConfigs.CheckName(name));

    [Fact]
    public void Network_modes_parse()
    {
        Assert.Equal("cni", NetworkSpec.Parse(null, isRoot: true, [], [], []).Mode);
        Assert.Equal(["bridge"], NetworkSpec.Parse(null, isRoot: true, [], [], []).Networks);
        // rootless: slirp4netns (a user-mode stack needs no privilege), and it publishes ports
        Assert.Equal("slirp4netns", NetworkSpec.Parse(null, isRoot: false, [], [], []).Mode);
        Assert.Equal("slirp4netns", NetworkSpec.Parse("slirp4netns", isRoot: false, [new PortMapping { HostPort = 8080, ContainerPort = 80 }], [], []).Mode);
        Assert.Equal("host", NetworkSpec.Parse("host", true, [], [], []).Mode);
        var c = NetworkSpec.Parse("container:web", true, [], [], []);
        Assert.Equal(("container", "web"), (c.Mode, c.JoinedContainer));
        Assert.Equal(["a", "b"], NetworkSpec.Parse("a,b", true, [], [], []).Networks);
        Assert.Contains("publishes nothing", Assert.Throws<UsageException>(() =>
            NetworkSpec.Parse("none", true, [new PortMapping { HostPort = 1, ContainerPort = 1 }], [], [])).Message);
    }

    private static Spec NewSpec() => new()
    {
        Mounts = [new Mount { Destination = "/proc", Type = "proc", Source = "proc" }],
        Linux = new Core.Oci.Linux { Namespaces = [new LinuxNamespace { Type = "pid" }, new LinuxNamespace { Type = "network" }] },
    };

    [Fact]
    public void Host_mode_drops_the_network_namespace_container_mode_joins_one()
    {
        var host = NewSpec();
        NetworkSpec.Apply(host, new NetworkSettings { Mode = "host" }, "/s/id", null);
        Assert.DoesNotContain(host.Linux!.Namespaces!, n => n.Type == "network");
        var joined = NewSpec();
        NetworkSpec.Apply(joined, new NetworkSettings { Mode = "container" }, "/s/id", "/proc/7/ns/net");
        Assert.Equal("/proc/7/ns/net", Assert.Single(joined.Linux!.Namespaces!, n => n.Type == "network").Path);
        var bridge = NewSpec();
        NetworkSpec.Apply(bridge, new NetworkSettings { Mode = "cni" }, "/s/id", null);
        Assert.Null(Assert.Single(bridge.Linux!.Namespaces!, n => n.Type == "network").Path);
        Assert.Equal("/s/id/hosts", Assert.Single(bridge.Mounts!, m => m.Destination == "/etc/hosts").Source);
        Assert.Equal("/s/id/resolv.conf", Assert.Single(bridge.Mounts!, m => m.Destination == "/etc/resolv.conf").Source);
        Assert.Equal("/s/id/hostname", Assert.Single(bridge.Mounts!, m => m.Destination == "/etc/hostname").Source);
    }

    [Fact]
    public void A_loopback_resolver_is_replaced_by_what_it_forwards_to()
    {
        const string stub = "# systemd-resolved stub\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.org\n";
        const string upstream = "nameserver 192.0.2.53\nnameserver 192.0.2.54\n";
        var text = EtcFiles.ResolvConf(stub, upstream, [], sharesHostNetwork: false);
        Assert.Contains("nameserver 192.0.2.53\nnameserver 192.0.2.54\n", text);
        Assert.DoesNotContain("127.0.0.53", text);
        Assert.Contains("search example.org", text);
        Assert.Contains("options edns0 trust-ad", text);
        Assert.Contains("nameserver 8.8.8.8", EtcFiles.ResolvConf(stub, null, [], sharesHostNetwork: false));
        Assert.Contains("nameserver 127.0.0.53", EtcFiles.ResolvConf(stub, upstream, [], sharesHostNetwork: true));
        var dns = EtcFiles.ResolvConf(stub, upstream, ["192.0.2.1"], sharesHostNetwork: false);
        Assert.Contains("nameserver 192.0.2.1\n", dns);
        Assert.DoesNotContain("192.0.2.53", dns);
    }

    [Fact]
    public void Hosts_lists_localhost_itself_peers_and_added_hosts()
    {
        var text = EtcFiles.Hosts("abc123", "web", ["10.211.0.2"], [("10.211.0.3", "db 0123456789ab")], [("gw", "10.0.0.1")]);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("127.0.0.1\tlocalhost", lines[0]);
        Assert.Contains("10.211.0.2\tabc123 web", lines);
        Assert.Contains("10.211.0.3\tdb 0123456789ab", lines);
        Assert.Contains("10.0.0.1\tgw", lines);
        Assert.Equal(("gw", "10.0.0.1"), NetworkConfigs.ParseExtraHost("gw:10.0.0.1"));
        Assert.Throws<UsageException>(() => NetworkConfigs.ParseExtraHost("gw:nope"));
    }
}
