using CrateRun.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace CrateRun.Integration.Tests;

/// <summary>
/// Runs after every other collection (see <see cref="LeakCheckLastOrderer"/>), when the
/// fixtures have removed their containers: nothing of the suite may remain on the host.
/// </summary>
[Collection(LeakCollection.Name)]
public sealed class LeakTests(ITestOutputHelper output)
{
    [RootFact]
    public void NothingLeftOnTheHost()
    {
        // with CI=true the tests are not skipped: a missing prerequisite fails here too
        if (Prerequisites.MissingReason() is { } missing) Assert.Fail("prerequisite missing: " + missing);
        var problems = new List<string>();
        var binary = Prerequisites.Binary;
        var ourPaths = SuiteState.TempBases.ToList();

        // mounts: none of our temporary paths, no new mount mentioning craterun
        var mounts = HostState.ParseMountInfo(string.Join('\n', HostState.MountInfo()));
        foreach (var m in mounts)
        {
            if (ourPaths.Any(p => m.Line.Contains(p, StringComparison.Ordinal))) problems.Add("mount: " + m.Line);
            else if (m.Line.Contains("craterun", StringComparison.OrdinalIgnoreCase) && !SuiteState.Baseline.Mounts.Contains(m.MountPoint))
                problems.Add("mount: " + m.Line);
        }

        // cgroups: none of the suite's containers; others (other users of this machine) are only reported
        foreach (var cg in HostState.CraterunCgroups())
        {
            var id = Path.GetFileName(cg)["craterun-".Length..];
            if (SuiteState.KnownIds.ContainsKey(id)) problems.Add("cgroup: " + cg);
            else if (!SuiteState.Baseline.Cgroups.Contains(cg)) output.WriteLine($"note: {cg} is not one of this suite's {SuiteState.KnownIds.Count} containers");
        }

        // processes: no craterun of ours, nothing in our containers' cgroups
        foreach (var (pid, cmd) in HostState.ProcessesOf(binary, null))
        {
            if (SuiteState.StateRoots.Any(r => cmd.Contains(r, StringComparison.Ordinal)) || Prerequisites.IsCI)
                problems.Add($"process {pid}: {cmd}");
            else
                output.WriteLine($"note: process {pid} runs {binary} without this suite's state root: {cmd}");
        }
        foreach (var (pid, line) in HostState.ProcessesInContainers([.. SuiteState.KnownIds.Keys])) problems.Add($"process {pid} in {line}");

        // the fixture's temporary directories are gone
        foreach (var p in ourPaths.Where(Directory.Exists)) problems.Add("directory not removed: " + p);

        output.WriteLine($"checked {SuiteState.KnownIds.Count} containers, {ourPaths.Count} temporary trees");
        Assert.True(problems.Count == 0, "left behind:\n  " + string.Join("\n  ", problems));
    }
}
