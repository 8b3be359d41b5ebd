using System.CommandLine;
using System.Text;

namespace CrateRun.Cli;

/// <summary>
/// `craterun man-pages DIR`: one roff man page per command (craterun.1, craterun-run.1,
/// craterun-volume-create.1, ...), generated from the command definitions (<see cref="CommandTree"/>)
/// like the completion scripts. `man -l DIR/craterun-run.1` reads one.
/// </summary>
public static class ManPages
{
    public static Command Create()
    {
        var dir = new Argument<string>("directory") { Description = "Where to write the pages (made if missing)" };
        var cmd = new Command("man-pages", "Write a man page per command (roff) into a directory: man -l DIR/craterun-run.1") { dir };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var target = p.GetValue(dir)!;
            Directory.CreateDirectory(target);
            var tree = CommandNode.From(p.RootCommandResult.Command);
            foreach (var c in tree.All())
                File.WriteAllText(Path.Combine(target, FileName(c)), Page(c));
            Console.WriteLine($"{tree.All().Count()} pages written to {target}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>craterun-volume-create.1</summary>
    public static string FileName(CommandNode c) => string.Join('-', ["craterun", .. c.Path]) + ".1";

    private static string PageName(CommandNode c) => string.Join('-', ["craterun", .. c.Path]);

    public static string Page(CommandNode c)
    {
        var sb = new StringBuilder();
        sb.Append($".TH \"{PageName(c).ToUpperInvariant()}\" \"1\" \"\" \"CrateRun\" \"CrateRun Manual\"\n");
        sb.Append(".ad l\n"); // ragged right: long flags and paths cannot be justified without warnings
        sb.Append(".SH NAME\n");
        sb.Append($"{Escape(PageName(c))} \\- {Escape(FirstSentence(c.Description))}\n");
        sb.Append(".SH SYNOPSIS\n");
        sb.Append($".B {Escape(c.FullName)}\n");
        if (c.Options.Count > 0) sb.Append("[\\fIOPTIONS\\fR]\n");
        if (c.Subcommands.Count > 0) sb.Append("\\fICOMMAND\\fR\n");
        foreach (var a in c.Arguments)
        {
            var name = $"\\fI{Escape(a.Name.ToUpperInvariant())}\\fR{(a.Many ? "..." : "")}";
            sb.Append(a.Optional ? $"[{name}]\n" : name + "\n");
        }
        sb.Append(".SH DESCRIPTION\n");
        sb.Append(Paragraph(c.Description));
        if (c.Aliases.Count > 0) sb.Append($".PP\nAlso: {Escape(string.Join(", ", c.Aliases.Select(a => string.Join(' ', ["craterun", .. c.Path.Take(c.Path.Count - 1), a]))))}.\n");
        if (c.Arguments.Any(a => a.Description.Length > 0))
        {
            sb.Append(".SH ARGUMENTS\n");
            foreach (var a in c.Arguments)
                sb.Append($".TP\n\\fI{Escape(a.Name.ToUpperInvariant())}\\fR\n{Paragraph(a.Description.Length > 0 ? a.Description : "-")}");
        }
        if (c.Subcommands.Count > 0)
        {
            sb.Append(".SH COMMANDS\n");
            foreach (var s in c.Subcommands)
                sb.Append($".TP\n\\fB{Escape(s.Path[^1])}\\fR\n{Paragraph(FirstSentence(s.Description))}See \\fB{Escape(PageName(s))}\\fR(1).\n");
        }
        if (c.Options.Count > 0)
        {
            sb.Append(".SH OPTIONS\n");
            foreach (var o in c.Options)
            {
                var names = string.Join(", ", o.Names.OrderBy(n => n.StartsWith("--", StringComparison.Ordinal)).Select(n => $"\\fB{Escape(n)}\\fR"));
                var value = o.TakesValue ? $" \\fI{Escape((o.ValueName ?? o.Name.TrimStart('-')).ToUpperInvariant())}\\fR" : "";
                sb.Append($".TP\n{names}{value}\n{Paragraph(o.Description.Length > 0 ? o.Description : "-")}");
            }
        }
        sb.Append(".SH EXIT STATUS\n");
        sb.Append(Paragraph("0 when the command did what it was asked; 125 when craterun itself failed (a usage error, bad input, an unknown container or volume, a failed system call); run, wait and exec pass the container's own code on (126: cannot execute, 127: not found, 128+N: killed by signal N)."));
        sb.Append(".SH SEE ALSO\n");
        var related = new List<string>();
        if (c.Path.Count > 0) related.Add(c.Path.Count == 1 ? "craterun" : string.Join('-', ["craterun", .. c.Path.Take(c.Path.Count - 1)]));
        related.AddRange(c.Subcommands.Select(PageName));
        if (related.Count == 0) related.Add("craterun-run");
        sb.Append(string.Join(",\n", related.Select(r => $"\\fB{Escape(r)}\\fR(1)")) + "\n");
        return sb.ToString();
    }

    private static string FirstSentence(string text)
    {
        var line = text.Split('\n')[0].Trim();
        return line.Length == 0 ? "craterun command" : line;
    }

    /// <summary>Text as roff: its lines filled by the formatter, a line that would start with a control character guarded.</summary>
    private static string Paragraph(string text)
    {
        var sb = new StringBuilder();
        foreach (var line in text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0))
            sb.Append("\\&").Append(Escape(line)).Append('\n');
        return sb.Length == 0 ? "-\n" : sb.ToString();
    }

    /// <summary>roff's escapes: a backslash as \e, a minus as \- (a hyphen in names and flags), no tab.</summary>
    public static string Escape(string text) => text.Replace("\\", "\\e").Replace("-", "\\-").Replace("\t", " ");
}
