using System.Globalization;
using System.Text.RegularExpressions;

namespace CrateRun.Core.Docker;

/// <summary>
/// The time values of logs --since/--until, events --since/--until and the until= filters, as
/// Docker reads them (its timetypes.GetTimestamp): a Go duration back from now ("10m", "1h30m",
/// "1.5h", "250ms"), Unix seconds ("1700000000" or "1700000000.5"), or an RFC 3339 time with or
/// without fraction and zone ("2026-11-30T02:00:00Z", "...+01:00", "2026-11-30T02:00:00" as
/// local time, "2026-11-30").
/// </summary>
public static partial class TimeArgument
{
    [GeneratedRegex(@"^([0-9]*\.?[0-9]+(ns|us|µs|ms|s|m|h))+$")]
    private static partial Regex GoDuration();

    [GeneratedRegex(@"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")]
    private static partial Regex GoDurationPart();

    /// <summary>The instant <paramref name="text"/> names; <paramref name="flag"/> names the flag in the error.</summary>
    public static DateTimeOffset Parse(string text, DateTimeOffset now, string flag)
    {
        if (TryDuration(text, out var d)) return now - d;
        if (Regex.IsMatch(text, @"^[0-9]+(\.[0-9]{1,9})?$"))
        {
            var parts = text.Split('.');
            var seconds = long.Parse(parts[0], CultureInfo.InvariantCulture);
            var ticks = parts.Length > 1 ? long.Parse(parts[1].PadRight(7, '0')[..7], CultureInfo.InvariantCulture) : 0;
            return DateTimeOffset.UnixEpoch.AddSeconds(seconds).AddTicks(ticks);
        }
        string[] zoned = ["yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mmK"];
        if (text.EndsWith('Z') || Regex.IsMatch(text, @"[+-][0-9]{2}:[0-9]{2}$"))
        {
            var trimmed = TrimFraction(text);
            if (DateTimeOffset.TryParseExact(trimmed, zoned, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var z)) return z;
        }
        string[] local = ["yyyy-MM-dd'T'HH:mm:ss.FFFFFFF", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd"];
        if (DateTime.TryParseExact(TrimFraction(text), local, CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out var l))
            return new DateTimeOffset(l);
        throw new UsageException($"invalid value \"{text}\" for {flag}: a duration (10m, 1h30m), Unix seconds or an RFC 3339 time (2006-01-02T15:04:05Z)");
    }

    /// <summary>A Go duration ("1h30m", "1.5s", "250ms"); no sign, at least one unit.</summary>
    public static bool TryDuration(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (!GoDuration().IsMatch(text)) return false;
        double ticks = 0;
        foreach (Match m in GoDurationPart().Matches(text))
        {
            var value = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            ticks += value * m.Groups[2].Value switch
            {
                "ns" => 0.01,
                "us" or "µs" => 10,
                "ms" => TimeSpan.TicksPerMillisecond,
                "s" => TimeSpan.TicksPerSecond,
                "m" => TimeSpan.TicksPerMinute,
                _ => TimeSpan.TicksPerHour,
            };
        }
        duration = TimeSpan.FromTicks((long)ticks);
        return true;
    }

    /// <summary>Go's nanosecond fractions have up to 9 digits; .NET parses 7.</summary>
    private static string TrimFraction(string text) =>
        Regex.Replace(text, @"(\.[0-9]{7})[0-9]+", "$1");
}
