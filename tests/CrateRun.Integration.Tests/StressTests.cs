using System.Diagnostics;
using System.Text.Json;
using CrateRun.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace CrateRun.Integration.Tests;

/// <summary>Many containers at once, and many process creations in a row (no hang in the runtime's fork paths).</summary>
[Collection(CrateRunCollection.Name)]
public sealed class StressTests(CrateRunFixture f, ITestOutputHelper output)
{
    [RootFact]
    public async Task Fifty_Parallel_Detached_ThenRemovedInParallel()
    {
        const int n = 50;
        var before = Snapshot.Take(f);
        var runs = await Task.WhenAll(Enumerable.Range(0, n).Select(i =>
            f.RunWith(null, TimeSpan.FromSeconds(120), "-d", "--name", $"par-{i}", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "while true; do sleep 1; done")));
        var ids = runs.Where(r => r.Id is not null).Select(r => r.Id!).ToList();
        try
        {
            foreach (var r in runs) Assert.True(r.ExitCode == 0 && !r.TimedOut, r.ToString());
            Assert.Equal(n, ids.Distinct().Count());
            foreach (var r in runs) Assert.Equal(r.Id, r.Stdout.Trim());

            var ps = await f.Cr("ps", "--format", "json");
            Assert.True(ps.ExitCode == 0, ps.ToString());
            using (var doc = JsonDocument.Parse(ps.Stdout))
            {
                var running = doc.RootElement.EnumerateArray()
                    .Where(e => e.GetProperty("status").GetString() == "running")
                    .Select(e => e.GetProperty("id").GetString()!).ToHashSet();
                Assert.True(ids.All(running.Contains), $"{ids.Count(running.Contains)} of {n} running");
                Assert.Equal(n, running.Count);
            }
            var table = await f.Cr("ps");
            Assert.Equal(n, table.Stdout.Split('\n').Count(l => l.Contains("running")));
            foreach (var id in ids) Assert.NotEmpty(HostState.CgroupsOf(id));

            var rms = await Task.WhenAll(ids.Select(id => f.CrWith(null, TimeSpan.FromSeconds(120), "rm", "-f", id)));
            foreach (var r in rms) Assert.True(r.ExitCode == 0 && !r.TimedOut, r.ToString());

            var after = await f.Cr("ps", "-a", "-q");
            Assert.Equal("", after.Stdout.Trim());
            foreach (var id in ids) Assert.Empty(HostState.CgroupsOf(id));
            Assert.Empty(HostState.ProcessesInContainers(ids));
            before.AssertNothingLeft(f, runs[0]);
        }
        finally
        {
            await f.RemoveForce([.. ids]);
        }
    }

    private async Task<(int Hangs, int Failures, List<string> Details)> Launch(int count, TimeSpan perRun)
    {
        var hangs = 0;
        var failures = 0;
        var details = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var r = await f.RunWith(null, perRun, "--rm", "--rootfs", f.Rootfs, "--", "/bin/true");
            if (r.TimedOut) hangs++;
            else if (r.ExitCode != 0) failures++;
            if ((r.TimedOut || r.ExitCode != 0) && details.Count < 5) details.Add(r.ToString());
        }
        return (hangs, failures, details);
    }

    [RootFact]
    public async Task ProcessCreation_300Sequential_NoHang()
    {
        var clock = Stopwatch.StartNew();
        var before = Snapshot.Take(f);
        var (hangs, failures, details) = await Launch(300, TimeSpan.FromSeconds(10));
        output.WriteLine($"300 sequential runs in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(hangs == 0 && failures == 0, $"{hangs} hangs, {failures} failures of 300\n{string.Join("\n", details)}");
        Assert.Empty(f.StateEntries().Except(before.StateEntries));
        if (HostState.CraterunCgroups().Except(before.Cgroups).Any(c => SuiteState.KnownIds.ContainsKey(Path.GetFileName(c)["craterun-".Length..])))
            Assert.Fail("cgroups left after 300 runs --rm");
    }

    [RootFact]
    public async Task ProcessCreation_150WithTwoConcurrentLaunchers_NoHang()
    {
        var clock = Stopwatch.StartNew();
        var before = Snapshot.Take(f);
        var results = await Task.WhenAll(Launch(75, TimeSpan.FromSeconds(10)), Launch(75, TimeSpan.FromSeconds(10)));
        output.WriteLine($"2 x 75 concurrent runs in {clock.Elapsed.TotalSeconds:F1} s");
        var hangs = results.Sum(r => r.Hangs);
        var failures = results.Sum(r => r.Failures);
        Assert.True(hangs == 0 && failures == 0, $"{hangs} hangs, {failures} failures of 150\n{string.Join("\n", results.SelectMany(r => r.Details))}");
        Assert.Empty(f.StateEntries().Except(before.StateEntries));
    }
}
