using System.CommandLine;

namespace CrateRun.Cli;

/// <summary>
/// Docker and runc stop reading options at the command to run: in
/// <c>exec ID sh -c 'x'</c> the "-c" belongs to sh. System.CommandLine would take it as an
/// option, so a "--" is inserted before the free-form command when the caller gave none.
/// An unknown option before the command is reported (System.CommandLine would make it the
/// first word of the command: <c>run --bogus --rootfs R -- true</c> ran "--bogus").
/// </summary>
public static class CommandLineSplit
{
    /// <summary>As below, for a caller that lets its parser report unknown options.</summary>
    public static string[] Apply(string[] args, Command root, IReadOnlyDictionary<string, int> positionalsBefore) =>
        Apply(args, root, positionalsBefore, out _);

    /// <param name="args">The arguments after the program name.</param>
    /// <param name="root">The root command (its recursive options may appear anywhere).</param>
    /// <param name="positionalsBefore">Per subcommand: how many positionals precede the command (run: 0, exec: 1).</param>
    /// <param name="unknownOption">The first option before the command that neither the subcommand nor the root knows.</param>
    public static string[] Apply(string[] args, Command root, IReadOnlyDictionary<string, int> positionalsBefore, out string? unknownOption)
    {
        unknownOption = null;
        var i = SkipOptions(args, 0, root, root, ref unknownOption);
        if (i >= args.Length || !positionalsBefore.TryGetValue(args[i], out var before)) return args;
        var sub = root.Subcommands.FirstOrDefault(c => c.Name == args[i] || c.Aliases.Contains(args[i]));
        if (sub is null) return args;
        unknownOption = null; // the root's own parse reports options before the subcommand
        i++;
        var seen = 0;
        while (i < args.Length)
        {
            i = SkipOptions(args, i, sub, root, ref unknownOption);
            if (i >= args.Length || args[i] == "--") return args;
            if (seen == before) return [.. args[..i], "--", .. args[i..]];
            seen++;
            i++;
        }
        return args;
    }

    /// <summary>Index of the first token from <paramref name="i"/> on that is not an option (or an option's value).</summary>
    private static int SkipOptions(string[] args, int i, Command command, Command root, ref string? unknown)
    {
        while (i < args.Length && args[i].StartsWith('-') && args[i] != "--" && args[i] != "-")
        {
            var token = args[i];
            i++;
            var separator = token.IndexOfAny(['=', ':']);
            var name = separator < 0 ? token : token[..separator];
            if ((Find(command, name) ?? Find(root, name)) is { } option)
            {
                if (TakesValue(option) && separator < 0 && i < args.Length) i++;
                continue;
            }
            // bundled short options: -it, -dit, -de KEY=V (a value-taking one ends the bundle)
            if (!token.StartsWith("--", StringComparison.Ordinal) && token.Length > 2)
            {
                var valueNext = false;
                var known = true;
                for (var k = 1; k < token.Length; k++)
                {
                    if (Find(command, "-" + token[k]) is not { } o) { known = false; break; }
                    if (!TakesValue(o)) continue;
                    valueNext = k == token.Length - 1; // otherwise the rest of the token is its value
                    break;
                }
                if (known)
                {
                    if (valueNext && i < args.Length) i++;
                    continue;
                }
            }
            unknown ??= name;
        }
        return i;
    }

    private static bool TakesValue(Option o) => o.ValueType != typeof(bool) && o.Arity.MaximumNumberOfValues > 0;

    private static Option? Find(Command c, string name) =>
        c.Options.FirstOrDefault(o => o.Name == name || o.Aliases.Contains(name));
}
