using CrateRun.Core.Images;

namespace CrateRun.Core.Tests.Images;

/// <summary>Layer entry names and whiteouts (image-spec layer.md).</summary>
public sealed class LayerEntriesTests
{
    [Theory]
    [InlineData("./etc/passwd", "etc/passwd")]
    [InlineData("etc/passwd", "etc/passwd")]
    [InlineData("/etc/passwd", "etc/passwd")] // absolute: taken relative to the root, as Docker does
    [InlineData("etc//x/./y/", "etc/x/y")]
    [InlineData("a/b/../c", "a/c")]
    [InlineData("./", "")]
    [InlineData("/", "")]
    public void Names_are_cleaned(string name, string cleaned) => Assert.Equal(cleaned, LayerEntries.CleanName(name));

    [Theory]
    [InlineData("../evil")]
    [InlineData("a/../../evil")]
    [InlineData("/../etc/passwd")]
    [InlineData("./a/b/../../../x")]
    public void Climbing_out_is_refused(string name)
    {
        var e = Assert.Throws<CrateRunException>(() => LayerEntries.CleanName(name));
        Assert.Contains("climbs out", e.Message);
    }

    [Theory]
    [InlineData("etc/.wh.passwd", LayerEntryKind.Whiteout, "etc/passwd")]
    [InlineData(".wh.bin", LayerEntryKind.Whiteout, "bin")]
    [InlineData("a/b/.wh..wh..opq", LayerEntryKind.OpaqueDirectory, "a/b")]
    [InlineData(".wh..wh..opq", LayerEntryKind.OpaqueDirectory, "")]
    [InlineData("etc/passwd", LayerEntryKind.Regular, "etc/passwd")]
    [InlineData("etc/x.wh.y", LayerEntryKind.Regular, "etc/x.wh.y")]
    [InlineData("", LayerEntryKind.Root, "")]
    public void Whiteouts_are_recognised(string cleaned, LayerEntryKind kind, string target)
    {
        Assert.Equal(kind, LayerEntries.Classify(cleaned, out var t));
        Assert.Equal(target, t);
    }

    [Fact]
    public void A_whiteout_of_nothing_is_refused() =>
        Assert.Throws<CrateRunException>(() => LayerEntries.Classify("etc/.wh.", out _));
}
