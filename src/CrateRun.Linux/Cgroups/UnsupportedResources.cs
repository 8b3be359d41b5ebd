using CrateRun.Core.Oci;

namespace CrateRun.Linux.Cgroups;

/// <summary>Resource settings this runtime does not apply yet: refused by name rather than silently ignored.</summary>
public static class UnsupportedResources
{
    public static void Check(LinuxResources r)
    {
        var unsupported = new List<string>();
        if (r.BlockIO is { } b && (b.Weight is not null || b.LeafWeight is not null || b.WeightDevice is { Count: > 0 }
            || b.ThrottleReadBpsDevice is { Count: > 0 } || b.ThrottleWriteBpsDevice is { Count: > 0 }
            || b.ThrottleReadIopsDevice is { Count: > 0 } || b.ThrottleWriteIopsDevice is { Count: > 0 }))
            unsupported.Add("linux.resources.blockIO");
        if (r.HugepageLimits is { Count: > 0 }) unsupported.Add("linux.resources.hugepageLimits");
        if (r.Network is { } n && (n.ClassId is not null || n.Priorities is { Count: > 0 })) unsupported.Add("linux.resources.network");
        if (r.Rdma is { Count: > 0 }) unsupported.Add("linux.resources.rdma");
        if (unsupported.Count > 0)
            throw new Core.UsageException($"not supported yet: {string.Join(", ", unsupported)} (memory, cpu, cpuset, pids, devices and unified are)");
    }
}
