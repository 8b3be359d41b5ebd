using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using CrateRun.Core;
using CrateRun.Core.Network;
using CrateRun.Core.State;
using CrateRun.Linux.Process;

namespace CrateRun.Linux.Network;

/// <summary>
/// A container's networking through CNI, for the engine: checks before anything exists, the
/// /etc files before the launch, ADD between clone and execve, DEL on every way out.
/// </summary>
public sealed class ContainerNetworking(ContainerStore store)
{
    private readonly NetworkStore _networks = new(store.Root);
    private CniExec? _cni;
    private CniExec Cni => _cni ??= new CniExec(CniExec.Default().PluginDirs) { ChainsLockPath = Path.Combine(_networks.Dir, ".chains.lock") };
    public NetworkStore Networks => _networks;

    /// <summary>
    /// Before the container is registered: its networks exist, the container it joins runs, its
    /// ports are free. Returns the network namespace to join (--network container:ID), if any.
    /// </summary>
    public string? Check(NetworkSettings s)
    {
        SweepOrphans();
        string? join = null;
        switch (s.Mode)
        {
            case "cni":
                foreach (var n in s.Networks) _networks.Load(n);
                break;
            case Slirp4netnsPlan.Mode:
                Slirp4netns.CheckUsable();
                break;
            case "container":
                var id = store.Resolve(s.JoinedContainer!);
                var other = store.Load(id);
                if (!Processes.IsAlive(other.Pid, other.PidStartTime) || other.Pid == 0)
                    throw new CrateRunException($"--network container:{s.JoinedContainer}: container {ContainerId.Short(id)} is not running");
                s.JoinedContainer = id;
                join = $"/proc/{other.Pid}/ns/net";
                break;
        }
        CheckPortsFree(s.Ports);
        return join;
    }

    /// <summary>A host port is taken when another container publishes it, or a socket on this host is bound to it.</summary>
    private void CheckPortsFree(List<PortMapping> ports)
    {
        var seen = new HashSet<(int, string)>();
        foreach (var p in ports.Where(p => p.HostPort != 0)) // 0: chosen at ADD (AllocateHostPorts)
        {
            if (!seen.Add((p.HostPort, p.Protocol))) throw new UsageException($"-p: host port {p.HostPort}/{p.Protocol} is given twice");
            var owner = PublishedBy(_networks.AllAttachments(), p);
            if (owner is not null)
                throw new CrateRunException($"port {p.HostPort}/{p.Protocol} is already published by container {ContainerId.Short(owner.ContainerId)}");
            if (!HostPortFree(p)) throw new CrateRunException($"port {p.HostPort}/{p.Protocol} is already in use on the host");
        }
        foreach (var p in ports.Where(p => p.HostPort == 0 && !string.IsNullOrEmpty(p.HostIp))) HostPortFree(p); // the address is checked now
    }

    private static CniAttachment? PublishedBy(IEnumerable<CniAttachment> attachments, PortMapping p) =>
        attachments.FirstOrDefault(a => a.PortMappings.Any(q => q.HostPort == p.HostPort && q.Protocol == p.Protocol
            && (string.IsNullOrEmpty(q.HostIp) || string.IsNullOrEmpty(p.HostIp) || q.HostIp == p.HostIp)));

    /// <summary>Whether a socket of this host could bind the port (a listener or a connection holding it says no).</summary>
    private static bool HostPortFree(PortMapping p)
    {
        var address = string.IsNullOrEmpty(p.HostIp) ? IPAddress.Any : IPAddress.Parse(p.HostIp);
        using var socket = new Socket(address.AddressFamily, p.Protocol == "udp" ? SocketType.Dgram : SocketType.Stream, p.Protocol == "udp" ? ProtocolType.Udp : ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address, p.HostPort));
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse) { return false; }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            throw new UsageException($"-p: {p.HostIp} is not an address of this host");
        }
    }

    /// <summary>
    /// Host ports of -P and -p CTR (0 until now), as Docker chooses them: the first port of the
    /// kernel's ephemeral range (ip_local_port_range) that no container of ours publishes and no
    /// socket holds. Called under the networks lock, and the choice is saved (a first attachment,
    /// before ADD) before the lock is let go, so parallel runs never choose the same port.
    /// </summary>
    private List<PortMapping> AllocateHostPorts(string id, List<PortMapping> ports)
    {
        if (!ports.Any(p => p.HostPort == 0)) return ports;
        var (first, last) = NetworkConfigs.ParsePortRange(ReadOrNull("/proc/sys/net/ipv4/ip_local_port_range"));
        var others = _networks.AllAttachments().Where(a => a.ContainerId != id).ToList();
        var chosen = new List<PortMapping>();
        foreach (var p in ports)
        {
            if (p.HostPort != 0) { chosen.Add(p); continue; }
            var found = 0;
            for (var port = first; port <= last && found == 0; port++)
            {
                var candidate = p with { HostPort = port };
                if (PublishedBy(others, candidate) is null && !ports.Concat(chosen).Any(q => q.HostPort == port && q.Protocol == p.Protocol) && HostPortFree(candidate))
                    found = port;
            }
            if (found == 0) throw new CrateRunException($"no free host port for {p.ContainerPort}/{p.Protocol} in the ephemeral range {first}-{last}");
            chosen.Add(p with { HostPort = found });
        }
        return chosen;
    }

    /// <summary>Before the launch: the files bound over /etc/hosts, /etc/resolv.conf and /etc/hostname exist.</summary>
    public void WriteEtcFiles(ContainerRecord r)
    {
        var s = r.Network!;
        var hostname = r.Hostname ?? ContainerId.Short(r.Id);
        // new files (a restart's are replaced: no container binds them yet), never truncated: see ContainerStore.WriteNew
        ContainerStore.WriteNew(store.PathOf(r.Id, "hostname"), System.Text.Encoding.UTF8.GetBytes(hostname + "\n"));
        // slirp4netns answers DNS itself on 10.0.2.3 (forwarding to the host's servers)
        var dns = s.Mode == Slirp4netnsPlan.Mode && s.Dns.Count == 0 ? [Slirp4netnsPlan.Nameserver] : s.Dns;
        ContainerStore.WriteNew(store.PathOf(r.Id, "resolv.conf"), System.Text.Encoding.UTF8.GetBytes(EtcFiles.ResolvConf(ReadOrNull("/etc/resolv.conf"),
            ReadOrNull("/run/systemd/resolve/resolv.conf"), dns, sharesHostNetwork: s.Mode == "host")));
        var own = new List<string>();
        if (s.Mode == Slirp4netnsPlan.Mode) own.Add(Slirp4netnsPlan.GuestAddress);
        if (s.Mode == "container" && store.TryLoad(s.JoinedContainer!)?.Network is { } joined)
            own.AddRange(joined.Addresses.Select(a => a.Split('=').Last().Split('/')[0]));
        var hosts = EtcFiles.Hosts(hostname, r.Name, own, [], s.ExtraHosts.Select(NetworkConfigs.ParseExtraHost));
        if (s.Mode == "host") hosts = (ReadOrNull("/etc/hosts") ?? "") + string.Concat(s.ExtraHosts.Select(NetworkConfigs.ParseExtraHost).Select(e => $"{e.Address}\t{e.Name}\n"));
        ContainerStore.WriteNew(store.PathOf(r.Id, "hosts"), System.Text.Encoding.UTF8.GetBytes(hosts));
    }

    private static string? ReadOrNull(string path)
    {
        try { return File.Exists(path) ? File.ReadAllText(path) : null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>
    /// CNI ADD of each network (eth0, eth1, ...) into the namespace of <paramref name="pid"/>,
    /// which exists but runs nothing yet. Each result is cached before the next network, so a
    /// failure half-way is undone by <see cref="Detach"/>. Ports go to the first network.
    /// </summary>
    public void Attach(ContainerRecord r, int pid)
    {
        var s = r.Network!;
        var netns = $"/proc/{pid}/ns/net";
        var attached = new List<CniAttachment>();
        if (s.Ports.Any(p => p.HostPort == 0))
        {
            using var _ = _networks.Lock();
            s.Ports = AllocateHostPorts(r.Id, s.Ports);
            // the chosen ports are claimed before the lock goes; DEL of this first attachment is harmless
            var first = CniProtocol.PluginsToRun(_networks.Load(s.Networks[0]), Capabilities(s.Ports));
            _networks.SaveAttachments(r.Id, [new CniAttachment
            {
                ContainerId = r.Id, ContainerName = r.Name, Network = first.Name, IfName = "eth0", ConfList = CniProtocol.ToJson(first), PortMappings = [.. s.Ports],
            }]);
        }
        for (var i = 0; i < s.Networks.Count; i++)
        {
            var ports = i == 0 ? s.Ports : [];
            var caps = Capabilities(ports);
            // the plugins with something to do for this container; cached below, so DEL runs the same ones
            var list = CniProtocol.PluginsToRun(_networks.Load(s.Networks[i]), caps);
            var ifName = $"eth{i}";
            var (result, raw) = Cni.AddList(list, r.Id, netns, ifName, caps);
            var (addresses, gateway) = CniProtocol.AddressesOf(result);
            attached.Add(new CniAttachment
            {
                ContainerId = r.Id, ContainerName = r.Name, Network = list.Name, IfName = ifName, ConfList = CniProtocol.ToJson(list),
                PortMappings = [.. ports], Result = raw, Addresses = addresses, Gateway = gateway,
                HostsFile = store.PathOf(r.Id, "hosts"), Hostname = r.Hostname,
            });
            _networks.SaveAttachments(r.Id, attached);
            foreach (var ip in result.Ips ?? []) s.Addresses.Add($"{list.Name}={ip.Address}");
        }
        RefreshHosts(s.Networks);
    }

    /// <summary>
    /// Rootless networking: slirp4netns gives the namespace of <paramref name="pid"/> (which runs
    /// nothing yet) tap0 with 10.0.2.100/24 and publishes the ports; stopped by <see cref="StopSlirp4netns"/>.
    /// </summary>
    public void AttachSlirp4netns(ContainerRecord r, int pid)
    {
        var s = r.Network!;
        Slirp4netns.Start(store.Dir(r.Id), pid, s.Ports);
        s.Addresses.Add($"{Slirp4netnsPlan.Mode}={Slirp4netnsPlan.GuestAddress}/{Slirp4netnsPlan.PrefixLength}");
    }

    /// <summary>Stops the container's slirp4netns if it has one (by pid). Safe to call twice, from anyone.</summary>
    public void StopSlirp4netns(string id) => Slirp4netns.Stop(store.Dir(id));

    private static Dictionary<string, JsonNode> Capabilities(List<PortMapping> ports) =>
        ports.Count == 0 ? [] : new() { ["portMappings"] = CniProtocol.PortMappingsArg(ports) };

    /// <summary>
    /// CNI DEL of everything ADD made for the container, last network first, with the cached
    /// lists and results. While the process lives its namespace is named (the bridge plugin then
    /// removes the veth itself); once it is gone CNI_NETNS is empty and the plugins release the
    /// rest (the kernel removed the veth with the namespace). Safe to call twice, from anyone.
    /// </summary>
    public void Detach(string id, ContainerRecord? r, Action<string>? warn = null)
    {
        if (!File.Exists(_networks.AttachmentsPath(id))) return;
        Directory.CreateDirectory(_networks.AttachmentsDir);
        var lockPath = Path.Combine(_networks.AttachmentsDir, id + ".lock");
        var networks = new List<string>();
        using (FileLock.Acquire(lockPath))
        {
            var attached = _networks.LoadAttachments(id);
            if (attached.Count == 0 && !File.Exists(_networks.AttachmentsPath(id))) return;
            var netns = r is not null && r.Pid > 0 && Processes.IsAlive(r.Pid, r.PidStartTime) ? $"/proc/{r.Pid}/ns/net" : "";
            for (var i = attached.Count - 1; i >= 0; i--)
            {
                var a = attached[i];
                networks.Add(a.Network);
                try
                {
                    var list = CniProtocol.ParseConfList(a.ConfList, $"the cached network {a.Network}");
                    Cni.DelList(list, id, netns, a.IfName, Capabilities(a.PortMappings), a.Result);
                }
                catch (CrateRunException e)
                {
                    (warn ?? (m => Console.Error.WriteLine("warning: " + m)))($"container {ContainerId.Short(id)}: network {a.Network}: {e.Message}");
                }
            }
            File.Delete(_networks.AttachmentsPath(id));
        }
        File.Delete(lockPath);
        RefreshHosts(networks);
    }

    /// <summary>
    /// The next command after a monitor was killed: a container whose process and monitor are
    /// both gone (or whose state is gone) still holds addresses, rules and ports: DEL them.
    /// </summary>
    public void SweepOrphans()
    {
        SweepOrphanSlirp4netns();
        foreach (var id in _networks.AttachedIds().ToList())
        {
            var r = store.TryLoad(id);
            if (r is not null && r.MonitorPid > 0 && Processes.IsAlive(r.MonitorPid, r.MonitorStartTime)) continue;
            if (r is not null && r.Pid > 0 && Processes.IsAlive(r.Pid, r.PidStartTime)) continue;
            Detach(id, r);
        }
    }

    /// <summary>The slirp4netns of containers whose process and monitor both died (a monitor killed with SIGKILL) are stopped.</summary>
    private void SweepOrphanSlirp4netns()
    {
        if (!Directory.Exists(store.Root)) return;
        foreach (var dir in Directory.EnumerateDirectories(store.Root).Where(Slirp4netns.HasOne))
        {
            var r = store.TryLoad(Path.GetFileName(dir));
            if (r is not null && r.MonitorPid > 0 && Processes.IsAlive(r.MonitorPid, r.MonitorStartTime)) continue;
            if (r is not null && r.Pid > 0 && Processes.IsAlive(r.Pid, r.PidStartTime)) continue;
            if (r is null && File.Exists(Path.Combine(dir, "metadata.json"))) continue; // being written: not ours to judge
            Slirp4netns.Stop(dir);
        }
    }

    /// <summary>
    /// Rewrites, in place (the file is bind-mounted: same inode), the hosts file of every
    /// container on these networks so that it lists its peers by name: called after each ADD
    /// and DEL, so names follow containers as they come and go.
    /// </summary>
    private void RefreshHosts(IEnumerable<string> networks)
    {
        var set = networks.ToHashSet();
        if (set.Count == 0) return;
        using var _ = _networks.Lock();
        var all = _networks.AllAttachments();
        foreach (var group in all.GroupBy(a => a.ContainerId).Where(g => g.Any(a => set.Contains(a.Network))))
        {
            var mine = group.ToList();
            var myNetworks = mine.Select(a => a.Network).ToHashSet();
            var record = store.TryLoad(group.Key);
            var path = mine[0].HostsFile;
            if (path is null || !File.Exists(path)) continue;
            var peers = all.Where(a => a.ContainerId != group.Key && myNetworks.Contains(a.Network))
                .SelectMany(a => a.Addresses.Select(ip => (ip, PeerNames(a)))).Distinct().ToList();
            var extra = (record?.Network?.ExtraHosts ?? []).Select(NetworkConfigs.ParseExtraHost);
            var hostname = record?.Hostname ?? mine[0].Hostname ?? ContainerId.Short(group.Key);
            try
            {
                File.WriteAllText(path, EtcFiles.Hosts(hostname, record?.Name ?? mine[0].ContainerName, mine.SelectMany(a => a.Addresses), peers, extra));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    private string PeerNames(CniAttachment a)
    {
        var name = store.TryLoad(a.ContainerId)?.Name ?? a.ContainerName;
        var hostname = a.Hostname ?? ContainerId.Short(a.ContainerId);
        return name is null || name == hostname ? hostname : $"{name} {hostname}";
    }
}
