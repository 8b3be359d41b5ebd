namespace CrateRun.Integration.Tests.Infrastructure;

/// <summary>
/// What the integration suite needs: root, the published binary, busybox-static for the rootfs.
/// Outside CI a missing prerequisite skips the tests; with CI=true it fails them.
/// </summary>
public static class Prerequisites
{
    public static bool IsCI => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static bool IsRoot => Environment.IsPrivilegedProcess;

    private static readonly Lazy<string> RepoRootLazy = new(FindRepoRoot);

    /// <summary>The repository: the first parent of the test assembly's directory that holds CrateRun.slnx.</summary>
    public static string RepoRoot => RepoRootLazy.Value;

    /// <summary>$CRATERUN_BIN, or &lt;repo&gt;/out/craterun.</summary>
    public static string Binary
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("CRATERUN_BIN");
            return Path.GetFullPath(string.IsNullOrEmpty(env) ? Path.Combine(RepoRoot, "out", "craterun") : env);
        }
    }

    public static string MakeRootfsScript => Path.Combine(RepoRoot, "tests", "fixtures", "make-rootfs.sh");

    /// <summary>Why the suite cannot run here, or null when it can.</summary>
    public static string? MissingReason()
    {
        if (!OperatingSystem.IsLinux()) return "integration tests need Linux";
        if (!IsRoot) return "integration tests need root (namespaces, cgroups, mounts)";
        if (!File.Exists(Binary))
            return $"craterun binary not found at {Binary}: run `dotnet publish src/CrateRun.Cli -c Release -o out` or set CRATERUN_BIN";
        if (!File.Exists("/bin/busybox") && !File.Exists("/usr/bin/busybox"))
            return "busybox-static is not installed (apt-get install busybox-static)";
        return null;
    }

    /// <summary>The reason to skip a test, or null to run it (CI never skips: a missing prerequisite fails there).</summary>
    public static string? SkipReason() => IsCI ? null : MissingReason();

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CrateRun.slnx"))) return dir.FullName;
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CrateRun.slnx"))) return dir.FullName;
        throw new InvalidOperationException("cannot find the repository root (no CrateRun.slnx above " + AppContext.BaseDirectory + ")");
    }
}

/// <summary>A fact that needs root and the craterun binary: skipped without them, except when CI=true.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (Prerequisites.SkipReason() is { } why) Skip = why;
    }
}

/// <summary>A theory that needs root and the craterun binary: skipped without them, except when CI=true.</summary>
public sealed class RootTheoryAttribute : TheoryAttribute
{
    public RootTheoryAttribute()
    {
        if (Prerequisites.SkipReason() is { } why) Skip = why;
    }
}
