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
        Assert.Equal(new ParsedMountOptions(0, 0, "", false, false, false), P("", " ", "defaults", "tmpcopyup", "norbind"));
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
        // bind is not a kernel flag here: the C stage binds on StepFlags.Bind
        Assert.Equal(0UL, P("rbind").Flags & MountFlags.Bind);
    }

    [Fact]
    public void Rro_is_recursive_read_only()
    {
        var o = P("rbind", "rro");
        Assert.True(o.RecursiveReadonly);
        Assert.Equal(MountFlags.ReadOnly, o.Flags & MountFlags.ReadOnly);
    }

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

    [Theory]
    [InlineData("idmap")]
    [InlineData("ridmap")]
    public void Idmapped_mounts_are_refused(string option) =>
        Assert.Contains("idmap", Assert.Throws<UsageException>(() => P("rbind", option)).Message);

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
            Assert.True(o.Flags != 0 || o.Propagation != 0 || o.Bind || option is "rw" or "suid" or "dev" or "exec" or "async"
                or "nomand" or "atime" or "diratime" or "norelatime" or "nostrictatime" or "loud", $"'{option}' has no effect");
        }
    }
}
