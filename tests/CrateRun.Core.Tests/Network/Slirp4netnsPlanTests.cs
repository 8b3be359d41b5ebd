using CrateRun.Core.Network;

namespace CrateRun.Core.Tests.Network;

/// <summary>
/// slirp4netns's command line and API requests, from its man page (slirp4netns 1.2.0,
/// "API SOCKET": add_hostfwd with proto, host_addr, host_port, guest_addr, guest_port; a
/// {"return": ...} on success, {"error": {"desc": ...}} otherwise).
/// </summary>
public sealed class Slirp4netnsPlanTests
{
    [Fact]
    public void Arguments_configure_tap0_in_the_target_namespace_and_keep_the_host_loopback_out()
    {
        var args = Slirp4netnsPlan.Arguments(4242, "/s/id/slirp4netns.sock", 3, "/proc/4242/ns/user");
        Assert.Equal(["4242", "tap0"], args[^2..]); // PID TAPNAME last, as the synopsis says
        Assert.Contains("--configure", args);
        Assert.Contains("--disable-host-loopback", args);
        Assert.Contains("--api-socket=/s/id/slirp4netns.sock", args);
        Assert.Contains("--ready-fd=3", args);
        Assert.Contains("--userns-path=/proc/4242/ns/user", args);
        Assert.Contains("--mtu=65520", args);
        Assert.DoesNotContain(Slirp4netnsPlan.Arguments(1, "/s", 3, null), a => a.StartsWith("--userns-path", StringComparison.Ordinal));
    }

    [Fact]
    public void A_published_port_is_an_add_hostfwd_to_the_container_address()
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(Slirp4netnsPlan.AddHostForward(new PortMapping { HostIp = "127.0.0.1", HostPort = 8080, ContainerPort = 80, Protocol = "tcp" }))!;
        Assert.Equal("add_hostfwd", json["execute"]!.GetValue<string>());
        var a = json["arguments"]!;
        Assert.Equal("tcp", a["proto"]!.GetValue<string>());
        Assert.Equal("127.0.0.1", a["host_addr"]!.GetValue<string>());
        Assert.Equal(8080, a["host_port"]!.GetValue<int>());
        Assert.Equal("10.0.2.100", a["guest_addr"]!.GetValue<string>());
        Assert.Equal(80, a["guest_port"]!.GetValue<int>());
        var any = System.Text.Json.Nodes.JsonNode.Parse(Slirp4netnsPlan.AddHostForward(new PortMapping { HostPort = 53, ContainerPort = 53, Protocol = "udp" }))!;
        Assert.Equal("0.0.0.0", any["arguments"]!["host_addr"]!.GetValue<string>());
        Assert.Equal("udp", any["arguments"]!["proto"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("{\"return\": {\"id\": 1}}", null)]
    [InlineData("{\"error\": {\"desc\": \"bad request: add_hostfwd: slirp_add_hostfwd failed\"}}", "bad request: add_hostfwd: slirp_add_hostfwd failed")]
    [InlineData("garbage", "not JSON: garbage")]
    public void Api_replies_are_read(string reply, string? error) => Assert.Equal(error, Slirp4netnsPlan.ErrorOf(reply));

    [Theory]
    [InlineData("123 456\n", 123, 456UL)]
    [InlineData("", 0, 0UL)]
    [InlineData("0 5", 0, 0UL)]
    [InlineData("x 5", 0, 0UL)]
    public void The_pid_record_round_trips_and_rejects_junk(string text, int pid, ulong start)
    {
        var parsed = Slirp4netnsPlan.ParsePidRecord(text);
        Assert.Equal(pid == 0 ? null : (pid, start), parsed);
        Assert.Equal((77, 88UL), Slirp4netnsPlan.ParsePidRecord(Slirp4netnsPlan.PidRecord(77, 88)));
    }
}
