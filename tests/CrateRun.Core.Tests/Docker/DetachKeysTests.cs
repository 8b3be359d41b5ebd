using CrateRun.Core.Docker;

namespace CrateRun.Core.Tests.Docker;

/// <summary>Docker's --detach-keys: "ctrl-p,ctrl-q" by default, ctrl-a..z and @ [ \ ] ^ _, or single characters.</summary>
public sealed class DetachKeysTests
{
    [Theory]
    [InlineData("ctrl-p,ctrl-q", new byte[] { 16, 17 })]
    [InlineData("ctrl-a,x", new byte[] { 1, (byte)'x' })]
    [InlineData("ctrl-@,ctrl-[,ctrl-_", new byte[] { 0, 27, 31 })]
    public void Parse_DockersForms(string text, byte[] bytes) => Assert.Equal(bytes, DetachKeys.Parse(text));

    [Theory]
    [InlineData("ctrl-1")]
    [InlineData("ab")]
    [InlineData("")]
    public void Parse_BadKeys_OneLine(string text) =>
        Assert.Contains("invalid detach keys", Assert.Throws<UsageException>(() => DetachKeys.Parse(text)).Message);

    [Fact]
    public void Matcher_DetachesOnTheSequence_AndPassesEverythingElseOn()
    {
        var m = new DetachKeyMatcher(DetachKeys.Parse(DetachKeys.Default));
        var forward = new List<byte>();
        Assert.False(m.Feed("ab"u8, forward));
        Assert.False(m.Feed([16], forward)); // held back: may be the start of the sequence
        Assert.Equal("ab"u8.ToArray(), forward);
        Assert.False(m.Feed("c"u8, forward)); // it was not: ctrl-p goes on, then c
        Assert.Equal(new byte[] { (byte)'a', (byte)'b', 16, (byte)'c' }, forward);
        forward.Clear();
        Assert.False(m.Feed([16, 16], forward)); // ctrl-p ctrl-p: the first goes on, the second may start the sequence
        Assert.Equal(new byte[] { 16 }, forward);
        Assert.True(m.Feed([17], forward));
        Assert.Equal(new byte[] { 16 }, forward);
    }
}
