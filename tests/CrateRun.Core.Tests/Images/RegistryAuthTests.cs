using System.Text;
using CrateRun.Core;
using CrateRun.Core.Images;

namespace CrateRun.Core.Tests.Images;

/// <summary>WWW-Authenticate as Docker Hub, GHCR and distribution send it; ~/.docker/config.json as docker login writes it.</summary>
public sealed class RegistryAuthTests
{
    [Fact]
    public void Challenge_DockerHubBearer()
    {
        // what registry-1.docker.io answers to GET /v2/library/busybox/manifests/latest
        var c = Assert.Single(AuthChallenge.Parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/busybox:pull\""));
        Assert.Equal("Bearer", c.Scheme);
        Assert.Equal("https://auth.docker.io/token", c.Realm);
        Assert.Equal("registry.docker.io", c.Service);
        Assert.Equal("repository:library/busybox:pull", c.Parameters["scope"]);
    }

    [Fact]
    public void Challenge_QuotedCommasEscapesAndSeveralSchemes()
    {
        var all = AuthChallenge.Parse("Basic realm=\"a, \\\"b\\\"\", Bearer realm=\"https://ghcr.io/token\",service=\"ghcr.io\",scope=\"repository:o/r:pull,push\"");
        Assert.Equal(2, all.Count);
        Assert.Equal("a, \"b\"", all[0].Realm);
        Assert.Equal("repository:o/r:pull,push", all[1].Parameters["scope"]);
        Assert.Equal("bearer", AuthChallenge.Parse("bearer REALM=x")[0].Scheme.ToLowerInvariant());
        Assert.Equal("x", AuthChallenge.Parse("bearer REALM=x")[0].Realm);
    }

    [Fact]
    public void Config_ReadsAuthsAsDockerWritesThem()
    {
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes("me:pa:ss"));
        var json = $"{{\"auths\":{{\"https://index.docker.io/v1/\":{{\"auth\":\"{auth}\"}},\"ghcr.io\":{{\"auth\":\"{auth}\"}}}},\"credsStore\":\"\"}}";
        Assert.Equal(new RegistryCredentials("me", "pa:ss"), DockerConfigAuths.Find(json, "docker.io", "c"));
        Assert.Equal(new RegistryCredentials("me", "pa:ss"), DockerConfigAuths.Find(json, "ghcr.io", "c"));
        Assert.Null(DockerConfigAuths.Find(json, "quay.io", "c"));
        Assert.Null(DockerConfigAuths.Find(null, "quay.io", "c"));
        // keys may be URLs
        Assert.NotNull(DockerConfigAuths.Find($"{{\"auths\":{{\"https://localhost:5000/v1/\":{{\"auth\":\"{auth}\"}}}}}}", "localhost:5000", "c"));
        var e = Assert.Throws<CrateRunException>(() => DockerConfigAuths.Find("{\"auths\":{\"x.io\":{\"auth\":\"%%%\"}}}", "x.io", "cfg"));
        Assert.Contains("not base64", e.Message);
    }

    [Fact]
    public void Config_LoginAndLogoutKeepOtherKeys()
    {
        var text = DockerConfigAuths.With("{\"psFormat\":\"x\",\"auths\":{\"a.io\":{\"auth\":\"YTpi\"}}}", "b.io:5000", new RegistryCredentials("u", "p"), "c", out var changed);
        Assert.True(changed);
        Assert.Equal(new RegistryCredentials("u", "p"), DockerConfigAuths.Find(text, "b.io:5000", "c"));
        Assert.Equal(new RegistryCredentials("a", "b"), DockerConfigAuths.Find(text, "a.io", "c"));
        Assert.Contains("\"psFormat\": \"x\"", text);
        var removed = DockerConfigAuths.With(text, "b.io:5000", null, "c", out changed);
        Assert.True(changed);
        Assert.Null(DockerConfigAuths.Find(removed, "b.io:5000", "c"));
        DockerConfigAuths.With(removed, "b.io:5000", null, "c", out changed);
        Assert.False(changed);
    }

    [Fact]
    public void Platform_ParsesAndSelectsVariants()
    {
        Assert.Equal(new PlatformSpec("linux", "amd64", null), PlatformSpec.Parse(null));
        Assert.Equal(new PlatformSpec("linux", "arm", "v7"), PlatformSpec.Parse("linux/arm/v7"));
        Assert.Throws<UsageException>(() => PlatformSpec.Parse("amd64"));
        var index = new ImageIndex
        {
            Manifests =
            [
                new Descriptor { MediaType = MediaTypes.OciManifest, Digest = "sha256:" + new string('1', 64), Platform = new Platform { Os = "linux", Architecture = "arm", Variant = "v6" } },
                new Descriptor { MediaType = MediaTypes.OciManifest, Digest = "sha256:" + new string('2', 64), Platform = new Platform { Os = "linux", Architecture = "arm", Variant = "v7" } },
            ],
        };
        Assert.Equal("sha256:" + new string('2', 64), ImageDocuments.SelectPlatform(index, "i", PlatformSpec.Parse("linux/arm/v7")).Digest);
        var e = Assert.Throws<CrateRunException>(() => ImageDocuments.SelectPlatform(index, "i", PlatformSpec.Parse("linux/arm64")));
        Assert.Contains("no image for linux/arm64 (it has: linux/arm/v6, linux/arm/v7)", e.Message);
    }
}
