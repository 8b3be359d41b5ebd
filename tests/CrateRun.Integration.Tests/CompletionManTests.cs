using System.Text.RegularExpressions;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// Issue 11: shell completion for bash, zsh and fish and a man page per command, generated from the
/// CLI's definitions. The bash script is driven as bash's programmable completion drives it
/// (COMP_WORDS, COMP_CWORD, COMPREPLY), fish's through `complete -C`; zsh and fish parse it (-n);
/// the pages are checked against the commands `--help` lists and rendered by groff and man -l.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed partial class CompletionManTests(CrateRunFixture f)
{
    private string NewDir(string prefix) =>
        Directory.CreateDirectory(Path.Combine(f.TempBase, prefix + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    /// <summary>A directory holding `craterun` (the binary under test) for the scripts' dynamic lookups.</summary>
    private string PathWithCraterun()
    {
        var bin = NewDir("bin");
        File.CreateSymbolicLink(Path.Combine(bin, "craterun"), f.Binary);
        return bin + ":" + Environment.GetEnvironmentVariable("PATH");
    }

    private async Task<string> Script(string shell)
    {
        var r = await f.Cr("completion", shell);
        Assert.True(r.ExitCode == 0, r.ToString());
        var file = Path.Combine(NewDir("completion"), "craterun." + shell);
        await File.WriteAllTextAsync(file, r.Stdout);
        return file;
    }

    /// <summary>What bash offers for the words typed (the last one is being completed).</summary>
    private static async Task<string[]> BashComplete(string script, string path, params string[] words)
    {
        var quoted = string.Join(' ', words.Select(Proc.ShellQuote));
        var r = await Proc.Run("/bin/bash", ["-c", $"source {Proc.ShellQuote(script)}; COMP_WORDS=({quoted}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); _craterun; printf '%s\\n' \"${{COMPREPLY[@]}}\""],
            env: new Dictionary<string, string> { ["PATH"] = path });
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.OutLines;
    }

    [RootFact]
    public async Task Bash_completes_commands_subcommands_options_and_names_of_containers_and_volumes()
    {
        var script = await Script("bash");
        var path = PathWithCraterun();
        Assert.Equal(["run"], await BashComplete(script, path, "craterun", "ru"));
        Assert.Equal(["--memory", "--memory-reservation", "--memory-swap"], await BashComplete(script, path, "craterun", "run", "--mem"));
        Assert.Equal(["create"], await BashComplete(script, path, "craterun", "volume", "cr"));
        Assert.Contains("--label", await BashComplete(script, path, "craterun", "volume", "create", "--"));
        // a flag's value is skipped when finding the command, a boolean flag takes none
        Assert.Equal(["prune"], await BashComplete(script, path, "craterun", "--root", "/nowhere", "container", "pr"));

        var volume = "cmpl-" + Guid.NewGuid().ToString("N")[..8];
        var name = "cmpl-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(0, (await f.Cr("volume", "create", volume)).ExitCode);
        var r = await f.Run(["--name", name, "--rootfs", f.Rootfs, "--", "/bin/true"]);
        try
        {
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal([volume], await BashComplete(script, path, "craterun", "--root", f.StateRoot, "volume", "rm", "cmpl-"));
            Assert.Equal([name], await BashComplete(script, path, "craterun", "--root", f.StateRoot, "rm", "-f", "cmpl-"));
            Assert.Equal([r.Id![..12]], await BashComplete(script, path, "craterun", "--root", f.StateRoot, "logs", r.Id![..6]));
        }
        finally
        {
            await f.RemoveForce(r.Id ?? name);
            await f.Cr("volume", "rm", volume);
        }
    }

    [RootFact]
    public async Task Zsh_and_fish_scripts_parse_and_fish_completes()
    {
        var zsh = await Script("zsh");
        var z = await Proc.Run("zsh", ["-n", zsh]);
        Assert.True(z.ExitCode == 0 && z.Stderr.Length == 0, z.ToString());
        Assert.StartsWith("#compdef craterun", await File.ReadAllTextAsync(zsh));

        var fish = await Script("fish");
        var n = await Proc.Run("fish", ["-n", fish]);
        Assert.True(n.ExitCode == 0 && n.Stderr.Length == 0, n.ToString());
        var c = await Proc.Run("fish", ["--no-config", "-c", $"source {Proc.ShellQuote(fish)}; complete -C 'craterun ru'; complete -C 'craterun volume create --la'"],
            env: new Dictionary<string, string> { ["PATH"] = PathWithCraterun() });
        Assert.True(c.ExitCode == 0, c.ToString());
        Assert.Contains(c.OutLines, l => l.StartsWith("run\t", StringComparison.Ordinal));
        Assert.Contains(c.OutLines, l => l.StartsWith("--label\t", StringComparison.Ordinal));

        var bad = await f.Cr("completion", "powershell");
        Assert.True(bad.ExitCode == 125, bad.ToString());
        Assert.Contains("powershell", Assert.Single(bad.ErrLines));
    }

    [GeneratedRegex(@"^  ((?:[^\s,]+, )*[^\s,]+)")]
    private static partial Regex CommandLine();

    /// <summary>The commands a --help lists, each with its aliases ("list, ls"), from its Commands: section.</summary>
    private async Task<List<string[]>> HelpCommands(params string[] path)
    {
        var help = await f.Cr([.. path, "--help"]);
        Assert.True(help.ExitCode == 0, help.ToString());
        var lines = help.Stdout.Split('\n');
        return [.. lines.SkipWhile(l => l != "Commands:").Skip(1).TakeWhile(l => l.Length > 0)
            .Select(l => CommandLine().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value.Split(", "))];
    }

    [RootFact]
    public async Task Every_command_has_a_man_page_that_groff_and_man_render_without_warnings()
    {
        var dir = NewDir("man");
        var r = await f.Cr("man-pages", dir);
        Assert.True(r.ExitCode == 0, r.ToString());
        var written = Directory.EnumerateFiles(dir).Select(Path.GetFileName).OfType<string>().ToHashSet();
        Assert.Contains("craterun.1", written);
        var pages = 1;
        foreach (var names in await HelpCommands())
        {
            // one page per command, under one of its names
            Assert.True(names.Any(n => written.Contains($"craterun-{n}.1")), $"no man page for {string.Join(", ", names)} among {string.Join(' ', written.Order())}");
            pages++;
            var name = names.First(n => written.Contains($"craterun-{n}.1"));
            foreach (var sub in await HelpCommands(name))
            {
                Assert.True(sub.Any(n => written.Contains($"craterun-{name}-{n}.1")), $"no man page for {name} {string.Join(", ", sub)}");
                pages++;
            }
        }
        Assert.Equal(pages, written.Count);
        Assert.Contains("craterun-volume-create.1", written);
        foreach (var page in Directory.EnumerateFiles(dir))
        {
            var groff = await Proc.Run("groff", ["-man", "-ww", "-z", "-Tutf8", page]);
            Assert.True(groff.ExitCode == 0 && groff.Stderr.Length == 0, $"{page}: {groff}");
            var man = await Proc.Run("man", ["-l", page], env: new Dictionary<string, string> { ["MANPAGER"] = "cat", ["MANWIDTH"] = "80" });
            Assert.True(man.ExitCode == 0, $"{page}: {man}");
            Assert.Contains("NAME", man.Stdout);
            Assert.Contains("OPTIONS", man.Stdout);
        }
        var run = (await Proc.Run("man", ["-l", Path.Combine(dir, "craterun-run.1")], env: new Dictionary<string, string> { ["MANPAGER"] = "cat" })).Stdout;
        Assert.Contains("--memory", run);
        Assert.Contains("craterun run", run);
    }
}
