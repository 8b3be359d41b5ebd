using System.Text.RegularExpressions;

namespace CrateRun.Core.Docker;

/// <summary>
/// ps --filter (and container prune --filter): KEY=VALUE terms. As Docker: terms with the same
/// key are ORed (except label terms, which must all match, as Docker's MatchKVList), different keys ANDed. Keys: id (prefix), name (regular expression, as Docker),
/// label (KEY or KEY=VALUE), status (created, running, paused, exited; Docker's restarting,
/// removing and dead are accepted and match nothing here), exited (exit code), until (prune only).
/// </summary>
public sealed class ContainerFilter
{
    private readonly Dictionary<string, List<string>> _terms;
    private readonly DateTimeOffset? _until;

    private ContainerFilter(Dictionary<string, List<string>> terms, DateTimeOffset? until)
    {
        _terms = terms;
        _until = until;
    }

    public static readonly string[] Statuses = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];

    public bool HasStatus => _terms.ContainsKey("status");

    /// <summary>No --filter at all: every container matches.</summary>
    public bool IsEmpty => _terms.Count == 0;

    public static ContainerFilter Parse(IEnumerable<string> terms, DateTimeOffset now, bool allowUntil = false)
    {
        var map = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        DateTimeOffset? until = null;
        foreach (var term in terms)
        {
            var eq = term.IndexOf('=');
            if (eq <= 0) throw new UsageException($"invalid filter '{term}': expected KEY=VALUE");
            var (key, value) = (term[..eq].ToLowerInvariant(), term[(eq + 1)..]);
            switch (key)
            {
                case "id" or "name" or "label":
                    if (key == "name") CheckRegex(value, term);
                    break;
                case "status":
                    if (!Statuses.Contains(value))
                        throw new UsageException($"invalid filter '{term}': status is one of {string.Join(", ", Statuses)}");
                    break;
                case "exited":
                    if (!int.TryParse(value, out _)) throw new UsageException($"invalid filter '{term}': exited takes an exit code");
                    break;
                case "until" when allowUntil:
                    until = TimeArgument.Parse(value, now, "until");
                    break;
                default:
                    throw new UsageException($"invalid filter '{key}'");
            }
            if (!map.TryGetValue(key, out var list)) map[key] = list = [];
            list.Add(value);
        }
        return new ContainerFilter(map, until);
    }

    private static void CheckRegex(string pattern, string term)
    {
        try { _ = new Regex(pattern); }
        catch (ArgumentException e) { throw new UsageException($"invalid filter '{term}': {e.Message}"); }
    }

    public bool Matches(ContainerRow row)
    {
        foreach (var (key, values) in _terms)
        {
            var any = key switch
            {
                "id" => values.Any(v => row.Id.StartsWith(v, StringComparison.Ordinal)),
                "name" => values.Any(v => Regex.IsMatch(row.Name, v, RegexOptions.None, TimeSpan.FromSeconds(1))),
                "label" => values.All(v => LabelMatches(row.Labels, v)),
                "status" => values.Contains(row.State),
                "exited" => row.State == "exited" && values.Any(v => int.Parse(v) == row.ExitCode),
                "until" => _until is { } u && row.Created < u,
                _ => false,
            };
            if (!any) return false;
        }
        return true;
    }

    /// <summary>label=KEY: the label is there (any value); label=KEY=VALUE: with that value.</summary>
    private static bool LabelMatches(IReadOnlyDictionary<string, string> labels, string term)
    {
        var eq = term.IndexOf('=');
        return eq < 0 ? labels.ContainsKey(term) : labels.TryGetValue(term[..eq], out var v) && v == term[(eq + 1)..];
    }
}
