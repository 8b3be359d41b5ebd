using CrateRun.Core.Docker;

namespace CrateRun.Core.Tests.Docker;

/// <summary>`docker stats` texts: go-units' BytesSize ("%.4g" of a 1024-based value) and the CPU/memory percents.</summary>
public sealed class StatsRowTests
{
    [Theory]
    [InlineData(0UL, "0B")]
    [InlineData(1000UL, "1000B")]
    [InlineData(1024UL, "1KiB")]
    [InlineData(1536UL, "1.5KiB")]
    [InlineData(64UL * 1024 * 1024, "64MiB")]
    [InlineData(21_800_000UL, "20.79MiB")]
    [InlineData(3UL * 1024 * 1024 * 1024, "3GiB")]
    public void BinarySize_IsDockersBytesSize(ulong bytes, string expected) =>
        Assert.Equal(expected, StatsRow.BinarySize(bytes));

    [Fact]
    public void CpuPercent_IsCpuTimeOverWallTime_OneBusyCpuIs100()
    {
        var before = new StatsSample(1_000_000_000, 0, 0, 1);
        var after = new StatsSample(1_500_000_000, 0, 0, 1); // 0.5 s of CPU in 1 s of wall time
        var row = StatsRow.From("0123456789abcdef", "web", before, after, TimeSpan.FromSeconds(1), 1024);
        Assert.Equal("50.00%", row.CpuPerc);
        Assert.Equal("0123456789ab", row.Id);
        Assert.Equal("web", row.Name);
    }

    [Fact]
    public void Memory_UsageOverLimit_NoLimitShowsTheHostsMemory()
    {
        var s = new StatsSample(0, 16UL * 1024 * 1024, 64UL * 1024 * 1024, 3);
        var limited = StatsRow.From("a", null, s, s, TimeSpan.FromSeconds(1), 1024UL * 1024 * 1024);
        Assert.Equal("16MiB / 64MiB", limited.MemUsage);
        Assert.Equal("25.00%", limited.MemPerc);
        Assert.Equal("3", limited.Pids);

        // cgroup v1's "no limit" is a page-rounded 2^63: the host's total is shown instead
        var unlimited = s with { MemoryLimit = 9_223_372_036_854_771_712 };
        Assert.Equal("16MiB / 1GiB", StatsRow.From("a", null, unlimited, unlimited, TimeSpan.FromSeconds(1), 1024UL * 1024 * 1024).MemUsage);
    }
}
