namespace CrateRun.Core.Volumes;

/// <summary>
/// volume ls / prune --filter, Docker's keys: dangling=true|false (used by no container),
/// name=TEXT (part of the name), label=KEY[=VALUE], label!=KEY[=VALUE] (prune), driver=local, all=true (prune).
/// Terms of one key are ORed (labels ANDed), keys ANDed, as Docker's.
/// </summary>
public sealed class VolumeFilter
{
    private readonly Dictionary<string, List<string>> _terms = [];

    /// <summary>prune --filter all=true: named volumes too, as -a.</summary>
    public bool All { get; private set; }

    public static VolumeFilter Parse(IEnumerable<string> terms, bool forPrune)
    {
        var f = new VolumeFilter();
        foreach (var term in terms)
        {
            var eq = term.IndexOf('=');
            if (eq <= 0) throw new UsageException($"invalid filter '{term}': expected KEY=VALUE");
            var (key, value) = (term[..eq], term[(eq + 1)..]);
            if (key.EndsWith('!')) key = key[..^1] + "!=";
            var allowed = forPrune ? new[] { "label", "label!=", "all" } : ["dangling", "name", "label", "driver"];
            if (!allowed.Contains(key))
                throw new UsageException($"invalid filter '{key}' (volume {(forPrune ? "prune" : "ls")} takes {string.Join(", ", allowed)})");
            if (key is "dangling" or "all" && value is not ("true" or "false" or "1" or "0"))
                throw new UsageException($"invalid filter '{term}': {key} takes true or false");
            if (key == "all") f.All = value is "true" or "1";
            else (f._terms.TryGetValue(key, out var list) ? list : f._terms[key] = []).Add(value);
        }
        return f;
    }

    /// <summary>Whether <paramref name="v"/> passes; <paramref name="inUse"/>: a container uses it.</summary>
    public bool Matches(VolumeInfo v, bool inUse)
    {
        foreach (var (key, values) in _terms)
        {
            var ok = key switch
            {
                "dangling" => values.Any(x => (x is "true" or "1") == !inUse),
                "name" => values.Any(x => v.Name.Contains(x, StringComparison.Ordinal)),
                "driver" => values.Any(x => x == v.Driver),
                "label" => values.All(x => HasLabel(v, x)),
                "label!=" => values.All(x => !HasLabel(v, x)),
                _ => true,
            };
            if (!ok) return false;
        }
        return true;
    }

    private static bool HasLabel(VolumeInfo v, string term)
    {
        var eq = term.IndexOf('=');
        return eq < 0 ? v.Labels.ContainsKey(term) : v.Labels.TryGetValue(term[..eq], out var value) && value == term[(eq + 1)..];
    }

    /// <summary>The fields of ls --format templates, with their table headers (Docker's).</summary>
    public static readonly IReadOnlyDictionary<string, string> Fields = new Dictionary<string, string>
    {
        ["Name"] = "VOLUME NAME", ["Driver"] = "DRIVER", ["Mountpoint"] = "MOUNTPOINT", ["Scope"] = "SCOPE",
        ["Labels"] = "LABELS", ["CreatedAt"] = "CREATED", ["Links"] = "LINKS",
    };

    /// <summary>A field of one ls row; Labels as Docker prints them (k=v,k2=v2); Links: how many containers use it.</summary>
    public static string Field(VolumeInfo v, string field, int links) => field switch
    {
        "Name" => v.Name,
        "Driver" => v.Driver,
        "Mountpoint" => v.Mountpoint,
        "Scope" => v.Scope,
        "Labels" => string.Join(',', v.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")),
        "CreatedAt" => v.CreatedAt,
        "Links" => links.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => "",
    };
}
