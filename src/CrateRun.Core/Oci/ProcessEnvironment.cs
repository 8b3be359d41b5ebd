namespace CrateRun.Core.Oci;

/// <summary>process.env as the process receives it.</summary>
public static class ProcessEnvironment
{
    /// <summary>
    /// One entry per variable: where it first appears, with the value it is given last. runc sets each
    /// entry in turn (Go's os.Setenv) before the exec, so `FOO=1 … FOO=2` reaches the program as FOO=2 in
    /// FOO=1's place; passed on as they are, getenv(3) would return the first, FOO=1.
    /// </summary>
    public static List<string> WithoutDuplicates(IEnumerable<string> env)
    {
        ArgumentNullException.ThrowIfNull(env);
        var result = new List<string>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in env)
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            var key = equals < 0 ? entry : entry[..equals];
            if (index.TryGetValue(key, out var at)) result[at] = entry;
            else
            {
                index[key] = result.Count;
                result.Add(entry);
            }
        }
        return result;
    }
}
