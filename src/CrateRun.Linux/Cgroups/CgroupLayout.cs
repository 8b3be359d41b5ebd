namespace CrateRun.Linux.Cgroups;

/// <summary>One mounted v1 hierarchy: its controllers and where this process sits in it.</summary>
public sealed record V1Hierarchy(string Controllers, string MountPoint, string MountRoot, string OwnPath);

/// <summary>
/// The host's cgroups as the engine uses them: their layout, and a manager for a container's
/// cgroup. <see cref="CgroupLayout"/> is the host's; a unit test gives a fake.
/// </summary>
public interface ICgroupHost
{
    bool IsV2 { get; }
    IReadOnlyList<V1Hierarchy> V1 { get; }
    /// <summary>Each v1 controller to the container's directory for <paramref name="cgroupsPath"/>.</summary>
    Dictionary<string, string> V1Paths(string cgroupsPath);
    /// <summary>The manager for a container whose OCI cgroupsPath is given (relative: below our own cgroup).</summary>
    ICgroupManager ManagerFor(string cgroupsPath);
    /// <summary>A manager for directories recorded earlier (in metadata.json).</summary>
    ICgroupManager ManagerForPaths(IReadOnlyDictionary<string, string> paths, IReadOnlyList<string>? createdParents = null);
}

/// <summary>What the host's cgroups look like: pure v2, or v1 controllers (pure or hybrid).</summary>
public sealed record CgroupLayout(bool IsV2, string V2Mount, string V2OwnPath, IReadOnlyList<V1Hierarchy> V1) : ICgroupHost
{
    public const long Cgroup2Magic = 0x63677270, TmpfsMagic = 0x01021994, CgroupV1Magic = 0x27e0eb;
    public const string Base = "/sys/fs/cgroup";

    public static CgroupLayout Detect() => Detect(Base, File.ReadAllText("/proc/self/mountinfo"), File.ReadAllText("/proc/self/cgroup"),
        FsMagic(Base));

    /// <summary>Pure function of its inputs, so a fake cgroupfs tree can drive it in tests.</summary>
    public static CgroupLayout Detect(string basePath, string mountinfo, string procSelfCgroup, long baseMagic)
    {
        var own = ParseProcCgroup(procSelfCgroup);
        if (baseMagic == Cgroup2Magic)
            return new CgroupLayout(true, basePath, own.GetValueOrDefault("", "/"), []);
        if (baseMagic != TmpfsMagic && baseMagic != CgroupV1Magic)
            throw new Core.CrateRunException($"{basePath} is neither cgroup2 nor a tmpfs of v1 hierarchies (magic 0x{baseMagic:x})");
        var list = new List<V1Hierarchy>();
        foreach (var line in mountinfo.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            var dash = line.IndexOf(" - ", StringComparison.Ordinal);
            if (dash < 0) continue;
            var left = line[..dash].Split(' ');
            var right = line[(dash + 3)..].Split(' ');
            if (right.Length < 3 || right[0] != "cgroup") continue;
            var mountPoint = Unescape(left[4]);
            if (!mountPoint.StartsWith(basePath + "/", StringComparison.Ordinal)) continue;
            var controllers = string.Join(',', right[2].Split(',').Where(o => o != "rw" && o != "ro" && !IsMountFlag(o)));
            if (controllers.Length == 0 || controllers.StartsWith("name=", StringComparison.Ordinal)) continue;
            var key = controllers.Split(',').Select(c => own.ContainsKey(c) ? c : null).FirstOrDefault(c => c != null);
            var ownPath = key is null ? "/" : own[key];
            list.Add(new V1Hierarchy(controllers, mountPoint, Unescape(left[3]), ownPath));
        }
        if (list.Count == 0) throw new Core.CrateRunException("no cgroup v1 controllers are mounted under " + basePath);
        return new CgroupLayout(false, "", "", list);
    }

    private static bool IsMountFlag(string o) => o is "nosuid" or "nodev" or "noexec" or "relatime" or "noatime" or "clone_children" or "xattr"
        || o.StartsWith("release_agent", StringComparison.Ordinal);

    private static string Unescape(string s) => s.Replace("\\040", " ").Replace("\\011", "\t").Replace("\\012", "\n").Replace("\\134", "\\");

    /// <summary>/proc/self/cgroup: "4:memory:/a/b" → memory → /a/b; "0::/x" → "" → /x.</summary>
    public static Dictionary<string, string> ParseProcCgroup(string text)
    {
        var map = new Dictionary<string, string>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(':', 3);
            if (parts.Length != 3) continue;
            foreach (var c in parts[1].Split(','))
                map[c] = parts[2];
        }
        return map;
    }

    public static unsafe long FsMagic(string path)
    {
        Interop.Sys.StatFs st;
        Interop.Check(Interop.Sys.statfs(path, (byte*)&st), "statfs", path);
        return st.Type;
    }

    /// <summary>The manager for a container whose OCI cgroupsPath is given (relative: below our own cgroup).</summary>
    public ICgroupManager ManagerFor(string cgroupsPath) =>
        IsV2 ? new CgroupV2Manager(V2Path(cgroupsPath), mountRoot: V2Mount) : new CgroupV1Manager(V1Paths(cgroupsPath));

    /// <summary>A manager for directories recorded earlier (in metadata.json).</summary>
    public ICgroupManager ManagerForPaths(IReadOnlyDictionary<string, string> paths, IReadOnlyList<string>? createdParents = null) =>
        IsV2 ? new CgroupV2Manager(paths.GetValueOrDefault("unified", ""), createdParents, V2Mount) : new CgroupV1Manager(paths, createdParents);

    public static void ValidatePath(string cgroupsPath)
    {
        if (cgroupsPath.Split('/').Any(p => p is ".." or "."))
            throw new Core.UsageException($"invalid cgroupsPath '{cgroupsPath}': '.' and '..' are not allowed");
        if (cgroupsPath.Contains(':'))
            throw new Core.UsageException($"cgroupsPath '{cgroupsPath}' looks like a systemd slice:unit path; the systemd cgroup driver is not supported, use a cgroupfs path");
    }

    public string V2Path(string cgroupsPath)
    {
        ValidatePath(cgroupsPath);
        // A cgroup with processes of its own cannot give controllers to children (no internal
        // processes on v2). A systemd scope always holds us: like runc, use its parent then.
        var own = V2OwnPath.TrimEnd('/').EndsWith(".scope", StringComparison.Ordinal) ? Path.GetDirectoryName(V2OwnPath.TrimEnd('/')) ?? "/" : V2OwnPath;
        var rel = cgroupsPath.StartsWith('/') ? cgroupsPath : Combine(own, cgroupsPath);
        return Combine(V2Mount, rel);
    }

    public Dictionary<string, string> V1Paths(string cgroupsPath)
    {
        ValidatePath(cgroupsPath);
        var paths = new Dictionary<string, string>();
        foreach (var h in V1)
        {
            var rel = cgroupsPath.StartsWith('/') ? cgroupsPath : Combine(h.OwnPath, cgroupsPath);
            // the mount may show only part of the hierarchy (its root is then not "/")
            var root = h.MountRoot.TrimEnd('/');
            if (root.Length > 0 && (rel == root || rel.StartsWith(root + "/", StringComparison.Ordinal))) rel = rel[root.Length..];
            foreach (var c in h.Controllers.Split(','))
                paths[c] = Combine(h.MountPoint, rel);
        }
        return paths;
    }

    private static string Combine(string a, string b) => a.TrimEnd('/') + "/" + b.TrimStart('/');
}
