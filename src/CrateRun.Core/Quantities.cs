using System.Globalization;

namespace CrateRun.Core;

/// <summary>Parsing of the resource flags of <c>run</c>: --memory, --cpu, --cpus, --pids.</summary>
public static class Quantities
{
    /// <summary>
    /// Bytes, or a number with a b/k/m/g/t suffix (powers of 1024), as Docker takes;
    /// <paramref name="flag"/> names the flag in errors (--memory, --shm-size, --memory-reservation...).
    /// </summary>
    /// <summary>The smallest size the memory flags take: 192 KiB.</summary>
    public const long MinimumMemory = 192L << 10;

    public static long ParseMemory(string text, string flag = "--memory")
    {
        // NUMBER[.FRACTION] then an optional unit: b, k/kb/kib, m/mb/mib, g/gb/gib, t/tb/tib (any case)
        var s = text.Trim().ToLowerInvariant();
        var digits = 0;
        while (digits < s.Length && (char.IsAsciiDigit(s[digits]) || s[digits] == '.')) digits++;
        long unit = s[digits..].Trim() switch
        {
            "" or "b" => 1,
            "k" or "kb" or "kib" => 1L << 10,
            "m" or "mb" or "mib" => 1L << 20,
            "g" or "gb" or "gib" => 1L << 30,
            "t" or "tb" or "tib" => 1L << 40,
            _ => 0,
        };
        var number = s[..digits];
        if (unit == 0 || number.Length == 0 || !char.IsAsciiDigit(number[0]) || !char.IsAsciiDigit(number[^1]) ||
            !decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n))
            throw new UsageException($"invalid {flag} '{text}': expected bytes or a size like 64m, 1g");
        decimal bytes;
        try { bytes = n * unit; }
        catch (OverflowException) { throw new UsageException($"invalid {flag} '{text}': too large"); }
        if (bytes > long.MaxValue / 2) throw new UsageException($"invalid {flag} '{text}': too large");
        // what CrateRun needs to start the smallest process (a static /bin/true) in a container of
        // its own: 176k measured (bench/output.sh), with a margin for other kernels
        if (bytes < MinimumMemory) throw new UsageException($"invalid {flag} '{text}': the minimum is 192k");
        return (long)bytes;
    }

    /// <summary>--cpu's form (kept from the v1 README): "QUOTA PERIOD" in microseconds, e.g. "50000 100000".</summary>
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

    /// <summary>
    /// Docker's --cpus: a number of CPUs, turned into quota over a 100 ms period. More than the
    /// host has is refused in Docker's words (a quota above them would limit nothing).
    /// </summary>
    public static (long Quota, ulong Period) ParseCpus(string text, int hostCpus)
    {
        if (!decimal.TryParse(text.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var cpus) ||
            cpus <= 0)
            throw new UsageException($"invalid --cpus '{text}': expected a positive number of CPUs, e.g. 0.5");
        if (cpus > hostCpus)
            throw new UsageException($"invalid --cpus '{text}': range of CPUs is from 0.01 to {hostCpus}.00, as there are only {hostCpus} CPUs available");
        const ulong period = 100_000;
        var quota = (long)Math.Round(cpus * period);
        if (quota < 1000) throw new UsageException($"invalid --cpus '{text}': at least 0.01");
        return (quota, period);
    }

    public static long ParsePids(string text)
    {
        if (!long.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) || n == 0 || n < -1)
            throw new UsageException($"invalid --pids '{text}': expected a positive number of processes (or -1 for no limit)");
        if (n > Oci.ResourceRules.MaxPids)
            throw new UsageException($"invalid --pids '{text}': at most {Oci.ResourceRules.MaxPids} (the kernel's maximum), or -1 for no limit");
        return n;
    }
}
