using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// Images: archives built here offline (a docker-archive as `docker save` writes it, an OCI
/// layout written by skopeo) → load → images → run IMAGE, with the config's Entrypoint, Cmd,
/// Env and WorkingDir; the container's writes land in its own upper dir; layers stack with
/// whiteouts; an escaping layer is refused; rm unmounts and removes everything.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class ImageTests(CrateRunFixture f)
{
    private string Work(string name) => Directory.CreateDirectory(Path.Combine(f.TempBase, "images-" + name + "-" + Guid.NewGuid().ToString("N")[..6])).FullName;
    private string ImagesDir => Path.Combine(f.StateRoot, "images");

    /// <summary>The fixture's busybox rootfs as one layer tar, made by GNU tar (not by our code).</summary>
    private async Task<string> RootfsLayer(string dir)
    {
        var layer = Path.Combine(dir, "rootfs.tar");
        if (!File.Exists(layer))
        {
            var r = await Proc.Run("tar", ["--numeric-owner", "-C", f.Rootfs, "-cf", layer, "."]);
            Assert.True(r.ExitCode == 0, r.ToString());
        }
        return layer;
    }

    private static string Sha256Of(string file)
    {
        using var s = File.OpenRead(file);
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(s));
    }

    /// <summary>Writes a docker-archive (manifest.json, config, layer tars; as `docker save` lays them out) and tars it.</summary>
    internal static async Task<string> DockerArchive(string dir, string repoTag, IReadOnlyList<string> layers, JsonObject? config = null)
    {
        var archive = Path.Combine(dir, "archive");
        Directory.CreateDirectory(archive);
        var layerNames = new List<string>();
        var diffIds = new JsonArray();
        foreach (var layer in layers)
        {
            var digest = Sha256Of(layer);
            var name = $"{digest[7..]}/layer.tar";
            Directory.CreateDirectory(Path.Combine(archive, digest[7..]));
            File.Copy(layer, Path.Combine(archive, name), overwrite: true);
            layerNames.Add(name);
            diffIds.Add((JsonNode?)digest);
        }
        var configJson = new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["created"] = "2024-01-02T03:04:05Z",
            ["config"] = config ?? new JsonObject { ["Cmd"] = new JsonArray("/bin/sh") },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = diffIds },
        }.ToJsonString();
        var configName = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(configJson))) + ".json";
        File.WriteAllText(Path.Combine(archive, configName), configJson);
        var manifest = new JsonArray(new JsonObject
        {
            ["Config"] = configName,
            ["RepoTags"] = new JsonArray(repoTag),
            ["Layers"] = new JsonArray([.. layerNames.Select(n => (JsonNode)n!)]),
        });
        File.WriteAllText(Path.Combine(archive, "manifest.json"), manifest.ToJsonString());
        var tar = Path.Combine(dir, "image.tar");
        var r = await Proc.Run("tar", ["-C", archive, "-cf", tar, "."]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return tar;
    }

    /// <summary>A layer tar written entry by entry (for whiteouts and crafted names GNU tar will not write).</summary>
    private static string CraftedLayer(string path, params (TarEntryType Type, string Name, string? Content)[] entries)
    {
        using (var file = File.Create(path))
        using (var w = new TarWriter(file, TarEntryFormat.Pax))
        {
            foreach (var (type, name, content) in entries)
            {
                var e = new PaxTarEntry(type, name) { Mode = type == TarEntryType.Directory ? (UnixFileMode)0x1ED : (UnixFileMode)0x1A4 };
                if (content is not null) e.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content));
                w.WriteEntry(e);
            }
        }
        return path;
    }

    private async Task Load(string archive, string expected)
    {
        var r = await f.Cr("load", "-i", archive);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains(expected, r.Stdout);
    }

    private static bool Mounted(string path) => HostState.MountInfo().Any(l => l.Split(' ')[4] == path);

    [RootFact]
    public async Task Load_lists_and_runs_with_the_image_config()
    {
        var dir = Work("config");
        var config = new JsonObject
        {
            ["Entrypoint"] = new JsonArray("/bin/sh", "-c"),
            ["Cmd"] = new JsonArray("echo \"cmd=$0 foo=$FOO pwd=$(pwd) path=$PATH\""),
            ["Env"] = new JsonArray("PATH=/bin:/custom", "FOO=from-image"),
            ["WorkingDir"] = "/data",
            ["Labels"] = new JsonObject { ["org.example.l"] = "v" },
        };
        await Load(await DockerArchive(dir, "test/cfg:1", [await RootfsLayer(dir)], config), "Loaded image: test/cfg:1");

        var images = await f.Cr("images");
        var line = images.Stdout.Split('\n').Single(l => l.StartsWith("test/cfg ", StringComparison.Ordinal));
        Assert.Matches(@"^test/cfg\s+1\s+[0-9a-f]{12}\s+\S.* ago\s+[0-9.]+[kM]B$", line);
        var q = await f.Cr("images", "-q");
        Assert.Contains(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2], q.Stdout);

        var run = await f.Run("--rm", "test/cfg:1");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("cmd=/bin/sh foo=from-image pwd=/data path=/bin:/custom", run.Stdout.Trim());

        // a command replaces Cmd, not Entrypoint; -e and -w override the image's
        var over = await f.Run("--rm", "-e", "FOO=flag", "-w", "/tmp", "test/cfg:1", "echo foo=$FOO pwd=$(pwd)");
        Assert.True(over.ExitCode == 0, over.ToString());
        Assert.Equal("foo=flag pwd=/tmp", over.Stdout.Trim());

        // --entrypoint replaces it and drops the image's Cmd
        var ep = await f.Run("--rm", "--entrypoint", "/bin/echo", "test/cfg:1", "via", "entrypoint");
        Assert.Equal("via entrypoint", ep.Stdout.Trim());

        var inspect = JsonNode.Parse((await f.Cr("image", "inspect", "test/cfg:1")).Stdout)!.AsArray();
        Assert.Equal("/data", (string?)inspect[0]!["Config"]!["WorkingDir"]);
        Assert.Equal("test/cfg:1", (string?)inspect[0]!["RepoTags"]![0]);
    }

    [RootFact]
    public async Task Writes_land_in_the_container_upper_dir_and_rm_unmounts()
    {
        var dir = Work("upper");
        await Load(await DockerArchive(dir, "test/upper:1", [await RootfsLayer(dir)]), "test/upper:1");
        var r = await f.Run("test/upper:1", "/bin/sh", "-c", "echo w > /newfile && rm /data/hello.txt && ls /data | wc -l");
        Assert.True(r.ExitCode == 0, r.ToString());
        var id = r.Id!;
        var stateDir = f.StateDir(id);
        Assert.Equal("w\n", File.ReadAllText(Path.Combine(stateDir, "upper", "newfile")));
        var whiteout = await Proc.Run("stat", ["-c", "%F %t:%T", Path.Combine(stateDir, "upper", "data", "hello.txt")]);
        Assert.Equal("character special file 0:0", whiteout.Stdout.Trim()); // overlayfs's whiteout of the deleted file
        var snapshots = Directory.GetDirectories(Path.Combine(ImagesDir, "snapshots"));
        Assert.Contains(snapshots, s => File.Exists(Path.Combine(s, "data", "hello.txt")));
        Assert.DoesNotContain(snapshots, s => File.Exists(Path.Combine(s, "newfile")));
        Assert.False(Mounted(Path.Combine(stateDir, "rootfs")), "the overlay is unmounted once the container exited");

        var rm = await f.Cr("rm", id);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        Assert.False(Directory.Exists(stateDir));
    }

    [RootFact]
    public async Task Run_rm_mounts_the_overlay_volatile_and_a_kept_container_does_not()
    {
        var dir = Work("volatile");
        await Load(await DockerArchive(dir, "test/volatile:1", [await RootfsLayer(dir)]), "test/volatile:1");
        // the root's line of mountinfo, from inside: its super options say whether overlayfs syncs the upper dir
        var removed = await f.Run("--rm", "test/volatile:1", "/bin/sh", "-c", "grep ' / / ' /proc/self/mountinfo");
        Assert.True(removed.ExitCode == 0, removed.ToString());
        Assert.Contains(" - overlay ", removed.Stdout);
        Assert.Contains("volatile", removed.Stdout);
        var kept = await f.Run("test/volatile:1", "/bin/sh", "-c", "grep ' / / ' /proc/self/mountinfo");
        Assert.True(kept.ExitCode == 0, kept.ToString());
        Assert.Contains(" - overlay ", kept.Stdout);
        Assert.DoesNotContain("volatile", kept.Stdout);
    }

    [RootFact]
    public async Task Rm_force_of_a_running_container_unmounts_its_root()
    {
        var dir = Work("rmf");
        await Load(await DockerArchive(dir, "test/rmf:1", [await RootfsLayer(dir)]), "test/rmf:1");
        var r = await f.Run("-d", "test/rmf:1", "sleep", "100");
        Assert.True(r.ExitCode == 0, r.ToString());
        var id = r.Stdout.Trim();
        var rootfs = Path.Combine(f.StateDir(id), "rootfs");
        Assert.True(Mounted(rootfs), "a running container's root is mounted");
        var rm = await f.Cr("rm", "-f", id);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        Assert.False(Mounted(rootfs));
        Assert.False(Directory.Exists(f.StateDir(id)));
    }

    [RootFact]
    public async Task A_failed_create_leaves_no_mount_and_no_state()
    {
        var dir = Work("fail");
        await Load(await DockerArchive(dir, "test/fail:1", [await RootfsLayer(dir)]), "test/fail:1");
        var before = f.StateEntries();
        var r = await f.Run("--rm", "test/fail:1", "/no/such/command");
        Assert.Equal(127, r.ExitCode);
        Assert.Equal(before.Where(e => e != "images"), f.StateEntries().Where(e => e != "images"));
        Assert.DoesNotContain(HostState.MountInfo(), l => l.Contains(f.StateRoot + "/", StringComparison.Ordinal) && l.Contains("/rootfs ", StringComparison.Ordinal));
    }

    [RootFact]
    public async Task Whiteouts_and_opaque_dirs_across_two_layers()
    {
        var dir = Work("wh");
        var base_ = await RootfsLayer(dir);
        var l1 = CraftedLayer(Path.Combine(dir, "l1.tar"),
            (TarEntryType.Directory, "data/", null), (TarEntryType.RegularFile, "data/a", "a"), (TarEntryType.RegularFile, "data/b", "b"),
            (TarEntryType.Directory, "opq/", null), (TarEntryType.RegularFile, "opq/old", "old"));
        var l2 = CraftedLayer(Path.Combine(dir, "l2.tar"),
            (TarEntryType.RegularFile, "data/.wh.a", ""),
            (TarEntryType.Directory, "opq/", null), (TarEntryType.RegularFile, "opq/.wh..wh..opq", ""), (TarEntryType.RegularFile, "opq/new", "new"));
        await Load(await DockerArchive(dir, "test/wh:1", [base_, l1, l2]), "test/wh:1");
        var r = await f.Run("--rm", "test/wh:1", "/bin/sh", "-c", "ls /data | tr '\\n' ' '; echo; ls -a /opq | tr '\\n' ' '");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n');
        Assert.Equal("b hello.txt ", lines[0]);
        Assert.Equal(". .. new ", lines[1]);
    }

    /// <summary>
    /// Every container binds /etc/hosts, /etc/resolv.conf and /etc/hostname; an image that lacks them
    /// gets them, empty, in an init layer above its own (as Docker's), made once and shared by its
    /// containers: a container does not copy /etc up to make them (nor remove it at rm). The image's
    /// /etc keeps its mode and owner; rmi takes the init layer with the image's snapshot.
    /// </summary>
    [RootFact]
    public async Task The_files_containers_bind_over_come_from_a_shared_init_layer_not_each_upper_dir()
    {
        var dir = Work("init");
        var etc = Path.Combine(dir, "etc.tar");
        using (var file = File.Create(etc))
        using (var w = new TarWriter(file, TarEntryFormat.Pax))
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "etc/") { Mode = (UnixFileMode)0b111_101_001, Uid = 12, Gid = 34 });
            foreach (var name in new[] { "hosts", "resolv.conf", "hostname" }) // whatever the base layer has, this image lacks them
                w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "etc/.wh." + name) { Mode = (UnixFileMode)0x1A4 });
        }
        await Load(await DockerArchive(dir, "test/init:1", [await RootfsLayer(dir), etc]), "test/init:1");
        var r = await f.Run("--hostname", "box", "test/init:1", "/bin/sh", "-c", "stat -c '%a %u %g' /etc; cat /etc/hostname; grep -c localhost /etc/hosts");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("751 12 34\nbox\n2", r.Stdout.Trim()); // the container's own files are bound over them
        Assert.False(Directory.Exists(Path.Combine(f.StateDir(r.Id!), "upper", "etc")), "the container made /etc in its upper dir");
        var second = await f.Run("--rm", "test/init:1", "/bin/sh", "-c", "stat -c '%a %u %g' /etc");
        Assert.Equal("751 12 34", second.Stdout.Trim());

        var snapshots = JsonNode.Parse((await f.Cr("image", "inspect", "test/init:1")).Stdout)![0]!["Snapshots"]!.AsArray();
        var init = Path.Combine(ImagesDir, "snapshots", ((string)snapshots[^1]!)[7..] + ".init"); // beside the image's top snapshot
        Assert.Equal(["hostname", "hosts", "resolv.conf"], Directory.GetFiles(Path.Combine(init, "etc")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.All(Directory.GetFiles(Path.Combine(init, "etc")), p => Assert.Equal(0, new FileInfo(p).Length));

        Assert.Equal(0, (await f.Cr("rm", r.Id!)).ExitCode);
        var rmi = await f.Cr("rmi", "test/init:1");
        Assert.True(rmi.ExitCode == 0, rmi.ToString());
        Assert.False(Directory.Exists(init), "rmi left the image's init layer");
    }

    [RootFact]
    public async Task More_than_a_hundred_layers_mount()
    {
        var dir = Work("many");
        var layers = new List<string> { await RootfsLayer(dir) };
        for (var i = 0; i < 120; i++)
            layers.Add(CraftedLayer(Path.Combine(dir, $"l{i}.tar"), (TarEntryType.Directory, "l/", null), (TarEntryType.RegularFile, $"l/{i}", $"{i}")));
        await Load(await DockerArchive(dir, "test/many:1", layers), "test/many:1");
        var r = await f.Run("--rm", "test/many:1", "/bin/sh", "-c", "ls /l | wc -l; cat /l/0 /l/119");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("120\n0119", r.Stdout.Trim());
    }

    [RootFact]
    public async Task An_escaping_layer_is_refused_and_leaves_nothing()
    {
        var dir = Work("escape");
        var evil = CraftedLayer(Path.Combine(dir, "evil.tar"), (TarEntryType.RegularFile, "../../../../../../../../tmp/craterun-escaped-" + Path.GetFileName(dir), "x"));
        var archive = await DockerArchive(dir, "test/evil:1", [await RootfsLayer(dir), evil]);
        var r = await f.Cr("load", "-i", archive);
        Assert.Equal(125, r.ExitCode);
        var line = Assert.Single(r.ErrLines);
        Assert.Contains("climbs out", line);
        Assert.False(File.Exists("/tmp/craterun-escaped-" + Path.GetFileName(dir)));
        Assert.DoesNotContain("test/evil", (await f.Cr("images")).Stdout);
        Assert.Empty(Directory.Exists(Path.Combine(ImagesDir, "tmp")) ? Directory.GetFileSystemEntries(Path.Combine(ImagesDir, "tmp")) : []);
    }

    [RootFact]
    public async Task An_oci_layout_written_by_skopeo_loads_and_runs()
    {
        var dir = Work("oci");
        var archive = await DockerArchive(dir, "test/skopeo-src:1", [await RootfsLayer(dir)],
            new JsonObject { ["Cmd"] = new JsonArray("/bin/echo", "from-oci") });
        var layout = Path.Combine(dir, "layout");
        var copy = await Proc.Run("skopeo", ["copy", "--quiet", $"docker-archive:{archive}", $"oci:{layout}:v1"], timeout: TimeSpan.FromSeconds(120));
        Assert.True(copy.ExitCode == 0, copy.ToString());
        var load = await f.Cr("load", "-i", layout);
        Assert.True(load.ExitCode == 0, load.ToString());
        var id = load.Stdout.Trim().Split(' ')[^1]; // "Loaded image ID: sha256:..." (ref.name "v1" is only a tag)
        Assert.StartsWith("sha256:", id);
        Assert.Equal(0, (await f.Cr("tag", id, "test/oci:v1")).ExitCode);
        var r = await f.Run("--rm", "test/oci:v1");
        Assert.Equal("from-oci", r.Stdout.Trim());
    }

    [RootFact]
    public async Task Import_a_rootfs_tarball_then_rmi_removes_what_only_it_used()
    {
        var dir = Work("import");
        var gz = Path.Combine(dir, "rootfs.tar.gz");
        Assert.Equal(0, (await Proc.Run("tar", ["-C", f.Rootfs, "-czf", gz, "."])).ExitCode);
        var imp = await f.Cr("import", "-c", "CMD [\"/bin/echo\", \"imported\"]", "-c", "ENV X=1", gz, "test/imported");
        Assert.True(imp.ExitCode == 0, imp.ToString());
        Assert.Matches("^sha256:[0-9a-f]{64}$", imp.Stdout.Trim());
        var r = await f.Run("test/imported");
        Assert.Equal("imported", r.Stdout.Trim());

        var refused = await f.Cr("rmi", "test/imported");
        Assert.Equal(125, refused.ExitCode);
        Assert.Contains(r.Id!, refused.Stderr);
        Assert.Equal(0, (await f.Cr("rm", r.Id!)).ExitCode);

        int Snapshots() => Directory.GetDirectories(Path.Combine(ImagesDir, "snapshots")).Count(d => !d.EndsWith(".init", StringComparison.Ordinal)); // not init layers
        var snapshotsBefore = Snapshots();
        var rmi = await f.Cr("rmi", "test/imported");
        Assert.True(rmi.ExitCode == 0, rmi.ToString());
        Assert.Contains("Untagged: test/imported:latest", rmi.Stdout);
        Assert.Contains("Deleted: " + imp.Stdout.Trim(), rmi.Stdout);
        Assert.Equal(snapshotsBefore - 1, Snapshots());
        Assert.Contains("no such image", (await f.Run("--rm", "--pull", "never", "test/imported")).Stderr);
    }

    [RootTheory]
    [InlineData("Busybox", "not an image reference")]
    [InlineData("test/never-loaded:1", "no such image")]
    public async Task Run_of_a_bad_or_missing_image_is_one_line(string image, string fragment)
    {
        var before = f.StateEntries();
        var r = await f.Run("--rm", "--pull", "never", image, "true"); // never: no registry is contacted
        Assert.Equal(125, r.ExitCode);
        var line = Assert.Single(r.ErrLines);
        Assert.Contains(fragment, line);
        Assert.Equal(before, f.StateEntries());
    }

    [RootFact]
    public async Task Stop_SendsTheImagesStopSignal()
    {
        var dir = Work("stopsignal");
        var tar = await DockerArchive(dir, "stopsig/img:1", [await RootfsLayer(dir)], new JsonObject
        {
            ["Cmd"] = new JsonArray("/bin/sh", "-c", "trap 'echo got-usr1; exit 7' USR1; trap 'exit 9' TERM; echo trap-set; while true; do sleep 0.1; done"),
            ["StopSignal"] = "SIGUSR1",
        });
        var load = await f.Cr("load", "-i", tar);
        Assert.True(load.ExitCode == 0, load.ToString());
        var run = await f.Run("-d", "stopsig/img:1");
        Assert.True(run.ExitCode == 0, run.ToString());
        var id = run.Id!;
        try
        {
            await f.WaitForLog(id, "trap-set");
            var stop = await f.CrWith(null, TimeSpan.FromSeconds(30), "stop", "-t", "10", id);
            Assert.True(stop.ExitCode == 0, stop.ToString());
            Assert.Equal(7, (await f.Inspect(id)).GetProperty("exitCode").GetInt32());
            Assert.Contains("got-usr1", (await f.Cr("logs", id)).Stdout);
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }
}
