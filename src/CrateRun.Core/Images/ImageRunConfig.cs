namespace CrateRun.Core.Images;

/// <summary>What a container made from an image runs: the image's config with the user's flags on top.</summary>
public sealed record ImageRunSettings(IReadOnlyList<string> Command, IReadOnlyList<string> Env, string? Workdir, string? User, string? StopSignal);

/// <summary>
/// Docker's rules for combining an image config with `run` flags:
/// argv = Entrypoint + (the user's CMD, or the image's Cmd when none was given);
/// --entrypoint replaces the Entrypoint and drops the image's Cmd ("" clears it);
/// the image's Env comes first and -e overrides it by key; -w and -u override WorkingDir and User.
/// </summary>
public static class ImageRunConfig
{
    public static ImageRunSettings Merge(ContainerConfig? image, IReadOnlyList<string> userCommand, string? entrypointOverride,
        IReadOnlyList<string> userEnv, string? userWorkdir, string? userUser, string reference)
    {
        IReadOnlyList<string> entrypoint;
        IReadOnlyList<string> cmd;
        if (entrypointOverride is not null)
        {
            entrypoint = entrypointOverride.Length == 0 ? [] : [entrypointOverride];
            cmd = userCommand;
        }
        else
        {
            entrypoint = image?.Entrypoint ?? [];
            cmd = userCommand.Count > 0 ? userCommand : image?.Cmd ?? [];
        }
        List<string> argv = [.. entrypoint, .. cmd];
        if (argv.Count == 0)
            throw new UsageException($"no command specified: image {reference} has no Entrypoint or Cmd; give one: craterun run {reference} CMD");

        var env = new List<string>();
        foreach (var e in image?.Env ?? [])
        {
            var key = e.Split('=')[0];
            env.RemoveAll(x => x.Split('=')[0] == key);
            env.Add(e);
        }
        env.AddRange(userEnv); // SpecBuilder lets a later KEY replace an earlier one

        var workdir = userWorkdir ?? (string.IsNullOrEmpty(image?.WorkingDir) ? null : image.WorkingDir);
        if (workdir is not null && !workdir.StartsWith('/')) workdir = "/" + workdir; // Docker makes a relative WorkingDir absolute
        var user = userUser ?? (string.IsNullOrEmpty(image?.User) ? null : image.User);
        return new ImageRunSettings(argv, env, workdir, user, string.IsNullOrEmpty(image?.StopSignal) ? null : image.StopSignal);
    }
}
