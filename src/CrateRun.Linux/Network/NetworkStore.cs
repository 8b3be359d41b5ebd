using System.Text.Json;
using CrateRun.Core;
using CrateRun.Core.Network;
using CrateRun.Core.State;

namespace CrateRun.Linux.Network;

/// <summary>
/// CrateRun's networks and what it attached, under the state root:
/// <c>ROOT/.networks/NAME.conflist</c> (CNI configuration lists: the default one written on
/// first use, those of `network create`, and any a user drops there), <c>ipam/</c> (host-local's
/// leases), <c>attachments/ID.json</c> (per container: the lists, capability arguments and results
/// ADD gave, for DEL).
/// </summary>
public sealed class NetworkStore(string root)
{
    public string Dir { get; } = Path.Combine(root, ".networks");
    public string IpamDir => Path.Combine(Dir, "ipam");
    public string AttachmentsDir => Path.Combine(Dir, "attachments");
    private string ConfPath(string name) => Path.Combine(Dir, name + ".conflist");

    /// <summary>Held while networks are created or removed, and while hosts files are rewritten.</summary>
    public FileLock Lock()
    {
        Directory.CreateDirectory(Dir);
        return FileLock.Acquire(Path.Combine(Dir, ".lock"));
    }

    public bool Exists(string name) => name == NetworkConfigs.DefaultName || File.Exists(ConfPath(name));

    /// <summary>The list of a network; the default one is written the first time it is asked for.</summary>
    public CniConfList Load(string name)
    {
        var path = ConfPath(name);
        if (!File.Exists(path))
        {
            if (name != NetworkConfigs.DefaultName) throw new UsageException($"network {name} not found (craterun network ls lists them)");
            using var _ = Lock();
            if (!File.Exists(path))
            {
                var (subnet, gateway) = NetworkConfigs.ParseSubnet(NetworkConfigs.DefaultSubnet, null);
                Write(NetworkConfigs.Bridge(name, NetworkConfigs.DefaultBridge, subnet, gateway, IpamDir));
            }
        }
        var list = CniProtocol.ParseConfList(File.ReadAllText(path), path);
        if (list.Name != name) throw new UsageException($"network configuration {path} names itself '{list.Name}', not '{name}'");
        return list;
    }

    private void Write(CniConfList list)
    {
        Directory.CreateDirectory(Dir);
        ContainerStore.WriteAtomic(ConfPath(list.Name), System.Text.Encoding.UTF8.GetBytes(CniProtocol.ToJson(list).ToJsonString(new JsonSerializerOptions { WriteIndented = true })));
    }

    /// <summary>Every network: the default one (whether or not written yet) and each .conflist here.</summary>
    public List<string> Names()
    {
        var names = new SortedSet<string>(StringComparer.Ordinal) { NetworkConfigs.DefaultName };
        if (Directory.Exists(Dir))
            foreach (var f in Directory.EnumerateFiles(Dir, "*.conflist")) names.Add(Path.GetFileNameWithoutExtension(f));
        return [.. names];
    }

    /// <summary>network create: a bridge list with its own bridge and a subnet no other network of ours uses.</summary>
    public CniConfList Create(string name, string? subnet, string? gateway)
    {
        NetworkConfigs.CheckName(name);
        using var _ = Lock();
        if (Exists(name)) throw new CrateRunException($"network {name} already exists");
        var used = Names().Select(n => n == NetworkConfigs.DefaultName && !File.Exists(ConfPath(n)) ? NetworkConfigs.DefaultSubnet : TrySubnet(n))
            .Where(s => s is not null).Select(s => s!).ToList();
        string net, gw;
        if (subnet is not null)
        {
            (net, gw) = NetworkConfigs.ParseSubnet(subnet, gateway);
            if (used.FirstOrDefault(u => NetworkConfigs.Overlap(u, net)) is { } clash)
                throw new CrateRunException($"subnet {net} overlaps {clash}, used by another network");
        }
        else
        {
            if (gateway is not null) throw new UsageException("--gateway needs --subnet");
            var free = Enumerable.Range(0, 256).Select(i => $"10.212.{i}.0/24").FirstOrDefault(c => !used.Any(u => NetworkConfigs.Overlap(u, c)))
                ?? throw new CrateRunException("no free subnet left in 10.212.0.0/16: give one with --subnet");
            (net, gw) = NetworkConfigs.ParseSubnet(free, null);
        }
        var list = NetworkConfigs.Bridge(name, NetworkConfigs.BridgeNameFor(name), net, gw, IpamDir);
        Write(list);
        return list;
    }

    private string? TrySubnet(string name)
    {
        try { return NetworkConfigs.SubnetOf(Load(name)); }
        catch (UsageException) { return null; }
    }

    /// <summary>network rm: refused while a container is attached; the default network stays.</summary>
    public void Remove(string name)
    {
        using var _ = Lock();
        if (name == NetworkConfigs.DefaultName) throw new CrateRunException($"network {name} is the default network: it cannot be removed");
        if (!File.Exists(ConfPath(name))) throw new CrateRunException($"network {name} not found");
        var users = AllAttachments().Where(a => a.Network == name).Select(a => ContainerId.Short(a.ContainerId)).Distinct().ToList();
        if (users.Count > 0) throw new CrateRunException($"network {name} is in use by container(s) {string.Join(", ", users)}");
        File.Delete(ConfPath(name));
    }

    // ---- attachments (the result cache) ----

    public string AttachmentsPath(string id) => Path.Combine(AttachmentsDir, id + ".json");

    public List<CniAttachment> LoadAttachments(string id)
    {
        var path = AttachmentsPath(id);
        if (!File.Exists(path)) return [];
        try { return JsonSerializer.Deserialize(File.ReadAllText(path), CniJsonContext.Default.ListCniAttachment) ?? []; }
        catch (JsonException) { return []; }
    }

    public void SaveAttachments(string id, List<CniAttachment> list)
    {
        Directory.CreateDirectory(AttachmentsDir);
        ContainerStore.WriteAtomic(AttachmentsPath(id), JsonSerializer.SerializeToUtf8Bytes(list, CniJsonContext.Default.ListCniAttachment));
    }

    public IEnumerable<string> AttachedIds() =>
        Directory.Exists(AttachmentsDir)
            ? Directory.EnumerateFiles(AttachmentsDir, "*.json").Select(f => Path.GetFileNameWithoutExtension(f)!)
            : [];

    public List<CniAttachment> AllAttachments() => [.. AttachedIds().SelectMany(LoadAttachments)];
}
