namespace CrateRun.Cli;

/// <summary>The OCI face's global options (runc's), however they were parsed.</summary>
/// <param name="Explain">--explain or --explain=json (the full parser only: the short path never explains).</param>
public sealed record OciGlobals(string? Root = null, string? Log = null, string LogFormat = "text", bool Debug = false, bool SystemdCgroup = false,
    CrateRun.Core.Explain.ExplainFormat? Explain = null);

/// <summary>
/// One of the commands that containerd's shim, conmon and podman send for every container
/// (<c>create</c>, <c>state</c>, <c>start</c>, <c>kill</c>, <c>delete</c>), read without
/// building the System.CommandLine tree (most of a short command's own run time went there).
/// </summary>
/// <param name="Flags">The boolean options given, by their long name (--all, --force, --no-pivot, ...).</param>
/// <param name="Values">The options with a value, by their long name (--bundle, --pid-file, ...).</param>
/// <param name="Signal">kill's signal as written (SIGTERM when absent).</param>
public sealed record OciShortCommand(string Name, string Id, OciGlobals Globals, IReadOnlySet<string> Flags,
    IReadOnlyDictionary<string, string> Values, string Signal = "SIGTERM")
{
    public bool Has(string flag) => Flags.Contains(flag);
    public string? Value(string option) => Values.GetValueOrDefault(option);
}

/// <summary>
/// runc's grammar for those commands: <c>[GLOBAL...] COMMAND [OPTION...] ID</c> (kill: <c>ID
/// [SIGNAL]</c>), options also between or after the words; global options (--root, --log,
/// --log-format, --rootless, --criu with a value, as "--x v" or "--x=v"; --debug,
/// --systemd-cgroup) also after the command word. Anything else (help, an unknown or repeated
/// option, a value that is missing or not a number, a missing or extra word, "--") is not
/// taken here: the full parser handles it, so usage errors keep their one text.
/// </summary>
public static class OciShortArgs
{
    private static readonly string[] GlobalsWithValue = ["--root", "--log", "--log-format", "--rootless", "--criu"];

    /// <summary>Per command: its boolean options, its options with a value (short alias → long name), its most words.</summary>
    private static (string[] Flags, string[] Valued, int MostWords)? Grammar(string command) => command switch
    {
        "state" or "start" => ([], [], 1),
        "kill" => (["--all"], [], 2),
        "delete" => (["--force"], [], 1),
        "create" => (["--no-pivot", "--no-new-keyring"], ["--bundle", "--pid-file", "--console-socket", "--preserve-fds"], 1),
        _ => null,
    };

    private static string LongName(string option) => option switch
    {
        "-a" => "--all",
        "-f" => "--force",
        "-b" => "--bundle",
        _ => option,
    };

    /// <summary>The command, or null when the full parser must read these arguments.</summary>
    public static OciShortCommand? TryParse(string[] args)
    {
        string? root = null, log = null, logFormat = null, name = null;
        bool debug = false, systemd = false, rootless = false, criu = false;
        (string[] Flags, string[] Valued, int MostWords) grammar = ([], [], 0);
        var flags = new HashSet<string>();
        var values = new Dictionary<string, string>();
        var words = new List<string>(2);
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (a.Length < 2 || a[0] != '-')
            {
                if (name is not null)
                {
                    words.Add(a);
                    continue;
                }
                if (Grammar(a) is not { } g) return null;
                (name, grammar) = (a, g);
                continue;
            }
            if (a is "--debug") { if (debug) return null; debug = true; continue; }
            if (a is "--systemd-cgroup") { if (systemd) return null; systemd = true; continue; }
            var eq = a.IndexOf('=');
            var option = LongName(eq < 0 ? a : a[..eq]);
            if (eq < 0 && Array.IndexOf(grammar.Flags, option) >= 0)
            {
                if (!flags.Add(option)) return null;
                continue;
            }
            var global = Array.IndexOf(GlobalsWithValue, option) >= 0;
            if (!global && Array.IndexOf(grammar.Valued, option) < 0) return null;
            string value;
            if (eq >= 0) value = a[(eq + 1)..];
            else if (i + 1 < args.Length && !args[i + 1].StartsWith('-')) value = args[++i];
            else return null;
            if (!global)
            {
                if (option == "--preserve-fds" && !int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _)) return null;
                if (!values.TryAdd(option, value)) return null;
                continue;
            }
            switch (option)
            {
                case "--root" when root is null: root = value; break;
                case "--log" when log is null: log = value; break;
                case "--log-format" when logFormat is null: logFormat = value; break;
                case "--rootless" when !rootless: rootless = true; break;
                case "--criu" when !criu: criu = true; break;
                default: return null;
            }
        }
        if (name is null || words.Count < 1 || words.Count > grammar.MostWords) return null;
        var globals = new OciGlobals(root, log, logFormat ?? "text", debug, systemd);
        return new OciShortCommand(name, words[0], globals, flags, values, words.Count > 1 ? words[1] : "SIGTERM");
    }
}
