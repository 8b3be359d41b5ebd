using CrateRun.Core.Config;
using CrateRun.Core.Oci;

namespace CrateRun.Core.Tests.Config;

/// <summary>Pure checks behind the CLI's bad-input fixes: user ids, container names.</summary>
public sealed class BadInputUnitTests
{
    // setresuid(-1) leaves the uid unchanged: 4294967295 would stay root. runc accepts 0..2147483647.
    [Theory]
    [InlineData("4294967295", "uid 4294967295")]
    [InlineData("1000:4294967295", "gid 4294967295")]
    [InlineData("2147483648", "uid 2147483648")]
    [InlineData("0:2147483648", "gid 2147483648")]
    public void ResolveUser_refuses_ids_above_2147483647(string user, string mention)
    {
        var e = Assert.Throws<UsageException>(() => SpecBuilder.ResolveUser(user, null, null));
        Assert.Contains(mention, e.Message);
        Assert.Contains("out of range", e.Message);
    }

    [Fact]
    public void ResolveUser_refuses_a_passwd_entry_with_uid_minus_one()
    {
        var passwd = "nobody:x:4294967295:4294967295:nobody:/:/bin/sh\n";
        Assert.Contains("uid 4294967295", Assert.Throws<UsageException>(() => SpecBuilder.ResolveUser("nobody", passwd, null)).Message);
    }

    [Theory]
    [InlineData("0", 0u, 0u)]
    [InlineData("2147483647:2147483647", 2147483647u, 2147483647u)]
    [InlineData("1000:2000", 1000u, 2000u)]
    public void ResolveUser_accepts_the_whole_valid_range(string user, uint uid, uint gid) =>
        Assert.Equal((uid, gid), SpecBuilder.ResolveUser(user, null, null));

    [Theory]
    [InlineData(4294967295u, 0u, new uint[0], "uid 4294967295")]
    [InlineData(0u, 4294967295u, new uint[0], "gid 4294967295")]
    [InlineData(1000u, 1000u, new uint[] { 10, 4294967295u }, "additional gid 4294967295")]
    public void An_OCI_process_user_out_of_range_is_refused(uint uid, uint gid, uint[] additional, string mention)
    {
        // as an OCI config from a client would carry it (runc spec's process.user)
        var user = OciJson.ReadProcess($$"""{"user":{"uid":{{uid}},"gid":{{gid}},"additionalGids":[{{string.Join(',', additional)}}]},"args":["id"],"cwd":"/"}""").User;
        var e = Assert.Throws<UsageException>(() => UserIds.Validate(user));
        Assert.Contains(mention, e.Message);
        Assert.Contains("process.user", e.Message);
    }

    [Fact]
    public void Build_refuses_additional_gids_out_of_range() =>
        Assert.Contains("additional gid", Assert.Throws<UsageException>(() =>
            SpecBuilder.Build("0123456789abcdef", new RunOptions { Rootfs = "/r", Command = ["id"], AdditionalGids = [4294967295u] })).Message);

    // Docker: [a-zA-Z0-9][a-zA-Z0-9_.-]+
    [Theory]
    [InlineData("_x")]
    [InlineData("-x")]
    [InlineData(".x")]
    [InlineData("a")]
    [InlineData("a+b")]
    [InlineData("a/b")]
    public void Names_outside_Dockers_pattern_are_refused(string name) =>
        Assert.Contains("invalid container name", Assert.Throws<UsageException>(() =>
            SpecBuilder.Build("0123456789abcdef", new RunOptions { Rootfs = "/r", Command = ["true"], Name = name })).Message);

    [Theory]
    [InlineData("web")]
    [InlineData("a1")]
    [InlineData("0x_y.z-w")]
    public void Names_in_Dockers_pattern_are_accepted(string name) =>
        Assert.Equal(name, SpecBuilder.Build("0123456789abcdef", new RunOptions { Rootfs = "/r", Command = ["true"], Name = name }).Annotations!["io.craterun.name"]);

    [Fact]
    public void A_regular_file_as_device_is_named_as_not_a_device_node() =>
        Assert.Contains("/etc/passwd is not a device node", Assert.Throws<UsageException>(() =>
            SpecBuilder.ParseDevice("/etc/passwd", _ => null)).Message);
}
