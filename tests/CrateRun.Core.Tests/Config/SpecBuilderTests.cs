using CrateRun.Core.Config;
using CrateRun.Core.Oci;
using CrateRun.Core.Security;

namespace CrateRun.Core.Tests.Config;

public class SpecBuilderTests
{
    private const string Id = "0123456789abcdef";

    private static RunOptions Options() =>
        new() { Rootfs = "/var/lib/images/alpine", Command = ["sh", "-c", "echo hi"] };

    private static Spec Build(RunOptions o) => SpecBuilder.Build(Id, o);

    private static RunOptions With(Volume[]? volumes = null, string[]? tmpfs = null) =>
        new() { Rootfs = "/var/lib/images/alpine", Command = ["sh"], Volumes = volumes ?? [], Tmpfs = tmpfs ?? [] };

    private static Dictionary<string, string> EnvMap(Spec s) =>
        s.Process!.Env!.ToDictionary(e => e[..e.IndexOf('=')], e => e[(e.IndexOf('=') + 1)..]);

    [Fact]
    public void Defaults_give_an_unprivileged_docker_like_container()
    {
        var s = Build(Options());
        Assert.Equal("1.2.0", s.OciVersion);
        Assert.Equal("/var/lib/images/alpine", s.Root!.Path);
        Assert.False(s.Root.Readonly);
        Assert.Equal("0123456789ab", s.Hostname);
        var p = s.Process!;
        Assert.Equal(["sh", "-c", "echo hi"], p.Args);
        Assert.Equal("/", p.Cwd);
        Assert.False(p.Terminal);
        Assert.Null(p.ConsoleSize);
        Assert.Equal(0u, p.User.Uid);
        Assert.Equal(0u, p.User.Gid);
        Assert.Null(p.User.AdditionalGids);
        Assert.True(p.NoNewPrivileges);
        Assert.Equal(["pid", "network", "ipc", "uts", "mount", "cgroup"], s.Linux!.Namespaces!.Select(n => n.Type));
        Assert.All(s.Linux.Namespaces!, n => Assert.Null(n.Path));
        Assert.DoesNotContain(s.Linux.Namespaces!, n => n.Type == "user");
        var r = s.Linux.Resources!;
        Assert.Null(r.Memory);
        Assert.Null(r.Cpu);
        Assert.Null(r.Pids);
        Assert.Null(s.Linux.Devices);
        Assert.Null(s.Annotations);
        Assert.Equal(SpecBuilder.MaskedPaths, s.Linux.MaskedPaths);
        Assert.Equal(SpecBuilder.ReadonlyPaths, s.Linux.ReadonlyPaths);
        Assert.Contains("/proc/kcore", s.Linux.MaskedPaths!);
        Assert.Contains("/proc/sys", s.Linux.ReadonlyPaths!);
    }

    [Fact]
    public void Default_capabilities_are_dockers_14_in_bounding_effective_and_permitted()
    {
        var caps = Build(Options()).Process!.Capabilities!;
        Assert.Equal(14, caps.Bounding!.Count);
        Assert.Equal(Capabilities.DockerDefault.Order(), caps.Bounding.Order());
        Assert.Equal(caps.Bounding, caps.Effective);
        Assert.Equal(caps.Bounding, caps.Permitted);
        Assert.Null(caps.Inheritable);
        Assert.Null(caps.Ambient);
        Assert.DoesNotContain("CAP_SYS_ADMIN", caps.Bounding);
        Assert.DoesNotContain("CAP_NET_ADMIN", caps.Bounding);
    }

    [Fact]
    public void Cap_drop_all_and_cap_add()
    {
        var s = Build(new RunOptions { Rootfs = "/r", Command = ["true"], CapDrop = ["ALL"], CapAdd = ["net_bind_service", "CAP_CHOWN"] });
        Assert.Equal(["CAP_NET_BIND_SERVICE", "CAP_CHOWN"], s.Process!.Capabilities!.Bounding);
        Assert.Equal(["CAP_NET_BIND_SERVICE", "CAP_CHOWN"], s.Process.Capabilities.Effective);

        var none = Build(new RunOptions { Rootfs = "/r", Command = ["true"], CapDrop = ["all"] });
        Assert.Empty(none.Process!.Capabilities!.Bounding!);
    }

    [Fact]
    public void Cap_add_and_drop_on_the_default_set()
    {
        var caps = Build(new RunOptions { Rootfs = "/r", Command = ["true"], CapAdd = ["SYS_ADMIN"], CapDrop = ["NET_RAW", "cap_mknod"] })
            .Process!.Capabilities!.Bounding!;
        Assert.Equal(13, caps.Count);
        Assert.Contains("CAP_SYS_ADMIN", caps);
        Assert.DoesNotContain("CAP_NET_RAW", caps);
        Assert.DoesNotContain("CAP_MKNOD", caps);
    }

    [Fact]
    public void Unknown_cap_add_is_a_usage_error() =>
        Assert.Throws<UsageException>(() => Build(new RunOptions { Rootfs = "/r", Command = ["true"], CapAdd = ["CAP_TELEPORT"] }));

    [Fact]
    public void Privileged_gets_every_capability_no_masks_and_writable_sys()
    {
        var s = Build(new RunOptions { Rootfs = "/r", Command = ["true"], Privileged = true, CapDrop = ["ALL"] });
        var caps = s.Process!.Capabilities!;
        Assert.Equal(Capabilities.All, caps.Bounding);
        Assert.Equal(Capabilities.All, caps.Effective);
        Assert.Equal(Capabilities.All, caps.Permitted);
        Assert.Null(s.Linux!.MaskedPaths);
        Assert.Null(s.Linux.ReadonlyPaths);
        Assert.False(s.Process.NoNewPrivileges);
        var sys = s.Mounts!.Single(m => m.Destination == "/sys");
        Assert.DoesNotContain("ro", sys.Options!);
        var cgroup = s.Mounts!.Single(m => m.Destination == "/sys/fs/cgroup");
        Assert.DoesNotContain("ro", cgroup.Options!);
    }

    [Fact]
    public void Unprivileged_sys_and_cgroup_are_read_only()
    {
        var s = Build(Options());
        Assert.Contains("ro", s.Mounts!.Single(m => m.Destination == "/sys").Options!);
        Assert.Contains("ro", s.Mounts!.Single(m => m.Destination == "/sys/fs/cgroup").Options!);
    }

    [Fact]
    public void Default_mounts_are_the_docker_set_in_order()
    {
        var s = Build(Options());
        Assert.Equal(
            [("/proc", "proc"), ("/dev", "tmpfs"), ("/dev/pts", "devpts"), ("/dev/shm", "tmpfs"), ("/dev/mqueue", "mqueue"), ("/sys", "sysfs"), ("/sys/fs/cgroup", "cgroup")],
            s.Mounts!.Select(m => (m.Destination, m.Type!)));
        Assert.Contains("newinstance", s.Mounts![2].Options!);
        Assert.Contains("ptmxmode=0666", s.Mounts![2].Options!);
        Assert.Contains("mode=1777", s.Mounts![3].Options!);
    }

    [Fact]
    public void No_new_privileges_can_be_turned_off()
    {
        Assert.False(Build(new RunOptions { Rootfs = "/r", Command = ["true"], NoNewPrivileges = false }).Process!.NoNewPrivileges);
    }

    [Fact]
    public void Environment_has_path_hostname_and_home_by_default()
    {
        var s = Build(Options());
        Assert.Equal(
            [SpecBuilder.DefaultPath, "HOSTNAME=0123456789ab", "HOME=/root"],
            s.Process!.Env);
    }

    [Fact]
    public void Hostname_flag_sets_hostname_and_its_env()
    {
        var s = Build(new RunOptions { Rootfs = "/r", Command = ["true"], Hostname = "web1" });
        Assert.Equal("web1", s.Hostname);
        Assert.Equal("web1", EnvMap(s)["HOSTNAME"]);
    }

    [Fact]
    public void Tty_adds_term_and_non_root_user_gets_home_slash()
    {
        var s = Build(new RunOptions
        {
            Rootfs = "/r",
            Command = ["true"],
            Tty = true,
            ConsoleSize = (40, 120),
            Uid = 1000,
            Gid = 100,
            AdditionalGids = [10, 20],
        });
        var env = EnvMap(s);
        Assert.Equal("xterm", env["TERM"]);
        Assert.Equal("/", env["HOME"]);
        Assert.True(s.Process!.Terminal);
        Assert.Equal(40u, s.Process.ConsoleSize!.Height);
        Assert.Equal(120u, s.Process.ConsoleSize.Width);
        Assert.Equal(1000u, s.Process.User.Uid);
        Assert.Equal(100u, s.Process.User.Gid);
        Assert.Equal([10u, 20u], s.Process.User.AdditionalGids);
    }

    [Fact]
    public void Env_flags_override_defaults_and_each_other()
    {
        var s = Build(new RunOptions
        {
            Rootfs = "/r",
            Command = ["true"],
            Env = ["PATH=/opt/bin", "FOO=1", "HOSTNAME=custom", "FOO=2", "EMPTY=", "EQ=a=b"],
        });
        var env = s.Process!.Env!;
        Assert.Single(env, e => e.StartsWith("PATH=", StringComparison.Ordinal));
        Assert.Single(env, e => e.StartsWith("FOO=", StringComparison.Ordinal));
        Assert.Single(env, e => e.StartsWith("HOSTNAME=", StringComparison.Ordinal));
        var map = EnvMap(s);
        Assert.Equal("/opt/bin", map["PATH"]);
        Assert.Equal("2", map["FOO"]);
        Assert.Equal("custom", map["HOSTNAME"]);
        Assert.Equal("", map["EMPTY"]);
        Assert.Equal("a=b", map["EQ"]);
        Assert.Equal("/root", map["HOME"]);
        // the hostname itself is not changed by a HOSTNAME variable
        Assert.Equal("0123456789ab", s.Hostname);
    }

    [Fact]
    public void Env_name_without_value_takes_it_from_the_callers_environment()
    {
        // PATH is always set for the test process; a name that is surely unset gives an empty value
        var hostPath = Environment.GetEnvironmentVariable("PATH") ?? "";
        var s = Build(new RunOptions { Rootfs = "/r", Command = ["true"], Env = ["PATH", "CRATERUN_TEST_SURELY_UNSET_7f3a"] });
        var map = EnvMap(s);
        Assert.Equal(hostPath, map["PATH"]);
        Assert.Equal("", map["CRATERUN_TEST_SURELY_UNSET_7f3a"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("=value")]
    public void Env_without_a_key_is_refused(string e) =>
        Assert.Throws<UsageException>(() => Build(new RunOptions { Rootfs = "/r", Command = ["true"], Env = [e] }));

    [Fact]
    public void Workdir_must_be_absolute()
    {
        Assert.Equal("/srv", Build(new RunOptions { Rootfs = "/r", Command = ["true"], Workdir = "/srv" }).Process!.Cwd);
        Assert.Contains("--workdir", Assert.Throws<UsageException>(() =>
            Build(new RunOptions { Rootfs = "/r", Command = ["true"], Workdir = "srv" })).Message);
    }

    [Fact]
    public void Memory_becomes_limit_and_equal_swap()
    {
        var r = Build(new RunOptions { Rootfs = "/r", Command = ["true"], Memory = 64L << 20 }).Linux!.Resources!;
        Assert.Equal(64L << 20, r.Memory!.Limit);
        Assert.Equal(64L << 20, r.Memory.Swap);
        Assert.Null(r.Cpu);
        Assert.Null(r.Pids);
    }

    [Fact]
    public void Cpu_and_pids_become_resources()
    {
        var r = Build(new RunOptions { Rootfs = "/r", Command = ["true"], Cpu = (50000, 100000), Pids = 64 }).Linux!.Resources!;
        Assert.Null(r.Memory);
        Assert.Equal(50000L, r.Cpu!.Quota);
        Assert.Equal(100000UL, r.Cpu.Period);
        Assert.Equal(64, r.Pids!.Limit);
    }

    [Fact]
    public void Device_cgroup_denies_everything_but_device_flags_and_privileged_allows_all()
    {
        var deny = Assert.Single(Build(Options()).Linux!.Resources!.Devices!);
        Assert.False(deny.Allow);
        Assert.Equal("rwm", deny.Access);
        Assert.Null(deny.Type);

        var all = Assert.Single(Build(new RunOptions { Rootfs = "/r", Command = ["true"], Privileged = true }).Linux!.Resources!.Devices!);
        Assert.True(all.Allow);
        Assert.Equal("rwm", all.Access);
        Assert.Null(all.Type);

        var fuse = SpecBuilder.ParseDevice("/dev/fuse:rw", _ => ("c", 10, 229));
        var s = Build(new RunOptions { Rootfs = "/r", Command = ["true"], Devices = [fuse] });
        var rules = s.Linux!.Resources!.Devices!;
        Assert.Equal(2, rules.Count);
        Assert.False(rules[0].Allow);
        Assert.True(rules[1].Allow);
        Assert.Equal(("c", 10L, 229L, "rw"), (rules[1].Type!, rules[1].Major!.Value, rules[1].Minor!.Value, rules[1].Access!));
        var node = Assert.Single(s.Linux.Devices!);
        Assert.Equal(("/dev/fuse", "c", 10L, 229L), (node.Path, node.Type, node.Major, node.Minor));
    }

    [Theory]
    [InlineData("/dev/sda", "/dev/sda", "rwm")]
    [InlineData("/dev/sda:/dev/xvda", "/dev/xvda", "rwm")]
    [InlineData("/dev/sda:r", "/dev/sda", "r")]
    [InlineData("/dev/sda:/dev/xvda:rw", "/dev/xvda", "rw")]
    public void ParseDevice_host_container_and_permissions(string spec, string path, string access)
    {
        var (device, perms) = SpecBuilder.ParseDevice(spec, h => h == "/dev/sda" ? ("b", 8, 0) : null);
        Assert.Equal(path, device.Path);
        Assert.Equal(("b", 8L, 0L), (device.Type, device.Major, device.Minor));
        Assert.Equal(access, perms);
    }

    [Theory]
    [InlineData("", "expected HOSTPATH")]
    [InlineData("/dev/sda:/dev/x:rw:extra", "expected HOSTPATH")]
    [InlineData("/dev/sda:rwx", "permissions")]
    [InlineData("/dev/sda:/mnt/sda", "under /dev")]
    [InlineData("/dev/nothing", "not a device node")]
    public void ParseDevice_rejects_bad_specs(string spec, string message) =>
        Assert.Contains(message, Assert.Throws<UsageException>(() =>
            SpecBuilder.ParseDevice(spec, h => h == "/dev/sda" ? ("b", 8, 0) : null)).Message);

    [Fact]
    public void CgroupsPath_is_relative_by_default_and_below_the_parent_when_given()
    {
        Assert.Equal("craterun-" + Id, Build(Options()).Linux!.CgroupsPath);
        Assert.Equal("/docker/craterun-" + Id,
            Build(new RunOptions { Rootfs = "/r", Command = ["true"], CgroupParent = "/docker" }).Linux!.CgroupsPath);
        Assert.Equal("/docker/craterun-" + Id, SpecBuilder.CgroupsPath(Id, "/docker/"));
        Assert.Equal("batch/craterun-" + Id, SpecBuilder.CgroupsPath(Id, "batch"));
        Assert.Equal("craterun-" + Id, SpecBuilder.CgroupsPath(Id, ""));
    }

    [Theory]
    [InlineData("..")]
    [InlineData("/docker/../..")]
    [InlineData("a/../../b")]
    public void CgroupParent_with_dotdot_is_refused(string parent) =>
        Assert.Contains("'..'", Assert.Throws<UsageException>(() =>
            Build(new RunOptions { Rootfs = "/r", Command = ["true"], CgroupParent = parent })).Message);

    [Fact]
    public void Tmpfs_flags_become_tmpfs_mounts_after_the_defaults()
    {
        var s = Build(new RunOptions { Rootfs = "/r", Command = ["true"], Tmpfs = ["/run", "/tmp:size=64m,mode=1777", "/ro:ro"] });
        var extra = s.Mounts!.Skip(SpecBuilder.DefaultMounts(false).Count).ToList();
        Assert.Equal(3, extra.Count);
        Assert.All(extra, m => { Assert.Equal("tmpfs", m.Type); Assert.Equal("tmpfs", m.Source); });
        Assert.Equal("/run", extra[0].Destination);
        Assert.Equal(["nosuid", "nodev", "noexec"], extra[0].Options);
        Assert.Equal("/tmp", extra[1].Destination);
        Assert.Equal(["nosuid", "nodev", "noexec", "size=64m", "mode=1777"], extra[1].Options);
        Assert.Equal("/ro", extra[2].Destination);
        Assert.Contains("ro", extra[2].Options!);
    }

    [Fact]
    public void Tmpfs_path_must_be_absolute() =>
        Assert.Throws<UsageException>(() => Build(new RunOptions { Rootfs = "/r", Command = ["true"], Tmpfs = ["tmp:size=1m"] }));

    [Fact]
    public void Volumes_become_rbind_mounts_and_ro_is_kept()
    {
        var s = Build(new RunOptions
        {
            Rootfs = "/r",
            Command = ["true"],
            Volumes = [Volume.Parse("/srv/data:/data"), Volume.Parse("/etc/ssl:/etc/ssl:ro")],
            Tmpfs = ["/run"],
        });
        var n = SpecBuilder.DefaultMounts(false).Count;
        Assert.Equal(n + 3, s.Mounts!.Count);
        Assert.Equal("/run", s.Mounts[n].Destination);
        var rw = s.Mounts[n + 1];
        Assert.Equal(("/data", "bind", "/srv/data"), (rw.Destination, rw.Type!, rw.Source!));
        Assert.Equal(["rbind"], rw.Options);
        var ro = s.Mounts[n + 2];
        Assert.Equal(("/etc/ssl", "bind", "/etc/ssl"), (ro.Destination, ro.Type!, ro.Source!));
        Assert.Equal(["rbind", "ro"], ro.Options);
    }

    [Fact]
    public void Read_only_root_and_name_annotation()
    {
        var s = Build(new RunOptions { Rootfs = "/r", Command = ["true"], ReadOnlyRoot = true, Name = "web" });
        Assert.True(s.Root!.Readonly);
        Assert.Equal("web", s.Annotations!["io.craterun.name"]);
    }

    [Fact]
    public void Each_build_returns_fresh_lists()
    {
        var a = Build(Options());
        a.Mounts!.Clear();
        a.Linux!.MaskedPaths!.Clear();
        var b = Build(Options());
        Assert.Equal(7, b.Mounts!.Count);
        Assert.Equal(SpecBuilder.MaskedPaths.Count, b.Linux!.MaskedPaths!.Count);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("//")]
    [InlineData("/.")]
    [InlineData("/tmp/..")]
    public void A_volume_or_tmpfs_over_the_root_is_refused(string destination)
    {
        var v = With(volumes: [new Volume("/srv/x", destination, false)]);
        Assert.Contains("root directory /", Assert.Throws<UsageException>(() => Build(v)).Message);
        var t = With(tmpfs: [destination]);
        Assert.Contains("root directory /", Assert.Throws<UsageException>(() => Build(t)).Message);
    }

    [Theory]
    [InlineData("/proc")]
    [InlineData("/proc/")]
    [InlineData("/proc/sys")]
    [InlineData("/x/../proc")]
    public void A_volume_over_or_inside_proc_is_refused(string destination)
    {
        var v = With(volumes: [new Volume("/srv/x", destination, false)]);
        Assert.Contains("/proc", Assert.Throws<UsageException>(() => Build(v)).Message);
    }

    [Fact]
    public void A_volume_on_dev_replaces_the_default_dev_and_the_mounts_below_it()
    {
        var o = With(volumes: [new Volume("/srv/mydev", "/dev", false)]);
        var dev = Build(o).Mounts!.Where(m => m.Destination.StartsWith("/dev", StringComparison.Ordinal)).ToList();
        var only = Assert.Single(dev);
        Assert.Equal("bind", only.Type);
        Assert.Equal("/srv/mydev", only.Source);
    }

    [Fact]
    public void A_volume_on_sys_replaces_sysfs_and_the_cgroup_mount_below_it()
    {
        var o = With(volumes: [new Volume("/srv/mysys", "/sys/", false)]);
        var sys = Build(o).Mounts!.Where(m => m.Destination.StartsWith("/sys", StringComparison.Ordinal)).ToList();
        Assert.Equal("bind", Assert.Single(sys).Type);
    }

    [Fact]
    public void A_tmpfs_at_a_default_place_replaces_the_default()
    {
        var o = With(tmpfs: ["/dev/shm:size=1m"]);
        var shm = Assert.Single(Build(o).Mounts!, m => m.Destination == "/dev/shm");
        Assert.Contains("size=1m", shm.Options!);
        Assert.Contains(Build(o).Mounts!, m => m.Destination == "/dev" && m.Type == "tmpfs");
    }
}
