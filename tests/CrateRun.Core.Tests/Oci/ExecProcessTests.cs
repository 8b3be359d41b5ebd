using CrateRun.Core.Oci;

namespace CrateRun.Core.Tests.Oci;

/// <summary>The one builder of an exec's process, as runc's exec and Docker's exec describe their flags.</summary>
public sealed class ExecProcessTests
{
    private static Process Template() => new()
    {
        Args = ["sh"],
        Env = ["PATH=/usr/bin:/bin", "FOO=1", "HOME=/root"],
        Cwd = "/srv",
        User = new User { Uid = 1000, Gid = 1000, Umask = 18 /* 022 */, AdditionalGids = [10] },
        Capabilities = new LinuxCapabilities
        {
            Bounding = ["CAP_CHOWN"], Effective = ["CAP_CHOWN"], Permitted = ["CAP_CHOWN"], Inheritable = ["CAP_KILL"], Ambient = [],
        },
        Rlimits = [new PosixRlimit { Type = "RLIMIT_NOFILE", Soft = 1024, Hard = 1024 }],
        NoNewPrivileges = false,
        Terminal = true,
        ConsoleSize = new Box { Height = 10, Width = 20 },
    };

    [Fact]
    public void Without_flags_it_runs_the_args_as_the_containers_process_would()
    {
        var t = Template();
        var p = ExecProcess.Build(t, new ExecRequest { Args = ["true"] });
        Assert.Equal(["true"], p.Args);
        Assert.Equal(t.Env, p.Env);
        Assert.Equal("/srv", p.Cwd);
        Assert.Same(t.User, p.User);
        Assert.Same(t.Capabilities, p.Capabilities);
        Assert.Same(t.Rlimits, p.Rlimits);
        // the exec's own terminal, not the container's
        Assert.False(p.Terminal);
        Assert.Null(p.ConsoleSize);
    }

    [Fact]
    public void A_variable_given_again_takes_the_new_value_in_its_place_and_new_ones_are_appended()
    {
        var p = ExecProcess.Build(Template(), new ExecRequest { Args = ["env"], Env = ["FOO=2", "BAR=x=y", "FOO=3"] });
        Assert.Equal(["PATH=/usr/bin:/bin", "FOO=3", "HOME=/root", "BAR=x=y"], p.Env);
    }

    [Fact]
    public void TERM_is_added_only_when_asked_for_with_a_terminal_and_none_is_set()
    {
        Assert.Contains("TERM=xterm", ExecProcess.Build(Template(), new ExecRequest { Args = ["sh"], Terminal = true, DefaultTerm = true }).Env!);
        Assert.DoesNotContain("TERM=xterm", ExecProcess.Build(Template(), new ExecRequest { Args = ["sh"], Terminal = true }).Env!);
        Assert.DoesNotContain("TERM=xterm", ExecProcess.Build(Template(), new ExecRequest { Args = ["sh"], DefaultTerm = true }).Env!);
        var own = ExecProcess.Build(Template(), new ExecRequest { Args = ["sh"], Terminal = true, DefaultTerm = true, Env = ["TERM=vt100"] });
        Assert.Equal(["TERM=vt100"], own.Env!.Where(e => e.StartsWith("TERM=", StringComparison.Ordinal)));
    }

    [Fact]
    public void Cwd_is_the_requested_one_else_the_containers_else_the_root()
    {
        Assert.Equal("/tmp", ExecProcess.Build(Template(), new ExecRequest { Args = ["pwd"], Cwd = "/tmp" }).Cwd);
        Assert.Equal("/", ExecProcess.Build(new Process { Cwd = "" }, new ExecRequest { Args = ["pwd"] }).Cwd);
        Assert.Equal("/", ExecProcess.Build(null, new ExecRequest { Args = ["pwd"] }).Cwd);
    }

    [Fact]
    public void A_user_replaces_the_containers_and_additional_gids_replace_its_groups_on_a_copy()
    {
        var t = Template();
        var asRoot = ExecProcess.Build(t, new ExecRequest { Args = ["id"], User = new User { Uid = 0, Gid = 0 } });
        Assert.Equal(0u, asRoot.User.Uid);
        Assert.Null(asRoot.User.AdditionalGids);
        var groups = ExecProcess.Build(t, new ExecRequest { Args = ["id"], AdditionalGids = [20, 30] });
        Assert.Equal(1000u, groups.User.Uid);
        Assert.Equal(18u, groups.User.Umask);
        Assert.Equal([20u, 30u], groups.User.AdditionalGids);
        Assert.Equal([10u], t.User.AdditionalGids); // the container's config is untouched
    }

    [Fact]
    public void Added_capabilities_go_to_bounding_effective_and_permitted_on_a_copy()
    {
        var t = Template();
        var p = ExecProcess.Build(t, new ExecRequest { Args = ["sh"], AddCapabilities = ["CAP_NET_ADMIN"] });
        Assert.Equal(["CAP_CHOWN", "CAP_NET_ADMIN"], p.Capabilities!.Bounding);
        Assert.Equal(["CAP_CHOWN", "CAP_NET_ADMIN"], p.Capabilities.Effective);
        Assert.Equal(["CAP_CHOWN", "CAP_NET_ADMIN"], p.Capabilities.Permitted);
        Assert.Equal(["CAP_KILL"], p.Capabilities.Inheritable);
        Assert.Equal(["CAP_CHOWN"], t.Capabilities!.Bounding); // untouched
        // a container without capabilities keeps none
        Assert.Null(ExecProcess.Build(new Process { Cwd = "/" }, new ExecRequest { Args = ["sh"], AddCapabilities = ["CAP_NET_ADMIN"] }).Capabilities);
    }

    [Fact]
    public void No_new_privileges_is_kept_from_the_container_or_set_by_the_request()
    {
        Assert.True(ExecProcess.Build(new Process { NoNewPrivileges = true, Cwd = "/" }, new ExecRequest { Args = ["sh"] }).NoNewPrivileges);
        Assert.True(ExecProcess.Build(Template(), new ExecRequest { Args = ["sh"], NoNewPrivileges = true }).NoNewPrivileges);
        Assert.False(ExecProcess.Build(Template(), new ExecRequest { Args = ["sh"] }).NoNewPrivileges);
    }
}
