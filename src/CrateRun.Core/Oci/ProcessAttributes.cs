namespace CrateRun.Core.Oci;

/// <summary>sched_setattr(2) values for process.scheduler (struct sched_attr, in numbers).</summary>
/// <summary>timens: the offsets a new time namespace gets (/proc/PID/timens_offsets).</summary>
public sealed record TimeNamespaceOffsets(long MonotonicSecs, uint MonotonicNanosecs, long BoottimeSecs, uint BoottimeNanosecs);

public sealed record SchedulerAttributes(uint Policy, ulong Flags, int Nice, uint Priority, ulong Runtime, ulong Deadline, ulong Period);

/// <summary>
/// procattrs: process.scheduler, process.ioPriority, linux.personality turned into the numbers
/// the kernel takes, and the linux fields we cannot apply here refused. Every bad value is
/// one UsageException naming the field; nothing here touches the system.
/// </summary>
public static class ProcessAttributes
{
    // include/uapi/linux/sched.h
    private static readonly Dictionary<string, uint> Policies = new()
    {
        ["SCHED_OTHER"] = 0, ["SCHED_FIFO"] = 1, ["SCHED_RR"] = 2, ["SCHED_BATCH"] = 3, ["SCHED_IDLE"] = 5, ["SCHED_DEADLINE"] = 6,
    };

    private static readonly Dictionary<string, ulong> SchedulerFlags = new()
    {
        ["SCHED_FLAG_RESET_ON_FORK"] = 0x01, ["SCHED_FLAG_RECLAIM"] = 0x02, ["SCHED_FLAG_DL_OVERRUN"] = 0x04,
        ["SCHED_FLAG_KEEP_POLICY"] = 0x08, ["SCHED_FLAG_KEEP_PARAMS"] = 0x10, ["SCHED_FLAG_UTIL_CLAMP_MIN"] = 0x20,
        ["SCHED_FLAG_UTIL_CLAMP_MAX"] = 0x40,
    };

    // include/uapi/linux/ioprio.h
    private static readonly Dictionary<string, int> IoPriorityClasses = new()
    {
        ["IOPRIO_CLASS_RT"] = 1, ["IOPRIO_CLASS_BE"] = 2, ["IOPRIO_CLASS_IDLE"] = 3,
    };

    // include/uapi/linux/personality.h: PER_LINUX, PER_LINUX32
    private static readonly Dictionary<string, uint> PersonalityDomains = new() { ["LINUX"] = 0x0000, ["LINUX32"] = 0x0008 };

    /// <summary>The sched_attr for process.scheduler, or null when absent.</summary>
    public static SchedulerAttributes? Scheduler(LinuxScheduler? s)
    {
        if (s is null) return null;
        if (!Policies.TryGetValue(s.Policy, out var policy))
            throw new UsageException($"process.scheduler.policy '{s.Policy}' is not one of {string.Join(", ", Policies.Keys)}");
        ulong flags = 0;
        foreach (var name in s.Flags ?? [])
            flags |= SchedulerFlags.TryGetValue(name, out var bit) ? bit
                : throw new UsageException($"process.scheduler.flags: unknown flag '{name}'");
        if (s.Nice is < -20 or > 19)
            throw new UsageException($"process.scheduler.nice {s.Nice} is outside -20..19");
        var realtime = s.Policy is "SCHED_FIFO" or "SCHED_RR";
        if (realtime && s.Priority is < 1 or > 99)
            throw new UsageException($"process.scheduler.priority {s.Priority} is outside 1..99 for {s.Policy}");
        if (!realtime && s.Priority != 0)
            throw new UsageException($"process.scheduler.priority must be 0 for {s.Policy} (only SCHED_FIFO and SCHED_RR have one)");
        if (s.Policy == "SCHED_DEADLINE")
        {
            // sched(7): runtime <= deadline <= period; a zero period means "the deadline"
            if (s.Runtime == 0 || s.Deadline == 0)
                throw new UsageException("process.scheduler: SCHED_DEADLINE needs runtime and deadline (nanoseconds)");
            if (s.Runtime > s.Deadline || (s.Period != 0 && s.Deadline > s.Period))
                throw new UsageException($"process.scheduler: SCHED_DEADLINE needs runtime <= deadline <= period (got {s.Runtime}, {s.Deadline}, {s.Period})");
        }
        else if (s.Runtime != 0 || s.Deadline != 0 || s.Period != 0)
            throw new UsageException($"process.scheduler: runtime, deadline and period are for SCHED_DEADLINE only, not {s.Policy}");
        return new SchedulerAttributes(policy, flags, s.Nice, (uint)s.Priority, s.Runtime, s.Deadline, s.Period);
    }

    /// <summary>The ioprio_set(2) value (class &lt;&lt; 13 | level) for process.ioPriority, or null when absent.</summary>
    public static int? IoPriority(LinuxIoPriority? p)
    {
        if (p is null) return null;
        if (!IoPriorityClasses.TryGetValue(p.Class, out var cls))
            throw new UsageException($"process.ioPriority.class '{p.Class}' is not one of {string.Join(", ", IoPriorityClasses.Keys)}");
        if (p.Priority is < 0 or > 7)
            throw new UsageException($"process.ioPriority.priority {p.Priority} is outside 0..7");
        return (cls << 13) | p.Priority;
    }

    /// <summary>The personality(2) persona for linux.personality, or null when absent.</summary>
    public static uint? Personality(LinuxPersonality? p)
    {
        if (p is null) return null;
        if (!PersonalityDomains.TryGetValue(p.Domain, out var domain))
            throw new UsageException($"linux.personality.domain '{p.Domain}' is not one of LINUX, LINUX32");
        // the spec defines no flag names; one we do not know would be silently dropped
        if (p.Flags is { Count: > 0 })
            throw new UsageException($"linux.personality.flags '{string.Join(",", p.Flags)}' are not supported");
        return domain;
    }

    /// <summary>Refuses the linux fields this runtime cannot apply on this kind of host (one line each).</summary>
    public static void RefuseUnsupported(Linux? linux)
    {
        if (linux?.IntelRdt is { } rdt && (!string.IsNullOrEmpty(rdt.ClosId) || !string.IsNullOrEmpty(rdt.L3CacheSchema)
                || !string.IsNullOrEmpty(rdt.MemBwSchema) || rdt.EnableCMT || rdt.EnableMBM))
            throw new UsageException("linux.intelRdt is not supported: craterun does not manage the resctrl filesystem (Intel RDT)");
    }

    /// <summary>
    /// timens: linux.timeOffsets, checked: the clocks a time namespace has (monotonic, boottime),
    /// nanoseconds below a second, and a new time namespace to hold them (one joined by path
    /// has its offsets already, frozen by the kernel). Null: no offsets.
    /// </summary>
    public static TimeNamespaceOffsets? TimeOffsets(Linux? linux)
    {
        if (linux?.TimeOffsets is not { Count: > 0 } offsets) return null;
        var timeNs = linux.Namespaces?.FirstOrDefault(n => n.Type == "time");
        if (timeNs is null)
            throw new UsageException("linux.timeOffsets needs a new time namespace: add {\"type\": \"time\"} to linux.namespaces");
        if (!string.IsNullOrEmpty(timeNs.Path))
            throw new UsageException($"linux.timeOffsets needs a new time namespace, not the one joined at {timeNs.Path} (its offsets are fixed)");
        foreach (var (clock, value) in offsets)
        {
            if (clock is not ("monotonic" or "boottime"))
                throw new UsageException($"linux.timeOffsets: unknown clock '{clock}' (a time namespace has monotonic and boottime)");
            if (value.Nanosecs >= 1_000_000_000)
                throw new UsageException($"linux.timeOffsets.{clock}.nanosecs must be below 1000000000 (got {value.Nanosecs})");
        }
        var mono = offsets.GetValueOrDefault("monotonic");
        var boot = offsets.GetValueOrDefault("boottime");
        return new TimeNamespaceOffsets(mono?.Secs ?? 0, mono?.Nanosecs ?? 0, boot?.Secs ?? 0, boot?.Nanosecs ?? 0);
    }
}
