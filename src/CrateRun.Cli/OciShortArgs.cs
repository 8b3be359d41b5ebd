namespace CrateRun.Cli;

/// <summary>The OCI face's global options (runc's), however they were parsed.</summary>
public sealed record OciGlobals(string? Root = null, string? Log = null, string LogFormat = "text", bool Debug = false, bool SystemdCgroup = false);

/// <summary>
/// One of the short commands that containerd's shim, conmon and podman send many times per
/// container (<c>state</c>, <c>start</c>, <c>kill</c>, <c>delete</c>), read without building
/// the System.CommandLine tree (most of such a command's own run time went there).
/// </summary>
/// <param name="Flag">kill's --all, delete's --force.</param>
/// <param name="Signal">kill's signal as written (SIGTERM when absent).</param>
public sealed record OciShortCommand(string Name, string Id, OciGlobals Globals, bool Flag = false, string Signal = "SIGTERM");

/// <summary>
/// runc's grammar for those commands: <c>[GLOBAL...] state|start ID</c>,
/// <c>[GLOBAL...] kill [--all|-a] ID [SIGNAL]</c>, <c>[GLOBAL...] delete [--force|-f] ID</c>,
/// global options (--root, --log, --log-format, --rootless, --criu with a value, as "--x v"
/// or "--x=v"; --debug, --systemd-cgroup) also after the command word. Anything else (help,
/// an unknown or repeated option, a missing or extra word, "--") is not taken here: the
/// full parser handles it, so usage errors keep their one text.
/// </summary>
public static class OciShortArgs
{
    private static readonly string[] GlobalsWithValue = ["--root", "--log", "--log-format", "--rootless", "--criu"];

    /// <summary>The command, or null when the full parser must read these arguments.</summary>
    public static OciShortCommand? TryParse(string[] args)
    {
        string? root = null, log = null, logFormat = null, name = null;
        bool debug = false, systemd = false, flag = false, rootless = false, criu = false;
        var positionals = new List<string>(2);
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (a.Length > 1 && a[0] == '-')
            {
                if (a is "--debug") { if (debug) return null; debug = true; continue; }
                if (a is "--systemd-cgroup") { if (systemd) return null; systemd = true; continue; }
                if (name is "kill" && a is "--all" or "-a" || name is "delete" && a is "--force" or "-f")
                {
                    if (flag) return null;
                    flag = true;
                    continue;
                }
                var eq = a.IndexOf('=');
                var option = eq < 0 ? a : a[..eq];
                if (Array.IndexOf(GlobalsWithValue, option) < 0) return null;
                string value;
                if (eq >= 0) value = a[(eq + 1)..];
                else if (i + 1 < args.Length && !args[i + 1].StartsWith('-')) value = args[++i];
                else return null;
                switch (option)
                {
                    case "--root" when root is null: root = value; break;
                    case "--log" when log is null: log = value; break;
                    case "--log-format" when logFormat is null: logFormat = value; break;
                    case "--rootless" when !rootless: rootless = true; break;
                    case "--criu" when !criu: criu = true; break;
                    default: return null;
                }
                continue;
            }
            if (name is null)
            {
                if (a is not ("state" or "start" or "kill" or "delete")) return null;
                name = a;
                continue;
            }
            positionals.Add(a);
        }
        if (name is null) return null;
        var most = name == "kill" ? 2 : 1;
        if (positionals.Count < 1 || positionals.Count > most) return null;
        var globals = new OciGlobals(root, log, logFormat ?? "text", debug, systemd);
        return new OciShortCommand(name, positionals[0], globals, flag, positionals.Count > 1 ? positionals[1] : "SIGTERM");
    }
}
