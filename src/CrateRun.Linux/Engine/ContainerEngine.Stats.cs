using CrateRun.Core;
using CrateRun.Core.Docker;
using CrateRun.Core.State;

namespace CrateRun.Linux.Engine;

/// <summary>`craterun stats`: readings of a running container's cgroup (v1 or v2, through its manager).</summary>
public sealed partial class ContainerEngine
{
    /// <summary>The ids of the containers running now (paused ones included, as Docker's stats lists them).</summary>
    public IReadOnlyList<ContainerRecord> RunningContainers() =>
        [.. Store.List().Where(r => CurrentStatus(r) == ContainerStatus.Running).OrderBy(r => r.Created)];

    /// <summary>One reading of a running container's cgroup; an error naming it when it is not running.</summary>
    public StatsSample SampleStats(string id)
    {
        var s = RunningCgroup(id).Stats();
        return new StatsSample(s.CpuUsageNanos, s.MemoryUsage, s.MemoryLimit, s.PidsCurrent);
    }

    /// <summary>The host's memory (MemTotal of /proc/meminfo), the limit Docker shows for a container without one.</summary>
    public static ulong HostMemoryBytes()
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
        {
            if (!line.StartsWith("MemTotal:", StringComparison.Ordinal)) continue;
            var kib = line["MemTotal:".Length..].Trim().Split(' ')[0];
            return ulong.TryParse(kib, out var n) ? n * 1024 : 0;
        }
        return 0;
    }
}
