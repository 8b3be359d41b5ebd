using CrateRun.Core.Config;
using CrateRun.Core.Setup;

namespace CrateRun.Core.Tests.Setup;

public class MountOptionsTests
{
    private static ParsedMountOptions P(params string[] o) => ParsedMountOptions.Parse(o);

    [Fact]
    public void Flag_values_are_the_kernels()
    {
        Assert.Equal(1UL, MountFlags.ReadOnly);
        Assert.Equal(0x1000UL, MountFlags.Bind);
        Assert.Equal(0x4000UL, MountFlags.Rec);
        Assert.Equal(0x20000UL, MountFlags.Unbindable);
        Assert.Equal(0x40000UL, MountFlags.Private);
        Assert.Equal(0x80000UL, MountFlags.Slave);
        Assert.Equal(0x100000UL, MountFlags.Shared);
        Assert.Equal(0x200000UL, MountFlags.RelAtime);
        Assert.Equal(0x1000000UL, MountFlags.StrictAtime);
    }

    [Fact]
    public void Empty_or_null_options_are_nothing()
    {
        Assert.Equal(new ParsedMountOptions(0, 0, "", false, false, false), ParsedMountOptions.Parse(null));
        Assert.Equal(new ParsedMountOptions(0, 0, "", false, false, false), P());
        Assert.Equal(new ParsedMountOptions(0, 0, "", false, false, false), P("", " ", "defaults", "norbind"));
        Assert.True(P("tmpcopyup").CopyUp);
        Assert.False(P("tmpcopyup", "notmpcopyup").CopyUp);
    }

    [Fact]
    public void Ro_and_rw_toggle_the_read_only_flag_last_one_wins()
    {
        Assert.Equal(MountFlags.ReadOnly, P("ro").Flags);
        Assert.Equal(0UL, P("ro", "rw").Flags);
        Assert.Equal(MountFlags.ReadOnly, P("rw", "ro").Flags);
        Assert.Equal(MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec, P("nosuid", "nodev", "noexec", "ro", "rw").Flags);
        Assert.Equal(MountFlags.NoDev, P("nosuid", "nodev", "suid", "noexec", "exec").Flags);
    }

    [Theory]
    [InlineData(new[] { "noatime", "relatime" }, MountFlags.RelAtime)]
    [InlineData(new[] { "relatime", "noatime" }, MountFlags.NoAtime)]
    [InlineData(new[] { "strictatime", "relatime", "noatime" }, MountFlags.NoAtime)]
    [InlineData(new[] { "noatime", "strictatime" }, MountFlags.StrictAtime)]
    [InlineData(new[] { "relatime", "norelatime" }, 0UL)]
    [InlineData(new[] { "noatime", "atime" }, 0UL)]
    [InlineData(new[] { "nodiratime", "noatime" }, MountFlags.NoDirAtime | MountFlags.NoAtime)]
    public void Atime_options_exclude_each_other(string[] options, ulong expected) =>
        Assert.Equal(expected, ParsedMountOptions.Parse(options).Flags);

    [Fact]
    public void Bind_and_rbind()
    {
        var b = P("bind");
        Assert.True(b.Bind);
        Assert.False(b.Recursive);
        var rb = P("rbind", "ro");
        Assert.True(rb.Bind);
        Assert.True(rb.Recursive);
        Assert.Equal(MountFlags.ReadOnly, rb.Flags);
        Assert.False(rb.RecursiveReadonly);
        // bind is not a kernel flag here: the C stage binds on StepOptions.Bind
        Assert.Equal(0UL, P("rbind").Flags & MountFlags.Bind);
    }

    [Fact]
    public void Rro_is_recursive_read_only_and_ro_is_not()
    {
        var o = P("rbind", "rro");
        Assert.True(o.RecursiveReadonly);
        Assert.Equal(MountFlags.ReadOnly, o.RecursiveFlags);
        var top = P("rbind", "ro");
        Assert.Equal(MountFlags.ReadOnly, top.Flags);
        Assert.Equal(0UL, top.RecursiveFlags);
    }

    [Theory]
    [InlineData("rw", MountFlags.ReadOnly)]
    [InlineData("suid", MountFlags.NoSuid)]
    [InlineData("dev", MountFlags.NoDev)]
    [InlineData("exec", MountFlags.NoExec)]
    [InlineData("atime", MountFlags.NoAtime)]
    [InlineData("diratime", MountFlags.NoDirAtime)]
    [InlineData("norelatime", MountFlags.RelAtime)]
    [InlineData("nostrictatime", MountFlags.StrictAtime)]
    [InlineData("symfollow", MountFlags.NoSymFollow)]
    public void Clearing_options_are_sent_as_flags_to_clear(string option, ulong flag)
    {
        // a bind mount inherits its source's flags: "suid" must clear nosuid, not just not set it
        Assert.Equal(flag, P("rbind", option).ClearFlags);
    }

    [Theory]
    [InlineData("rro", false, MountFlags.ReadOnly)]
    [InlineData("rrw", true, MountFlags.ReadOnly)]
    [InlineData("rnosuid", false, MountFlags.NoSuid)]
    [InlineData("rsuid", true, MountFlags.NoSuid)]
    [InlineData("rnodev", false, MountFlags.NoDev)]
    [InlineData("rdev", true, MountFlags.NoDev)]
    [InlineData("rnoexec", false, MountFlags.NoExec)]
    [InlineData("rexec", true, MountFlags.NoExec)]
    [InlineData("rnodiratime", false, MountFlags.NoDirAtime)]
    [InlineData("rdiratime", true, MountFlags.NoDirAtime)]
    [InlineData("rnoatime", false, MountFlags.NoAtime)]
    [InlineData("ratime", true, MountFlags.NoAtime)]
    [InlineData("rrelatime", false, MountFlags.RelAtime)]
    [InlineData("rnorelatime", true, MountFlags.RelAtime)]
    [InlineData("rstrictatime", false, MountFlags.StrictAtime)]
    [InlineData("rnostrictatime", true, MountFlags.StrictAtime)]
    [InlineData("rnosymfollow", false, MountFlags.NoSymFollow)]
    [InlineData("rsymfollow", true, MountFlags.NoSymFollow)]
    public void Recursive_options_of_the_spec(string option, bool clear, ulong flag)
    {
        var o = P("rbind", option);
        Assert.Equal(clear ? 0UL : flag, o.RecursiveFlags);
        Assert.Equal(clear ? flag : 0UL, o.RecursiveClearFlags);
        Assert.Equal(0UL, o.Flags);
        Assert.Equal("", o.Data);
    }

    /// <summary>The "Mount Options" table of runtime-spec config.md (v1.2): every one is understood, none goes to the filesystem as data.</summary>
    public static TheoryData<string> SpecTable => new(
        "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion", "lazytime", "loud", "mand",
        "noatime", "nodev", "nodiratime", "noexec", "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime",
        "nosuid", "nosymfollow", "private", "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec", "rnoatime",
        "rnodev", "rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime", "rnosuid", "rnosymfollow", "ro", "rprivate",
        "rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared",
        "silent", "slave", "strictatime", "suid", "symfollow", "sync", "tmpcopyup", "unbindable");

    [Theory]
    [MemberData(nameof(SpecTable))]
    public void Every_option_of_the_spec_table_is_understood(string option) =>
        Assert.Equal("", P(option).Data);

    [Theory]
    [InlineData("private", MountFlags.Private)]
    [InlineData("rprivate", MountFlags.Private | MountFlags.Rec)]
    [InlineData("shared", MountFlags.Shared)]
    [InlineData("rshared", MountFlags.Shared | MountFlags.Rec)]
    [InlineData("slave", MountFlags.Slave)]
    [InlineData("rslave", MountFlags.Slave | MountFlags.Rec)]
    [InlineData("unbindable", MountFlags.Unbindable)]
    [InlineData("runbindable", MountFlags.Unbindable | MountFlags.Rec)]
    public void Propagation_options(string option, ulong expected)
    {
        var o = P("rbind", option);
        Assert.Equal(expected, o.Propagation);
        Assert.Equal(0UL, o.Flags);
        Assert.Equal("", o.Data);
    }

    [Fact]
    public void Last_propagation_option_wins() =>
        Assert.Equal(MountFlags.Slave | MountFlags.Rec, P("rshared", "rslave").Propagation);

    [Fact]
    public void Unknown_options_go_to_data_in_order()
    {
        var o = P("nosuid", "mode=755", "size=65536k", "ro", "uid=1000", "newinstance");
        Assert.Equal("mode=755,size=65536k,uid=1000,newinstance", o.Data);
        Assert.Equal(MountFlags.NoSuid | MountFlags.ReadOnly, o.Flags);
    }

    /// <summary>runtime-spec config.md: idmap and ridmap ask for an id mapping and reach no mount call; only ridmap is recursive.</summary>
    [Theory]
    [InlineData(new[] { "rbind", "idmap" }, true, false)]
    [InlineData(new[] { "rbind", "ridmap" }, true, true)]
    [InlineData(new[] { "bind", "ro", "idmap" }, true, false)]
    [InlineData(new[] { "rbind", "ro" }, false, false)]
    public void Idmap_options_are_understood_and_never_passed_as_data(string[] options, bool idmap, bool recursive)
    {
        var o = ParsedMountOptions.Parse(options);
        Assert.Equal(idmap, o.Idmap);
        Assert.Equal(recursive, o.RecursiveIdmap);
        Assert.Equal("", o.Data);
        Assert.True(o.Bind);
    }

    [Fact]
    public void Remaining_flag_options()
    {
        Assert.Equal(MountFlags.Synchronous | MountFlags.DirSync | MountFlags.MandLock | MountFlags.Remount | MountFlags.Silent,
            P("sync", "dirsync", "mand", "remount", "silent").Flags);
        Assert.Equal(0UL, P("sync", "async", "mand", "nomand", "silent", "loud").Flags);
    }

    [Fact]
    public void Every_mount_option_that_features_advertises_is_understood()
    {
        var advertised = DefaultSpecs.Features().MountOptions!;
        Assert.NotEmpty(advertised);
        foreach (var option in advertised)
        {
            var o = P(option);
            Assert.True(o.Data == "", $"'{option}' is advertised by features but would be passed to the filesystem as data");
            Assert.True(o.Flags != 0 || o.Propagation != 0 || o.Bind || o.ClearFlags != 0 || o.RecursiveFlags != 0 || o.RecursiveClearFlags != 0
                || o.CopyUp || o.Idmap || option is "defaults", $"'{option}' has no effect");
        }
    }
}
