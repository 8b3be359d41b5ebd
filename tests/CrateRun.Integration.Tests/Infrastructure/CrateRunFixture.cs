using System.Collections.Concurrent;
using System.Text.Json;

namespace CrateRun.Integration.Tests.Infrastructure;

/// <summary>The collection every test that runs containers belongs to (one fixture, tests run one at a time).</summary>
[CollectionDefinition(Name)]
public sealed class CrateRunCollection : ICollectionFixture<CrateRunFixture>
{
    public const string Name = "CrateRun";
}

/// <summary>What outlives one collection: for the final leak check.</summary>
public static class SuiteState
{
    public static readonly ConcurrentDictionary<string, byte> KnownIds = new();
    public static readonly ConcurrentBag<string> TempBases = [];
    public static readonly ConcurrentBag<string> StateRoots = [];
    private static readonly Lazy<(HashSet<string> Cgroups, HashSet<string> Mounts)> BaselineLazy = new(() =>
        ([.. HostState.CraterunCgroups()], [.. HostState.ParseMountInfo(string.Join('\n', HostState.MountInfo())).Select(m => m.MountPoint)]));

    /// <summary>craterun-* cgroups and mount points that existed before the suite ran (other users of the machine).</summary>
    public static (HashSet<string> Cgroups, HashSet<string> Mounts) Baseline => BaselineLazy.Value;
}

/// <summary>
/// Finds the craterun binary, builds the busybox rootfs once, gives every run a fresh temporary
/// state root; on dispose removes every container (rm -f) and the temporary directories.
/// Every <c>run</c> gets a --cidfile so that the suite knows each container id it made.
/// </summary>
public sealed class CrateRunFixture : IDisposable
{
    public bool Available { get; }
    public string Binary { get; } = "";
    public string TempBase { get; } = "";
    public string Rootfs { get; } = "";
    public string StateRoot { get; } = "";
    private readonly string _cidDir = "";

    public CrateRunFixture()
    {
        // For every process the tests start, not only those given Env (pty tests go through
        // script(1), others through their own helpers): `craterun run` as root defaults to a
        // bridge, which must never be made in this machine's own network namespace.
        Environment.SetEnvironmentVariable("CRATERUN_NETWORK", "none");
        if (Prerequisites.MissingReason() is { } missing)
        {
            if (Prerequisites.IsCI) throw new InvalidOperationException($"CI=true and a prerequisite is missing: {missing}");
            return; // the tests skip themselves ([RootFact])
        }
        _ = SuiteState.Baseline;
        Binary = Prerequisites.Binary;
        TempBase = Directory.CreateTempSubdirectory("craterun-it-").FullName;
        SuiteState.TempBases.Add(TempBase);
        Rootfs = Path.Combine(TempBase, "rootfs");
        StateRoot = Path.Combine(TempBase, "state");
        SuiteState.StateRoots.Add(StateRoot);
        _cidDir = Path.Combine(TempBase, "cid");
        Directory.CreateDirectory(StateRoot);
        Directory.CreateDirectory(_cidDir);
        var r = Proc.Run("/bin/bash", [Prerequisites.MakeRootfsScript, Rootfs], timeout: TimeSpan.FromSeconds(120)).GetAwaiter().GetResult();
        if (r.ExitCode != 0) throw new InvalidOperationException("make-rootfs.sh failed:\n" + r);
        Available = true;
    }

    /// <summary>
    /// Every craterun we start gets these; a monitor inherits them, which is how the leak checks
    /// tell our processes from other users' of the same binary.
    /// </summary>
    public IReadOnlyDictionary<string, string> Env => new Dictionary<string, string>
    {
        ["CRATERUN_ROOT"] = StateRoot,
        [MarkerVariable] = StateRoot,
        // no bridge in this machine's own network namespace: NetworkTests make a sandbox for theirs
        ["CRATERUN_NETWORK"] = "none",
    };

    public const string MarkerVariable = "CRATERUN_INTEGRATION_TESTS";

    /// <summary>craterun --root STATE ARGS...</summary>
    public Task<ProcResult> Cr(params string[] args) => CrWith(null, null, args);

    public Task<ProcResult> CrWith(string? stdin, TimeSpan? timeout, params string[] args) =>
        Proc.Run(Binary, ["--root", StateRoot, .. args], stdin, timeout, env: Env);

    /// <summary>craterun --root ROOT ARGS... with a state root of the test's own (e.g. an empty image store), <see cref="Env"/> plus <paramref name="extraEnv"/>.</summary>
    public Task<ProcResult> CrAt(string root, IReadOnlyDictionary<string, string>? extraEnv, params string[] args) =>
        Proc.Run(Binary, ["--root", root, .. args], timeout: TimeSpan.FromSeconds(120), env: EnvWith(extraEnv));

    /// <summary>craterun --root ROOT ARGS... in the background.</summary>
    public RunningProc StartAt(string root, params string[] args) => Proc.Start(Binary, ["--root", root, .. args], EnvWith(null));

    public Dictionary<string, string> EnvWith(IReadOnlyDictionary<string, string>? extra)
    {
        var env = new Dictionary<string, string>(Env);
        foreach (var (k, v) in extra ?? new Dictionary<string, string>()) env[k] = v;
        return env;
    }

    /// <summary>craterun run --cidfile F RUNARGS...; the result carries the container id.</summary>
    public Task<ProcResult> Run(params string[] runArgs) => RunWith(null, null, runArgs);

    public async Task<ProcResult> RunWith(string? stdin, TimeSpan? timeout, params string[] runArgs)
    {
        var cid = NewCidFile();
        var r = await Proc.Run(Binary, ["--root", StateRoot, "run", "--cidfile", cid, .. runArgs], stdin, timeout, env: Env);
        r.Id = ReadCidFile(cid);
        return r;
    }

    /// <summary>craterun run in the background (for tests that signal it or read it live).</summary>
    public (RunningProc Proc, string CidFile) StartRun(params string[] runArgs)
    {
        var cid = NewCidFile();
        return (Proc.Start(Binary, ["--root", StateRoot, "run", "--cidfile", cid, .. runArgs], Env), cid);
    }

    /// <summary>run --rm [FLAGS] --rootfs R -- /bin/sh -c SCRIPT</summary>
    public Task<ProcResult> Sh(string script, params string[] flags) =>
        Run(["--rm", .. flags, "--rootfs", Rootfs, "--", "/bin/sh", "-c", script]);

    /// <summary>run -d [FLAGS] --rootfs R -- /bin/sh -c SCRIPT; returns the id.</summary>
    public async Task<string> Detached(string script, params string[] flags)
    {
        var r = await Run(["-d", .. flags, "--rootfs", Rootfs, "--", "/bin/sh", "-c", script]);
        Assert.True(r.ExitCode == 0, "run -d failed\n" + r);
        var printed = r.Stdout.Trim();
        Assert.Matches("^[0-9a-f]{16}$", printed);
        Assert.Equal(r.Id, printed);
        return printed;
    }

    /// <summary>Polls `logs ID` until stdout contains <paramref name="text"/>.</summary>
    public async Task WaitForLog(string id, string text, int timeoutMs = 20_000)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        ProcResult? last = null;
        while (clock.ElapsedMilliseconds < timeoutMs)
        {
            last = await Cr("logs", id);
            if (last.Stdout.Contains(text, StringComparison.Ordinal)) return;
            await Task.Delay(50);
        }
        Assert.Fail($"'{text}' never appeared in the logs of {id}\n{last}");
    }

    public string NewCidFile() => Path.Combine(_cidDir, Guid.NewGuid().ToString("N"));

    /// <summary>The id in a cidfile (remembered for the leak check), or null.</summary>
#pragma warning disable CA1822 // the fixture's API: tests call it on the fixture they hold
    public string? ReadCidFile(string path)
    {
        if (!File.Exists(path)) return null;
        var id = File.ReadAllText(path).Trim();
        if (id.Length == 0) return null;
        SuiteState.KnownIds.TryAdd(id, 0);
        return id;
    }
#pragma warning restore CA1822

    public static void Track(string id) => SuiteState.KnownIds.TryAdd(id, 0);

    public async Task RemoveForce(params string[] ids)
    {
        if (ids.Length == 0) return;
        await Cr(["rm", "-f", .. ids]);
    }

    /// <summary>inspect ID → the one record.</summary>
    public async Task<JsonElement> Inspect(string id)
    {
        var r = await Cr("inspect", id);
        Assert.True(r.ExitCode == 0, "inspect failed\n" + r);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal(JsonValueKind.Array, doc.RootElement.ValueKind);
        Assert.Equal(1, doc.RootElement.GetArrayLength());
        return doc.RootElement[0].Clone();
    }

    public string StateDir(string id) => Path.Combine(StateRoot, id);

    /// <summary>The container directories in the state root.</summary>
    public HashSet<string> StateEntries() =>
        Directory.Exists(StateRoot)
            ? [.. Directory.EnumerateDirectories(StateRoot).Select(Path.GetFileName).Where(n => n is not null && !n.StartsWith('.')).Select(n => n!)]
            : [];

    /// <summary>A shell command line that runs craterun with our state root (for `script -c`).</summary>
    public string ShellCommand(params string[] args) =>
        string.Join(' ', new[] { Binary, "--root", StateRoot }.Concat(args).Select(Proc.ShellQuote));

    /// <summary>Our craterun processes (CLI, monitors) still alive: by the state root in their arguments or environment.</summary>
    public List<(int Pid, string Cmdline)> OurProcesses() => HostState.ProcessesOf(Binary, StateRoot);

    public void Dispose()
    {
        if (!Available) return;
        var errors = new List<string>();
        try
        {
            var ps = Cr("ps", "-a", "-q").GetAwaiter().GetResult();
            var ids = ps.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (var id in ids) Track(id);
            if (ids.Length > 0)
            {
                var rm = Cr(["rm", "-f", .. ids]).GetAwaiter().GetResult();
                if (rm.ExitCode != 0) errors.Add("rm -f at dispose failed\n" + rm);
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            errors.Add(e.Message);
        }
        // Never rm -rf below a mount: if anything is still mounted there, leave it for the leak test to report.
        if (HostState.MountInfo().Any(l => l.Contains(TempBase, StringComparison.Ordinal)))
            return;
        var rmrf = Proc.Run("rm", ["-rf", "--one-file-system", TempBase]).GetAwaiter().GetResult();
        if (rmrf.ExitCode != 0) errors.Add(rmrf.ToString());
        if (errors.Count > 0) throw new InvalidOperationException("fixture cleanup failed:\n" + string.Join("\n", errors));
    }
}
