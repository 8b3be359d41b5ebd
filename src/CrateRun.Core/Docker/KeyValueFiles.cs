namespace CrateRun.Core.Docker;

/// <summary>
/// Docker's --env-file / --label-file and --label: one KEY=VALUE per line, as Docker's
/// opts.ParseEnvFile reads them.
/// </summary>
public static class KeyValueFiles
{
    /// <summary>
    /// The lines of an env file, in order: blank lines and lines starting with '#' are skipped;
    /// KEY=VALUE is taken literally (no quotes removed, the value's spaces kept, the key's
    /// leading spaces dropped); a bare KEY takes its value from <paramref name="lookup"/> (our
    /// environment) and is left out when it is not set there. A key with whitespace, or an empty
    /// key, is an error naming the file and line.
    /// </summary>
    public static List<string> ParseEnvFile(string text, string fileName, Func<string, string?> lookup)
    {
        var result = new List<string>();
        var lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            var line = raw.TrimEnd('\r').TrimStart();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var eq = line.IndexOf('=');
            var key = eq < 0 ? line : line[..eq];
            if (key.Length == 0)
                throw new UsageException($"invalid env file {fileName}, line {lineNo}: no variable name before '='");
            if (key.Any(char.IsWhiteSpace))
                throw new UsageException($"invalid env file {fileName}, line {lineNo}: variable '{key}' contains whitespaces");
            if (eq >= 0) result.Add(line);
            else if (lookup(key) is { } value) result.Add($"{key}={value}");
        }
        return result;
    }

    /// <summary>Labels from --label (KEY[=VALUE]; a bare KEY has the empty value, as Docker) after those of --label-file; later wins.</summary>
    public static Dictionary<string, string> ParseLabels(IEnumerable<string> fromFiles, IEnumerable<string> flags)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var text in fromFiles.Concat(flags))
        {
            var eq = text.IndexOf('=');
            var key = eq < 0 ? text : text[..eq];
            if (key.Length == 0 || key.Any(char.IsWhiteSpace))
                throw new UsageException($"invalid label '{text}': the key must be non-empty and without whitespace");
            labels[key] = eq < 0 ? "" : text[(eq + 1)..];
        }
        return labels;
    }

    /// <summary>A label file: one label per line; blank lines and '#' comments skipped (Docker's opts.ReadKVStrings).</summary>
    public static List<string> ParseLabelFile(string text) =>
        [.. text.Split('\n').Select(l => l.TrimEnd('\r').TrimStart()).Where(l => l.Length > 0 && !l.StartsWith('#'))];
}
