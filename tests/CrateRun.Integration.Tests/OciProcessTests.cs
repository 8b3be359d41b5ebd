using System.Text.Json.Nodes;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// config.md, process: the working directory, the terminal, LSM labels. Bundles from
/// `runc spec` (its default capabilities), looked at from inside the container.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class OciProcessTests(CrateRunFixture f)
{
    private static JsonObject User(int uid, int gid) => new() { ["uid"] = uid, ["gid"] = gid };

    [RootFact]
    public async Task A_cwd_only_root_may_enter_works_for_a_non_root_user()
    {
        var oci = new OciBundles(f);
        var name = "root-only-" + Guid.NewGuid().ToString("N")[..8];
        var dir = Path.Combine(f.Rootfs, name);
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); // 0700, root's
        try
        {
            var config = await oci.RuncSpec("/bin/sh", "-c", "pwd; id -u");
            config["process"]!["cwd"] = "/" + name;
            config["process"]!["user"] = User(1000, 1000);
            var r = await oci.RunBundle(config, OciBundles.NewId("cwd700"));
            // entered while still root, as runc does; the process then runs as 1000 there
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal(["/" + name, "1000"], r.OutLines);
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    [RootFact]
    public async Task A_missing_cwd_is_created_inside_the_root()
    {
        var oci = new OciBundles(f);
        var name = "made-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            var config = await oci.RuncSpec("/bin/sh", "-c", "pwd; stat -c '%u %a' .");
            config["process"]!["cwd"] = $"/{name}/sub";
            var r = await oci.RunBundle(config, OciBundles.NewId("cwdmake"));
            // runc makes it too (root's, 0755)
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal([$"/{name}/sub", "0 755"], r.OutLines);
            Assert.True(Directory.Exists(Path.Combine(f.Rootfs, name, "sub")));
        }
        finally
        {
            if (Directory.Exists(Path.Combine(f.Rootfs, name))) Directory.Delete(Path.Combine(f.Rootfs, name), recursive: true);
        }
    }

    [RootFact]
    public async Task The_terminal_belongs_to_the_processs_user()
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/sh", "-c", "stat -c %u:%g $(tty); id -u");
        config["process"]!["terminal"] = true;
        config["process"]!["user"] = User(1000, 1000);
        var id = OciBundles.NewId("ptyown");
        CrateRunFixture.Track(id);
        var bundle = oci.Write(config);
        using var console = new ConsoleSocket(oci.Dir);
        var master = console.ReceiveMaster(TimeSpan.FromSeconds(20));
        var create = await oci.Run("create", "--bundle", bundle, "--console-socket", console.Path, id);
        Assert.True(create.ExitCode == 0, create.ToString());
        try
        {
            await using var pty = await master;
            var start = await oci.Run("start", id);
            Assert.True(start.ExitCode == 0, start.ToString());
            var lines = (await ConsoleSocket.ReadAll(pty, TimeSpan.FromSeconds(20))).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            // the user's, as with runc; the group stays devpts' gid=5 (tty) from runc spec's mount
            Assert.Equal(["1000:5", "1000"], lines);
        }
        finally
        {
            await oci.Run("delete", "--force", id);
        }
        Assert.False(oci.StateLeft(id));
    }

    public static TheoryData<string, string> Labels => new()
    {
        { "process.apparmorProfile", "AppArmor" },
        { "process.selinuxLabel", "SELinux" },
        { "linux.mountLabel", "SELinux" },
    };

    [RootTheory]
    [MemberData(nameof(Labels))]
    public async Task An_LSM_label_is_applied_or_refused_with_one_line(string field, string lsm)
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/cat", "/proc/self/attr/current");
        var enabled = lsm == "AppArmor"
            ? File.Exists("/sys/module/apparmor/parameters/enabled") && File.ReadAllText("/sys/module/apparmor/parameters/enabled").Trim() == "Y"
            : File.Exists("/sys/fs/selinux/enforce");
        // where the LSM is enabled: a label the host surely knows (AppArmor's "unconfined", SELinux: our own)
        var label = lsm == "AppArmor" ? "unconfined" : enabled ? File.ReadAllText("/proc/self/attr/current").TrimEnd('\0', '\n') : "system_u:system_r:container_t:s0";
        var (parent, key) = field.Split('.') is [var p, var k] ? (p, k) : throw new ArgumentException(field);
        config[parent]![key] = label;
        var id = OciBundles.NewId("lsm");
        var before = Snapshot.Take(f);
        var r = await oci.RunBundle(config, id);
        if (enabled)
        {
            Assert.True(r.ExitCode == 0, r.ToString());
            if (field != "linux.mountLabel") Assert.StartsWith(label, r.Stdout.Trim());
            return;
        }
        Assert.True(r.ExitCode == 1, r.ToString());
        var line = Assert.Single(r.ErrLines);
        Assert.Contains(field, line);
        Assert.Contains($"{lsm} is not enabled", line);
        before.AssertNothingLeft(f, r);
    }

    [RootFact]
    public async Task Features_say_that_AppArmor_and_SELinux_labels_are_supported()
    {
        var oci = new OciBundles(f);
        var r = await oci.Run("features");
        Assert.True(r.ExitCode == 0, r.ToString());
        var linux = JsonNode.Parse(r.Stdout)!["linux"]!;
        // features.md: whether support is built in, whatever this host has enabled
        Assert.True((bool)linux["apparmor"]!["enabled"]!);
        Assert.True((bool)linux["selinux"]!["enabled"]!);
    }
}
