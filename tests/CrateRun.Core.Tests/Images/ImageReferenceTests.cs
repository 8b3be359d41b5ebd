using CrateRun.Core.Images;

namespace CrateRun.Core.Tests.Images;

/// <summary>
/// References as Docker normalises them (distribution/reference: ParseNormalizedNamed + TagNameOnly),
/// cases written from its grammar (regexp.go) and from what `docker pull` accepts and refuses.
/// </summary>
public sealed class ImageReferenceTests
{
    private const string Hex = "6a0fc5d3b5aa2a6e5a4c66d1d0b0f36f1a7bfbd7e5d6c0f2fb5bb2a1d0c9e8f7";

    [Theory]
    [InlineData("busybox", "docker.io/library/busybox:latest", "busybox:latest")]
    [InlineData("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36")]
    [InlineData("library/busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36")]
    [InlineData("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest")]
    [InlineData("docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest")]
    [InlineData("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest")]
    [InlineData("user/repo", "docker.io/user/repo:latest", "user/repo:latest")]
    [InlineData("docker.io/library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest")]
    [InlineData("localhost/x", "localhost/x:latest", "localhost/x:latest")]
    [InlineData("localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest")]
    [InlineData("127.0.0.1:5000/a/b:v1", "127.0.0.1:5000/a/b:v1", "127.0.0.1:5000/a/b:v1")]
    [InlineData("ghcr.io/o/r:tag", "ghcr.io/o/r:tag", "ghcr.io/o/r:tag")]
    [InlineData("[::1]:5000/x", "[::1]:5000/x:latest", "[::1]:5000/x:latest")]
    [InlineData("Example.com/x", "Example.com/x:latest", "Example.com/x:latest")] // upper case is fine in a host
    [InlineData("a.b/c_d__e-f--g.h:TAG_1.0-x", "a.b/c_d__e-f--g.h:TAG_1.0-x", "a.b/c_d__e-f--g.h:TAG_1.0-x")]
    public void Normalises_as_docker(string input, string full, string familiar)
    {
        var r = ImageReference.Parse(input);
        Assert.Equal(full, r.ToString());
        Assert.Equal(familiar, r.FamiliarString);
    }

    [Fact]
    public void Digest_only_gets_no_default_tag()
    {
        var r = ImageReference.Parse($"ghcr.io/o/r@sha256:{Hex}");
        Assert.Equal(("ghcr.io", "o/r", (string?)null, $"sha256:{Hex}"), (r.Domain, r.Path, r.Tag, r.Digest));
        Assert.Equal($"ghcr.io/o/r@sha256:{Hex}", r.ToString());
    }

    [Fact]
    public void Host_port_path_tag_and_digest_all_kept()
    {
        var r = ImageReference.Parse($"host:5000/a/b:tag@sha256:{Hex}");
        Assert.Equal(("host:5000", "a/b", "tag", $"sha256:{Hex}"), (r.Domain, r.Path, r.Tag, r.Digest));
        Assert.Equal("host:5000/a/b", r.FamiliarName);
    }

    [Fact]
    public void A_first_component_without_dot_or_port_is_a_docker_hub_user()
    {
        var r = ImageReference.Parse("myhost/x");
        Assert.Equal("docker.io", r.Domain);
        Assert.Equal("myhost/x", r.Path);
    }

    [Fact]
    public void Tag_of_128_characters_is_the_maximum()
    {
        Assert.Equal(128, ImageReference.Parse("a:" + new string('t', 128)).Tag!.Length);
        Assert.Throws<UsageException>(() => ImageReference.Parse("a:" + new string('t', 129)));
    }

    [Fact]
    public void Name_of_more_than_255_characters_is_refused()
    {
        var ok = "example.com/" + new string('a', 255 - "example.com/".Length);
        Assert.Equal(ok, ImageReference.Parse(ok).Name);
        var e = Assert.Throws<UsageException>(() => ImageReference.Parse(ok + "a"));
        Assert.Contains("255", e.Message);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("Busybox", "lowercase")]
    [InlineData("user/Repo", "lowercase")]
    [InlineData("busybox:", "form")]
    [InlineData(":tag", "form")]
    [InlineData("-busybox", "form")]
    [InlineData("busybox-", "form")]
    [InlineData("a___b", "form")]
    [InlineData("a..b", "form")]
    [InlineData("a//b", "form")]
    [InlineData("busybox:-tag", "form")]
    [InlineData("busybox@sha256:abc", "form")]
    [InlineData("busybox@sha256:" + Hex + "00", "64")]
    [InlineData("busybox@SHA256:" + Hex, "unsupported digest algorithm")]
    [InlineData("busybox@md5:" + Hex, "unsupported digest algorithm")]
    [InlineData("host:abc/x", "registry host")]
    [InlineData("-host.com/x", "registry host")]
    [InlineData("/bin/true", "form")]
    [InlineData(Hex, "image id")]
    public void Refused_with_one_line(string input, string fragment)
    {
        var e = Assert.Throws<UsageException>(() => ImageReference.Parse(input));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void Upper_case_digest_hex_is_refused_for_sha256()
    {
        Assert.Throws<UsageException>(() => ImageReference.Parse("busybox@sha256:" + Hex.ToUpperInvariant()));
    }

    [Fact]
    public void Parse_normalized_adds_no_tag()
    {
        Assert.Null(ImageReference.ParseNormalized("busybox").Tag);
        Assert.Equal("latest", ImageReference.Parse("busybox").Tag);
    }
}
