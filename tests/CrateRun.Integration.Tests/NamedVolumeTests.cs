using System.Text.Json;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// Issue 11: named volumes as Docker's "Volumes" page describes them — made on first use, kept when
/// the container goes, shared by the next one, refused to rm while a container (even a stopped one)
/// uses them, filled from the image's content when first mounted empty. Effects are made inside one
/// container and read from another or from the host.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class NamedVolumeTests(CrateRunFixture f)
{
    private static string NewName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..20];

    private string DataDir(string name) => Path.Combine(f.StateRoot, "volumes", name, "_data");

    private async Task RemoveVolumes(params string[] names) => await f.Cr(["volume", "rm", "-f", .. names]);

    [RootFact]
    public async Task Data_outlives_the_container_and_a_second_one_sees_it_rm_is_refused_while_a_container_uses_it()
    {
        var name = NewName("data");
        string? first = null;
        try
        {
            // a name that does not exist yet is made by run
            var write = await f.Run(["-v", $"{name}:/data", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "echo kept > /data/note; echo written"]);
            Assert.True(write.ExitCode == 0, write.ToString());
            first = write.Id!;
            Assert.Equal("kept\n", await File.ReadAllTextAsync(Path.Combine(DataDir(name), "note")));

            // the first container exited but still exists: Docker refuses, naming it
            var refused = await f.Cr("volume", "rm", name);
            Assert.True(refused.ExitCode == 125, refused.ToString());
            Assert.Equal($"craterun: remove {name}: volume is in use - [{first}]", Assert.Single(refused.ErrLines));
            Assert.True(Directory.Exists(DataDir(name)));

            Assert.Equal(0, (await f.Cr("rm", first)).ExitCode);
            first = null;
            var read = await f.Sh("cat /data/note", "-v", $"{name}:/data");
            Assert.True(read.ExitCode == 0, read.ToString());
            Assert.Equal("kept\n", read.Stdout);

            var rm = await f.Cr("volume", "rm", name);
            Assert.True(rm.ExitCode == 0, rm.ToString());
            Assert.Equal(name, rm.Stdout.Trim());
            Assert.False(Directory.Exists(Path.Combine(f.StateRoot, "volumes", name)));
            var again = await f.Cr("volume", "rm", name);
            Assert.True(again.ExitCode == 125, again.ToString());
            Assert.Contains($"no such volume: {name}", again.Stderr);
            Assert.Equal(0, (await f.Cr("volume", "rm", "-f", name)).ExitCode); // -f: a missing one is no error
        }
        finally
        {
            if (first is not null) await f.RemoveForce(first);
            await RemoveVolumes(name);
        }
    }

    [RootFact]
    public async Task A_running_container_holds_its_volume_too()
    {
        var name = NewName("busy");
        var id = await f.Detached("sleep 60", "--mount", $"type=volume,source={name},target=/busy");
        try
        {
            var refused = await f.Cr("volume", "rm", "-f", name); // -f does not remove one in use
            Assert.True(refused.ExitCode == 125, refused.ToString());
            Assert.Contains("volume is in use", refused.Stderr);
            Assert.Contains(id, refused.Stderr);
        }
        finally
        {
            await f.RemoveForce(id);
            await RemoveVolumes(name);
        }
        Assert.False(Directory.Exists(Path.Combine(f.StateRoot, "volumes", name)));
    }

    [RootFact]
    public async Task Read_only_mounts_refuse_writes_inside_with_v_and_mount()
    {
        var name = NewName("ro");
        try
        {
            Assert.Equal(0, (await f.Sh("echo seed > /v/seed", "-v", $"{name}:/v")).ExitCode);
            foreach (var flags in new[] { new[] { "-v", $"{name}:/v:ro" }, ["--mount", $"type=volume,source={name},target=/v,readonly"] })
            {
                var r = await f.Sh("cat /v/seed; if echo x > /v/new; then echo WROTE; else echo refused; fi; grep ' /v ' /proc/self/mountinfo", flags);
                Assert.True(r.ExitCode == 0, r.ToString());
                Assert.Contains("seed", r.Stdout);
                Assert.Contains("refused", r.Stdout);
                Assert.Contains("Read-only file system", r.Stderr);
                Assert.Matches(@" /v ro[, ]", r.Stdout); // the mount itself is read-only, as the kernel reports it
            }
            Assert.False(File.Exists(Path.Combine(DataDir(name), "new")));
        }
        finally
        {
            await RemoveVolumes(name);
        }
    }

    [RootFact]
    public async Task Create_inspect_and_ls_in_Dockers_shapes()
    {
        var name = NewName("shape");
        string? generated = null;
        try
        {
            var create = await f.Cr("volume", "create", "--label", "env=test", "--label", "team", name);
            Assert.True(create.ExitCode == 0, create.ToString());
            Assert.Equal(name, create.Stdout.Trim());
            Assert.Equal(0, (await f.Cr("volume", "create", name)).ExitCode); // idempotent, as Docker's
            var gen = await f.Cr("volume", "create");
            generated = gen.Stdout.Trim();
            Assert.Matches("^[0-9a-f]{64}$", generated);

            var inspect = await f.Cr("volume", "inspect", name);
            Assert.True(inspect.ExitCode == 0, inspect.ToString());
            using var doc = JsonDocument.Parse(inspect.Stdout);
            var v = Assert.Single(doc.RootElement.EnumerateArray());
            Assert.Equal(["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"], v.EnumerateObject().Select(p => p.Name));
            Assert.Equal(name, v.GetProperty("Name").GetString());
            Assert.Equal("local", v.GetProperty("Driver").GetString());
            Assert.Equal("local", v.GetProperty("Scope").GetString());
            Assert.Equal(DataDir(name), v.GetProperty("Mountpoint").GetString());
            Assert.True(Directory.Exists(v.GetProperty("Mountpoint").GetString()));
            Assert.Equal("test", v.GetProperty("Labels").GetProperty("env").GetString());
            Assert.Equal("", v.GetProperty("Labels").GetProperty("team").GetString());
            var created = DateTimeOffset.Parse(v.GetProperty("CreatedAt").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(DateTimeOffset.UtcNow - created, TimeSpan.FromSeconds(-5), TimeSpan.FromMinutes(5));

            var table = await f.Cr("volume", "ls");
            Assert.Matches(@"^DRIVER\s+VOLUME NAME$", table.OutLines[0]);
            Assert.Contains(table.OutLines, l => System.Text.RegularExpressions.Regex.IsMatch(l, $@"^local\s+{name}$"));
            var quiet = await f.Cr("volume", "ls", "-q", "--filter", "label=env=test");
            Assert.Equal([name], quiet.OutLines);
            var json = await f.Cr("volume", "ls", "--format", "json", "--filter", $"name={name}");
            using var row = JsonDocument.Parse(Assert.Single(json.OutLines));
            Assert.Equal(name, row.RootElement.GetProperty("Name").GetString());
            Assert.Equal("env=test,team=", row.RootElement.GetProperty("Labels").GetString());
            var template = await f.Cr("volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Label \"env\"}}", "--filter", $"name={name}");
            Assert.Equal([$"{name} local test"], template.OutLines);

            var missing = await f.Cr("volume", "inspect", name, "no-such-volume");
            Assert.True(missing.ExitCode == 125, missing.ToString());
            Assert.Equal("", missing.Stdout);
            Assert.Equal("craterun: no such volume: no-such-volume", Assert.Single(missing.ErrLines));
        }
        finally
        {
            await RemoveVolumes(name, generated ?? "x0");
        }
    }

    [RootFact]
    public async Task Prune_removes_only_unused_volumes_anonymous_ones_unless_all()
    {
        var used = NewName("used");
        var unusedNamed = NewName("unused");
        string? holder = null;
        try
        {
            // an anonymous volume left by a container removed without -v, a named one nobody uses, one a stopped container uses
            var anon = await f.Run(["-v", "/cache", "--rootfs", f.Rootfs, "--", "/bin/true"]);
            Assert.True(anon.ExitCode == 0, anon.ToString());
            var anonymousName = Assert.Single(VolumesOf(await f.Inspect(anon.Id!)));
            Assert.Equal(0, (await f.Cr("rm", anon.Id!)).ExitCode);
            Assert.Equal(0, (await f.Cr("volume", "create", unusedNamed)).ExitCode);
            var h = await f.Run(["-v", $"{used}:/u", "--rootfs", f.Rootfs, "--", "/bin/true"]);
            holder = h.Id!;

            var prune = await f.Cr("volume", "prune", "-f");
            Assert.True(prune.ExitCode == 0, prune.ToString());
            Assert.Equal(["Deleted Volumes:", anonymousName, "Total reclaimed space: 0B"], prune.OutLines);
            var left = (await f.Cr("volume", "ls", "-q")).OutLines;
            Assert.Contains(used, left);
            Assert.Contains(unusedNamed, left);

            var all = await f.Cr("volume", "prune", "-a", "-f");
            Assert.True(all.ExitCode == 0, all.ToString());
            Assert.Contains(unusedNamed, all.OutLines);
            Assert.DoesNotContain(used, all.OutLines);
            left = (await f.Cr("volume", "ls", "-q")).OutLines;
            Assert.Contains(used, left);
            Assert.DoesNotContain(unusedNamed, left);
            Assert.True(Directory.Exists(DataDir(used)));
        }
        finally
        {
            if (holder is not null) await f.RemoveForce(holder);
            await RemoveVolumes(used, unusedNamed);
        }
    }

    private static List<string> VolumesOf(JsonElement record) =>
        [.. record.GetProperty("annotations").GetProperty("io.craterun.volumes").GetString()!.Split(',')];

    [RootFact]
    public async Task Anonymous_volumes_go_with_rm_v_and_with_run_rm_named_ones_stay()
    {
        var named = NewName("stays");
        try
        {
            var r = await f.Run(["-v", "/anon", "-v", $"{named}:/named", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "echo a > /anon/f; echo n > /named/f"]);
            Assert.True(r.ExitCode == 0, r.ToString());
            var volumes = VolumesOf(await f.Inspect(r.Id!));
            var anonymous = Assert.Single(volumes, v => v != named);
            Assert.Equal("a\n", await File.ReadAllTextAsync(Path.Combine(DataDir(anonymous), "f")));
            var inspect = await f.Cr("volume", "inspect", anonymous);
            Assert.Contains("\"com.docker.volume.anonymous\": \"\"", inspect.Stdout);

            var rm = await f.Cr("rm", "-v", r.Id!);
            Assert.True(rm.ExitCode == 0, rm.ToString());
            Assert.False(Directory.Exists(Path.Combine(f.StateRoot, "volumes", anonymous)));
            Assert.Equal("n\n", await File.ReadAllTextAsync(Path.Combine(DataDir(named), "f")));

            // --rm: the same at exit
            var before = Directory.EnumerateDirectories(Path.Combine(f.StateRoot, "volumes")).ToHashSet();
            var auto = await f.Sh("echo x > /scratch/f", "-v", "/scratch");
            Assert.True(auto.ExitCode == 0, auto.ToString());
            Assert.Equal(before, Directory.EnumerateDirectories(Path.Combine(f.StateRoot, "volumes")).ToHashSet());
        }
        finally
        {
            await RemoveVolumes(named);
        }
    }

    [RootFact]
    public async Task An_empty_volume_is_filled_from_the_image_once_owners_and_modes_kept_nocopy_leaves_it_empty()
    {
        var work = Directory.CreateDirectory(Path.Combine(f.TempBase, "copyup-" + Guid.NewGuid().ToString("N")[..6])).FullName;
        var image = "test/copyup:" + Guid.NewGuid().ToString("N")[..6];
        var name = NewName("seeded");
        var empty = NewName("nocopy");
        try
        {
            // the image: the fixture's rootfs plus /seed (owned 1234:5678, mode 0750) with a file and a symlink
            var tree = Path.Combine(work, "tree");
            Assert.Equal(0, (await Proc.Run("cp", ["-a", f.Rootfs + "/.", tree + "/"])).ExitCode);
            Directory.CreateDirectory(Path.Combine(tree, "seed", "sub"));
            await File.WriteAllTextAsync(Path.Combine(tree, "seed", "sub", "file"), "from the image\n");
            File.CreateSymbolicLink(Path.Combine(tree, "seed", "link"), "/etc/passwd");
            Assert.Equal(0, (await Proc.Run("chown", ["-R", "-h", "1234:5678", Path.Combine(tree, "seed")])).ExitCode);
            Assert.Equal(0, (await Proc.Run("chmod", ["0750", Path.Combine(tree, "seed")])).ExitCode);
            var gz = Path.Combine(work, "rootfs.tar.gz");
            Assert.Equal(0, (await Proc.Run("tar", ["--numeric-owner", "-C", tree, "-czf", gz, "."])).ExitCode);
            var imp = await f.Cr("import", gz, image);
            Assert.True(imp.ExitCode == 0, imp.ToString());

            var first = await f.Run("--rm", "-v", $"{name}:/seed", image, "sh", "-c", "stat -c '%u:%g %a %n' /seed /seed/sub/file; readlink /seed/link; cat /seed/sub/file; echo mine > /seed/mine");
            Assert.True(first.ExitCode == 0, first.ToString());
            Assert.Equal(["1234:5678 750 /seed", "1234:5678 644 /seed/sub/file", "/etc/passwd", "from the image"], first.OutLines);
            // on the host too: the volume's own directory took the image directory's owner and mode
            Assert.Equal("1234:5678 750\n", (await Proc.Run("stat", ["-c", "%u:%g %a", DataDir(name)])).Stdout);

            // not empty any more: not filled again (what the container wrote stays, nothing comes back)
            File.Delete(Path.Combine(DataDir(name), "sub", "file"));
            var second = await f.Run("--rm", "-v", $"{name}:/seed", image, "sh", "-c", "ls /seed /seed/sub");
            Assert.True(second.ExitCode == 0, second.ToString());
            Assert.Equal(["/seed:", "link", "mine", "sub", "/seed/sub:"], second.OutLines);

            var nocopy = await f.Run("--rm", "-v", $"{empty}:/seed:nocopy", image, "ls", "-A", "/seed");
            Assert.True(nocopy.ExitCode == 0, nocopy.ToString());
            Assert.Equal("", nocopy.Stdout);
        }
        finally
        {
            await RemoveVolumes(name, empty);
            await f.Cr("rmi", image);
        }
    }

    [RootFact]
    public async Task A_bad_volume_name_is_one_line_and_leaves_nothing()
    {
        var before = Directory.Exists(Path.Combine(f.StateRoot, "volumes")) ? Directory.EnumerateDirectories(Path.Combine(f.StateRoot, "volumes")).Count() : 0;
        var entries = f.StateEntries();
        var r = await f.Run("-v", "bad/name:/data", "--rootfs", f.Rootfs, "--", "/bin/true");
        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.Contains("invalid characters for a local volume name", Assert.Single(r.ErrLines));
        var create = await f.Cr("volume", "create", "-x");
        Assert.True(create.ExitCode == 125, create.ToString());
        var badCreate = await f.Cr("volume", "create", "_x");
        Assert.True(badCreate.ExitCode == 125, badCreate.ToString());
        Assert.Contains("invalid characters", Assert.Single(badCreate.ErrLines));
        // a run whose setup fails after its volumes were made (a file bound over /bin): its anonymous volume goes with it
        var failing = await f.Run("-v", "/anon", "-v", "/etc/hostname:/bin", "--rootfs", f.Rootfs, "--", "/bin/true");
        Assert.True(failing.ExitCode == 125, failing.ToString());
        Assert.Equal(entries, f.StateEntries());
        var after = Directory.Exists(Path.Combine(f.StateRoot, "volumes")) ? Directory.EnumerateDirectories(Path.Combine(f.StateRoot, "volumes")).Count() : 0;
        Assert.Equal(before, after);
    }
}
