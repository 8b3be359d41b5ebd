using System.Text.Json.Nodes;
using CrateRun.Core;
using CrateRun.Core.Network;
using Xunit;

namespace CrateRun.Core.Tests.Network;

/// <summary>The CNI spec's texts (SPEC.md, v1.0.0) and podman's own conflist, as other tools send them.</summary>
public class CniProtocolTests
{
    // podman 4.3's default network (/etc/cni/net.d/87-podman-bridge.conflist on Debian 12)
    private const string PodmanConfList = """
    {
      "cniVersion": "0.4.0",
      "name": "podman",
      "plugins": [
        { "type": "bridge", "bridge": "cni-podman0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
          "ipam": { "type": "host-local", "routes": [{ "dst": "0.0.0.0/0" }], "ranges": [[{ "subnet": "10.88.0.0/16", "gateway": "10.88.0.1" }]] } },
        { "type": "portmap", "capabilities": { "portMappings": true } },
        { "type": "firewall" },
        { "type": "tuning" }
      ]
    }
    """;

    // SPEC.md "Section 5: Result Types", the example ADD result
    private const string SpecResult = """
    {
      "cniVersion": "1.0.0",
      "interfaces": [
          { "name": "cni0", "mac": "00:11:22:33:44:55" },
          { "name": "veth3243", "mac": "55:44:33:22:11:11" },
          { "name": "eth0", "mac": "99:88:77:66:55:44", "sandbox": "/var/run/netns/blue" }
      ],
      "ips": [ { "address": "10.1.0.5/16", "gateway": "10.1.0.1", "interface": 2 } ],
      "routes": [ { "dst": "0.0.0.0/0" } ],
      "dns": { "nameservers": [ "10.1.0.1" ] }
    }
    """;

    [Fact]
    public void A_conflist_as_podman_writes_it_parses_with_its_plugins_in_order()
    {
        var list = CniProtocol.ParseConfList(PodmanConfList, "87-podman-bridge.conflist");
        Assert.Equal("podman", list.Name);
        Assert.Equal("0.4.0", list.CniVersion);
        Assert.Equal(["bridge", "portmap", "firewall", "tuning"], list.Plugins.Select(CniProtocol.TypeOf));
    }

    [Fact]
    public void A_single_network_configuration_becomes_a_list_of_one()
    {
        var list = CniProtocol.ParseConfList("""{"cniVersion":"1.0.0","name":"lo","type":"loopback"}""", "lo.conf");
        Assert.Equal("lo", list.Name);
        var plugin = Assert.Single(list.Plugins);
        Assert.Equal("loopback", CniProtocol.TypeOf(plugin));
        Assert.Null(plugin["name"]);
    }

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("""{"cniVersion":"1.0.0","plugins":[{"type":"bridge"}]}""", "has no \"name\"")]
    [InlineData("""{"name":"x","plugins":[]}""", "has no plugins")]
    [InlineData("""{"name":"x","plugins":[{"type":"../../bin/sh"}]}""", "no valid \"type\"")]
    public void A_broken_configuration_is_one_clear_error(string json, string expected) =>
        Assert.Contains(expected, Assert.Throws<UsageException>(() => CniProtocol.ParseConfList(json, "f")).Message);

    [Fact]
    public void Each_plugin_gets_the_list_name_and_version_and_the_previous_result()
    {
        var list = CniProtocol.ParseConfList(PodmanConfList, "p");
        var prev = JsonNode.Parse(SpecResult)!;
        var input = JsonNode.Parse(CniProtocol.PluginInput(list, list.Plugins[2], prev, new Dictionary<string, JsonNode>()))!.AsObject();
        Assert.Equal("podman", (string?)input["name"]);
        Assert.Equal("0.4.0", (string?)input["cniVersion"]);
        Assert.Equal("firewall", (string?)input["type"]);
        Assert.Equal("10.1.0.5/16", (string?)input["prevResult"]!["ips"]![0]!["address"]);
        Assert.Null(input["runtimeConfig"]);
    }

    [Fact]
    public void Portmap_without_ports_and_a_tuning_that_sets_nothing_are_not_run_and_the_list_says_so()
    {
        var list = CniProtocol.ParseConfList(PodmanConfList, "p");
        var none = new Dictionary<string, JsonNode>();
        var run = CniProtocol.PluginsToRun(list, none);
        Assert.Equal(["bridge", "firewall"], run.Plugins.Select(CniProtocol.TypeOf));
        Assert.Equal(("podman", "0.4.0"), (run.Name, run.CniVersion));
        Assert.Equal(4, list.Plugins.Count); // the network's own list is unchanged
        // what the attachment caches is the list that ran: DEL runs the same plugins
        Assert.Equal(["bridge", "firewall"], CniProtocol.ParseConfList(CniProtocol.ToJson(run).ToJsonString(), "cache").Plugins.Select(CniProtocol.TypeOf));

        var ports = new Dictionary<string, JsonNode> { ["portMappings"] = CniProtocol.PortMappingsArg([new PortMapping { HostPort = 8080, ContainerPort = 80 }]) };
        Assert.Equal(["bridge", "portmap", "firewall"], CniProtocol.PluginsToRun(list, ports).Plugins.Select(CniProtocol.TypeOf));
        // CNI_ARGS may carry tuning's settings: then it runs
        Assert.Equal(["bridge", "firewall", "tuning"], CniProtocol.PluginsToRun(list, none, "IgnoreUnknown=1;MAC=02:00:00:00:00:01").Plugins.Select(CniProtocol.TypeOf));
        // a tuning with something to do runs
        list.Plugins[3]["sysctl"] = new JsonObject { ["net.core.somaxconn"] = "500" };
        Assert.Equal(["bridge", "firewall", "tuning"], CniProtocol.PluginsToRun(list, none).Plugins.Select(CniProtocol.TypeOf));
    }

    [Fact]
    public void RuntimeConfig_carries_only_the_capabilities_a_plugin_declares()
    {
        var list = CniProtocol.ParseConfList(PodmanConfList, "p");
        var caps = new Dictionary<string, JsonNode>
        {
            ["portMappings"] = CniProtocol.PortMappingsArg([new PortMapping { HostPort = 8080, ContainerPort = 80, Protocol = "tcp", HostIp = "127.0.0.1" }]),
            ["bandwidth"] = new JsonObject { ["ingressRate"] = 1 },
        };
        var portmap = JsonNode.Parse(CniProtocol.PluginInput(list, list.Plugins[1], null, caps))!;
        // CONVENTIONS.md: {"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "127.0.0.1"}
        var mapping = portmap["runtimeConfig"]!["portMappings"]![0]!;
        Assert.Equal(8080, (int)mapping["hostPort"]!);
        Assert.Equal(80, (int)mapping["containerPort"]!);
        Assert.Equal("tcp", (string?)mapping["protocol"]);
        Assert.Equal("127.0.0.1", (string?)mapping["hostIP"]);
        Assert.Null(portmap["runtimeConfig"]!["bandwidth"]);
        var bridge = JsonNode.Parse(CniProtocol.PluginInput(list, list.Plugins[0], null, caps))!;
        Assert.Null(bridge["runtimeConfig"]);
    }

    [Fact]
    public void The_environment_has_every_CNI_variable_of_the_spec()
    {
        var env = CniProtocol.Environment("ADD", "abc", "/proc/42/ns/net", "eth0", ["/usr/lib/cni", "/opt/cni/bin"], "IgnoreUnknown=1");
        Assert.Equal("ADD", env["CNI_COMMAND"]);
        Assert.Equal("abc", env["CNI_CONTAINERID"]);
        Assert.Equal("/proc/42/ns/net", env["CNI_NETNS"]);
        Assert.Equal("eth0", env["CNI_IFNAME"]);
        Assert.Equal("/usr/lib/cni:/opt/cni/bin", env["CNI_PATH"]);
        Assert.Equal("IgnoreUnknown=1", env["CNI_ARGS"]);
    }

    [Fact]
    public void The_spec_example_result_parses_into_addresses_and_gateway()
    {
        var (result, raw) = CniProtocol.ParseResult(SpecResult, "bridge");
        Assert.Equal(3, result.Interfaces!.Count);
        Assert.Equal("/var/run/netns/blue", result.Interfaces[2].Sandbox);
        Assert.Equal(2, result.Ips![0].Interface);
        Assert.Equal(["10.1.0.1"], result.Dns!.Nameservers!);
        var (addresses, gateway) = CniProtocol.AddressesOf(result);
        Assert.Equal(["10.1.0.5"], addresses);
        Assert.Equal("10.1.0.1", gateway);
        Assert.Equal("0.0.0.0/0", (string?)raw["routes"]![0]!["dst"]);
    }

    [Fact]
    public void A_plugin_error_is_reported_with_its_msg_details_and_code()
    {
        // SPEC.md "Error": {"cniVersion": "1.0.0", "code": 7, "msg": "Invalid Configuration", "details": "Network 192.168.0.0/31 too small to allocate from."}
        var text = CniProtocol.ErrorText("host-local", "ADD", 1,
            """{"cniVersion":"1.0.0","code":7,"msg":"Invalid Configuration","details":"Network 192.168.0.0/31 too small to allocate from."}""", "");
        Assert.Equal("CNI plugin host-local ADD failed: Invalid Configuration (Network 192.168.0.0/31 too small to allocate from.) [code 7]", text);
        Assert.Equal("CNI plugin bridge DEL failed: boom", CniProtocol.ErrorText("bridge", "DEL", 1, "", "boom\n"));
        Assert.Equal("CNI plugin bridge DEL failed: exit status 2", CniProtocol.ErrorText("bridge", "DEL", 2, "", ""));
    }

    [Fact]
    public void An_unreadable_result_is_an_error_naming_the_plugin() =>
        Assert.Contains("bridge", Assert.Throws<CrateRunException>(() => CniProtocol.ParseResult("nope", "bridge")).Message);
}
