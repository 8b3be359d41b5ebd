using System.CommandLine;

namespace CrateRun.Cli;

/// <summary>
/// Docker and runc stop reading options at the command to run: in
/// <c>exec ID sh -c 'x'</c> the "-c" belongs to sh. System.CommandLine would take it as an
/// option, so a "--" is inserted before the free-form command when the caller gave none.
/// </summary>
public static class CommandLineSplit
{
    /// <param name="args">The arguments after the program name.</param>
    /// <param name="root">The root command (its recursive options may appear anywhere).</param>
    /// <param name="positionalsBefore">Per subcommand: how many positionals precede the command (run: 0, exec: 1).</param>
    public static string[] Apply(string[] args, RootCommand root, IReadOnlyDictionary<string, int> positionalsBefore)
    {
        var i = SkipOptions(args, 0, root, root);
        if (i >= args.Length || !positionalsBefore.TryGetValue(args[i], out var before)) return args;
        var sub = root.Subcommands.FirstOrDefault(c => c.Name == args[i] || c.Aliases.Contains(args[i]));
        if (sub is null) return args;
        i++;
        var seen = 0;
        while (i < args.Length)
        {
            i = SkipOptions(args, i, sub, root);
            if (i >= args.Length || args[i] == "--") return args;
            if (seen == before) return [.. args[..i], "--", .. args[i..]];
            seen++;
            i++;
        }
        return args;
    }

    /// <summary>Index of the first token from <paramref name="i"/> on that is not an option (or an option's value).</summary>
    private static int SkipOptions(string[] args, int i, Command command, RootCommand root)
    {
        while (i < args.Length && args[i].StartsWith('-') && args[i] != "--" && args[i] != "-")
        {
            var token = args[i];
            var name = token.Split('=', 2)[0];
            var option = Find(command, name) ?? Find(root, name);
            i++;
            var takesValue = option is not null && option.ValueType != typeof(bool) && option.Arity.MaximumNumberOfValues > 0;
            if (takesValue && !token.Contains('=') && i < args.Length) i++;
        }
        return i;
    }

    private static Option? Find(Command c, string name) =>
        c.Options.FirstOrDefault(o => o.Name == name || o.Aliases.Contains(name));
}
