using System.Globalization;

namespace CrateRun.Core.Docker;

/// <summary>A container as ps shows it (Docker's field names), for --format and --filter.</summary>
public sealed record ContainerRow
{
    public required string Id { get; init; }
    public string Name { get; init; } = "";
    public string Image { get; init; } = "";
    public IReadOnlyList<string> Command { get; init; } = [];
    public DateTimeOffset Created { get; init; }
    public DateTimeOffset? Started { get; init; }
    public DateTimeOffset? Finished { get; init; }
    /// <summary>Docker's state word: created, running, paused, exited.</summary>
    public required string State { get; init; }
    public int? ExitCode { get; init; }
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    public IReadOnlyList<string> Mounts { get; init; } = [];
    /// <summary>The health check's status (starting, healthy, unhealthy); null without one.</summary>
    public string? Health { get; init; }

    /// <summary>The fields of a ps --format template, with their table headers (Docker's).</summary>
    public static readonly IReadOnlyDictionary<string, string> Fields = new Dictionary<string, string>
    {
        ["ID"] = "CONTAINER ID",
        ["Names"] = "NAMES",
        ["Image"] = "IMAGE",
        ["Command"] = "COMMAND",
        ["CreatedAt"] = "CREATED AT",
        ["RunningFor"] = "CREATED",
        ["Status"] = "STATUS",
        ["State"] = "STATE",
        ["Labels"] = "LABELS",
        ["Mounts"] = "MOUNTS",
        ["Ports"] = "PORTS",
        ["Networks"] = "NETWORKS",
        ["Size"] = "SIZE",
    };

    /// <summary>A field's text; <paramref name="truncate"/> as ps without --no-trunc (12-char ids, a shortened command).</summary>
    public string Field(string name, DateTimeOffset now, bool truncate) => name switch
    {
        "ID" => truncate && Id.Length > 12 ? Id[..12] : Id,
        "Names" => Name,
        "Image" => Image,
        "Command" => "\"" + Shorten(string.Join(' ', Command), truncate ? 20 : int.MaxValue) + "\"",
        "CreatedAt" => Created.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture),
        "RunningFor" => HumanDuration.Of(now - Created) + " ago",
        "Status" => StatusText(now),
        "State" => State,
        "Labels" => string.Join(',', Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")),
        "Mounts" => string.Join(',', Mounts),
        "Ports" or "Networks" or "Size" => "",
        _ => throw new UsageException($"unknown field .{name}"),
    };

    /// <summary>Docker's STATUS: "Up 5 minutes", "Up 2 seconds (Paused)", "Exited (0) 3 minutes ago", "Created".</summary>
    public string StatusText(DateTimeOffset now) => State switch
    {
        "running" => "Up " + HumanDuration.Of(now - (Started ?? Created)) + HealthRules.StatusSuffix(Health is null ? null : new State.HealthState { Status = Health }),
        "paused" => "Up " + HumanDuration.Of(now - (Started ?? Created)) + " (Paused)",
        "restarting" => $"Restarting ({(ExitCode is { } rc ? rc.ToString(CultureInfo.InvariantCulture) : "unknown")}) " + HumanDuration.Of(now - (Finished ?? Created)) + " ago",
        "exited" => $"Exited ({(ExitCode is { } c ? c.ToString(CultureInfo.InvariantCulture) : "unknown")}) " + HumanDuration.Of(now - (Finished ?? Created)) + " ago",
        _ => "Created",
    };

    private static string Shorten(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";
}

/// <summary>Docker's human durations (go-units HumanDuration): "Less than a second", "About a minute", "3 hours".</summary>
public static class HumanDuration
{
    public static string Of(TimeSpan d)
    {
        var seconds = (long)d.TotalSeconds;
        if (seconds < 1) return "Less than a second";
        if (seconds == 1) return "1 second";
        if (seconds < 60) return $"{seconds} seconds";
        var minutes = (long)d.TotalMinutes;
        if (minutes == 1) return "About a minute";
        if (minutes < 60) return $"{minutes} minutes";
        var hours = (long)Math.Round(d.TotalHours, MidpointRounding.AwayFromZero);
        if (hours == 1) return "About an hour";
        if (hours < 48) return $"{hours} hours";
        if (hours < 24 * 7 * 2) return $"{hours / 24} days";
        if (hours < 24 * 30 * 2) return $"{hours / 24 / 7} weeks";
        if (hours < 24 * 365 * 2) return $"{hours / 24 / 30} months";
        return $"{(long)(d.TotalHours / 24 / 365)} years";
    }
}
