namespace CrateRun.Core.Oci;

/// <summary>
/// How linux.resources values are read, for both cgroup versions. Zero means "not set" for
/// every numeric field where runc reads it so (libcontainer fs/cpu.go, fs/blkio.go,
/// fs/memory.go, fs/pids.go): Docker 20.10 sends <c>"blockIO": {"weight": 0}</c> and
/// <c>"cpu": {"shares": 0}</c> in every config and means nothing by them.
/// </summary>
public static class ResourceRules
{
    /// <summary>The kernel's PID_MAX_LIMIT: pids.max takes no larger number (EINVAL).</summary>
    public const long MaxPids = 4194304;

    /// <summary>A value that is set: present and not zero.</summary>
    public static long? Set(long? v) => v is { } x && x != 0 ? x : null;
    public static ulong? Set(ulong? v) => v is { } x && x != 0 ? x : null;
    public static ushort? Set(ushort? v) => v is { } x && x != 0 ? x : null;
    public static uint? Set(uint? v) => v is { } x && x != 0 ? x : null;
    public static string? Set(string? v) => string.IsNullOrEmpty(v) ? null : v;

    /// <summary>Values the kernel would refuse with a bare EINVAL, refused first with a line that names them.</summary>
    public static void Validate(LinuxResources r)
    {
        if (r.Cpu?.Idle is { } idle and not (0 or 1))
            throw new UsageException($"linux.resources.cpu.idle {idle} is invalid: 0 or 1");
        if (r.Pids is { Limit: > MaxPids } p)
            throw new UsageException($"pids limit {p.Limit} is too large: at most {MaxPids} (the kernel's maximum), or -1 for no limit");
        if (r.BlockIO is { } b)
        {
            CheckWeight("blockIO.weight", b.Weight);
            CheckWeight("blockIO.leafWeight", b.LeafWeight);
            foreach (var d in b.WeightDevice ?? [])
            {
                CheckWeight($"blockIO.weightDevice {d.Major}:{d.Minor} weight", d.Weight);
                CheckWeight($"blockIO.weightDevice {d.Major}:{d.Minor} leafWeight", d.LeafWeight);
            }
        }
        foreach (var h in r.HugepageLimits ?? [])
            if (!IsPageSize(h.PageSize))
                throw new UsageException($"invalid hugepageLimits pageSize '{h.PageSize}': expected a size like 2MB or 1GB");
        foreach (var name in r.Rdma?.Keys.ToList() ?? [])
            if (name.Length == 0 || name.Any(c => char.IsWhiteSpace(c) || c == '/'))
                throw new UsageException($"invalid rdma device name '{name}'");
        foreach (var prio in r.Network?.Priorities ?? [])
            if (prio.Name.Length == 0 || prio.Name.Any(char.IsWhiteSpace))
                throw new UsageException($"invalid network priorities interface name '{prio.Name}'");
    }

    private static void CheckWeight(string what, ushort? weight)
    {
        if (Set(weight) is { } w && w is < 10 or > 1000)
            throw new UsageException($"{what} {w} is out of range: 10 to 1000");
    }

    private static bool IsPageSize(string s) =>
        s.Length >= 3 && s[^1] == 'B' && "KMGT".Contains(s[^2]) && s[..^2].All(char.IsAsciiDigit);

    /// <summary>Whether any blockIO setting is present (zero weights are not).</summary>
    public static bool HasBlockIO(LinuxBlockIO? b) => b is not null && (Set(b.Weight) is not null || Set(b.LeafWeight) is not null
        || b.WeightDevice is { Count: > 0 } || b.ThrottleReadBpsDevice is { Count: > 0 } || b.ThrottleWriteBpsDevice is { Count: > 0 }
        || b.ThrottleReadIopsDevice is { Count: > 0 } || b.ThrottleWriteIopsDevice is { Count: > 0 });

    public static bool HasNetwork(LinuxNetwork? n) => n is not null && (Set(n.ClassId) is not null || n.Priorities is { Count: > 0 });

    /// <summary>rdma.max's line for one device: "mlx5_1 hca_handle=3 hca_object=max"; only the keys set.</summary>
    public static string? RdmaLine(string device, LinuxRdma limit)
    {
        var parts = new List<string>();
        if (limit.HcaHandles is { } h) parts.Add($"hca_handle={h}");
        if (limit.HcaObjects is { } o) parts.Add($"hca_object={o}");
        return parts.Count == 0 ? null : device + " " + string.Join(' ', parts);
    }
}
