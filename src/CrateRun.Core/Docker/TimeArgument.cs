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
    public static DateTimeOffset Parse(string text, DateTimeOffset now, string flag) =>
        DateTimeOffset.UnixEpoch.AddTicks(ParseNanos(text, now, flag) / 100);

    /// <summary>
    /// The instant <paramref name="text"/> names, in nanoseconds since the Unix epoch: a fraction keeps all
    /// its 9 digits, so a stamp that `logs -t` printed names exactly the chunk it stamped.
    /// </summary>
    public static long ParseNanos(string text, DateTimeOffset now, string flag)
    {
        if (TryDuration(text, out var d)) return NanosOf(now - d);
        if (Regex.IsMatch(text, @"^[0-9]+(\.[0-9]{1,9})?$"))
        {
            var parts = text.Split('.');
            return checked(long.Parse(parts[0], CultureInfo.InvariantCulture) * 1_000_000_000L + FractionNanos(parts.Length > 1 ? parts[1] : ""));
        }
        // the fraction apart (.NET parses 7 digits, Go writes 9), the rest by the formats below
        var fraction = Regex.Match(text, @"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.([0-9]{1,9})");
        var whole = fraction.Success ? fraction.Groups[1].Value + text[fraction.Length..] : text;
        var extra = fraction.Success ? FractionNanos(fraction.Groups[2].Value) : 0;
        string[] zoned = ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mmK"];
        if (whole.EndsWith('Z') || Regex.IsMatch(whole, @"[+-][0-9]{2}:[0-9]{2}$"))
        {
            if (DateTimeOffset.TryParseExact(whole, zoned, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var z)) return NanosOf(z) + extra;
        }
        string[] local = ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd"];
        if (DateTime.TryParseExact(whole, local, CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out var l))
            return NanosOf(new DateTimeOffset(l)) + extra;
        throw new UsageException($"invalid value \"{text}\" for {flag}: a duration (10m, 1h30m), Unix seconds or an RFC 3339 time (2006-01-02T15:04:05Z)");
    }

    /// <summary>Docker's RFC3339NanoFixed, as `logs -t` and `events` print times: 2006-01-02T15:04:05.000000000Z.</summary>
    public static string FormatNanos(long unixNanos)
    {
        var seconds = Math.DivRem(unixNanos, 1_000_000_000L, out var nanos);
        return DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture)
            + "." + nanos.ToString("D9", CultureInfo.InvariantCulture) + "Z";
    }

    private static long NanosOf(DateTimeOffset t) => (t - DateTimeOffset.UnixEpoch).Ticks * 100;

    /// <summary>".5" → 500000000: the digits of a fraction of a second as nanoseconds.</summary>
    private static long FractionNanos(string digits) =>
        digits.Length == 0 ? 0 : long.Parse(digits.PadRight(9, '0'), CultureInfo.InvariantCulture);

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
}
