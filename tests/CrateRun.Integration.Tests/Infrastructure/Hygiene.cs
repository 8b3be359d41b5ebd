namespace CrateRun.Integration.Tests.Infrastructure;

/// <summary>Before/after pictures of what a craterun invocation may leave behind.</summary>
public sealed class Snapshot
{
    public required HashSet<string> StateEntries { get; init; }
    public required HashSet<int> OurPids { get; init; }
    public required HashSet<string> Cgroups { get; init; }

    public static Snapshot Take(CrateRunFixture f) => new()
    {
        StateEntries = f.StateEntries(),
        OurPids = [.. f.OurProcesses().Select(p => p.Pid)],
        Cgroups = [.. HostState.CraterunCgroups()],
    };

    /// <summary>
    /// Nothing new: no state directory, no cgroup of this suite's containers (or of the id in
    /// <paramref name="r"/>), no craterun process of ours, no process in the container's cgroup.
    /// </summary>
    public void AssertNothingLeft(CrateRunFixture f, ProcResult r)
    {
        var deadline = DateTime.UtcNow.AddSeconds(3);
        List<string> problems;
        do
        {
            problems = Problems(f, r);
            if (problems.Count == 0) return;
            Thread.Sleep(100);
        } while (DateTime.UtcNow < deadline);
        Assert.Fail("left behind:\n  " + string.Join("\n  ", problems) + "\n" + r);
    }

    private List<string> Problems(CrateRunFixture f, ProcResult r)
    {
        var problems = new List<string>();
        foreach (var e in f.StateEntries().Except(StateEntries)) problems.Add($"state directory {f.StateDir(e)}");
        foreach (var (pid, cmd) in f.OurProcesses().Where(p => !OurPids.Contains(p.Pid))) problems.Add($"process {pid}: {cmd}");
        var ids = r.Id is null ? [] : new[] { r.Id };
        foreach (var cg in HostState.CraterunCgroups().Except(Cgroups))
        {
            var id = Path.GetFileName(cg)["craterun-".Length..];
            // craterun-* cgroups of containers this suite never made belong to other users of the machine
            if (SuiteState.KnownIds.ContainsKey(id) || ids.Contains(id)) problems.Add($"cgroup {cg}");
        }
        foreach (var id in ids)
            foreach (var cg in HostState.CgroupsOf(id).Where(c => !problems.Contains($"cgroup {c}"))) problems.Add($"cgroup {cg}");
        foreach (var (pid, line) in HostState.ProcessesInContainers(ids)) problems.Add($"process {pid} in {line}");
        return problems;
    }
}
