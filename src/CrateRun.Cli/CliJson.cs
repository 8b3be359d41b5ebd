using System.Text.Json.Serialization;
using CrateRun.Linux.Cgroups;

namespace CrateRun.Cli;

/// <summary>One entry of `list --format json`, as runc prints it.</summary>
public sealed class OciListEntry
{
    public string OciVersion { get; set; } = "";
    public string Id { get; set; } = "";
    public int Pid { get; set; }
    public string Status { get; set; } = "";
    public string Bundle { get; set; } = "";
    public string Rootfs { get; set; } = "";
    public DateTimeOffset Created { get; set; }
    public Dictionary<string, string>? Annotations { get; set; }
    public string Owner { get; set; } = "";
}

/// <summary>An `events` line: {"type":"stats","id":...,"data":{...}} as runc writes it.</summary>
public sealed class OciEvent
{
    public string Type { get; set; } = "";
    public string Id { get; set; } = "";
    public OciStatsData? Data { get; set; }

    public static OciEvent FromStats(string id, CgroupStats s) => new()
    {
        Type = "stats",
        Id = id,
        Data = new OciStatsData
        {
            Cpu = new CpuStats
            {
                Usage = new CpuUsage { Total = s.CpuUsageNanos },
                Throttling = new Throttling { ThrottledPeriods = s.CpuThrottledPeriods, ThrottledTime = s.CpuThrottledNanos },
            },
            Memory = new MemoryStats { Usage = new MemoryEntry { Usage = s.MemoryUsage, Limit = s.MemoryLimit, Max = s.MemoryMaxUsage } },
            Pids = new PidsStats { Current = s.PidsCurrent, Limit = s.PidsLimit },
        },
    };
}

public sealed class OciStatsData
{
    public CpuStats? Cpu { get; set; }
    public MemoryStats? Memory { get; set; }
    public PidsStats? Pids { get; set; }
}

public sealed class CpuStats
{
    public CpuUsage? Usage { get; set; }
    public Throttling? Throttling { get; set; }
}

public sealed class CpuUsage { public ulong Total { get; set; } }

public sealed class Throttling
{
    public ulong ThrottledPeriods { get; set; }
    public ulong ThrottledTime { get; set; }
}

public sealed class MemoryStats { public MemoryEntry? Usage { get; set; } }

public sealed class MemoryEntry
{
    public ulong Usage { get; set; }
    public ulong Limit { get; set; }
    public ulong Max { get; set; }
}

public sealed class PidsStats
{
    public ulong Current { get; set; }
    public ulong Limit { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(List<int>))]
[JsonSerializable(typeof(List<OciListEntry>))]
[JsonSerializable(typeof(OciEvent))]
[JsonSerializable(typeof(StatsJson))]
public sealed partial class CliJson : JsonSerializerContext;
