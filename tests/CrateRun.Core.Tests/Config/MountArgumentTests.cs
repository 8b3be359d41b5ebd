using CrateRun.Core.Config;

namespace CrateRun.Core.Tests.Config;

/// <summary>--mount as Docker documents it (docs.docker.com, "Bind mounts" and "tmpfs mounts" pages).</summary>
public sealed class MountArgumentTests
{
    [Fact]
    public void Bind_FromDockersExamples()
    {
        Assert.Equal((new Volume("/src/target", "/app", false), (string?)null, (Core.Volumes.VolumeRequest?)null),
            MountArgument.Parse("type=bind,source=/src/target,target=/app"));
        Assert.Equal(new Volume("/src/target", "/app", true), MountArgument.Parse("type=bind,source=/src/target,target=/app,readonly").Bind);
        Assert.Equal(new Volume("/src/target", "/app2", true, "rslave"),
            MountArgument.Parse("type=bind,src=/src/target,dst=/app2,readonly=true,bind-propagation=rslave").Bind);
        Assert.False(MountArgument.Parse("type=bind,source=/a,destination=/b,ro=false").Bind!.ReadOnly);
    }

    [Fact]
    public void Tmpfs_SizeAndMode_BecomeTmpfsOptions()
    {
        Assert.Equal("/app", MountArgument.Parse("type=tmpfs,destination=/app").Tmpfs);
        Assert.Equal("/app:size=65536,mode=1770", MountArgument.Parse("type=tmpfs,destination=/app,tmpfs-size=64k,tmpfs-mode=1770").Tmpfs);
        Assert.Equal("/app:ro,size=1048576", MountArgument.Parse("type=tmpfs,target=/app,readonly,tmpfs-size=1m").Tmpfs);
    }

    /// <summary>Docker's "Volumes" page: --mount source=myvol2,target=/app (type defaults to volume); no source is an anonymous volume.</summary>
    [Fact]
    public void Volume_FromDockersExamples()
    {
        Assert.Equal(new Core.Volumes.VolumeRequest("myvol2", "/app", false), MountArgument.Parse("source=myvol2,target=/app").Named);
        Assert.Equal(new Core.Volumes.VolumeRequest("nginx-vol", "/usr/share/nginx/html", true),
            MountArgument.Parse("type=volume,source=nginx-vol,destination=/usr/share/nginx/html,readonly").Named);
        Assert.Equal(new Core.Volumes.VolumeRequest(null, "/data", false), MountArgument.Parse("type=volume,target=/data").Named);
        Assert.True(MountArgument.Parse("type=volume,src=v1,dst=/d,volume-nocopy").Named!.NoCopy);
        var (bind, tmpfs, _) = MountArgument.Parse("type=volume,src=v1,dst=/d");
        Assert.Null(bind);
        Assert.Null(tmpfs);
    }

    [Theory]
    [InlineData("type=bind,source=/a", "target is required")]
    [InlineData("type=bind,target=/b", "source is required")]
    [InlineData("type=bind,source=rel,target=/b", "must be absolute")]
    [InlineData("type=bind,source=/a,target=b", "must be absolute")]
    [InlineData("type=bind,source=/a,target=/b,bind-propagation=sideways", "bind-propagation")]
    [InlineData("type=tmpfs,source=/a,target=/b", "source is not allowed")]
    [InlineData("type=tmpfs,target=/b,tmpfs-mode=999", "tmpfs-mode")]
    [InlineData("type=nfs,target=/b", "unknown mount type")]
    [InlineData("type=tmpfs,target=/b,tmpfs-size=big", "tmpfs-size")]
    [InlineData("type=bind,source=/a,target=/b,colour=red", "unknown option")]
    [InlineData("type=bind,source,target=/b", "key=value")]
    [InlineData("type=volume,source=/abs,target=/b", "type=volume")]
    [InlineData("type=volume,source=my/vol,target=/b", "invalid volume name")]
    [InlineData("type=volume,source=v1,target=/b,volume-driver=nfs", "volume-driver is not supported")]
    [InlineData("type=volume,source=v1,target=/b,bind-propagation=rslave", "bind-propagation is for type=bind")]
    [InlineData("type=bind,source=/a,target=/b,volume-nocopy", "volume-nocopy is for type=volume")]
    [InlineData("type=bind,source=/a,target=/b,readonly=maybe", "readonly")]
    public void BadInput_OneLineNamingTheProblem(string text, string mentions)
    {
        var e = Assert.Throws<UsageException>(() => MountArgument.Parse(text));
        Assert.Contains(mentions, e.Message);
        Assert.Contains("--mount", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
