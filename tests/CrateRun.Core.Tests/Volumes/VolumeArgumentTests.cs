using CrateRun.Core.Config;
using CrateRun.Core.Volumes;

namespace CrateRun.Core.Tests.Volumes;

/// <summary>
/// -v as Docker's run reference documents it: an absolute source is a host directory, any other a
/// volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+), a lone container path an anonymous volume; modes ro, rw, nocopy.
/// </summary>
public sealed class VolumeArgumentTests
{
    [Theory]
    [InlineData("/srv/data:/data", "/srv/data", "/data", false)]
    [InlineData("/srv/data:/data:ro", "/srv/data", "/data", true)]
    public void An_absolute_source_is_a_bind(string text, string host, string ctr, bool ro)
    {
        var (bind, named) = VolumeArgument.Parse(text);
        Assert.Equal(new Volume(host, ctr, ro), bind);
        Assert.Null(named);
    }

    [Theory]
    [InlineData("myvol:/data", "myvol", "/data", false, false)]
    [InlineData("my_vol.2-x:/data:ro", "my_vol.2-x", "/data", true, false)]
    [InlineData("v1:/app:ro,nocopy", "v1", "/app", true, true)]
    [InlineData("v1:/app:nocopy", "v1", "/app", false, true)]
    public void A_name_is_a_named_volume(string text, string name, string ctr, bool ro, bool nocopy)
    {
        var (bind, named) = VolumeArgument.Parse(text);
        Assert.Null(bind);
        Assert.Equal(new VolumeRequest(name, ctr, ro, nocopy), named);
    }

    [Fact]
    public void A_lone_container_path_is_an_anonymous_volume()
    {
        var (bind, named) = VolumeArgument.Parse("/var/lib/data");
        Assert.Null(bind);
        Assert.Equal(new VolumeRequest(null, "/var/lib/data", false), named);
    }

    [Theory]
    [InlineData("data", "absolute container path")]
    [InlineData("./data:/data", "invalid characters for a local volume name")]
    [InlineData("_v:/data", "invalid characters for a local volume name")]
    [InlineData("a:/data", "invalid characters for a local volume name")] // at least two characters
    [InlineData("v1:data", "container path 'data' must be absolute")]
    [InlineData("v1:/data:rx", "mode must be ro, rw or nocopy")]
    [InlineData("v1:/a:ro:x", "expected HOSTDIR:CTRDIR")]
    [InlineData("/a:/b:z", "mode must be ro or rw")]
    public void Bad_input_is_one_line_naming_it(string text, string mentions)
    {
        var e = Assert.Throws<UsageException>(() => VolumeArgument.Parse(text));
        Assert.Contains(mentions, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Anonymous_requests_get_generated_names_and_every_volume_lands_in_the_annotations()
    {
        var named = VolumeNames.Named([new VolumeRequest("data", "/d", false), new VolumeRequest(null, "/cache", false, NoCopy: true), new VolumeRequest("data", "/d2", true)]);
        var generated = named[1].Name!;
        Assert.Matches("^[0-9a-f]{64}$", generated);
        Assert.True(named[1].Anonymous);
        Assert.True(VolumeNames.IsValid(generated));
        var a = VolumeNames.Annotations(named);
        Assert.Equal(["data", generated], VolumeNames.UsedBy(a));
        Assert.Equal([generated], VolumeNames.NoCopy(a));
        Assert.Equal([generated], VolumeNames.AnonymousOf(a));
        Assert.Empty(VolumeNames.Annotations([]));
        Assert.Empty(VolumeNames.UsedBy(null));
    }
}

/// <summary>volume ls / prune --filter as Docker's reference lists the keys.</summary>
public sealed class VolumeFilterTests
{
    private static VolumeInfo V(string name, params (string K, string V)[] labels) =>
        new() { Name = name, Labels = labels.ToDictionary(l => l.K, l => l.V) };

    [Fact]
    public void Dangling_name_label_and_driver()
    {
        var a = V("appdata", ("env", "prod"), ("team", "x"));
        Assert.True(VolumeFilter.Parse(["dangling=true"], false).Matches(a, inUse: false));
        Assert.False(VolumeFilter.Parse(["dangling=true"], false).Matches(a, inUse: true));
        Assert.True(VolumeFilter.Parse(["dangling=false"], false).Matches(a, inUse: true));
        Assert.True(VolumeFilter.Parse(["name=pdat"], false).Matches(a, false));
        Assert.False(VolumeFilter.Parse(["name=other"], false).Matches(a, false));
        Assert.True(VolumeFilter.Parse(["name=other", "name=app"], false).Matches(a, false)); // one key: ORed
        Assert.True(VolumeFilter.Parse(["label=env=prod", "label=team"], false).Matches(a, false)); // labels: ANDed
        Assert.False(VolumeFilter.Parse(["label=env=prod", "label=owner"], false).Matches(a, false));
        Assert.True(VolumeFilter.Parse(["driver=local"], false).Matches(a, false));
        Assert.False(VolumeFilter.Parse(["label=env=prod", "dangling=true"], false).Matches(a, true)); // keys: ANDed
    }

    [Fact]
    public void Prune_takes_label_notlabel_and_all()
    {
        var keep = V("keep", ("keep", ""));
        Assert.False(VolumeFilter.Parse(["label!=keep"], true).Matches(keep, false));
        Assert.True(VolumeFilter.Parse(["label!=keep"], true).Matches(V("other"), false));
        Assert.True(VolumeFilter.Parse(["all=true"], true).All);
        Assert.Contains("volume prune takes", Assert.Throws<UsageException>(() => VolumeFilter.Parse(["dangling=true"], true)).Message);
        Assert.Contains("volume ls takes", Assert.Throws<UsageException>(() => VolumeFilter.Parse(["colour=red"], false)).Message);
        Assert.Contains("true or false", Assert.Throws<UsageException>(() => VolumeFilter.Parse(["dangling=maybe"], false)).Message);
    }
}
