using CrateRun.Core.Images;

namespace CrateRun.Core.Tests.Images;

/// <summary>Docker's rules for Entrypoint/Cmd/Env/WorkingDir/User of an image under `run` flags.</summary>
public sealed class ImageRunConfigTests
{
    private static ContainerConfig Nginxish() => new()
    {
        Entrypoint = ["/docker-entrypoint.sh"],
        Cmd = ["nginx", "-g", "daemon off;"],
        Env = ["PATH=/usr/local/bin:/usr/bin:/bin", "NGINX_VERSION=1.25"],
        WorkingDir = "/srv",
        User = "www",
        StopSignal = "SIGQUIT",
    };

    [Fact]
    public void No_command_runs_entrypoint_and_cmd() =>
        Assert.Equal(["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"], ImageRunConfig.Merge(Nginxish(), [], null, [], null, null, "x").Command);

    [Fact]
    public void A_command_replaces_cmd_not_entrypoint() =>
        Assert.Equal(["/docker-entrypoint.sh", "sh"], ImageRunConfig.Merge(Nginxish(), ["sh"], null, [], null, null, "x").Command);

    [Fact]
    public void Entrypoint_flag_drops_the_image_cmd() =>
        Assert.Equal(["/bin/echo"], ImageRunConfig.Merge(Nginxish(), [], "/bin/echo", [], null, null, "x").Command);

    [Fact]
    public void Empty_entrypoint_flag_clears_it() =>
        Assert.Equal(["ls", "/"], ImageRunConfig.Merge(Nginxish(), ["ls", "/"], "", [], null, null, "x").Command);

    [Fact]
    public void Nothing_to_run_is_an_error_naming_the_image()
    {
        var e = Assert.Throws<UsageException>(() => ImageRunConfig.Merge(new ContainerConfig(), [], null, [], null, null, "scratchy"));
        Assert.Contains("scratchy", e.Message);
    }

    [Fact]
    public void Image_env_first_user_env_after()
    {
        var s = ImageRunConfig.Merge(Nginxish(), [], null, ["NGINX_VERSION=2", "X=1"], null, null, "x");
        Assert.Equal(["PATH=/usr/local/bin:/usr/bin:/bin", "NGINX_VERSION=1.25", "NGINX_VERSION=2", "X=1"], s.Env);
    }

    [Fact]
    public void Workdir_user_and_stop_signal_from_the_image_unless_overridden()
    {
        var s = ImageRunConfig.Merge(Nginxish(), [], null, [], null, null, "x");
        Assert.Equal(("/srv", "www", "SIGQUIT"), (s.Workdir, s.User, s.StopSignal));
        var o = ImageRunConfig.Merge(Nginxish(), [], null, [], "/tmp", "0:0", "x");
        Assert.Equal(("/tmp", "0:0"), (o.Workdir, o.User));
    }

    [Fact]
    public void A_relative_image_workdir_is_made_absolute() =>
        Assert.Equal("/app", ImageRunConfig.Merge(new ContainerConfig { Cmd = ["x"], WorkingDir = "app" }, [], null, [], null, null, "x").Workdir);

    [Theory]
    [InlineData("CMD [\"sh\", \"-c\", \"echo hi\"]", new[] { "sh", "-c", "echo hi" })]
    [InlineData("CMD echo hi", new[] { "/bin/sh", "-c", "echo hi" })]
    [InlineData("cmd [\"x\"]", new[] { "x" })]
    public void Import_changes_cmd(string change, string[] expected)
    {
        var c = new ContainerConfig();
        ImportChanges.Apply(c, change);
        Assert.Equal(expected, c.Cmd);
    }

    [Fact]
    public void Import_changes_env_workdir_user_label()
    {
        var c = new ContainerConfig { Env = ["A=1"] };
        foreach (var ch in new[] { "ENV A=2", "ENV B 3", "WORKDIR /w", "USER nobody", "LABEL k=v", "ENTRYPOINT [\"/e\"]" }) ImportChanges.Apply(c, ch);
        Assert.Equal(["A=2", "B=3"], c.Env);
        Assert.Equal(("/w", "nobody", "v"), (c.WorkingDir, c.User, c.Labels!["k"]));
        Assert.Equal(["/e"], c.Entrypoint);
    }

    [Fact]
    public void Import_changes_expose_writes_exposed_ports_as_docker_does()
    {
        var c = new ContainerConfig();
        ImportChanges.Apply(c, "EXPOSE 80 53/UDP");
        ImportChanges.Apply(c, "EXPOSE 443/tcp");
        Assert.Equal(["443/tcp", "53/udp", "80/tcp"], c.ExposedPorts!.Keys.Order(StringComparer.Ordinal));
        // the image config's JSON: {"80/tcp": {}}, Docker's (and the image spec's) spelling
        var json = System.Text.Json.JsonSerializer.Serialize(new ImageConfig { Config = new ContainerConfig { ExposedPorts = new() { ["80/tcp"] = new EmptyObject() } } }, ImageJsonContext.Default.ImageConfig);
        Assert.Contains("\"ExposedPorts\":{\"80/tcp\":{}}", json);
    }

    [Theory]
    [InlineData("EXPOSE http")]
    [InlineData("EXPOSE 0")]
    [InlineData("EXPOSE 80/icmp")]
    [InlineData("RUN make")]
    [InlineData("CMD [broken")]
    [InlineData("CMD")]
    public void Bad_import_changes_are_refused(string change) =>
        Assert.Throws<UsageException>(() => ImportChanges.Apply(new ContainerConfig(), change));

    [Theory]
    [InlineData(0, "0B")]
    [InlineData(999, "999B")]
    [InlineData(862_000, "862kB")]
    [InlineData(4_261_000, "4.26MB")]
    [InlineData(1_200_000_000, "1.2GB")]
    public void Sizes_as_docker_prints_them(long bytes, string text) => Assert.Equal(text, HumanUnits.Size(bytes));

    [Theory]
    [InlineData(0.5, "Less than a second")]
    [InlineData(30, "30 seconds")]
    [InlineData(90, "About a minute")]
    [InlineData(600, "10 minutes")]
    [InlineData(3600, "About an hour")]
    [InlineData(5 * 3600, "5 hours")]
    [InlineData(3 * 86400, "3 days")]
    [InlineData(20 * 86400, "2 weeks")]
    [InlineData(100 * 86400, "3 months")]
    [InlineData(800 * 86400, "2 years")]
    public void Ages_as_docker_prints_them(double seconds, string text) => Assert.Equal(text, CrateRun.Core.Docker.HumanDuration.Of(TimeSpan.FromSeconds(seconds)));
}
