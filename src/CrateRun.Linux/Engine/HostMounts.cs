namespace CrateRun.Linux.Engine;

/// <summary>What the runtime's own mount table says, for the parts of the plan that depend on it.</summary>
public static class HostMounts
{
    /// <summary>
    /// Mount points of the full procfs and sysfs mounts (the filesystem's root mounted) outside
    /// <paramref name="rootfs"/>: with --no-pivot they stay in the container's namespace below the
    /// moved root, and while one is fully visible the kernel lets a user namespace mount a fresh proc.
    /// </summary>
    public static List<string> FullProcAndSysfs(string rootfs) =>
        FullProcAndSysfs(File.ReadAllText("/proc/self/mountinfo"), rootfs);

    public static List<string> FullProcAndSysfs(string mountinfo, string rootfs)
    {
        var found = new List<string>();
        var inside = rootfs.TrimEnd('/') + "/";
        foreach (var line in mountinfo.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
            var f = line.Split(' ');
            var dash = Array.IndexOf(f, "-");
            if (f.Length < 7 || dash < 6 || dash + 1 >= f.Length) continue;
            if (f[3] != "/" || f[dash + 1] is not ("proc" or "sysfs")) continue;
            var point = Unescape(f[4]);
            if (point == rootfs || point.StartsWith(inside, StringComparison.Ordinal)) continue;
            found.Add(point);
        }
        // the deepest first: a parent's unmount would take its children along
        found.Sort((a, b) => b.Length.CompareTo(a.Length));
        return found;
    }

    /// <summary>mountinfo writes space, tab, newline and backslash as \ooo.</summary>
    private static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var sb = new System.Text.StringBuilder();
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && s.Length - i >= 4)
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else sb.Append(s[i]);
        }
        return sb.ToString();
    }
}
