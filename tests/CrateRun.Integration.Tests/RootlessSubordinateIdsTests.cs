using System.Formats.Tar;
using System.Text;
using System.Text.Json.Nodes;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// Rootless with subordinate ids (subuid(5), newuidmap(1)), as podman users have them: the
/// container's user namespace maps the user's uid as 0 and its /etc/subuid range as 1..N, and an
/// image's files keep their owners (33 is www-data's uid, 33 inside). And a root-owned rootfs
/// without the /etc files every container gets bound over its own.
/// </summary>
public sealed partial class RootlessTests
{
    [RootFact]
    public async Task Rootless_with_subordinate_ids_maps_its_range_image_owners_are_real_inside_and_uid_33_writes_only_its_own()
    {
        var dir = s.NewDir("rootless-subids");
        var rootfs = await RootfsLayer(dir);
        var owners = Layer(Path.Combine(dir, "owners.tar"),
            Entry(TarEntryType.Directory, "srv/", 0x1ED, 33, 33),
            Entry(TarEntryType.RegularFile, "srv/index.html", 0x1A4, 33, 33, "www\n"),
            Entry(TarEntryType.Directory, "rootdir/", 0x1ED),
            Entry(TarEntryType.RegularFile, "rootdir/file", 0x1A4, content: "root\n"),
            Entry(TarEntryType.RegularFile, "nobody-file", 0x1A4, 65534, 65534, "n\n"),
            Entry(TarEntryType.RegularFile, "bin/suid-www", 0x9ED /* 04755 */, 33, 33, "#!/bin/sh\n"));
        var archive = await ImageTests.DockerArchive(dir, "rootless/owners:1", [rootfs, owners], new JsonObject { ["Cmd"] = new JsonArray("/bin/sh") });
        File.SetUnixFileMode(archive, (UnixFileMode)0x1A4);
        await WithNewUser(async (user, uid, home, bin) =>
        {
            var subUid = SubordinateRange("/etc/subuid", user) ?? throw new Xunit.Sdk.XunitException($"{user} has no subuid range");
            var subGid = SubordinateRange("/etc/subgid", user) ?? throw new Xunit.Sdk.XunitException($"{user} has no subgid range");
            var gid = int.Parse((await Proc.Run("id", ["-g", user])).Stdout.Trim());
            var load = await AsUser(user, home, bin, "load", "-i", archive);
            Assert.True(load.ExitCode == 0, load.ToString());

            // as root inside: the maps hold the range, and every owner of the layer is itself
            var run = await AsUser(user, home, bin, "run", "--rm", "rootless/owners:1", "sh", "-c",
                "echo uidmap=$(cat /proc/self/uid_map); echo gidmap=$(cat /proc/self/gid_map); " +
                "stat -c 'st %u:%g %a %F %n' /srv /srv/index.html /rootdir /rootdir/file /nobody-file /bin/busybox /bin/suid-www");
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal($"0 {uid} 1 1 {subUid.Start} {subUid.Count}", Squash(Field(run.Stdout, "uidmap=")));
            Assert.Equal($"0 {gid} 1 1 {subGid.Start} {subGid.Count}", Squash(Field(run.Stdout, "gidmap=")));
            Assert.Contains("st 33:33 755 directory /srv\n", run.Stdout);
            Assert.Contains("st 33:33 644 regular file /srv/index.html\n", run.Stdout);
            Assert.Contains("st 0:0 755 directory /rootdir\n", run.Stdout);
            Assert.Contains("st 0:0 644 regular file /rootdir/file\n", run.Stdout);
            Assert.Contains("st 65534:65534 644 regular file /nobody-file\n", run.Stdout);
            Assert.Contains("st 0:0 755 regular file /bin/busybox\n", run.Stdout);
            // chown clears setuid: the mode is the layer's all the same
            Assert.Contains("st 33:33 4755 regular file /bin/suid-www\n", run.Stdout);
            Assert.DoesNotContain("map your uid alone", run.Stderr);

            // -u 33: writes where 33 owns the directory, not where root does
            var www = await AsUser(user, home, bin, "run", "--rm", "-u", "33", "rootless/owners:1", "sh", "-c",
                "echo ids=$(id -u):$(id -g) groups=$(id -G); echo mine > /srv/new && stat -c 'new %u:%g' /srv/new; " +
                "if echo no > /rootdir/denied; then echo ROOTDIR-WRITTEN; else echo ROOTDIR-DENIED; fi; " +
                "if echo no >> /rootdir/file; then echo ROOTFILE-WRITTEN; else echo ROOTFILE-DENIED; fi");
            Assert.True(www.ExitCode == 0, www.ToString());
            // and no extra group: the user's own host group is root's group (0) inside, which setgroups drops
            Assert.Contains("ids=33:33 groups=33\n", www.Stdout);
            Assert.Contains("new 33:33", www.Stdout);
            Assert.Contains("ROOTDIR-DENIED", www.Stdout);
            Assert.Contains("ROOTFILE-DENIED", www.Stdout);

            // host side: the layer's files belong to the range (33 is the range's 33rd id), nothing recorded is left over
            var snapshots = Path.Combine(home, ".craterun", "images", "snapshots");
            string Find(string rel) => Directory.EnumerateDirectories(snapshots).Select(d => Path.Combine(d, rel)).Single(p => File.Exists(p) || Directory.Exists(p));
            var index = Find("srv/index.html");
            Assert.Equal($"{subUid.Start + 32}:{subGid.Start + 32}", (await Proc.Run("stat", ["-c", "%u:%g", index])).Stdout.Trim());
            Assert.Equal($"{uid}:{gid}", (await Proc.Run("stat", ["-c", "%u:%g", Find("rootdir/file")])).Stdout.Trim());
            Assert.Equal($"{subUid.Start + 65533}:{subGid.Start + 65533}", (await Proc.Run("stat", ["-c", "%u:%g", Find("nobody-file")])).Stdout.Trim());
            Assert.Null(Xattr(index, "user.craterun.owner"));
            // both --rm containers are gone, the one whose upper dir holds 33's files (the user alone may not remove them) too
            Assert.Empty((await AsUser(user, home, bin, "ps", "-aq")).OutLines);
            Assert.DoesNotContain(Directory.EnumerateDirectories(Path.Combine(home, ".craterun")), d => Path.GetFileName(d).Length == 64);
            // and rmi removes layers of the range's files
            var rmi = await AsUser(user, home, bin, "rmi", "rootless/owners:1");
            Assert.True(rmi.ExitCode == 0, rmi.ToString());
            Assert.Empty(Directory.EnumerateDirectories(snapshots));
        }, subordinateIds: true);
    }

    /// <summary>A layer whose symlinks and fifo belong to others than root (1000 and 33), as `tar --numeric-owner` of a user's home writes them.</summary>
    private static string SpecialOwnersLayer(string path)
    {
        var link = Entry(TarEntryType.SymbolicLink, "home/app/link", 0x1FF, 1000, 1000);
        link.LinkName = "/etc/passwd";
        var dangling = Entry(TarEntryType.SymbolicLink, "srv/www-link", 0x1FF, 33, 33);
        dangling.LinkName = "missing";
        var rootLink = Entry(TarEntryType.SymbolicLink, "home/app/root-link", 0x1FF);
        rootLink.LinkName = "link";
        // replaced in the same layer by a root file: the symlink's owner must not stick to it
        var replaced = Entry(TarEntryType.SymbolicLink, "home/app/replaced", 0x1FF, 1000, 1000);
        replaced.LinkName = "link";
        return Layer(path,
            Entry(TarEntryType.Directory, "home/", 0x1ED),
            Entry(TarEntryType.Directory, "home/app/", 0x1ED, 1000, 1000),
            link, rootLink, replaced,
            Entry(TarEntryType.Fifo, "home/app/pipe", 0x1A0 /* 0640 */, 1000, 1000),
            Entry(TarEntryType.RegularFile, "home/app/replaced", 0x1A4, content: "root's\n"),
            Entry(TarEntryType.Directory, "srv/", 0x1ED, 33, 33),
            dangling,
            Entry(TarEntryType.RegularFile, "srv/index.html", 0x1A4, 33, 33, "www\n"),
            Entry(TarEntryType.RegularFile, "srv/suid-www", 0x9ED /* 04755 */, 33, 33, "#!/bin/sh\n"));
    }

    private const string SpecialOwnersScript = "stat -c 'st %u:%g %a %n' /home/app /home/app/link /home/app/root-link /home/app/pipe /home/app/replaced /srv/www-link /srv/index.html /srv/suid-www; " +
        "[ -p /home/app/pipe ] && echo pipe-is-fifo; [ -L /home/app/link ] && echo link-is-symlink";

    /// <summary>What <see cref="SpecialOwnersScript"/> prints when every owner of the layer is itself inside.</summary>
    private static void AssertSpecialOwners(ProcResult run)
    {
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("st 1000:1000 755 /home/app\n", run.Stdout);
        Assert.Contains("st 1000:1000 777 /home/app/link\n", run.Stdout);
        Assert.Contains("st 0:0 777 /home/app/root-link\n", run.Stdout);
        Assert.Contains("st 1000:1000 640 /home/app/pipe\n", run.Stdout);
        Assert.Contains("st 0:0 644 /home/app/replaced\n", run.Stdout);
        Assert.Contains("st 33:33 777 /srv/www-link\n", run.Stdout);
        Assert.Contains("st 33:33 644 /srv/index.html\n", run.Stdout);
        Assert.Contains("st 33:33 4755 /srv/suid-www\n", run.Stdout);
        Assert.Contains("pipe-is-fifo", run.Stdout);
        Assert.Contains("link-is-symlink", run.Stdout);
    }

    /// <summary>A docker-archive of the busybox rootfs and SpecialOwnersLayer, readable by the test user (0644).</summary>
    private async Task<string> SpecialOwnersArchive(string dir, string reference)
    {
        var archive = await ImageTests.DockerArchive(dir, reference, [await RootfsLayer(dir), SpecialOwnersLayer(Path.Combine(dir, "special.tar"))],
            new JsonObject { ["Cmd"] = new JsonArray("/bin/sh") });
        File.SetUnixFileMode(archive, (UnixFileMode)0x1A4);
        return archive;
    }

    [RootFact]
    public async Task Rootless_with_subordinate_ids_symlinks_and_fifos_keep_their_owners_inside()
    {
        var archive = await SpecialOwnersArchive(s.NewDir("rootless-special-owners"), "rootless/special:1");
        await WithNewUser(async (user, uid, home, bin) =>
        {
            var load = await AsUser(user, home, bin, "load", "-i", archive);
            Assert.True(load.ExitCode == 0, load.ToString());
            AssertSpecialOwners(await AsUser(user, home, bin, "run", "--rm", "rootless/special:1", "sh", "-c", SpecialOwnersScript));
            // host side: the symlink belongs to the range's 1000, and the list of owners is gone with the unpack
            var snapshots = Path.Combine(home, ".craterun", "images", "snapshots");
            var subUid = SubordinateRange("/etc/subuid", user)!.Value;
            var link = Directory.EnumerateDirectories(snapshots).Select(d => Path.Combine(d, "home/app/link")).Single(p => new FileInfo(p).LinkTarget is not null);
            Assert.Equal($"{subUid.Start + 999}", (await Proc.Run("stat", ["-c", "%u", link])).Stdout.Trim());
            Assert.Empty(Directory.EnumerateFiles(snapshots, "*.owners"));
        }, subordinateIds: true);
    }

    [RootFact]
    public async Task Rootless_image_loaded_before_the_user_had_subordinate_ids_gets_its_owners_when_a_container_first_uses_it()
    {
        var archive = await SpecialOwnersArchive(s.NewDir("rootless-late-range"), "rootless/late:1");
        await WithNewUser(async (user, uid, home, bin) =>
        {
            // without a range: the user's uid alone is mapped, every file is root's inside
            var load = await AsUser(user, home, bin, "load", "-i", archive);
            Assert.True(load.ExitCode == 0, load.ToString());
            var single = await AsUser(user, home, bin, "run", "--rm", "rootless/late:1", "stat", "-c", "st %u:%g %n", "/srv/index.html", "/home/app/link");
            Assert.True(single.ExitCode == 0, single.ToString());
            Assert.Contains("st 0:0 /srv/index.html\n", single.Stdout);
            Assert.Contains("st 0:0 /home/app/link\n", single.Stdout);

            // the administrator gives the user a range (usermod --add-subuids): the image already stored gets its owners
            await SetSubordinateIds(user, wanted: true);
            // as a helper killed (SIGKILL) between its chown and its chmod of a setuid file leaves it: the owner given,
            // setuid cleared by that chown, the mode kept aside and the owner still recorded; the next one finishes
            var snapshots = Path.Combine(home, ".craterun", "images", "snapshots");
            var suid = Directory.EnumerateDirectories(snapshots).Select(d => Path.Combine(d, "srv/suid-www")).Single(File.Exists);
            var (subUid, subGid) = (SubordinateRange("/etc/subuid", user)!.Value, SubordinateRange("/etc/subgid", user)!.Value);
            var chown = await Proc.Run("chown", [$"{subUid.Start + 32}:{subGid.Start + 32}", suid]);
            Assert.True(chown.ExitCode == 0, chown.ToString());
            Assert.Equal((UnixFileMode)0x1ED, File.GetUnixFileMode(suid));
            var kept = Encoding.ASCII.GetBytes(0x9ED.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(0, NativeXattr.lsetxattr(suid, "user.craterun.mode", kept, (nuint)kept.Length, 0));
            Assert.Equal("33:33", Xattr(suid, "user.craterun.owner"));
            AssertSpecialOwners(await AsUser(user, home, bin, "run", "--rm", "rootless/late:1", "sh", "-c", SpecialOwnersScript));
            // and keeps them (done once: the next container finds nothing left to give)
            AssertSpecialOwners(await AsUser(user, home, bin, "run", "--rm", "rootless/late:1", "sh", "-c", SpecialOwnersScript));
            Assert.Null(Xattr(suid, "user.craterun.mode"));
            Assert.Empty(Directory.EnumerateFiles(snapshots, "*.owners"));
            var rmi = await AsUser(user, home, bin, "rmi", "rootless/late:1");
            Assert.True(rmi.ExitCode == 0, rmi.ToString());
            Assert.Empty(Directory.EnumerateDirectories(snapshots));
        });
    }

    [RootFact]
    public async Task Rootless_rootfs_of_root_without_etc_hosts_resolv_conf_hostname_runs_without_those_binds()
    {
        // owned by host root: the container's root (the user) may not make files in its /etc
        var bare = await s.CopyRootfs(f);
        foreach (var etc in new[] { "hosts", "resolv.conf", "hostname" }) File.Delete(Path.Combine(bare, "etc", etc));
        var complete = await s.CopyRootfs(f);
        foreach (var etc in new[] { "hosts", "resolv.conf", "hostname" }) File.WriteAllText(Path.Combine(complete, "etc", etc), "");
        await WithNewUser(async (user, uid, home, bin) =>
        {
            var run = await AsUser(user, home, bin, "run", "--rm", "--hostname", "probe", "--rootfs", bare, "--", "sh", "-c",
                "echo ran as $(hostname); for f in hosts resolv.conf hostname; do [ -e /etc/$f ] && echo has-$f; done; true");
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Contains("ran as probe", run.Stdout);
            Assert.DoesNotContain("has-", run.Stdout);

            // where the mount points exist, the container's own files are bound over them as ever
            var kept = await AsUser(user, home, bin, "run", "--rm", "--hostname", "probe", "--add-host", "peer:10.1.2.3", "--rootfs", complete, "--", "sh", "-c",
                "cat /etc/hostname /etc/hosts");
            Assert.True(kept.ExitCode == 0, kept.ToString());
            Assert.Contains("probe", kept.OutLines);
            Assert.Contains(kept.OutLines, l => l.Contains("10.1.2.3") && l.Contains("peer"));
        });
    }

    /// <summary>The user's range in /etc/subuid or /etc/subgid (its first line), or null.</summary>
    private static (long Start, long Count)? SubordinateRange(string file, string user) =>
        SubordinateRanges(file).Where(r => r.Owner == user).Select(r => ((long, long)?)(r.Start, r.Count)).FirstOrDefault();

    private static IEnumerable<(string Owner, long Start, long Count)> SubordinateRanges(string file) =>
        !File.Exists(file) ? [] : File.ReadAllLines(file).Select(l => l.Split(':')).Where(p => p.Length == 3)
            .Select(p => (p[0], long.Parse(p[1]), long.Parse(p[2])));

    /// <summary>
    /// Gives the user a range of 65536 subordinate uids and gids (past every other range) unless useradd
    /// made one, or takes away what useradd made (usermod, which edits the files under their locks).
    /// </summary>
    private static async Task SetSubordinateIds(string user, bool wanted)
    {
        foreach (var (file, kind) in new[] { ("/etc/subuid", "uids"), ("/etc/subgid", "gids") })
        {
            if (wanted && SubordinateRange(file, user) is null)
            {
                var start = Math.Max(100000, SubordinateRanges(file).Select(r => r.Start + r.Count).DefaultIfEmpty(0).Max());
                var add = await Proc.Run("usermod", [$"--add-sub{kind}", $"{start}-{start + 65535}", user]);
                Assert.True(add.ExitCode == 0, add.ToString());
            }
            while (!wanted && SubordinateRange(file, user) is { } range)
            {
                var del = await Proc.Run("usermod", [$"--del-sub{kind}", $"{range.Start}-{range.Start + range.Count - 1}", user]);
                Assert.True(del.ExitCode == 0, del.ToString());
            }
            Assert.Equal(wanted, SubordinateRange(file, user) is not null);
        }
    }
}
