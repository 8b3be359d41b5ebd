using CrateRun.Core.Oci;

namespace CrateRun.Linux.Cgroups;

/// <summary>
/// One container's cgroup, whatever the host's layout. <see cref="CgroupLayout.Detect"/>
/// picks v1 or v2 from the filesystem type of /sys/fs/cgroup (never from a write that worked:
/// on a hybrid host /sys/fs/cgroup is a tmpfs where any write "succeeds").
/// </summary>
public interface ICgroupManager
{
    /// <summary>Controller name (v1) or "unified" (v2) to the container's cgroup directory.</summary>
    IReadOnlyDictionary<string, string> Paths { get; }

    /// <summary>Creates the cgroup directories (and enables v2 controllers on the way down).</summary>
    void Create();

    /// <summary>Ancestors of the container's directories that the runtime made (e.g. for --cgroup-parent), top down.</summary>
    IReadOnlyList<string> CreatedParents { get; }

    /// <summary>Writes the limits. Resources the host cannot enforce are an error naming them.</summary>
    void Apply(LinuxResources? r);

    /// <summary>Moves a process (and its future children) into the cgroup.</summary>
    void AddProcess(int pid);

    /// <summary>Pids of every process in the cgroup.</summary>
    IReadOnlyList<int> Pids();

    /// <summary>Whether the kernel's OOM killer killed a process in this cgroup.</summary>
    bool OomKilled();

    void Freeze();
    void Thaw();
    bool IsFrozen();

    /// <summary>Memory, cpu and pids figures, for events --stats.</summary>
    CgroupStats Stats();

    /// <summary>
    /// Removes the directories, with any cgroup the container made below them (deepest first),
    /// then the ancestors the runtime made if nothing else uses them; processes must be gone.
    /// Missing directories are fine.
    /// </summary>
    void Destroy();

    /// <summary>After a failed create: removes only what <see cref="Create"/> made, never a cgroup that was there before.</summary>
    void RemoveCreated();
}

public sealed record CgroupStats(ulong MemoryUsage, ulong MemoryLimit, ulong MemoryMaxUsage, ulong PidsCurrent, ulong PidsLimit,
    ulong CpuUsageNanos, ulong CpuThrottledPeriods, ulong CpuThrottledNanos, ulong OomKills);
