namespace CrateRun.Linux.Process;

/// <summary>Signal names and numbers (x86_64), as kill(1) and runc take them.</summary>
public static class Signals
{
    private static readonly string[] Names =
    [
        "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE",
        "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ",
        "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];

    /// <summary>"9", "KILL", "SIGKILL", "sigkill", "RTMIN+3" → number; 0 (kill(2)'s existence check) too.</summary>
    public static int Parse(string text)
    {
        var s = text.Trim().ToUpperInvariant();
        if (int.TryParse(s, out var n))
            return n is >= 0 and <= 64 ? n : throw new Core.UsageException($"invalid signal number {text}");
        if (s.StartsWith("SIG", StringComparison.Ordinal)) s = s[3..];
        var i = Array.IndexOf(Names, s);
        if (i > 0) return i;
        if (s == "IOT") return 6;
        if (s == "POLL") return 29;
        if (s.StartsWith("RTMIN", StringComparison.Ordinal))
        {
            var off = s.Length == 5 ? 0 : int.TryParse(s[5..], out var o) ? o : -100;
            if (off is >= 0 and <= 30) return 34 + off;
        }
        if (s.StartsWith("RTMAX", StringComparison.Ordinal))
        {
            var off = s.Length == 5 ? 0 : int.TryParse(s[5..], out var o) ? o : 100;
            if (off is <= 0 and >= -30) return 64 + off;
        }
        throw new Core.UsageException($"invalid signal '{text}'");
    }
}
