using CrateRun.Core.Oci;

namespace CrateRun.Core.Network;

/// <summary>What a network mode changes in the container's OCI config.</summary>
public static class NetworkSpec
{
    /// <summary>The files under the container's state directory bound over its /etc ones.</summary>
    public static readonly (string File, string Destination)[] EtcBinds =
        [("hosts", "/etc/hosts"), ("resolv.conf", "/etc/resolv.conf"), ("hostname", "/etc/hostname")];

    /// <summary>
    /// host: no network namespace (the host's is shared); container: the other container's,
    /// joined by path; none and CNI networks: a new one (made by clone, set up by the engine
    /// before the process runs). Every mode gets its own hosts, resolv.conf and hostname files.
    /// </summary>
    public static void Apply(Spec spec, NetworkSettings settings, string stateDir, string? joinNetnsPath)
    {
        var namespaces = spec.Linux?.Namespaces;
        if (namespaces is not null)
        {
            namespaces.RemoveAll(n => n.Type == "network");
            if (settings.Mode == "container")
                namespaces.Add(new LinuxNamespace { Type = "network", Path = joinNetnsPath ?? throw new UsageException("--network container: no namespace to join") });
            else if (settings.Mode != "host")
                namespaces.Add(new LinuxNamespace { Type = "network" });
        }
        foreach (var (file, destination) in EtcBinds)
        {
            spec.Mounts ??= [];
            spec.Mounts.RemoveAll(m => m.Destination == destination);
            spec.Mounts.Add(new Mount { Destination = destination, Type = "bind", Source = Path.Combine(stateDir, file), Options = ["rbind", "rprivate"] });
        }
    }

    /// <summary>
    /// --network VALUE (or the default: the bridge for root, slirp4netns rootless) into a mode and
    /// networks. Names are checked to exist by the caller.
    /// </summary>
    public static NetworkSettings Parse(string? value, bool isRoot, IReadOnlyList<PortMapping> ports, IReadOnlyList<string> dns, IReadOnlyList<string> extraHosts)
    {
        var mode = string.IsNullOrEmpty(value) || value == "default" ? (isRoot ? NetworkConfigs.DefaultName : Slirp4netnsPlan.Mode) : value;
        var s = new NetworkSettings { Ports = [.. ports], Dns = [.. dns], ExtraHosts = [.. extraHosts] };
        if (mode is "none" or "host" or Slirp4netnsPlan.Mode) s.Mode = mode;
        else if (mode.StartsWith("container:", StringComparison.Ordinal))
        {
            s.Mode = "container";
            s.JoinedContainer = mode["container:".Length..];
            if (s.JoinedContainer.Length == 0) throw new UsageException("invalid --network 'container:': a container id or name is needed");
        }
        else
        {
            foreach (var n in mode.Split(',')) NetworkConfigs.CheckName(n);
            s.Mode = "cni";
            s.Networks = [.. mode.Split(',').Distinct()];
        }
        if (ports.Count > 0 && s.Mode is not ("cni" or Slirp4netnsPlan.Mode))
            throw new UsageException($"-p needs a bridge network or slirp4netns: --network {mode} publishes nothing");
        if (dns.Count > 0 && s.Mode == "container")
            throw new UsageException("--dns cannot be used with --network container:ID");
        return s;
    }
}
