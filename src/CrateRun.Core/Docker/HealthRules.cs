using System.Globalization;
using System.Text.RegularExpressions;
using CrateRun.Core.State;

namespace CrateRun.Core.Docker;

/// <summary>
/// Docker's health checks (--health-cmd and its flags; moby daemon/health.go): the command
/// runs in the container every interval; exit 0 is healthy, anything else (or a timeout) a
/// failure; <c>retries</c> failures in a row make it unhealthy, except failures during the
/// start period while it was never healthy. The monitor runs the probes; this is the rule.
/// </summary>
public static partial class HealthRules
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(30), DefaultTimeout = TimeSpan.FromSeconds(30);
    public const int DefaultRetries = 3;
    /// <summary>Docker keeps the last five probes and the first 4 KiB of each one's output.</summary>
    public const int MaxLogEntries = 5, MaxOutputBytes = 4096;
    public const string Starting = "starting", Healthy = "healthy", Unhealthy = "unhealthy";

    /// <summary>
    /// The --health-* flags, checked (syntax and conflicts) but not yet merged with an image's
    /// HEALTHCHECK. Zero durations and retries mean "not given" (Docker's rule: the image's or the default).
    /// </summary>
    public sealed record HealthFlags(string? Cmd, TimeSpan Interval, TimeSpan Timeout, int Retries, TimeSpan StartPeriod, bool None)
    {
        public bool Any => Cmd is not null || Interval != TimeSpan.Zero || Timeout != TimeSpan.Zero || Retries != 0 || StartPeriod != TimeSpan.Zero;
    }

    /// <summary>The flags to a check, refused in one line when malformed or in conflict. Durations are Go's (<c>30s</c>, <c>1m30s</c>, <c>500ms</c>).</summary>
    public static HealthFlags ParseFlags(string? cmd, string? interval, string? timeout, int? retries, string? startPeriod, bool none)
    {
        if (none && (cmd is not null || interval is not null || timeout is not null || retries is not null || startPeriod is not null))
            throw new UsageException("--no-healthcheck conflicts with --health-* options");
        var i = Positive(interval, "--health-interval");
        var t = Positive(timeout, "--health-timeout");
        var s = Positive(startPeriod, "--health-start-period");
        if (retries < 0) throw new UsageException("--health-retries cannot be negative");
        if (cmd is not null && cmd.Trim().Length == 0) throw new UsageException("--health-cmd is empty");
        return new HealthFlags(cmd, i, t, retries ?? 0, s, none);
    }

    /// <summary>
    /// The check a container gets: the image's HEALTHCHECK with the flags on top, as Docker merges
    /// them (moby daemon/commit.go merge): --no-healthcheck disables any; a flag given replaces the
    /// image's field, one not given (zero) keeps it; what neither sets is Docker's default. Test
    /// ["NONE"] is no check. Null when there is no check. <paramref name="imageName"/> names the image in errors.
    /// </summary>
    public static HealthCheck? Merge(HealthFlags flags, Images.ImageHealthcheck? image, string imageName = "")
    {
        if (flags.None) return null;
        if (image is not null) CheckImage(image, imageName);
        List<string> test = flags.Cmd is not null ? ["CMD-SHELL", flags.Cmd] : image?.Test ?? [];
        if (test.Count == 0)
        {
            if (flags.Any)
                throw new UsageException("--health-interval, --health-timeout, --health-retries and --health-start-period need --health-cmd"
                    + (image is null && imageName.Length > 0 ? $" (image {imageName} has no HEALTHCHECK)" : ""));
            return null;
        }
        if (test[0] == "NONE") return null;
        var interval = Or(flags.Interval, image?.Interval);
        var timeout = Or(flags.Timeout, image?.Timeout);
        return new HealthCheck
        {
            Test = test,
            IntervalMs = Ms(interval == TimeSpan.Zero ? DefaultInterval : interval),
            TimeoutMs = Ms(timeout == TimeSpan.Zero ? DefaultTimeout : timeout),
            Retries = flags.Retries > 0 ? flags.Retries : image?.Retries is > 0 and var r ? r : DefaultRetries,
            StartPeriodMs = Ms(Or(flags.StartPeriod, image?.StartPeriod)),
        };
    }

    /// <summary>The flags alone (a --rootfs run): null when there is no check.</summary>
    public static HealthCheck? FromFlags(string? cmd, string? interval, string? timeout, int? retries, string? startPeriod, bool none) =>
        Merge(ParseFlags(cmd, interval, timeout, retries, startPeriod, none), null);

    /// <summary>A flag's duration when given, else the image's (nanoseconds; 0: not set).</summary>
    private static TimeSpan Or(TimeSpan flag, long? imageNanos) =>
        flag != TimeSpan.Zero ? flag : TimeSpan.FromTicks((imageNanos ?? 0) / 100);

    /// <summary>Docker's checks of a config's HealthConfig (daemon/container.go), named after the image that carries it.</summary>
    private static void CheckImage(Images.ImageHealthcheck h, string imageName)
    {
        var where = $"image {imageName}: HEALTHCHECK";
        if (h.Test is [var kind, ..] && kind is not ("NONE" or "CMD" or "CMD-SHELL"))
            throw new UsageException($"{where} has an unknown test type '{kind}' (expected CMD, CMD-SHELL or NONE)");
        if (h.Test is ["CMD" or "CMD-SHELL"]) throw new UsageException($"{where} {h.Test[0]} has no command");
        foreach (var (name, nanos) in new[] { ("Interval", h.Interval), ("Timeout", h.Timeout), ("StartPeriod", h.StartPeriod) })
        {
            if (nanos < 0) throw new UsageException($"{where} {name} cannot be negative");
            if (nanos is > 0 and < 1_000_000) throw new UsageException($"{where} {name} cannot be less than 1ms");
        }
        if (h.Retries < 0) throw new UsageException($"{where} Retries cannot be negative");
    }

    private static long Ms(TimeSpan d) => (long)d.TotalMilliseconds;

    /// <summary>A duration of Docker's: not negative, and (when set) at least 1 ms.</summary>
    private static TimeSpan Positive(string? text, string flag)
    {
        if (text is null) return TimeSpan.Zero;
        var d = ParseDuration(text, flag);
        if (d < TimeSpan.Zero) throw new UsageException($"{flag} cannot be negative");
        if (d > TimeSpan.Zero && d < TimeSpan.FromMilliseconds(1)) throw new UsageException($"{flag} must be at least 1ms");
        return d;
    }

    [GeneratedRegex(@"^(?<n>\d+(\.\d*)?|\.\d+)(?<u>ns|us|µs|ms|s|m|h)")]
    private static partial Regex DurationPart();

    /// <summary>Go's time.ParseDuration: a sequence of number+unit (h, m, s, ms, us, ns), with a sign; "0" alone.</summary>
    public static TimeSpan ParseDuration(string text, string flag)
    {
        var s = text;
        var negative = s.StartsWith('-');
        if (s.Length > 0 && s[0] is '-' or '+') s = s[1..];
        if (s == "0") return TimeSpan.Zero;
        if (s.Length == 0) throw Bad(text, flag);
        double ticks = 0;
        while (s.Length > 0)
        {
            var m = DurationPart().Match(s);
            if (!m.Success) throw Bad(text, flag);
            var n = double.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
            ticks += n * m.Groups["u"].Value switch
            {
                "h" => TimeSpan.TicksPerHour,
                "m" => TimeSpan.TicksPerMinute,
                "s" => TimeSpan.TicksPerSecond,
                "ms" => TimeSpan.TicksPerMillisecond,
                "us" or "µs" => 10,
                _ => 0.01,
            };
            s = s[m.Length..];
        }
        return TimeSpan.FromTicks((long)(negative ? -ticks : ticks));
    }

    private static UsageException Bad(string text, string flag) =>
        new($"invalid argument \"{text}\" for \"{flag}\": time: invalid duration \"{text}\" (use 30s, 1m30s, 500ms)");

    /// <summary>Go's Duration.String for whole milliseconds: "30s", "1m30s", "500ms", "1h0m0s".</summary>
    public static string FormatDuration(TimeSpan d)
    {
        if (d < TimeSpan.FromSeconds(1)) return $"{(long)d.TotalMilliseconds}ms";
        var seconds = d.TotalSeconds % 60;
        var text = seconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";
        if (d < TimeSpan.FromMinutes(1)) return text;
        var minutes = (long)d.TotalMinutes % 60;
        text = $"{minutes}m{text}";
        return d < TimeSpan.FromHours(1) ? text : $"{(long)d.TotalHours}h{text}";
    }

    /// <summary>The text of a probe that ran out of time, as Docker writes it in the log.</summary>
    public static string TimeoutOutput(HealthCheck check) =>
        $"Health check exceeded timeout ({FormatDuration(TimeSpan.FromMilliseconds(check.TimeoutMs))})";

    /// <summary>
    /// The state after one probe: a success is healthy and clears the streak; a failure adds to
    /// the streak, unless the container is still starting within its start period, and makes it
    /// unhealthy once the streak reaches the retries. The log keeps the last five probes.
    /// </summary>
    public static HealthState Next(HealthState? previous, HealthProbe probe, HealthCheck check, DateTimeOffset started)
    {
        var state = new HealthState
        {
            Status = previous?.Status ?? Starting,
            FailingStreak = previous?.FailingStreak ?? 0,
            Log = [.. (previous?.Log ?? []).TakeLast(MaxLogEntries - 1), probe],
        };
        if (probe.ExitCode == 0)
        {
            state.Status = Healthy;
            state.FailingStreak = 0;
            return state;
        }
        var inStartPeriod = state.Status == Starting && probe.Start - started < TimeSpan.FromMilliseconds(check.StartPeriodMs);
        if (inStartPeriod) return state;
        state.FailingStreak++;
        if (state.FailingStreak >= Math.Max(1, check.Retries)) state.Status = Unhealthy;
        return state;
    }

    /// <summary>The first 4 KiB of a probe's output (Docker's limit), as text.</summary>
    public static string Output(ReadOnlySpan<byte> bytes) =>
        System.Text.Encoding.UTF8.GetString(bytes.Length > MaxOutputBytes ? bytes[..MaxOutputBytes] : bytes);

    /// <summary>ps's suffix: " (healthy)", " (unhealthy)", " (health: starting)"; empty without a check.</summary>
    public static string StatusSuffix(HealthState? health) => health?.Status switch
    {
        null => "",
        Starting => " (health: starting)",
        var s => $" ({s})",
    };
}
