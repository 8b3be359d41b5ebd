using CrateRun.Linux.Engine;

namespace CrateRun.Core.Tests.LinuxLayer;

/// <summary>runc's exec --cgroup [CONTROLLER[,CONTROLLER]:]PATH: existing sub-cgroups, never outside the container's.</summary>
public sealed class SubCgroupPathsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("subcg-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private Dictionary<string, string> Paths()
    {
        var paths = new Dictionary<string, string> { ["pids"] = Path.Combine(_dir, "pids", "c"), ["memory"] = Path.Combine(_dir, "memory", "c") };
        foreach (var p in paths.Values) Directory.CreateDirectory(Path.Combine(p, "sub", "deeper"));
        return paths;
    }

    [Fact]
    public void A_bare_path_applies_to_every_controller()
    {
        var paths = Paths();
        var r = ContainerEngine.SubCgroupPaths(paths, ["sub"]);
        Assert.Equal(Path.Combine(paths["pids"], "sub"), r["pids"]);
        Assert.Equal(Path.Combine(paths["memory"], "sub"), r["memory"]);
    }

    [Fact]
    public void Named_controllers_move_alone()
    {
        var paths = Paths();
        var r = ContainerEngine.SubCgroupPaths(paths, ["pids:sub/deeper"]);
        Assert.Equal(Path.Combine(paths["pids"], "sub", "deeper"), r["pids"]);
        Assert.Equal(paths["memory"], r["memory"]);
    }

    [Theory]
    [InlineData("pids:../escape")]
    [InlineData("sub/../../x")]
    [InlineData("pids:")]
    [InlineData("cpu:sub")]
    public void Bad_or_escaping_paths_are_refused(string sub) =>
        Assert.Throws<UsageException>(() => ContainerEngine.SubCgroupPaths(Paths(), [sub]));

    [Fact]
    public void A_missing_sub_cgroup_is_an_error() =>
        Assert.Contains("does not exist", Assert.Throws<CrateRunException>(() => ContainerEngine.SubCgroupPaths(Paths(), ["nosuch"])).Message);
}
