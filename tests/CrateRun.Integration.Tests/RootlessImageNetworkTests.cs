using System.Formats.Tar;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// Rootless images and networking, by a brand-new unprivileged user: it loads an image
/// (layers with files of other owners, a 0555 directory, a device node, setuid, whiteouts and
/// an opaque directory) and runs it (an overlay its container mounts in its own user
/// namespace); and, inside a network namespace made here, it publishes a busybox httpd with
/// slirp4netns, whose process goes with the container on every way out.
/// </summary>
public sealed partial class RootlessTests
{
    /// <summary>A container's state directory under the state root: its 16-hex-digit id.</summary>
    [GeneratedRegex("^[0-9a-f]{16}$")]
    private static partial Regex ContainerDirName();

    /// <summary>
    /// A new user (useradd -m), a copy of the binary it can run; removed with everything it left.
    /// With <paramref name="subordinateIds"/> it has a range in /etc/subuid and /etc/subgid (useradd's own when
    /// it made one, else one added here), without it none (what useradd gave is taken back).
    /// </summary>
    private async Task WithNewUser(Func<string, int, string, string, Task> body, bool subordinateIds = false)
    {
        var user = "crt" + Guid.NewGuid().ToString("N")[..12];
        var add = await Proc.Run("useradd", ["-m", "-s", "/bin/sh", user]);
        Assert.True(add.ExitCode == 0, add.ToString());
        var uid = -1;
        string bin = "", home = "";
        try
        {
            await SetSubordinateIds(user, subordinateIds);
            uid = int.Parse((await Proc.Run("id", ["-u", user])).Stdout.Trim());
            home = (await Proc.Run("getent", ["passwd", user])).Stdout.Trim().Split(':')[5];
            bin = s.CopyBinary();
            await body(user, uid, home, bin);
        }
        finally
        {
            await RemoveUserAndWhatItLeft(user, uid, home, bin);
            // userdel takes the user's ranges with it
            Assert.Null(SubordinateRange("/etc/subuid", user));
            Assert.Null(SubordinateRange("/etc/subgid", user));
        }
    }

    private static PaxTarEntry Entry(TarEntryType type, string name, int mode, int uid = 0, int gid = 0, string? content = null)
    {
        var e = new PaxTarEntry(type, name) { Mode = (UnixFileMode)mode, Uid = uid, Gid = gid, ModificationTime = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero) };
        if (content is not null) e.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content));
        return e;
    }

    private static string Layer(string path, params PaxTarEntry[] entries)
    {
        using (var file = File.Create(path))
        using (var w = new TarWriter(file, TarEntryFormat.Pax))
            foreach (var e in entries) w.WriteEntry(e);
        return path;
    }

    /// <summary>The fixture's busybox rootfs as one layer (GNU tar, root's files).</summary>
    private async Task<string> RootfsLayer(string dir)
    {
        var rootfs = Path.Combine(dir, "rootfs.tar");
        var tar = await Proc.Run("tar", ["--numeric-owner", "-C", f.Rootfs, "-cf", rootfs, "."]);
        Assert.True(tar.ExitCode == 0, tar.ToString());
        return rootfs;
    }

    /// <summary>busybox rootfs (GNU tar, root's files) + a layer of other owners and kinds + a layer of whiteouts, as a docker-archive.</summary>
    private async Task<string> RootlessTestImage(string dir)
    {
        var rootfs = await RootfsLayer(dir);
        var device = Entry(TarEntryType.CharacterDevice, "devices/null", 0x1B6 /* 0666 */);
        device.DeviceMajor = 1;
        device.DeviceMinor = 3;
        var owners = Layer(Path.Combine(dir, "owners.tar"),
            Entry(TarEntryType.Directory, "home/", 0x1ED),
            Entry(TarEntryType.Directory, "home/app/", 0x1E8 /* 0750 */, 1000, 1000),
            Entry(TarEntryType.RegularFile, "home/app/owned", 0x1A0 /* 0640 */, 1000, 1000, "mine\n"),
            Entry(TarEntryType.Directory, "ro/", 0x16D /* 0555 */),
            Entry(TarEntryType.RegularFile, "ro/inside", 0x1A4, content: "in\n"),
            device,
            Entry(TarEntryType.RegularFile, "bin/suid", 0x9ED /* 04755 */, content: "#!/bin/sh\n"),
            Entry(TarEntryType.RegularFile, "old/a", 0x1A4, content: "a\n"),
            Entry(TarEntryType.RegularFile, "old/b", 0x1A4, content: "b\n"),
            Entry(TarEntryType.RegularFile, "gone/x", 0x1A4, content: "x\n"));
        var whiteouts = Layer(Path.Combine(dir, "whiteouts.tar"),
            Entry(TarEntryType.RegularFile, "old/.wh.a", 0x1A4, content: ""),
            Entry(TarEntryType.RegularFile, "gone/.wh..wh..opq", 0x1A4, content: ""),
            Entry(TarEntryType.RegularFile, "gone/new", 0x1A4, content: "new\n"));
        var archive = await ImageTests.DockerArchive(dir, "rootless/test:1", [rootfs, owners, whiteouts],
            new JsonObject { ["Cmd"] = new JsonArray("/bin/sh") });
        File.SetUnixFileMode(archive, (UnixFileMode)0x1A4);
        return archive;
    }

    [RootFact]
    public async Task Rootless_image_of_more_than_a_hundred_layers_mounts_in_its_namespace()
    {
        // the overlay of a rootless container is mounted by the C stage with one fsconfig per option:
        // 121 lowerdir+ options (about 10 KB of them here) are past the page that a single option string would fit in
        var dir = s.NewDir("rootless-many");
        var rootfs = await RootfsLayer(dir);
        var layers = new List<string> { rootfs };
        for (var i = 0; i < 120; i++)
            layers.Add(Layer(Path.Combine(dir, $"l{i}.tar"), Entry(TarEntryType.Directory, "l/", 0x1ED), Entry(TarEntryType.RegularFile, $"l/{i}", 0x1A4, content: $"{i}")));
        var archive = await ImageTests.DockerArchive(dir, "rootless/many:1", layers, new JsonObject { ["Cmd"] = new JsonArray("/bin/sh") });
        File.SetUnixFileMode(archive, (UnixFileMode)0x1A4);
        await WithNewUser(async (user, uid, home, bin) =>
        {
            var load = await AsUser(user, home, bin, "load", "-i", archive);
            Assert.True(load.ExitCode == 0, load.ToString());
            var run = await AsUser(user, home, bin, "run", "--rm", "rootless/many:1", "sh", "-c", "ls /l | wc -l; cat /l/0 /l/119");
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal("120\n0119", run.Stdout.Trim());
            Assert.DoesNotContain(HostState.MountInfo(), l => l.Contains(home, StringComparison.Ordinal));
        });
    }

    [RootFact]
    public async Task Rootless_image_loads_and_runs_owners_through_the_mapping_overlay_in_its_namespace_layers_unchanged()
    {
        var dir = s.NewDir("rootless-image");
        var archive = await RootlessTestImage(dir);
        await WithNewUser(async (user, uid, home, bin) =>
        {
            var load = await AsUser(user, home, bin, "load", "-i", archive);
            Assert.True(load.ExitCode == 0, load.ToString());
            var images = await AsUser(user, home, bin, "images");
            Assert.Contains("rootless/test", images.Stdout);

            const string script = "echo ids=$(id -u):$(id -g); " +
                "stat -c 'st %u:%g %a %F %n' /bin/busybox /home/app /home/app/owned /ro /ro/inside /devices/null /bin/suid; " +
                "echo old=$(ls /old) gone=$(ls /gone); cat /home/app/owned; " +
                "echo changed > /home/app/owned && touch /made-here && rm /old/b && mkdir /ro/more && echo WROTE";
            var run = await AsUser(user, home, bin, "run", "--rm", "rootless/test:1", "sh", "-c", script);
            Assert.True(run.ExitCode == 0, run.ToString());
            var o = run.Stdout;
            Assert.Contains("ids=0:0", o);
            // root's files are root's inside (the user's uid is 0 there)
            Assert.Contains("st 0:0 755 regular file /bin/busybox", o);
            // one uid is mapped (the user's): the image's uid 1000 cannot be shown; its files are root's inside
            Assert.Contains("st 0:0 750 directory /home/app", o);
            Assert.Contains("st 0:0 640 regular file /home/app/owned", o);
            Assert.Contains("st 0:0 555 directory /ro", o);
            Assert.Contains("st 0:0 644 regular file /ro/inside", o);
            // mknod of a device is denied to the user: an empty file stands in for it
            Assert.Contains("st 0:0 0 regular empty file /devices/null", o);
            Assert.Contains("st 0:0 4755 regular file /bin/suid", o);
            // whiteout and opaque directory of the top layer, read by the overlay (userxattr)
            Assert.Contains("old=b gone=new", o);
            Assert.Contains("mine", o);
            Assert.Contains("WROTE", o);

            // host side: the layers are the user's files, and what could not be applied is kept beside them
            var snapshots = Path.Combine(home, ".craterun", "images", "snapshots");
            string Find(string rel) => Directory.EnumerateDirectories(snapshots).Select(d => Path.Combine(d, rel))
                .Single(p => File.Exists(p) || Directory.Exists(p) || new FileInfo(p).LinkTarget is not null);
            var owned = Find("home/app/owned");
            Assert.Equal(uid.ToString(), (await Proc.Run("stat", ["-c", "%u", owned])).Stdout.Trim());
            Assert.Equal("1000:1000", Xattr(owned, "user.craterun.owner"));
            Assert.Equal("c 1:3 666", Xattr(Find("devices/null"), "user.craterun.device"));
            Assert.Equal("y", Xattr(Path.GetDirectoryName(Find("gone/new"))!, "user.overlay.opaque"));
            // the container's writes went to its own upper dir: every layer is as it was
            Assert.Equal("mine\n", File.ReadAllText(owned));
            Assert.Equal("b\n", File.ReadAllText(Find("old/b")));
            Assert.DoesNotContain(Directory.EnumerateDirectories(snapshots), d => File.Exists(Path.Combine(d, "made-here")) || Directory.Exists(Path.Combine(d, "ro", "more")));
            // the overlay lived in the container's mount namespace: nothing of it on the host, and --rm removed its state
            Assert.DoesNotContain(HostState.MountInfo(), l => l.Contains(home, StringComparison.Ordinal));
            Assert.Empty((await AsUser(user, home, bin, "ps", "-aq")).OutLines);
            // and nothing of it under the state root either: its overlay's upper dir holds /ro copied up (0555) with a
            // directory made inside, which the user may remove only once /ro is writable again
            Assert.DoesNotContain(Directory.EnumerateDirectories(Path.Combine(home, ".craterun")), d => ContainerDirName().IsMatch(Path.GetFileName(d)));
            Assert.DoesNotContain("cannot record the exit", run.Stderr);

            // a detached one, removed with rm -f, then rmi: the 0555 directories of the layers go too
            var d = await AsUser(user, home, bin, "run", "-d", "rootless/test:1", "sleep", "60");
            Assert.True(d.ExitCode == 0, d.ToString());
            var rm = await AsUser(user, home, bin, "rm", "-f", d.Stdout.Trim());
            Assert.True(rm.ExitCode == 0, rm.ToString());
            Assert.False(Directory.Exists(Path.Combine(home, ".craterun", d.Stdout.Trim())));
            var rmi = await AsUser(user, home, bin, "rmi", "rootless/test:1");
            Assert.True(rmi.ExitCode == 0, rmi.ToString());
            Assert.Empty(Directory.EnumerateDirectories(snapshots));
        });
    }

    [RootFact]
    public async Task Rootless_run_publishes_a_port_with_slirp4netns_which_goes_with_the_container()
    {
        var dir = s.NewDir("rootless-net");
        var rootfsLayer = await RootfsLayer(dir);
        var archive = await ImageTests.DockerArchive(dir, "rootless/httpd:1", [rootfsLayer], new JsonObject { ["Cmd"] = new JsonArray("/bin/sh") });
        File.SetUnixFileMode(archive, (UnixFileMode)0x1A4);
        await using var sandbox = await NetSandbox.Create(f);
        await WithNewUser(async (user, uid, home, bin) =>
        {
            Assert.True((await AsUser(user, home, bin, "load", "-i", archive)).ExitCode == 0);
            // every craterun of the user runs inside the sandbox, with the product's default network
            Task<ProcResult> InSandbox(params string[] args) =>
                Proc.Run(NetSandbox.InNetns, [sandbox.Name, "setpriv", .. AsUserArgs(user, home, "", bin, args)], timeout: TimeSpan.FromSeconds(60));
            var port = Random.Shared.Next(20000, 40000);
            var run = await InSandbox("run", "-d", "-p", $"127.0.0.1:{port}:80", "rootless/httpd:1", "sh", "-c",
                "mkdir -p /www && echo hello-from-rootless > /www/index.html && exec httpd -f -p 80 -h /www");
            Assert.True(run.ExitCode == 0, run.ToString());
            var id = run.OutLines.Last();
            var stateDir = Path.Combine(home, ".craterun", id);

            // its slirp4netns runs in the sandbox's namespace, as the user
            var slirp = SlirpOf(stateDir);
            Assert.Equal("slirp4netns", File.ReadAllText($"/proc/{slirp}/comm").Trim());
            Assert.Equal(uid.ToString(), StatusLine(File.ReadAllText($"/proc/{slirp}/status"), "Uid").Split('\t')[0]);
            Assert.Equal(Inode($"/run/netns/{sandbox.Name}"), Inode($"/proc/{slirp}/ns/net"));

            // from inside: tap0 with slirp4netns's address, and a resolv.conf naming its DNS
            var ip = await AsUser(user, home, bin, "exec", id, "sh", "-c", "ip -4 addr show tap0; cat /etc/resolv.conf");
            Assert.True(ip.ExitCode == 0, ip.ToString());
            Assert.Contains("inet 10.0.2.100/24", ip.Stdout);
            Assert.Contains("nameserver 10.0.2.3", ip.Stdout);

            // the published port, from the sandbox's own 127.0.0.1
            ProcResult get = null!;
            for (var i = 0; i < 50; i++)
            {
                get = await sandbox.HttpGet("127.0.0.1", port);
                if (get.Stdout.Contains("hello-from-rootless")) break;
                await Task.Delay(100);
            }
            Assert.Contains("hello-from-rootless", get.Stdout);
            var inspect = await AsUser(user, home, bin, "inspect", id);
            Assert.Contains("slirp4netns=10.0.2.100/24", inspect.Stdout);

            // rm -f: its slirp4netns is gone (by pid), and the port with it
            var rm = await InSandbox("rm", "-f", id);
            Assert.True(rm.ExitCode == 0, rm.ToString());
            Assert.False(Alive(slirp), $"slirp4netns {slirp} outlived rm -f");
            Assert.DoesNotContain("hello-from-rootless", (await sandbox.HttpGet("127.0.0.1", port)).Stdout);

            // normal exit: the monitor stops it
            var brief = await InSandbox("run", "-d", "rootless/httpd:1", "sleep", "1");
            Assert.True(brief.ExitCode == 0, brief.ToString());
            var briefSlirp = SlirpOf(Path.Combine(home, ".craterun", brief.OutLines.Last()));
            Assert.True(await Eventually(() => !Alive(briefSlirp)), $"slirp4netns {briefSlirp} outlived its container's exit");

            // a monitor killed with SIGKILL: the next command after the container ended stops it
            var orphan = await InSandbox("run", "-d", "rootless/httpd:1", "sleep", "2");
            Assert.True(orphan.ExitCode == 0, orphan.ToString());
            var orphanId = orphan.OutLines.Last();
            var orphanSlirp = SlirpOf(Path.Combine(home, ".craterun", orphanId));
            var record = JsonDocument.Parse((await AsUser(user, home, bin, "inspect", orphanId)).Stdout).RootElement[0];
            var monitor = record.GetProperty("monitorPid").GetInt32();
            var pid = record.GetProperty("pid").GetInt32();
            Native.kill(monitor, Native.SIGKILL);
            Assert.True(await Eventually(() => !Alive(pid)), "the container did not end");
            await AsUser(user, home, bin, "ps", "-a");
            Assert.False(Alive(orphanSlirp), $"slirp4netns {orphanSlirp} outlived a killed monitor and its container");

            // bad input: a bridge network stays root's, one line, nothing left
            var before = (await AsUser(user, home, bin, "ps", "-aq")).Stdout;
            var bridge = await InSandbox("run", "--rm", "--network", "bridge", "rootless/httpd:1", "true");
            Assert.Equal(125, bridge.ExitCode);
            Assert.Contains("bridge networks need root", bridge.ErrLines[0]);
            Assert.Equal(before, (await AsUser(user, home, bin, "ps", "-aq")).Stdout);
        });
    }

    private static int SlirpOf(string stateDir)
    {
        var text = File.ReadAllText(Path.Combine(stateDir, "slirp4netns.pid")).Split(' ');
        return int.Parse(text[0]);
    }

    /// <summary>Alive and not a zombie.</summary>
    private static bool Alive(int pid)
    {
        try { return !File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].StartsWith('Z'); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    private static async Task<bool> Eventually(Func<bool> condition)
    {
        for (var i = 0; i < 100; i++)
        {
            if (condition()) return true;
            await Task.Delay(100);
        }
        return condition();
    }

    private static string Inode(string path) => Proc.Run("stat", ["-L", "-c", "%d:%i", path]).GetAwaiter().GetResult().Stdout.Trim();

    private static string? Xattr(string path, string name)
    {
        var buf = new byte[256];
        var n = NativeXattr.lgetxattr(path, name, buf, (nuint)buf.Length);
        return n < 0 ? null : Encoding.UTF8.GetString(buf, 0, (int)n);
    }
}

internal static partial class NativeXattr
{
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint lgetxattr(string path, string name, [Out] byte[] value, nuint size);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int lsetxattr(string path, string name, byte[] value, nuint size, int flags);
}
