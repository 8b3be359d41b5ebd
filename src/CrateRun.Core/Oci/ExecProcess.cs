namespace CrateRun.Core.Oci;

/// <summary>
/// What an exec asks for on top of the container's own process (config.json's <c>process</c>):
/// `craterun exec`, `craterun-oci exec` without --process, and a health check's probe.
/// </summary>
public sealed record ExecRequest
{
    public required IReadOnlyList<string> Args { get; init; }

    /// <summary>KEY=VALUE added to the container's environment; a variable given again replaces the container's value.</summary>
    public IReadOnlyList<string> Env { get; init; } = [];

    /// <summary>The working directory; null: the container's (and "/" when it has none).</summary>
    public string? Cwd { get; init; }

    public bool Terminal { get; init; }

    /// <summary>Docker's rule: with a terminal and no TERM in the environment, TERM=xterm.</summary>
    public bool DefaultTerm { get; init; }

    public Box? ConsoleSize { get; init; }

    /// <summary>The user to run as (its additional groups included); null: the container's.</summary>
    public User? User { get; init; }

    /// <summary>runc's --additional-gids: replace the user's supplementary groups (empty: keep them).</summary>
    public IReadOnlyList<uint> AdditionalGids { get; init; } = [];

    /// <summary>runc's --cap: added to the bounding, effective and permitted sets (when the container has capabilities).</summary>
    public IReadOnlyList<string> AddCapabilities { get; init; } = [];

    /// <summary>runc's --no-new-privs: set it even when the container's process does not.</summary>
    public bool NoNewPrivileges { get; init; }
}

/// <summary>The one builder of an exec's process: the container's process as the template, the request on top.</summary>
public static class ExecProcess
{
    /// <summary>A new process; the template (the container's config, which the engine goes on using) is left as it is.</summary>
    public static Process Build(Process? template, ExecRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var t = template ?? new Process();
        // a variable given again takes the new value in its place, a new one is appended (Docker's
        // ReplaceOrAppendEnvValues; runc's exec --env comes out the same)
        var env = ProcessEnvironment.WithoutDuplicates([.. t.Env ?? [], .. request.Env]);
        if (request.Terminal && request.DefaultTerm && !env.Any(e => e.StartsWith("TERM=", StringComparison.Ordinal))) env.Add("TERM=xterm");
        var user = request.User ?? t.User;
        if (request.AdditionalGids.Count > 0)
            user = new User { Uid = user.Uid, Gid = user.Gid, Umask = user.Umask, AdditionalGids = [.. request.AdditionalGids] };
        var caps = t.Capabilities;
        if (request.AddCapabilities.Count > 0 && caps is not null)
        {
            caps = new LinuxCapabilities
            {
                Bounding = [.. caps.Bounding ?? [], .. request.AddCapabilities],
                Effective = [.. caps.Effective ?? [], .. request.AddCapabilities],
                Permitted = [.. caps.Permitted ?? [], .. request.AddCapabilities],
                Inheritable = caps.Inheritable,
                Ambient = caps.Ambient,
            };
        }
        var cwd = request.Cwd ?? t.Cwd;
        return new Process
        {
            Args = [.. request.Args],
            Env = env,
            Cwd = cwd.Length == 0 ? "/" : cwd,
            Terminal = request.Terminal,
            ConsoleSize = request.ConsoleSize,
            User = user,
            Capabilities = caps,
            NoNewPrivileges = t.NoNewPrivileges || request.NoNewPrivileges,
            Rlimits = t.Rlimits,
        };
    }
}
