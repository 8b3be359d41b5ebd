using CrateRun.Core.Docker;

namespace CrateRun.Core.Tests.Docker;

/// <summary>
/// --restart with Docker's meaning (docs "Restart policies", moby daemon/restartmanager):
/// on-failure restarts non-zero exits up to N times, always and unless-stopped restart any
/// exit, a user's stop cancels every policy; the wait starts at 100 ms, doubles, is capped at
/// one minute and starts over after a run of 10 seconds.
/// </summary>
public sealed class RestartPolicyTests
{
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(1);

    [Theory]
    [InlineData("no", "no", 0)]
    [InlineData("always", "always", 0)]
    [InlineData("unless-stopped", "unless-stopped", 0)]
    [InlineData("on-failure", "on-failure", 0)]
    [InlineData("on-failure:3", "on-failure", 3)]
    [InlineData("on-failure:", "on-failure", 0)]
    [InlineData("", "no", 0)]
    public void Parse_DockersForms(string text, string name, int max)
    {
        var p = RestartPolicy.Parse(text);
        Assert.Equal(name, p.Name);
        Assert.Equal(max, p.MaximumRetryCount);
    }

    [Theory]
    [InlineData("sometimes", "unknown policy 'sometimes'")]
    [InlineData("always:3", "maximum retry count can only be used with 'on-failure'")]
    [InlineData("on-failure:x", "maximum retry count must be an integer")]
    [InlineData("on-failure:-1", "maximum retry count cannot be negative")]
    [InlineData(":3", "no policy provided before colon")]
    public void Parse_BadValues_OneLineNamingTheProblem(string text, string why)
    {
        var e = Assert.Throws<UsageException>(() => RestartPolicy.Parse(text));
        Assert.Contains(why, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("no", 1, false)]
    [InlineData("on-failure", 0, false)]
    [InlineData("on-failure", 1, true)]
    [InlineData("always", 0, true)]
    [InlineData("unless-stopped", 0, true)]
    public void Decide_WhichExitsRestart(string policy, int exitCode, bool restarts) =>
        Assert.Equal(restarts, RestartPolicy.Parse(policy).Decide(exitCode, stoppedByUser: false, 0, Short, TimeSpan.Zero).Restart);

    [Theory]
    [InlineData("always")]
    [InlineData("unless-stopped")]
    [InlineData("on-failure")]
    public void Decide_AStopByTheUserEndsEveryPolicy(string policy) =>
        Assert.False(RestartPolicy.Parse(policy).Decide(1, stoppedByUser: true, 0, Short, TimeSpan.Zero).Restart);

    [Fact]
    public void Decide_OnFailureN_AllowsNRestarts()
    {
        var p = RestartPolicy.Parse("on-failure:2");
        Assert.True(p.Decide(1, false, 0, Short, TimeSpan.Zero).Restart);
        Assert.True(p.Decide(1, false, 1, Short, TimeSpan.Zero).Restart);
        Assert.False(p.Decide(1, false, 2, Short, TimeSpan.Zero).Restart);
    }

    [Fact]
    public void Decide_BackOff_100msDoublingCappedAtAMinute()
    {
        var p = RestartPolicy.Parse("always");
        var delay = TimeSpan.Zero;
        var seen = new List<double>();
        for (var i = 0; i < 12; i++)
        {
            delay = p.Decide(0, false, i, Short, delay).Delay;
            seen.Add(delay.TotalMilliseconds);
        }
        Assert.Equal([100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000], seen);
    }

    [Fact]
    public void Decide_ARunOfTenSecondsResetsTheBackOff()
    {
        var p = RestartPolicy.Parse("always");
        Assert.Equal(TimeSpan.FromMilliseconds(100), p.Decide(0, false, 5, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30)).Delay);
        Assert.Equal(TimeSpan.FromSeconds(60), p.Decide(0, false, 5, TimeSpan.FromSeconds(9.9), TimeSpan.FromSeconds(30)).Delay);
    }
}
