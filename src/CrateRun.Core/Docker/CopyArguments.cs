namespace CrateRun.Core.Docker;

/// <summary>`cp SRC DEST`: which side names a container (CONTAINER:PATH) and which is a host path.</summary>
public sealed record CopyArguments(string Container, string ContainerPath, string HostPath, bool IntoContainer)
{
    /// <summary>
    /// Docker's rule: an argument is CONTAINER:PATH unless it starts with "/" or "." (a host path
    /// may hold a colon then); exactly one side names a container. Bad input is a UsageException.
    /// </summary>
    public static CopyArguments Parse(string source, string destination)
    {
        var src = Split(source);
        var dst = Split(destination);
        return (src, dst) switch
        {
            ({ } s, null) => new CopyArguments(s.Container, s.Path, destination, false),
            (null, { } d) => new CopyArguments(d.Container, d.Path, source, true),
            (null, null) => throw new UsageException("cp: one of SRC and DEST must be CONTAINER:PATH"),
            _ => throw new UsageException("cp: copying between containers is not supported (one side must be a host path)"),
        };
    }

    private static (string Container, string Path)? Split(string argument)
    {
        if (argument.StartsWith('/') || argument.StartsWith('.')) return null;
        var colon = argument.IndexOf(':');
        if (colon < 0) return null;
        var container = argument[..colon];
        var path = argument[(colon + 1)..];
        if (container.Length == 0) throw new UsageException($"cp: \"{argument}\" names no container");
        if (path.Length == 0) throw new UsageException($"cp: \"{argument}\" names no path in the container");
        return (container, path);
    }
}
