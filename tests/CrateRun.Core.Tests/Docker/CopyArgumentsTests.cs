using CrateRun.Core.Docker;

namespace CrateRun.Core.Tests.Docker;

/// <summary>`docker cp` arguments: CONTAINER:PATH on exactly one side; "/" or "." starts a host path even with a colon.</summary>
public sealed class CopyArgumentsTests
{
    [Fact]
    public void ContainerToHost_AndHostToContainer()
    {
        Assert.Equal(new CopyArguments("web", "/etc/passwd", "./out", false), CopyArguments.Parse("web:/etc/passwd", "./out"));
        Assert.Equal(new CopyArguments("0123abcd", "/tmp", "/host/a:b", true), CopyArguments.Parse("/host/a:b", "0123abcd:/tmp"));
        Assert.Equal(new CopyArguments("web", "rel/x", "-", false), CopyArguments.Parse("web:rel/x", "-"));
    }

    [Theory]
    [InlineData("a", "b", "CONTAINER:PATH")]
    [InlineData("web:/a", "db:/b", "between containers")]
    [InlineData(":/a", "/b", "names no container")]
    [InlineData("web:", "/b", "names no path")]
    public void BadArguments_OneUsageErrorNamingTheProblem(string src, string dest, string mentions)
    {
        var e = Assert.Throws<UsageException>(() => CopyArguments.Parse(src, dest));
        Assert.Contains(mentions, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
