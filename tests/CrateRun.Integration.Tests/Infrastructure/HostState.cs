namespace CrateRun.Integration.Tests.Infrastructure;

/// <summary>What the host looks like from the test process: cgroups, mounts, processes.</summary>
public static class HostState
{
    public const string CgroupRoot = "/sys/fs/cgroup";

    /// <summary>Every directory named craterun-* below /sys/fs/cgroup, at most 5 levels deep.</summary>
    public static List<string> CraterunCgroups(int maxDepth = 5)
    {
        var found = new List<string>();
        Walk(CgroupRoot, 1);
        return found;

        void Walk(string dir, int depth)
        {
            if (depth > maxDepth) return;
            IEnumerable<string> subdirs;
            try { subdirs = Directory.EnumerateDirectories(dir).ToList(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
            foreach (var d in subdirs)
            {
                if (new DirectoryInfo(d).LinkTarget is not null) continue;
                if (Path.GetFileName(d).StartsWith("craterun-", StringComparison.Ordinal)) found.Add(d);
                Walk(d, depth + 1);
            }
        }
    }

    /// <summary>The cgroup directories of one container (any controller).</summary>
    public static List<string> CgroupsOf(string id) =>
        [.. CraterunCgroups().Where(d => Path.GetFileName(d) == "craterun-" + id)];

    public static string[] MountInfo() => File.ReadAllLines("/proc/self/mountinfo");

    /// <summary>The mount points (field 5) of a mountinfo text.</summary>
    public static List<MountEntry> ParseMountInfo(string text)
    {
        var list = new List<MountEntry>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ');
            var dash = Array.IndexOf(parts, "-");
            if (parts.Length < 7 || dash < 6 || dash + 2 >= parts.Length) continue;
            list.Add(new MountEntry(Unescape(parts[3]), Unescape(parts[4]), parts[5], parts[dash + 1], parts[dash + 2], line));
        }
        return list;
    }

    private static string Unescape(string s) => s.Replace("\\040", " ").Replace("\\011", "\t").Replace("\\012", "\n").Replace("\\134", "\\");

    /// <summary>Our memory cgroup (v1: /proc/self/cgroup "N:memory:PATH").</summary>
    public static string? OwnCgroup(string controller)
    {
        foreach (var line in File.ReadAllLines("/proc/self/cgroup"))
        {
            var parts = line.Split(':', 3);
            if (parts.Length == 3 && parts[1].Split(',').Contains(controller)) return parts[2];
        }
        return null;
    }

    /// <summary>Pids of live processes running <paramref name="binary"/> whose command line or environment mentions <paramref name="mention"/>.</summary>
    public static List<(int Pid, string Cmdline)> ProcessesOf(string binary, string? mention)
    {
        var list = new List<(int, string)>();
        var real = RealPath(binary);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId) continue;
            try
            {
                var exe = new FileInfo(Path.Combine(dir, "exe")).LinkTarget;
                if (exe is null) continue;
                if (exe.EndsWith(" (deleted)", StringComparison.Ordinal)) exe = exe[..^" (deleted)".Length];
                if (exe != real && exe != binary) continue;
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').Trim();
                // the CLI names the state root in its arguments; a monitor may only have it in its environment
                if (mention is null || cmdline.Contains(mention, StringComparison.Ordinal) ||
                    File.ReadAllText(Path.Combine(dir, "environ")).Split('\0').Any(e => e.Contains(mention, StringComparison.Ordinal)))
                    list.Add((pid, cmdline));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return list;
    }

    /// <summary>Live processes that sit in a cgroup named craterun-&lt;id&gt; for one of <paramref name="ids"/>.</summary>
    public static List<(int Pid, string Cgroup)> ProcessesInContainers(IReadOnlyCollection<string> ids)
    {
        var list = new List<(int, string)>();
        if (ids.Count == 0) return list;
        var names = ids.Select(i => "/craterun-" + i).ToList();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                foreach (var line in File.ReadAllLines(Path.Combine(dir, "cgroup")))
                    if (names.Any(n => line.EndsWith(n, StringComparison.Ordinal) || line.Contains(n + "/", StringComparison.Ordinal)))
                    {
                        list.Add((pid, line));
                        break;
                    }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return list;
    }

    public static string RealPath(string path)
    {
        try
        {
            var fi = new FileInfo(path);
            return fi.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? fi.FullName;
        }
        catch (IOException) { return path; }
    }

    /// <summary>Reads a cgroup file (trimmed).</summary>
    public static string ReadCgroupFile(string dir, string file) => File.ReadAllText(Path.Combine(dir, file)).Trim();
}

/// <summary>One line of mountinfo: root (field 4), mount point (5), per-mount options (6), fs type and source.</summary>
public sealed record MountEntry(string Root, string MountPoint, string Options, string FsType, string Source, string Line)
{
    public bool ReadOnly => Options.Split(',').Contains("ro");
}
