using System.CommandLine;
using CrateRun.Core;
using CrateRun.Core.Network;
using CrateRun.Linux.Engine;

namespace CrateRun.Cli;

/// <summary>run's network flags and `craterun network create|ls|rm|inspect`.</summary>
public static class NetworkCommands
{
    /// <summary>The default of --network when it is not given (e.g. none for scripts that must not touch a network).</summary>
    public const string DefaultVariable = "CRATERUN_NETWORK";

    public static (Option<string?> Network, Option<string[]> Publish, Option<bool> PublishAll, Option<string[]> Dns, Option<string[]> AddHost) RunOptions() =>
    (
        new Option<string?>("--network", "--net") { Description = "none, host, bridge (default for root), slirp4netns (default rootless), a network's NAME, or container:ID ($CRATERUN_NETWORK sets the default)" },
        new Option<string[]>("--publish", "-p") { Description = "Publish a container port: [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp] (no HOSTPORT: one of the ephemeral range)" },
        new Option<bool>("--publish-all", "-P") { Description = "Publish every port the image exposes on host ports of the ephemeral range" },
        new Option<string[]>("--dns") { Description = "A nameserver for the container's /etc/resolv.conf" },
        new Option<string[]>("--add-host") { Description = "An /etc/hosts entry NAME:IP" }
    );

    /// <summary>The flags parsed and checked (networks exist, ports free) before anything is made.</summary>
    public static (NetworkSettings Settings, string? JoinNetns) ForRun(ContainerEngine engine, string? network, string[]? publish, string[]? dns, string[]? addHost,
        bool publishAll = false, IEnumerable<string>? exposedPorts = null)
    {
        var ports = (publish ?? []).Select(NetworkConfigs.ParsePort).ToList();
        if (publishAll) ports = NetworkConfigs.PublishAll(exposedPorts ?? [], ports);
        var servers = (dns ?? []).Select(NetworkConfigs.ParseDns).ToList();
        var hosts = (addHost ?? []).ToList();
        foreach (var h in hosts) NetworkConfigs.ParseExtraHost(h);
        var value = network ?? Environment.GetEnvironmentVariable(DefaultVariable);
        var settings = NetworkSpec.Parse(value, Environment.IsPrivilegedProcess, ports, servers, hosts);
        if (settings.Mode == "cni" && !Environment.IsPrivilegedProcess)
            throw new UsageException($"--network {value}: bridge networks need root (rootless: --network slirp4netns, the default, or none or host)");
        return (settings, engine.Networking.Check(settings));
    }

    /// <summary>port CONTAINER [PRIVATE_PORT[/PROTO]]: the published ports, as docker port prints them.</summary>
    public static Command Port()
    {
        var container = new Argument<string>("container");
        var privatePort = new Argument<string?>("private-port") { Description = "PORT[/tcp|udp]: print only its host address", Arity = ArgumentArity.ZeroOrOne };
        var cmd = new Command("port", "List the published ports of a container, or the host address of one") { container, privatePort };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var engine = DockerCli.Engine(p);
            var id = engine.Store.Resolve(p.GetValue(container)!);
            var asked = p.GetValue(privatePort);
            var lines = NetworkConfigs.PortLines(engine.Store.Load(id).Network?.Ports ?? [], asked);
            if (asked is not null && lines.Count == 0)
                throw new CrateRunException($"no public port '{asked}' published for {p.GetValue(container)}");
            foreach (var l in lines) Console.WriteLine(l);
            return 0;
        }));
        return cmd;
    }

    public static Command Network()
    {
        var cmd = new Command("network", "Manage networks (CNI configuration lists under the state root)");
        var subnet = new Option<string?>("--subnet") { Description = "IPv4 subnet in CIDR form (default: a free 10.212.N.0/24)" };
        var gateway = new Option<string?>("--gateway") { Description = "Gateway address (default: the subnet's first)" };
        var createName = new Argument<string>("name");
        var create = new Command("create", "Create a bridge network") { subnet, gateway, createName };
        create.SetAction(p => Program.Guard(() =>
        {
            var engine = DockerCli.Engine(p);
            var list = engine.Networking.Networks.Create(p.GetValue(createName)!, p.GetValue(subnet), p.GetValue(gateway));
            Console.WriteLine(list.Name);
            return 0;
        }));
        var ls = new Command("ls", "List networks");
        ls.Aliases.Add("list");
        ls.SetAction(p => Program.Guard(() =>
        {
            var store = DockerCli.Engine(p).Networking.Networks;
            var rows = store.Names().Select(n =>
            {
                try
                {
                    var l = store.Load(n);
                    return new[] { n, NetworkConfigs.BridgeOf(l) ?? "-", NetworkConfigs.SubnetOf(l) ?? "-", string.Join(",", l.Plugins.Select(CniProtocol.TypeOf)) };
                }
                catch (UsageException e) { return [n, "-", "-", "invalid: " + e.Message]; }
            });
            Console.Write(Table.Format(["NAME", "BRIDGE", "SUBNET", "PLUGINS"], rows));
            return 0;
        }));
        var rmNames = new Argument<string[]>("name") { Arity = ArgumentArity.OneOrMore };
        var rm = new Command("rm", "Remove networks (refused while containers use them)") { rmNames };
        rm.Aliases.Add("remove");
        rm.SetAction(p => Program.Guard(() =>
        {
            var store = DockerCli.Engine(p).Networking.Networks;
            foreach (var n in p.GetValue(rmNames)!)
            {
                store.Remove(n);
                Console.WriteLine(n);
            }
            return 0;
        }));
        var inspectNames = new Argument<string[]>("name") { Arity = ArgumentArity.OneOrMore };
        var inspect = new Command("inspect", "The configuration list of networks, and the containers attached") { inspectNames };
        inspect.SetAction(p => Program.Guard(() =>
        {
            var store = DockerCli.Engine(p).Networking.Networks;
            var array = new System.Text.Json.Nodes.JsonArray();
            var attached = store.AllAttachments();
            foreach (var n in p.GetValue(inspectNames)!)
            {
                var o = CniProtocol.ToJson(store.Load(n));
                var containers = new System.Text.Json.Nodes.JsonObject();
                foreach (var a in attached.Where(a => a.Network == n))
                    containers[a.ContainerId] = new System.Text.Json.Nodes.JsonObject
                    {
                        ["name"] = a.ContainerName, ["interface"] = a.IfName, ["addresses"] = new System.Text.Json.Nodes.JsonArray([.. a.Addresses.Select(x => (System.Text.Json.Nodes.JsonNode?)x)]),
                        ["ports"] = new System.Text.Json.Nodes.JsonArray([.. a.PortMappings.Select(x => (System.Text.Json.Nodes.JsonNode?)x.ToString())]),
                    };
                array.Add((System.Text.Json.Nodes.JsonNode)new System.Text.Json.Nodes.JsonObject { ["name"] = n, ["config"] = o, ["containers"] = containers });
            }
            Console.WriteLine(array.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }));
        cmd.Subcommands.Add(create);
        cmd.Subcommands.Add(ls);
        cmd.Subcommands.Add(rm);
        cmd.Subcommands.Add(inspect);
        return cmd;
    }
}
