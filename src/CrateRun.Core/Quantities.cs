using System.Globalization;

namespace CrateRun.Core;

/// <summary>Parsing of the resource flags of <c>run</c>: --memory, --cpu, --cpus, --pids.</summary>
public static partial class Quantities
{
    /// <summary>Bytes, or a number with a b/k/m/g/t suffix (powers of 1024), as Docker takes.</summary>
    public static long ParseMemory(string text)
    {
        var m = MemoryPattern().Match(text.Trim());
        if (!m.Success || !decimal.TryParse(m.Groups[1].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n))
            throw new UsageException($"invalid --memory '{text}': expected bytes or a size like 64m, 1g");
        long unit = m.Groups[2].Value.ToLowerInvariant() switch
        {
            "k" => 1L << 10,
            "m" => 1L << 20,
            "g" => 1L << 30,
            "t" => 1L << 40,
            _ => 1,
        };
        decimal bytes;
        try { bytes = n * unit; }
        catch (OverflowException) { throw new UsageException($"invalid --memory '{text}': too large"); }
        if (bytes > long.MaxValue / 2) throw new UsageException($"invalid --memory '{text}': too large");
        if (bytes < 1L << 20) throw new UsageException($"invalid --memory '{text}': the minimum is 1m");
        return (long)bytes;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:[iI]?[bB])?$")]
    private static partial System.Text.RegularExpressions.Regex MemoryPattern();

    /// <summary>The seed's form: "QUOTA PERIOD" in microseconds, e.g. "50000 100000".</summary>
    public static (long Quota, ulong Period) ParseCpu(string text)
    {
        var parts = text.Split([' ', '\t', '/'], StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 2 ||
            !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var quota) ||
            !ulong.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var period))
            throw new UsageException($"invalid --cpu '{text}': expected \"QUOTA PERIOD\" in microseconds, e.g. \"50000 100000\"");
        if (period < 1000 || period > 1_000_000)
            throw new UsageException($"invalid --cpu '{text}': period must be 1000..1000000 microseconds");
        if (quota < 1000)
            throw new UsageException($"invalid --cpu '{text}': quota must be at least 1000 microseconds");
        return (quota, period);
    }

    /// <summary>Docker's --cpus: a number of CPUs, turned into quota over a 100 ms period.</summary>
    public static (long Quota, ulong Period) ParseCpus(string text)
    {
        if (!decimal.TryParse(text.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var cpus) ||
            cpus <= 0 || cpus > 4096)
            throw new UsageException($"invalid --cpus '{text}': expected a positive number of CPUs, e.g. 0.5");
        const ulong period = 100_000;
        var quota = (long)Math.Round(cpus * period);
        if (quota < 1000) throw new UsageException($"invalid --cpus '{text}': at least 0.01");
        return (quota, period);
    }

    public static long ParsePids(string text)
    {
        if (!long.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) || n == 0 || n < -1)
            throw new UsageException($"invalid --pids '{text}': expected a positive number of processes (or -1 for no limit)");
        return n;
    }
}
