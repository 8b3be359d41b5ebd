namespace CrateRun.Linux.Cgroups;

/// <summary>Reading and writing cgroup control files, with errors that name the file.</summary>
internal static class CgroupFiles
{
    /// <summary>
    /// A kernel memory limit (memory.kernel, and kernelTCP on v2) is not applied: the warning
    /// runc 1.0+ gives, on stderr, instead of a failure (the kernel deprecated them; since 6.1
    /// a write of memory.kmem.limit_in_bytes changes nothing).
    /// </summary>
    public static void WarnIgnored(string field) =>
        Console.Error.WriteLine($"craterun: warning: {field}: kernel memory settings are ignored (as runc does)");

    // docs/cgroups.md
    public static void Write(string dir, string file, string value)
    {
        var path = Path.Combine(dir, file);
        var t0 = Explain.ExplainSession.Active is null ? 0 : Explain.ExplainClock.Now();
        try
        {
            File.WriteAllText(path, value);
        }
        catch (IOException e)
        {
            if (t0 != 0) Explain.ExplainSession.CgroupWrite(path, value, t0, e);
            throw new Core.CrateRunException($"cgroup: write '{value}' to {path}: {e.Message}");
        }
        catch (UnauthorizedAccessException e)
        {
            if (t0 != 0) Explain.ExplainSession.CgroupWrite(path, value, t0, e);
            throw new Core.CrateRunException($"cgroup: write '{value}' to {path}: {e.Message}");
        }
        if (t0 != 0) Explain.ExplainSession.CgroupWrite(path, value, t0, null);
    }

    public static string? Read(string dir, string file)
    {
        try { return KernelFiles.ReadText(Path.Combine(dir, file)).Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>A "key value" line of a flat-keyed file (memory.events, cpu.stat, memory.oom_control).</summary>
    public static ulong KeyedValue(string dir, string file, string key)
    {
        var text = Read(dir, file);
        if (text is null) return 0;
        foreach (var line in text.Split('\n'))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && parts[0] == key && ulong.TryParse(parts[1], out var v)) return v;
        }
        return 0;
    }

    public static ulong Number(string dir, string file) =>
        ulong.TryParse(Read(dir, file), out var v) ? v : 0;

    public static List<int> Procs(string dir)
    {
        var list = new List<int>();
        foreach (var line in (Read(dir, "cgroup.procs") ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
            if (int.TryParse(line, out var pid)) list.Add(pid);
        return list;
    }

    /// <summary>cgroup.procs of a cgroup and of every cgroup below it (a container may make its own).</summary>
    public static List<int> ProcsRecursive(string dir)
    {
        var list = Procs(dir);
        foreach (var sub in SubCgroups(dir))
            list.AddRange(ProcsRecursive(sub));
        return list;
    }

    private static string[] SubCgroups(string dir)
    {
        try { return Directory.Exists(dir) ? Directory.GetDirectories(dir) : []; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }

    /// <summary>
    /// Makes <paramref name="dir"/> and any missing ancestor, adding each directory it made to
    /// <paramref name="made"/> (top down), so that a later cleanup removes only those.
    /// </summary>
    public static void MakeDirs(string dir, List<string> made)
    {
        var missing = new Stack<string>();
        for (var d = dir.TrimEnd('/'); d.Length > 1 && !Directory.Exists(d); d = Path.GetDirectoryName(d) ?? "/")
            missing.Push(d);
        foreach (var d in missing)
        {
            if (Directory.Exists(d)) continue;
            var t0 = Explain.ExplainSession.Active is null ? 0 : Explain.ExplainClock.Now();
            try
            {
                Directory.CreateDirectory(d);
                if (t0 != 0) Explain.ExplainSession.CgroupMkdir(d, t0, null);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new Core.CrateRunException($"cgroup: cannot create {d}: {e.Message}");
            }
            made.Add(d);
        }
    }

    /// <summary>Removes a cgroup and the cgroups its processes made below it, deepest first (rmdir refuses a cgroup with children: EBUSY).</summary>
    public static void RemoveTree(string dir)
    {
        foreach (var sub in SubCgroups(dir))
            RemoveTree(sub);
        Remove(dir);
    }

    /// <summary>rmdir of a parent the runtime made, if nothing else lives there now (another container may).</summary>
    public static void RemoveIfUnused(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: false); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>rmdir, retried while the last processes are being reaped.</summary>
    public static void Remove(string dir)
    {
        for (var i = 0; ; i++)
        {
            try
            {
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: false);
                return;
            }
            catch (IOException) when (i < 200)
            {
                Thread.Sleep(5);
            }
            catch (IOException e)
            {
                throw new Core.CrateRunException($"cgroup: cannot remove {dir}: {e.Message}");
            }
        }
    }
}
