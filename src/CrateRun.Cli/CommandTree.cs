using System.CommandLine;

namespace CrateRun.Cli;

/// <summary>
/// The Docker-like CLI's System.CommandLine definitions seen as a tree of plain data: what
/// `completion` and `man-pages` are generated from, so they can never disagree with the parser.
/// </summary>
public sealed record CommandNode(
    IReadOnlyList<string> Path,
    string Description,
    IReadOnlyList<string> Aliases,
    IReadOnlyList<OptionNode> Options,
    IReadOnlyList<ArgumentNode> Arguments,
    IReadOnlyList<CommandNode> Subcommands)
{
    /// <summary>"craterun volume create".</summary>
    public string FullName => string.Join(' ', ["craterun", .. Path]);

    /// <summary>Every command below (and with) this one, depth first.</summary>
    public IEnumerable<CommandNode> All() => [this, .. Subcommands.SelectMany(s => s.All())];

    public static CommandNode From(Command root) => Walk(root, [], root.Options.Where(o => o.Recursive).ToList());

    private static CommandNode Walk(Command c, IReadOnlyList<string> path, IReadOnlyList<Option> inherited)
    {
        var own = c.Options.Where(o => !o.Hidden).ToList();
        var options = own.Concat(inherited.Where(i => !own.Contains(i)))
            .Select(o => new OptionNode(o.Name, [.. o.Aliases.Where(a => !a.StartsWith('/')).Order(StringComparer.Ordinal)], o.Description ?? "", o.Arity.MaximumNumberOfValues > 0 && o.ValueType != typeof(bool), o.HelpName))
            .OrderBy(o => o.Name.TrimStart('-'), StringComparer.Ordinal).ToList();
        var recursive = inherited.Concat(own.Where(o => o.Recursive)).Distinct().ToList();
        return new CommandNode(path, c.Description ?? "", [.. c.Aliases],
            options,
            [.. c.Arguments.Where(a => !a.Hidden).Select(a => new ArgumentNode(a.Name, a.Description ?? "", a.Arity.MinimumNumberOfValues == 0, a.Arity.MaximumNumberOfValues > 1))],
            [.. c.Subcommands.Where(s => !s.Hidden).Select(s => Walk(s, [.. path, s.Name], recursive))]);
    }
}

public sealed record OptionNode(string Name, IReadOnlyList<string> Aliases, string Description, bool TakesValue, string? ValueName)
{
    /// <summary>The name and its aliases (the help option's Windows-style "/?" and "/h" left out).</summary>
    public IEnumerable<string> Names => [Name, .. Aliases];
}

public sealed record ArgumentNode(string Name, string Description, bool Optional, bool Many)
{
    /// <summary>What a shell can offer for it: running or stopped containers, volumes, networks, images; null: files.</summary>
    public string? Dynamic => Name switch
    {
        "container" or "containers" => "containers",
        "volume" => "volumes",
        _ => null,
    };
}

/// <summary>
/// A face's top-level commands as a table of names and factories. A command line builds only the command it
/// names (the whole System.CommandLine tree cost about 0.5 ms of every start); help without a command, an
/// unknown word (an alias, a typo: the parser's own error) and a null word get all of them, in table order.
/// </summary>
public static class NamedCommands
{
    public static void AddTo(Command root, IReadOnlyList<(string Name, Func<Command> Make)> table, string? word)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(table);
        // the factory must make the command of that name: a table out of step falls back to the whole tree
        if (word is not null && table.FirstOrDefault(c => c.Name == word).Make is { } make && make() is var one && one.Name == word)
        {
            root.Subcommands.Add(one);
            return;
        }
        foreach (var (_, makeCommand) in table) root.Subcommands.Add(makeCommand());
    }
}

/// <summary>
/// The root of a face's parser. System.CommandLine's RootCommand adds the help and version options and the
/// [suggest] directive, and making them reads the library's resources: 0.39 ms and 83 KB of allocations at
/// every start (CRATERUN_TIMING marks around it, medians of 15 `run`s). A command line in which none of them
/// can match (no help or version token, no directive, one named command) gets a plain command of the same name;
/// any other gets the RootCommand, so what parses, and how, is the same either way.
/// </summary>
public static class ParserRoot
{
    /// <param name="named">The one command the parser is built with (<see cref="NamedCommands"/>); null: the whole tree.</param>
    public static Command Create(string description, IReadOnlyList<string> args, string? named)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (named is null || args.Any(CouldMatchRootExtras)) return new RootCommand(description);
        return new Command(RootCommand.ExecutableName, description);
    }

    /// <summary>
    /// A token the help option (--help, -h, -?, /h, /?), the version option or a directive ([suggest]) could take,
    /// alone, with a value (--help=x) or in a bundle of short options (-ih).
    /// </summary>
    public static bool CouldMatchRootExtras(string arg)
    {
        ArgumentNullException.ThrowIfNull(arg);
        if (arg is "/h" or "/?" || arg.StartsWith('[')) return true;
        if (arg.StartsWith("--", StringComparison.Ordinal))
            return arg.StartsWith("--help", StringComparison.Ordinal) || arg.StartsWith("--version", StringComparison.Ordinal);
        return arg.StartsWith('-') && arg.AsSpan(1).IndexOfAny('h', '?') >= 0;
    }
}
