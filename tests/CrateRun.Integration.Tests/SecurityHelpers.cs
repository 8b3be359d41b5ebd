using System.Security.Cryptography;
using System.Text.RegularExpressions;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// What the escape-attempt tests share (SecurityTests, RootlessTests): a world-readable temp
/// directory with the static probe of tests/fixtures/escape/probe.c compiled into it (gcc -static),
/// rootfs and binary copies, and the parsing of the probe's one-line answers.
/// Class fixture: created once per test class, removed at the end (never below a mount).
/// </summary>
public sealed class SecurityFixture : IDisposable
{
    public string Dir { get; } = "";
    /// <summary>Directory holding the static probe; bind it with <see cref="ProbeVolume"/>.</summary>
    public string ProbeDir { get; } = "";
    public const string ProbeInside = "/opt/escape/probe";
    public string ProbeVolume => $"{ProbeDir}:/opt/escape:ro";
    public bool Available { get; }

    public SecurityFixture()
    {
        if (Prerequisites.MissingReason() is not null) return; // the [RootFact]s skip (or fail in CI)
        Dir = Directory.CreateTempSubdirectory("craterun-sec-").FullName;
        // other users (the rootless test's new user) must reach the copies below it
        File.SetUnixFileMode(Dir, (UnixFileMode)0x1ED /* 0755 */);
        ProbeDir = Path.Combine(Dir, "probe-bin");
        Directory.CreateDirectory(ProbeDir);
        File.SetUnixFileMode(ProbeDir, (UnixFileMode)0x1ED);
        var source = Path.Combine(Prerequisites.RepoRoot, "tests", "fixtures", "escape", "probe.c");
        if (!File.Exists("/usr/bin/gcc") && !File.Exists("/usr/local/bin/gcc"))
            throw new InvalidOperationException("the escape tests need gcc and a static libc: apt-get install -y gcc libc6-dev");
        var r = Proc.Run("gcc", ["-static", "-O2", "-Wall", "-o", Path.Combine(ProbeDir, "probe"), source], timeout: TimeSpan.FromSeconds(120))
            .GetAwaiter().GetResult();
        if (r.ExitCode != 0) throw new InvalidOperationException("cannot build the static probe (apt-get install -y gcc libc6-dev):\n" + r);
        Available = true;
    }

    /// <summary>A fresh world-readable directory below <see cref="Dir"/>.</summary>
    public string NewDir(string prefix)
    {
        var d = Path.Combine(Dir, prefix + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(d);
        File.SetUnixFileMode(d, (UnixFileMode)0x1ED);
        return d;
    }

    /// <summary>A copy of the fixture's rootfs (cp -a: owners, modes and the applet symlinks kept).</summary>
    public async Task<string> CopyRootfs(CrateRunFixture f)
    {
        var d = Path.Combine(NewDir("rootfs"), "rootfs");
        var r = await Proc.Run("cp", ["-a", f.Rootfs, d]);
        Assert.True(r.ExitCode == 0, r.ToString());
        File.SetUnixFileMode(d, (UnixFileMode)0x1ED);
        return d;
    }

    /// <summary>A copy of the binary (the tests that attack the runtime's binary only ever touch a copy).</summary>
    public string CopyBinary()
    {
        var d = NewDir("bin");
        var copy = Path.Combine(d, "craterun");
        File.Copy(HostState.RealPath(Prerequisites.Binary), copy);
        File.SetUnixFileMode(copy, (UnixFileMode)0x1ED);
        // the OCI face is the same binary called craterun-oci
        File.CreateSymbolicLink(Path.Combine(d, "craterun-oci"), "craterun");
        return copy;
    }

    public static string Sha256(string path)
    {
        using var s = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(s));
    }

    public void Dispose()
    {
        if (Dir.Length == 0 || !Directory.Exists(Dir)) return;
        // never rm -rf below a mount: leave it for the leak check to report
        if (HostState.MountInfo().Any(l => l.Contains(Dir, StringComparison.Ordinal))) return;
        Proc.Run("rm", ["-rf", "--one-file-system", Dir]).GetAwaiter().GetResult();
    }
}

/// <summary>The probe's answers: "WHAT: ok rc=N" or "WHAT: errno=N (NAME)".</summary>
public static partial class ProbeOutput
{
    /// <summary>"ok" or the errno name (EPERM, ENOSYS, ...) of the line for <paramref name="what"/>; null if there is none.</summary>
    public static string? Result(string stdout, string what)
    {
        foreach (var line in stdout.Split('\n'))
        {
            if (!line.StartsWith(what + ": ", StringComparison.Ordinal)) continue;
            var rest = line[(what.Length + 2)..];
            if (rest.StartsWith("ok", StringComparison.Ordinal)) return "ok";
            var m = ErrnoName().Match(rest);
            if (m.Success) return m.Groups[1].Value;
        }
        return null;
    }

    /// <summary>The result for <paramref name="what"/>, failing (with the whole output) when the probe printed none.</summary>
    public static string Of(ProcResult r, string what) =>
        Result(r.Stdout, what) ?? throw new Xunit.Sdk.XunitException($"the probe printed no '{what}:' line\n{r}");

    [GeneratedRegex(@"errno=\d+ \(([A-Z0-9]+)\)")]
    private static partial Regex ErrnoName();

    /// <summary>A hex mask line of /proc/self/status ("CapBnd:\t00000000a80425fb").</summary>
    public static ulong StatusHex(string status, string key)
    {
        var line = status.Split('\n').FirstOrDefault(l => l.StartsWith(key + ":", StringComparison.Ordinal))
            ?? throw new Xunit.Sdk.XunitException($"no {key} in\n{status}");
        return Convert.ToUInt64(line[(key.Length + 1)..].Trim(), 16);
    }

    /// <summary>A decimal field of /proc/self/status ("NoNewPrivs:\t1").</summary>
    public static long StatusNumber(string status, string key)
    {
        var line = status.Split('\n').FirstOrDefault(l => l.StartsWith(key + ":", StringComparison.Ordinal))
            ?? throw new Xunit.Sdk.XunitException($"no {key} in\n{status}");
        return long.Parse(line[(key.Length + 1)..].Trim().Split('\t', ' ')[0]);
    }

    /// <summary>Our own capability bounding set: what a runtime started by us can grant at most.</summary>
    public static ulong HostBounding() => StatusHex(File.ReadAllText("/proc/self/status"), "CapBnd");
}
