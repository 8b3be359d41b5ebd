using System.Globalization;

namespace CrateRun.Core.Docker;

/// <summary>One reading of a container's cgroup: CPU time used so far, memory in use and its limit, processes.</summary>
public sealed record StatsSample(ulong CpuNanos, ulong MemoryUsage, ulong MemoryLimit, ulong Pids);

/// <summary>
/// One line of `docker stats` (CONTAINER ID, NAME, CPU %, MEM USAGE / LIMIT, MEM %, PIDS), with
/// Docker's texts: binary sizes with four significant digits ("20.79MiB"), percents with two decimals.
/// </summary>
public sealed record StatsRow(string Id, string Name, string CpuPerc, string MemUsage, string MemPerc, string Pids)
{
    /// <summary>
    /// CPU % is the CPU time the cgroup used over the wall time between the readings (100% is one
    /// CPU busy, as Docker counts); the memory limit is <paramref name="hostMemory"/> when the
    /// cgroup has none (Docker shows the host's total then).
    /// </summary>
    public static StatsRow From(string id, string? name, StatsSample before, StatsSample after, TimeSpan elapsed, ulong hostMemory)
    {
        var cpuDelta = after.CpuNanos >= before.CpuNanos ? after.CpuNanos - before.CpuNanos : 0;
        var wallNanos = elapsed.Ticks * 100.0;
        var cpu = wallNanos > 0 ? cpuDelta / wallNanos * 100.0 : 0;
        var limit = after.MemoryLimit == 0 || (hostMemory > 0 && after.MemoryLimit > hostMemory) ? hostMemory : after.MemoryLimit;
        var memPerc = limit > 0 ? (double)after.MemoryUsage / limit * 100.0 : 0;
        return new StatsRow(ContainerId.Short(id), name ?? "", Percent(cpu), $"{BinarySize(after.MemoryUsage)} / {BinarySize(limit)}",
            Percent(memPerc), after.Pids.ToString(CultureInfo.InvariantCulture));
    }

    private static string Percent(double value) => value.ToString("0.00", CultureInfo.InvariantCulture) + "%";

    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

    /// <summary>Docker's units.BytesSize: 1024-based, "%.4g" of the value, then the unit ("0B", "1.5KiB", "64MiB").</summary>
    public static string BinarySize(ulong bytes)
    {
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < Units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return FourSignificant(value) + Units[unit];
    }

    /// <summary>Go's %.4g for values below 10000: four significant digits, trailing zeros dropped.</summary>
    private static string FourSignificant(double value)
    {
        if (value == 0) return "0";
        var digitsBeforePoint = (int)Math.Floor(Math.Log10(value)) + 1;
        var decimals = Math.Clamp(4 - digitsBeforePoint, 0, 3);
        var text = Math.Round(value, decimals, MidpointRounding.ToEven).ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        return text.Contains('.') ? text.TrimEnd('0').TrimEnd('.') : text;
    }
}
