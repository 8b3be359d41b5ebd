using CrateRun.Core.Docker;
using CrateRun.Core.Images;
using CrateRun.Core.State;

namespace CrateRun.Core.Tests.Docker;

/// <summary>
/// Health checks as Docker documents them (run reference, "--health-*"; Dockerfile HEALTHCHECK):
/// defaults 30s / 30s / 3 retries, "retries consecutive failures" make it unhealthy, failures in
/// the start period do not count while it never was healthy, the log keeps 5 probes.
/// </summary>
public sealed class HealthRulesTests
{
    private static readonly DateTimeOffset Started = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    private static HealthProbe Probe(int exitCode, double secondsAfterStart) => new()
    {
        Start = Started.AddSeconds(secondsAfterStart), End = Started.AddSeconds(secondsAfterStart + 0.1), ExitCode = exitCode, Output = $"code {exitCode}",
    };

    [Fact]
    public void FromFlags_DockersDefaultsAndShellForm()
    {
        var c = HealthRules.FromFlags("curl -f localhost", null, null, null, null, none: false)!;
        Assert.Equal(["CMD-SHELL", "curl -f localhost"], c.Test);
        Assert.Equal(30_000, c.IntervalMs);
        Assert.Equal(30_000, c.TimeoutMs);
        Assert.Equal(3, c.Retries);
        Assert.Equal(0, c.StartPeriodMs);
        var d = HealthRules.FromFlags("true", "1m30s", "500ms", 5, "2s", none: false)!;
        Assert.Equal((90_000, 500, 5, 2000), (d.IntervalMs, d.TimeoutMs, d.Retries, d.StartPeriodMs));
        Assert.Null(HealthRules.FromFlags(null, null, null, null, null, none: false));
        Assert.Null(HealthRules.FromFlags(null, null, null, null, null, none: true));
    }

    [Theory]
    [InlineData("true", "5", null, null, false, "invalid duration \"5\"")]
    [InlineData("true", "-1s", null, null, false, "--health-interval cannot be negative")]
    [InlineData("true", null, null, -1, false, "--health-retries cannot be negative")]
    [InlineData("true", null, null, null, true, "--no-healthcheck conflicts with --health-* options")]
    [InlineData(null, "1s", null, null, false, "need --health-cmd")]
    public void FromFlags_BadInput_OneLine(string? cmd, string? interval, string? timeout, int? retries, bool none, string why)
    {
        var e = Assert.Throws<UsageException>(() => HealthRules.FromFlags(cmd, interval, timeout, retries, null, none));
        Assert.Contains(why, e.Message);
    }

    /// <summary>A Dockerfile's HEALTHCHECK --interval=5s --timeout=3s --retries=4 CMD curl -f localhost, as `docker build` writes it (nanoseconds).</summary>
    private static ImageHealthcheck ImageCheck() => new()
    {
        Test = ["CMD", "curl", "-f", "localhost"], Interval = 5_000_000_000, Timeout = 3_000_000_000, Retries = 4,
    };

    private static HealthRules.HealthFlags Flags(string? cmd = null, string? interval = null, int? retries = null, bool none = false) =>
        HealthRules.ParseFlags(cmd, interval, null, retries, null, none);

    [Fact]
    public void Merge_TheImagesCheck_WithoutFlags_IsTakenAsIs_DefaultsForWhatItLeavesOut()
    {
        var c = HealthRules.Merge(Flags(), ImageCheck(), "img")!;
        Assert.Equal(["CMD", "curl", "-f", "localhost"], c.Test);
        Assert.Equal((5000, 3000, 4, 0), (c.IntervalMs, c.TimeoutMs, c.Retries, c.StartPeriodMs));
        var bare = HealthRules.Merge(Flags(), new ImageHealthcheck { Test = ["CMD-SHELL", "true"] }, "img")!;
        Assert.Equal((30_000, 30_000, 3), (bare.IntervalMs, bare.TimeoutMs, bare.Retries));
    }

    [Fact]
    public void Merge_AFlagReplacesItsField_TheOthersStayTheImages()
    {
        var c = HealthRules.Merge(Flags(cmd: "true"), ImageCheck(), "img")!;
        Assert.Equal(["CMD-SHELL", "true"], c.Test);
        Assert.Equal((5000, 3000, 4), (c.IntervalMs, c.TimeoutMs, c.Retries));
        // an interval alone is valid with an image that has a command (Docker: the image's Test stays)
        var d = HealthRules.Merge(Flags(interval: "1s", retries: 1), ImageCheck(), "img")!;
        Assert.Equal(["CMD", "curl", "-f", "localhost"], d.Test);
        Assert.Equal((1000, 3000, 1), (d.IntervalMs, d.TimeoutMs, d.Retries));
    }

    [Fact]
    public void Merge_NoHealthcheck_OrTestNone_IsNoCheck()
    {
        Assert.Null(HealthRules.Merge(Flags(none: true), ImageCheck(), "img"));
        Assert.Null(HealthRules.Merge(Flags(), new ImageHealthcheck { Test = ["NONE"] }, "img"));
        Assert.Null(HealthRules.Merge(Flags(), new ImageHealthcheck { Test = [] }, "img"));
        Assert.Null(HealthRules.Merge(Flags(), null, "img"));
    }

    [Theory]
    [InlineData(new[] { "CMD-SHELL", "true" }, 500L, 0, "Interval cannot be less than 1ms")]
    [InlineData(new[] { "CMD-SHELL", "true" }, -1L, 0, "Interval cannot be negative")]
    [InlineData(new[] { "CMD-SHELL", "true" }, 0L, -2, "Retries cannot be negative")]
    [InlineData(new[] { "SHELL", "true" }, 0L, 0, "unknown test type 'SHELL'")]
    [InlineData(new[] { "CMD" }, 0L, 0, "CMD has no command")]
    public void Merge_AnImagesBadCheck_IsOneLineNamingTheImage(string[] test, long interval, int retries, string why)
    {
        var e = Assert.Throws<UsageException>(() => HealthRules.Merge(Flags(), new ImageHealthcheck { Test = [.. test], Interval = interval, Retries = retries }, "test/img:1"));
        Assert.StartsWith("image test/img:1: HEALTHCHECK", e.Message);
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void Merge_FlagsWithoutACommand_AndAnImageWithoutOne_AreRefused()
    {
        var e = Assert.Throws<UsageException>(() => HealthRules.Merge(Flags(interval: "1s"), null, "test/img:1"));
        Assert.Contains("need --health-cmd (image test/img:1 has no HEALTHCHECK)", e.Message);
    }

    [Theory]
    [InlineData("1h2m3.5s", 3723500)]
    [InlineData("250ms", 250)]
    [InlineData("0", 0)]
    [InlineData("1.5m", 90000)]
    public void ParseDuration_GoForms(string text, long ms) =>
        Assert.Equal(ms, (long)HealthRules.ParseDuration(text, "--x").TotalMilliseconds);

    [Theory]
    [InlineData(30_000, "30s")]
    [InlineData(500, "500ms")]
    [InlineData(90_000, "1m30s")]
    [InlineData(3_600_000, "1h0m0s")]
    public void FormatDuration_AsGoPrintsIt(long ms, string text) => Assert.Equal(text, HealthRules.FormatDuration(TimeSpan.FromMilliseconds(ms)));

    [Fact]
    public void Next_ASuccessIsHealthy_RetriesFailuresInARowAreUnhealthy()
    {
        var check = HealthRules.FromFlags("x", "1s", null, 2, null, false)!;
        var s = HealthRules.Next(null, Probe(0, 1), check, Started);
        Assert.Equal((HealthRules.Healthy, 0), (s.Status, s.FailingStreak));
        s = HealthRules.Next(s, Probe(1, 2), check, Started);
        Assert.Equal((HealthRules.Healthy, 1), (s.Status, s.FailingStreak));
        s = HealthRules.Next(s, Probe(-1, 3), check, Started); // a timeout counts as a failure
        Assert.Equal((HealthRules.Unhealthy, 2), (s.Status, s.FailingStreak));
        s = HealthRules.Next(s, Probe(0, 4), check, Started);
        Assert.Equal((HealthRules.Healthy, 0), (s.Status, s.FailingStreak));
    }

    [Fact]
    public void Next_FailuresInTheStartPeriodDoNotCount_UntilItWasHealthyOnce()
    {
        var check = HealthRules.FromFlags("x", "1s", null, 1, "10s", false)!;
        var s = HealthRules.Next(null, Probe(1, 1), check, Started);
        Assert.Equal((HealthRules.Starting, 0), (s.Status, s.FailingStreak));
        s = HealthRules.Next(s, Probe(1, 11), check, Started); // after the start period: it counts
        Assert.Equal((HealthRules.Unhealthy, 1), (s.Status, s.FailingStreak));

        var healthy = HealthRules.Next(null, Probe(0, 1), check, Started);
        var failed = HealthRules.Next(healthy, Probe(1, 2), check, Started); // healthy once: the start period is over for it
        Assert.Equal(HealthRules.Unhealthy, failed.Status);
    }

    [Fact]
    public void Next_KeepsTheLastFiveProbes()
    {
        var check = HealthRules.FromFlags("x", null, null, null, null, false)!;
        HealthState? s = null;
        for (var i = 0; i < 8; i++) s = HealthRules.Next(s, Probe(i % 2, i), check, Started);
        Assert.Equal([3, 4, 5, 6, 7], s!.Log.Select(p => (int)(p.Start - Started).TotalSeconds));
    }

    [Fact]
    public void Output_IsTheFirst4KiB_AndPsSuffixIsDockers()
    {
        Assert.Equal(4096, HealthRules.Output(new byte[5000]).Length);
        Assert.Equal(" (health: starting)", HealthRules.StatusSuffix(new HealthState()));
        Assert.Equal(" (healthy)", HealthRules.StatusSuffix(new HealthState { Status = "healthy" }));
        Assert.Equal("", HealthRules.StatusSuffix(null));
        Assert.Equal("Health check exceeded timeout (2s)", HealthRules.TimeoutOutput(new HealthCheck { TimeoutMs = 2000 }));
    }
}
