using System.Text.Json.Nodes;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// Mounts and the root through the OCI face, each looked at from inside the container
/// (/proc/self/mountinfo): linux.rootfsPropagation, every option of the runtime-spec's
/// "Mount Options" table on a bind and on a tmpfs, ro against rro on an rbind, a read-only
/// /dev, procfs through a symlink, --no-pivot against a fresh proc, bind sources the
/// container's root may not search, a bind on /dev, and a very deep mount point.
/// Tests that need a shared mount make it in a private mount namespace (unshare -m) in which
/// the runtime then runs: nothing of theirs reaches the host's mount table.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class OciMountTests(CrateRunFixture f)
{
    // ---- linux.rootfsPropagation ------------------------------------------------------

    /// <summary>The propagation of "/" in the container, as mountinfo's optional fields show it.</summary>
    [RootTheory]
    [InlineData("private", "")]
    [InlineData("rprivate", "")]
    [InlineData("slave", "master")]
    [InlineData("rslave", "master")]
    [InlineData("shared", "shared")]
    [InlineData("rshared", "shared")]
    [InlineData("unbindable", "unbindable")]
    [InlineData("runbindable", "unbindable")]
    public async Task Rootfs_propagation_is_what_the_root_shows(string propagation, string expected)
    {
        var dir = NewDir("prop");
        var rootfs = await CopyRootfs(dir);
        var config = BaseConfig(["/bin/sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo"], rootfs);
        config["linux"]!["rootfsPropagation"] = propagation;
        // the rootfs sits on a shared mount (a slave needs a master to show one)
        var r = await RunInPrivateNamespace(dir, config,
            $"mount --bind {rootfs} {rootfs} && mount --make-shared {rootfs}");
        Assert.True(r.ExitCode == 0, r.ToString());
        var fields = OptionalFields(r.Stdout.Trim());
        if (expected == "")
            Assert.True(fields.Count == 0, $"'/' should be private: {r.Stdout}");
        else
            Assert.True(fields.Contains(expected), $"'/' should be {expected}: {r.Stdout}");
        if (expected == "shared") Assert.DoesNotContain("unbindable", fields);
    }

    /// <summary>
    /// Kubernetes' bidirectional propagation: with rshared, a mount made inside the container
    /// on an rshared bind appears on the host side (here: the namespace the runtime runs in).
    /// </summary>
    [RootFact]
    public async Task Rshared_root_and_bind_propagate_a_container_mount_back()
    {
        var dir = NewDir("bidir");
        var shared = Path.Combine(dir, "shared");
        Directory.CreateDirectory(shared);
        var config = BaseConfig(["/bin/sh", "-c", "mkdir -p /mnt/shared/sub && mount -t tmpfs -o size=1m made-inside /mnt/shared/sub && echo mounted"]);
        config["linux"]!["rootfsPropagation"] = "rshared";
        Grant(config, "CAP_SYS_ADMIN");
        AddMount(config, Bind(shared, "/mnt/shared", "rbind", "rshared"));
        var r = await RunInPrivateNamespace(dir, config,
            $"mount -t tmpfs -o size=1m base {shared} && mount --make-shared {shared}",
            after: $"grep ' {shared}/sub ' /proc/self/mountinfo");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("mounted", r.Stdout);
        Assert.Contains("made-inside", r.Stdout);
    }

    // ---- the spec's mount options -------------------------------------------------------

    /// <summary>
    /// runtime-spec config.md "Mount Options": (option list, what the mount line must show).
    /// "+x" must be there, "-x" must not ("shared", "master", "unbindable" are the optional
    /// fields); "!" means the option cannot be done on this kind of mount and is refused with
    /// one line naming it. Clearing options follow the option they clear, to show an effect.
    /// </summary>
    public static TheoryData<string, string, string> OptionCases()
    {
        var d = new TheoryData<string, string, string>();
        void Both(string options, string expect) { d.Add("bind", options, expect); d.Add("tmpfs", options, expect); }
        Both("async", "-sync");
        Both("noatime,atime", "-noatime +relatime");
        d.Add("bind", "bind", "+rw");
        Both("defaults", "+rw");
        Both("nodev,dev", "-nodev");
        Both("nodiratime,diratime", "-nodiratime");
        d.Add("bind", "dirsync", "!");
        d.Add("tmpfs", "dirsync", "+dirsync");
        Both("noexec,exec", "-noexec");
        d.Add("bind", "iversion", "!");
        d.Add("tmpfs", "iversion", "+rw");
        d.Add("bind", "lazytime", "!");
        d.Add("tmpfs", "lazytime", "+lazytime");
        Both("loud", "+rw");
        d.Add("bind", "mand", "!");
        d.Add("tmpfs", "mand", "+mand"); // shown in the superblock's options, though today's kernels enforce no mandatory locks
        Both("noatime", "+noatime -relatime");
        Both("nodev", "+nodev");
        Both("nodiratime", "+nodiratime");
        Both("noexec", "+noexec");
        Both("noiversion", "+rw");
        d.Add("bind", "nolazytime", "-lazytime");
        d.Add("tmpfs", "lazytime,nolazytime", "-lazytime");
        Both("nomand", "-mand");
        Both("strictatime,norelatime", "-relatime -noatime");
        Both("strictatime,nostrictatime", "+relatime");
        Both("nosuid", "+nosuid");
        Both("nosymfollow", "+nosymfollow");
        Both("private", "-shared -master");
        Both("rnoatime,ratime", "-noatime");
        d.Add("bind", "rbind", "+rw");
        Both("rnodev,rdev", "-nodev");
        Both("rnodiratime,rdiratime", "-nodiratime");
        Both("noatime,relatime", "+relatime -noatime");
        Both("remount", "+rw");
        Both("rnoexec,rexec", "-noexec");
        Both("rnoatime", "+noatime");
        Both("rnodev", "+nodev");
        Both("rnodiratime", "+nodiratime");
        Both("rnoexec", "+noexec");
        Both("rstrictatime,rnorelatime", "-relatime -noatime");
        Both("rstrictatime,rnostrictatime", "+relatime");
        Both("rnosuid", "+nosuid");
        Both("rnosymfollow", "+nosymfollow");
        Both("ro", "+ro");
        Both("rprivate", "-shared -master");
        Both("rnoatime,rrelatime", "+relatime -noatime");
        Both("rro", "+ro");
        Both("rro,rrw", "+rw -ro");
        Both("rshared", "+shared");
        d.Add("bind", "rslave", "+master -shared");
        d.Add("tmpfs", "rslave", "-shared"); // a new filesystem has no master to follow
        Both("rstrictatime", "-relatime -noatime");
        Both("rnosuid,rsuid", "-nosuid");
        Both("rnosymfollow,rsymfollow", "-nosymfollow");
        Both("runbindable", "+unbindable");
        Both("ro,rw", "+rw -ro");
        Both("shared", "+shared");
        Both("silent", "+rw");
        d.Add("bind", "slave", "+master -shared");
        d.Add("tmpfs", "slave", "-shared");
        Both("strictatime", "-relatime -noatime");
        Both("nosuid,suid", "-nosuid");
        Both("nosymfollow,symfollow", "-nosymfollow");
        d.Add("bind", "sync", "!");
        d.Add("tmpfs", "sync", "+sync");
        Both("unbindable", "+unbindable");
        Both("idmap", "!"); // no mapping and no user namespace: the spec's MUST error
        Both("ridmap", "!");
        return d;
    }

    [RootTheory]
    [MemberData(nameof(OptionCases))]
    public async Task Mount_option_takes_effect(string kind, string options, string expect)
    {
        var dir = NewDir("opt");
        var src = Path.Combine(dir, "base");
        Directory.CreateDirectory(src);
        var opts = options.Split(',');
        var mount = kind == "bind"
            ? Bind(Path.Combine(src, "src"), "/mnt/opt", [.. (opts.Contains("bind") || opts.Contains("rbind") ? [] : new[] { "rbind" }), .. opts])
            : new JsonObject { ["destination"] = "/mnt/opt", ["type"] = "tmpfs", ["source"] = "tmpfs", ["options"] = Json(opts) };
        var config = BaseConfig(["/bin/sh", "-c", "grep ' /mnt/opt ' /proc/self/mountinfo"]);
        AddMount(config, mount);
        // the bind's source lives on a shared mount, so that slave and shared have something to show
        var r = await RunInPrivateNamespace(dir, config,
            $"mount -t tmpfs -o size=1m base {src} && mount --make-shared {src} && mkdir {src}/src");
        if (expect == "!")
        {
            Assert.True(r.ExitCode != 0, $"{kind} {options} should be refused\n{r}");
            var line = Assert.Single(r.ErrLines);
            Assert.Contains($"'{opts[^1]}'", line);
            return;
        }
        Assert.True(r.ExitCode == 0, $"{kind} {options}\n{r}");
        var tokens = Tokens(r.Stdout.Trim());
        foreach (var e in expect.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var present = tokens.Contains(e[1..]);
            Assert.True(e[0] == '+' ? present : !present, $"{kind} {options}: expected {e} in\n{r.Stdout}");
        }
    }

    /// <summary>tmpcopyup (what podman sends for --tmpfs): the tmpfs starts with what the directory held.</summary>
    [RootFact]
    public async Task Tmpcopyup_starts_the_tmpfs_with_the_directorys_content()
    {
        var dir = NewDir("copyup");
        var rootfs = await CopyRootfs(dir);
        Directory.CreateDirectory(Path.Combine(rootfs, "data", "sub"));
        File.WriteAllText(Path.Combine(rootfs, "data", "sub", "deep.txt"), "deep\n");
        File.CreateSymbolicLink(Path.Combine(rootfs, "data", "link"), "hello.txt");
        var config = BaseConfig(["/bin/sh", "-c", "grep -c ' /data .* tmpfs ' /proc/self/mountinfo; cat /data/hello.txt /data/sub/deep.txt /data/link; " +
            "echo new > /data/new.txt && stat -c %a /data/sub"], rootfs);
        AddMount(config, new JsonObject { ["destination"] = "/data", ["type"] = "tmpfs", ["source"] = "tmpfs", ["options"] = Json(["tmpcopyup", "size=1m"]) });
        File.SetUnixFileMode(Path.Combine(rootfs, "data", "sub"), (UnixFileMode)0x1C0 /* 0700 */);
        var hello = File.ReadAllText(Path.Combine(rootfs, "data", "hello.txt"));
        var r = await RunOci(dir, config);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal($"1\n{hello}deep\n{hello}700\n", r.Stdout);
        Assert.False(File.Exists(Path.Combine(rootfs, "data", "new.txt")), "the write went to the rootfs, not the tmpfs");
    }

    // ---- ro against rro, read-only /dev -------------------------------------------------

    [RootFact]
    public async Task Ro_on_an_rbind_is_the_top_mount_only_and_rro_is_every_mount()
    {
        var dir = NewDir("rro");
        var src = Path.Combine(dir, "src");
        Directory.CreateDirectory(Path.Combine(src, "sub"));
        var config = BaseConfig(["/bin/sh", "-c", "grep -E ' /mnt/(top|all)(/sub)? ' /proc/self/mountinfo"]);
        AddMount(config, Bind(src, "/mnt/top", "rbind", "ro"));
        AddMount(config, Bind(src, "/mnt/all", "rbind", "rro"));
        var r = await RunInPrivateNamespace(dir, config, $"mount -t tmpfs -o size=1m sub {src}/sub");
        Assert.True(r.ExitCode == 0, r.ToString());
        var byPoint = HostState.ParseMountInfo(r.Stdout).ToDictionary(m => m.MountPoint);
        Assert.True(byPoint["/mnt/top"].ReadOnly, r.Stdout);
        Assert.False(byPoint["/mnt/top/sub"].ReadOnly, "ro is the top mount only (rro is recursive)\n" + r.Stdout);
        Assert.True(byPoint["/mnt/all"].ReadOnly, r.Stdout);
        Assert.True(byPoint["/mnt/all/sub"].ReadOnly, r.Stdout);
    }

    [RootFact]
    public async Task A_read_only_dev_is_populated_then_read_only()
    {
        var dir = NewDir("rodev");
        var config = BaseConfig(["/bin/sh", "-c",
            "grep -E ' /dev(/pts)? ' /proc/self/mountinfo; echo x > /dev/null && echo null-writable; " +
            "test -c /dev/zero && test -L /dev/ptmx && echo nodes; touch /dev/new 2>/dev/null || echo dev-refuses-writes"]);
        var dev = Mounts(config).Single(m => (string)m!["destination"]! == "/dev")!;
        dev["options"] = Json(["nosuid", "strictatime", "mode=755", "size=65536k", "ro"]);
        var r = await RunOci(dir, config);
        Assert.True(r.ExitCode == 0, r.ToString());
        var byPoint = HostState.ParseMountInfo(r.Stdout).ToDictionary(m => m.MountPoint);
        Assert.True(byPoint["/dev"].ReadOnly, r.Stdout);
        Assert.False(byPoint["/dev/pts"].ReadOnly, r.Stdout);
        Assert.Contains("null-writable", r.Stdout);
        Assert.Contains("nodes", r.Stdout);
        Assert.Contains("dev-refuses-writes", r.Stdout);
    }

    // ---- procfs and sysfs through a symlink (CVE-2023-27561/28642 class) ---------------

    [RootTheory]
    [InlineData("proc", "/proc", "symlink")]
    [InlineData("sysfs", "/sys", "symlink")]
    [InlineData("proc", "/proc", "file")]
    public async Task Procfs_or_sysfs_on_a_symlink_or_file_is_refused(string type, string destination, string what)
    {
        var dir = NewDir("procsym");
        var rootfs = await CopyRootfs(dir);
        var inRootfs = Path.Combine(rootfs, destination.TrimStart('/'));
        Directory.Delete(inRootfs);
        Directory.CreateDirectory(Path.Combine(rootfs, "elsewhere"));
        if (what == "symlink") File.CreateSymbolicLink(inRootfs, "/elsewhere");
        else File.WriteAllText(inRootfs, "");
        var config = BaseConfig(["/bin/true"], rootfs); // runc spec's mounts: proc on /proc, sysfs on /sys
        Assert.Contains(Mounts(config), m => (string)m!["type"]! == type && (string)m["destination"]! == destination);
        var root = Path.Combine(dir, "oci-root");
        var r = await RunOci(dir, config, root: root, id: "procsym-" + Guid.NewGuid().ToString("N")[..8]);
        Assert.True(r.ExitCode != 0, r.ToString());
        var line = Assert.Single(r.ErrLines);
        Assert.Contains(destination, line);
        Assert.Contains(what == "symlink" ? "symlink" : "not a directory", line);
        Assert.Empty(Directory.Exists(root) ? Directory.GetDirectories(root) : []); // no state left
    }

    // ---- --no-pivot ----------------------------------------------------------------------

    /// <summary>
    /// unshare -r maps the container's root (host root here) into the new user namespace, which
    /// the kernel allows only to a process that held CAP_SETFCAP (Docker's default set has it).
    /// </summary>
    private const string FreshProc = "mkdir -p /tmp/p; if unshare -mrpf mount -t proc proc /tmp/p; then echo FRESH-PROC-MOUNTED; else echo FRESH-PROC-REFUSED; fi";

    [RootFact]
    public async Task No_pivot_container_cannot_mount_a_fresh_proc()
    {
        var dir = NewDir("nopivot");
        var config = BaseConfig(["/bin/sh", "-c", FreshProc]);
        Grant(config, "CAP_SETFCAP");
        var r = await RunOci(dir, config, extra: ["--no-pivot"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("FRESH-PROC-REFUSED", r.Stdout);
        Assert.DoesNotContain("FRESH-PROC-MOUNTED", r.Stdout);
    }

    /// <summary>The probe can succeed: where a fully visible proc exists (no masked paths), it mounts.</summary>
    [RootFact]
    public async Task Fresh_proc_probe_works_where_the_kernel_allows_it()
    {
        var dir = NewDir("freshproc");
        var config = BaseConfig(["/bin/sh", "-c", FreshProc]);
        Grant(config, "CAP_SETFCAP");
        ((JsonObject)config["linux"]!).Remove("maskedPaths");
        ((JsonObject)config["linux"]!).Remove("readonlyPaths");
        var r = await RunOci(dir, config);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("FRESH-PROC-MOUNTED", r.Stdout);
    }

    // ---- user namespaces: bind sources the container's root may not search --------------

    [RootFact]
    public async Task Userns_bind_sources_behind_a_0700_directory_still_mount()
    {
        var dir = NewDir("userns-src");
        var locked = Path.Combine(dir, "locked");
        Directory.CreateDirectory(Path.Combine(locked, "src"));
        File.WriteAllText(Path.Combine(locked, "src", "file.txt"), "behind a locked door\n");
        File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); // 0700, host root's
        File.SetUnixFileMode(Path.Combine(locked, "src"), (UnixFileMode)0x1ED);
        File.SetUnixFileMode(Path.Combine(locked, "src", "file.txt"), (UnixFileMode)0x1A4);
        // the mount points exist: the container's root (host uid 200000) may not create them in a rootfs of host root's
        var rootfs = await CopyRootfs(dir);
        Directory.CreateDirectory(Path.Combine(rootfs, "mnt", "src"));
        Directory.CreateDirectory(Path.Combine(rootfs, "mnt", "locked"));
        var config = BaseConfig(["/bin/sh", "-c", "cat /mnt/src/file.txt; grep -c ' /mnt/locked ' /proc/self/mountinfo"], rootfs);
        Mounts(config).RemoveAll(m => (string)m!["type"]! is "sysfs" or "mqueue");
        AddMount(config, Bind(Path.Combine(locked, "src"), "/mnt/src", "rbind"));
        AddMount(config, Bind(locked, "/mnt/locked", "rbind"));
        var linux = (JsonObject)config["linux"]!;
        ((JsonArray)linux["namespaces"]!).Add((JsonNode)new JsonObject { ["type"] = "user" });
        linux["uidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 200000, ["size"] = 65536 });
        linux["gidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 200000, ["size"] = 65536 });
        var r = await RunOci(dir, config);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("behind a locked door\n1\n", r.Stdout);
    }

    // ---- id-mapped mounts (runtime-spec config.md: idmap, ridmap, a mount's uid/gidMappings) ----

    private static JsonArray IdMap(uint container, uint host, uint size) =>
        new(new JsonObject { ["containerID"] = container, ["hostID"] = host, ["size"] = size });

    private static JsonObject IdmappedBind(string source, string destination, JsonArray? uids, JsonArray? gids, params string[] options)
    {
        var m = Bind(source, destination, options);
        if (uids is not null) m["uidMappings"] = uids;
        if (gids is not null) m["gidMappings"] = gids;
        return m;
    }

    /// <summary>A directory of host root's with files of uid:gid 0:0 and 3:4, as the test's source.</summary>
    private static string OwnedSource(string dir, string name)
    {
        var src = Path.Combine(dir, name);
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "f0"), "zero\n");
        File.WriteAllText(Path.Combine(src, "f3"), "three\n");
        File.SetUnixFileMode(src, (UnixFileMode)0x1ED);
        Assert.Equal(0, Proc.Run("chown", ["3:4", Path.Combine(src, "f3")]).Result.ExitCode);
        return src;
    }

    private const string StatOwners = "stat -c '%n %u:%g' ";

    /// <summary>Without a container user namespace: the mount's mapping alone says who owns what (0 -> 5000, 3 -> 5003; gids 0 -> 6000).</summary>
    [RootTheory]
    [InlineData("idmap")]
    [InlineData("ridmap")]
    public async Task Idmap_bind_shows_the_files_as_the_mapped_ids_inside(string option)
    {
        var dir = NewDir("idmap");
        var src = OwnedSource(dir, "src");
        var config = BaseConfig(["/bin/sh", "-c", StatOwners + "/mnt/id/f0 /mnt/id/f3 /mnt/plain/f0; ls -ln /mnt/id/f3"]);
        AddMount(config, IdmappedBind(src, "/mnt/id", IdMap(0, 5000, 10), IdMap(0, 6000, 10), "rbind", option));
        AddMount(config, Bind(src, "/mnt/plain", "rbind"));
        var r = await RunOci(dir, config);
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n');
        Assert.Equal("/mnt/id/f0 5000:6000", lines[0]);
        Assert.Equal("/mnt/id/f3 5003:6004", lines[1]);
        Assert.Equal("/mnt/plain/f0 0:0", lines[2]);
        Assert.Contains(" 5003 ", lines[3]);
        // the source itself is unchanged
        Assert.Equal("0:0", (await Proc.Run("stat", ["-c", "%u:%g", Path.Combine(src, "f0")])).Stdout.Trim());
    }

    /// <summary>
    /// In a user namespace (container root = host 200000), host root's files show as nobody
    /// through a plain bind. idmap with the container's own mapping (given, or taken from
    /// linux.uidMappings when the mount has none) shows them as the container's root; a
    /// mapping of its own (0 -> 200100) shows them as uid 100 inside.
    /// </summary>
    [RootFact]
    public async Task Idmap_bind_in_a_user_namespace_shows_host_files_as_the_containers_ids()
    {
        var dir = NewDir("idmap-userns");
        var src = OwnedSource(dir, "src");
        var rootfs = await CopyRootfs(dir);
        foreach (var d in new[] { "own", "container", "shifted", "plain" })
            Directory.CreateDirectory(Path.Combine(rootfs, "mnt", d));
        var config = BaseConfig(["/bin/sh", "-c", StatOwners + "/mnt/own/f0 /mnt/own/f3 /mnt/container/f0 /mnt/shifted/f0 /mnt/plain/f0; " +
            "echo written > /mnt/own/new && " + StatOwners + "/mnt/own/new"], rootfs);
        Mounts(config).RemoveAll(m => (string)m!["type"]! is "sysfs" or "mqueue");
        AddMount(config, IdmappedBind(src, "/mnt/own", IdMap(0, 200000, 65536), IdMap(0, 200000, 65536), "rbind", "idmap"));
        AddMount(config, IdmappedBind(src, "/mnt/container", null, null, "rbind", "idmap"));
        AddMount(config, IdmappedBind(src, "/mnt/shifted", IdMap(0, 200100, 100), IdMap(0, 200100, 100), "rbind", "idmap"));
        AddMount(config, Bind(src, "/mnt/plain", "rbind"));
        var linux = (JsonObject)config["linux"]!;
        ((JsonArray)linux["namespaces"]!).Add((JsonNode)new JsonObject { ["type"] = "user" });
        linux["uidMappings"] = IdMap(0, 200000, 65536);
        linux["gidMappings"] = IdMap(0, 200000, 65536);
        var r = await RunOci(dir, config);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(string.Join('\n', "/mnt/own/f0 0:0", "/mnt/own/f3 3:4", "/mnt/container/f0 0:0", "/mnt/shifted/f0 100:100",
            "/mnt/plain/f0 65534:65534", "/mnt/own/new 0:0", ""), r.Stdout);
        // written by the container's root through the mapping: host root's on disk
        Assert.Equal("0:0", (await Proc.Run("stat", ["-c", "%u:%g", Path.Combine(src, "new")])).Stdout.Trim());
    }

    /// <summary>On an rbind, ridmap maps the submounts too; idmap only the top mount (runtime-spec: "applied recursively").</summary>
    [RootTheory]
    [InlineData("ridmap", "5000:6000")]
    [InlineData("idmap", "0:0")]
    public async Task Ridmap_maps_submounts_and_idmap_does_not(string option, string expectedInSubmount)
    {
        var dir = NewDir("ridmap");
        var src = OwnedSource(dir, "src");
        Directory.CreateDirectory(Path.Combine(src, "sub"));
        var config = BaseConfig(["/bin/sh", "-c", StatOwners + "/mnt/id/f0 /mnt/id/sub/s0"]);
        AddMount(config, IdmappedBind(src, "/mnt/id", IdMap(0, 5000, 10), IdMap(0, 6000, 10), "rbind", option));
        var r = await RunInPrivateNamespace(dir, config, $"mount -t tmpfs -o size=1m sub {src}/sub && echo s > {src}/sub/s0");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal($"/mnt/id/f0 5000:6000\n/mnt/id/sub/s0 {expectedInSubmount}\n", r.Stdout);
    }

    public static TheoryData<string, string, string> BadIdmaps() => new()
    {
        // name, the mount as JSON (SRC is the source), what the one line names
        { "overlapping ranges", """{"destination":"/mnt/id","type":"bind","source":"SRC","options":["rbind","idmap"],"uidMappings":[{"containerID":0,"hostID":5000,"size":10},{"containerID":5,"hostID":7000,"size":10}],"gidMappings":[{"containerID":0,"hostID":6000,"size":10}]}""", "overlap" },
        { "empty range", """{"destination":"/mnt/id","type":"bind","source":"SRC","options":["rbind","idmap"],"uidMappings":[{"containerID":0,"hostID":5000,"size":0}],"gidMappings":[{"containerID":0,"hostID":6000,"size":10}]}""", "uidMappings" },
        { "uid mappings alone", """{"destination":"/mnt/id","type":"bind","source":"SRC","options":["rbind","idmap"],"uidMappings":[{"containerID":0,"hostID":5000,"size":10}]}""", "gidMappings" },
        { "no mapping, no user namespace", """{"destination":"/mnt/id","type":"bind","source":"SRC","options":["rbind","ridmap"]}""", "'ridmap'" },
        { "a new filesystem", """{"destination":"/mnt/id","type":"tmpfs","source":"tmpfs","options":["idmap"],"uidMappings":[{"containerID":0,"hostID":5000,"size":10}],"gidMappings":[{"containerID":0,"hostID":6000,"size":10}]}""", "only a bind mount" },
        // valid mapping, but procfs cannot be id-mapped: the kernel refuses at mount_setattr
        { "a filesystem without id-mapping", """{"destination":"/mnt/id","type":"bind","source":"/proc/self/fdinfo","options":["rbind","idmap"],"uidMappings":[{"containerID":0,"hostID":5000,"size":10}],"gidMappings":[{"containerID":0,"hostID":6000,"size":10}]}""", "MOUNT_ATTR_IDMAP" },
    };

    [RootTheory]
    [MemberData(nameof(BadIdmaps))]
    public async Task An_invalid_idmap_is_refused_with_one_line_and_nothing_left(string name, string mountJson, string mention)
    {
        var dir = NewDir("idmap-bad");
        var src = OwnedSource(dir, "src");
        var config = BaseConfig(["/bin/true"]);
        AddMount(config, (JsonObject)JsonNode.Parse(mountJson.Replace("SRC", src))!);
        var root = Path.Combine(dir, "oci-root");
        var id = "idmap-bad-" + Guid.NewGuid().ToString("N")[..8];
        var before = Snapshot.Take(f);
        var r = await RunOci(dir, config, root: root, id: id);
        Assert.True(r.ExitCode != 0, $"{name}: should be refused\n{r}");
        var line = Assert.Single(r.ErrLines);
        Assert.Contains(mention, line);
        Assert.Contains("/mnt/id", line);
        Assert.False(Directory.Exists(Path.Combine(root, id)), $"{name}: the container's state was left behind");
        Assert.Empty(HostState.CgroupsOf(id));
        before.AssertNothingLeft(f, r);
        Assert.DoesNotContain(HostState.MountInfo(), l => l.Contains(dir, StringComparison.Ordinal));
    }

    // ---- a bind mount on /dev, a very deep mount point ------------------------------------

    [RootFact]
    public async Task A_bind_on_dev_gets_nothing_written_into_its_source()
    {
        var dir = NewDir("devbind");
        var mydev = Path.Combine(dir, "mydev");
        Directory.CreateDirectory(mydev);
        File.WriteAllText(Path.Combine(mydev, "mine"), "x");
        var config = BaseConfig(["/bin/sh", "-c", "ls /dev"]);
        // laid over runc spec's tmpfs /dev and the mounts below it, as a client adding a volume does
        AddMount(config, Bind(mydev, "/dev", "rbind"));
        var r = await RunOci(dir, config);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("mine\n", r.Stdout);
        Assert.Equal(["mine"], Directory.GetFileSystemEntries(mydev).Select(Path.GetFileName));
    }

    [RootFact]
    public async Task A_very_deep_mount_point_is_created()
    {
        var dir = NewDir("deep");
        var rootfs = await CopyRootfs(dir);
        // 2040 levels: the path is just below PATH_MAX (4096); each missing level is created in
        // turn (a 4 KiB buffer per level on the stack would need more than the 8 MiB it has)
        var deep = "/deep" + string.Concat(Enumerable.Repeat("/a", 2040));
        var config = BaseConfig(["/bin/sh", "-c", "grep -c ' /deep/a/a/' /proc/self/mountinfo"], rootfs);
        AddMount(config, new JsonObject { ["destination"] = deep, ["type"] = "tmpfs", ["source"] = "tmpfs", ["options"] = Json(["size=1m"]) });
        var r = await RunOci(dir, config);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("1\n", r.Stdout);
    }

    // ---- helpers -------------------------------------------------------------------------

    private string NewDir(string prefix)
    {
        var d = Path.Combine(f.TempBase, prefix + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(d);
        return d;
    }

    private async Task<string> CopyRootfs(string dir)
    {
        var copy = Path.Combine(dir, "rootfs");
        var r = await Proc.Run("cp", ["-a", f.Rootfs, copy]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return copy;
    }

    private string Oci()
    {
        var link = Path.Combine(Path.GetDirectoryName(f.Binary)!, "craterun-oci");
        return File.Exists(link) ? link : throw new InvalidOperationException($"{link} is missing (dotnet publish makes it)");
    }

    private static JsonArray Json(IEnumerable<string> items) => new([.. items.Select(i => (JsonNode)i!)]);

    private static JsonArray Mounts(JsonObject config) => (JsonArray)config["mounts"]!;

    private static void AddMount(JsonObject config, JsonObject mount) => Mounts(config).Add((JsonNode)mount);

    private static JsonObject Bind(string source, string destination, params string[] options) => new()
    {
        ["destination"] = destination, ["type"] = "bind", ["source"] = source, ["options"] = Json(options),
    };

    private static void Grant(JsonObject config, params string[] capabilities)
    {
        var caps = Json(capabilities);
        config["process"]!["capabilities"] = new JsonObject
        {
            ["bounding"] = caps.DeepClone(), ["effective"] = caps.DeepClone(), ["permitted"] = caps.DeepClone(),
        };
    }

    /// <summary>What `runc spec` gives (mounts, masked and read-only paths), with our command and rootfs.</summary>
    private JsonObject BaseConfig(string[] args, string? rootfs = null) => new()
    {
        ["ociVersion"] = "1.2.0",
        ["process"] = new JsonObject
        {
            ["args"] = Json(args),
            ["cwd"] = "/",
            ["env"] = Json(["PATH=/bin:/usr/bin:/sbin:/usr/sbin"]),
            ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
        },
        ["root"] = new JsonObject { ["path"] = rootfs ?? f.Rootfs },
        ["mounts"] = new JsonArray(
            new JsonObject { ["destination"] = "/proc", ["type"] = "proc", ["source"] = "proc" },
            new JsonObject { ["destination"] = "/dev", ["type"] = "tmpfs", ["source"] = "tmpfs", ["options"] = Json(["nosuid", "strictatime", "mode=755", "size=65536k"]) },
            new JsonObject { ["destination"] = "/dev/pts", ["type"] = "devpts", ["source"] = "devpts", ["options"] = Json(["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]) },
            new JsonObject { ["destination"] = "/dev/shm", ["type"] = "tmpfs", ["source"] = "shm", ["options"] = Json(["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]) },
            new JsonObject { ["destination"] = "/dev/mqueue", ["type"] = "mqueue", ["source"] = "mqueue", ["options"] = Json(["nosuid", "noexec", "nodev"]) },
            new JsonObject { ["destination"] = "/sys", ["type"] = "sysfs", ["source"] = "sysfs", ["options"] = Json(["nosuid", "noexec", "nodev", "ro"]) },
            new JsonObject { ["destination"] = "/tmp", ["type"] = "tmpfs", ["source"] = "tmpfs", ["options"] = Json(["size=1m"]) }),
        ["linux"] = new JsonObject
        {
            ["namespaces"] = new JsonArray(
                new JsonObject { ["type"] = "pid" }, new JsonObject { ["type"] = "network" }, new JsonObject { ["type"] = "ipc" },
                new JsonObject { ["type"] = "uts" }, new JsonObject { ["type"] = "mount" }),
            ["maskedPaths"] = Json(["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"]),
            ["readonlyPaths"] = Json(["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]),
        },
    };

    private static string WriteBundle(string dir, JsonObject config)
    {
        var bundle = Path.Combine(dir, "bundle");
        Directory.CreateDirectory(bundle);
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        return bundle;
    }

    private async Task<ProcResult> RunOci(string dir, JsonObject config, string? root = null, string? id = null, string[]? extra = null)
    {
        var bundle = WriteBundle(dir, config);
        string[] args = ["--root", root ?? Path.Combine(dir, "oci-root"), "run", .. extra ?? [], "--bundle", bundle, id ?? "mnt-" + Guid.NewGuid().ToString("N")[..8]];
        return await Proc.Run(Oci(), args, timeout: TimeSpan.FromSeconds(60), env: f.Env);
    }

    /// <summary>`setup` then the runtime, in a private mount namespace of their own; then `after` there.</summary>
    private async Task<ProcResult> RunInPrivateNamespace(string dir, JsonObject config, string setup, string? after = null)
    {
        var bundle = WriteBundle(dir, config);
        var run = string.Join(' ', new[] { Oci(), "--root", Path.Combine(dir, "oci-root"), "run", "--bundle", bundle, "mnt-" + Guid.NewGuid().ToString("N")[..8] }
            .Select(Proc.ShellQuote));
        var script = $"set -e; {setup}; {run}" + (after is null ? "" : $"; {after}");
        return await Proc.Run("unshare", ["-m", "--propagation", "private", "sh", "-c", script], timeout: TimeSpan.FromSeconds(60), env: f.Env);
    }

    /// <summary>mountinfo's optional fields as names: "shared", "master", "unbindable".</summary>
    private static HashSet<string> OptionalFields(string line)
    {
        var f = line.Split(' ');
        var dash = Array.IndexOf(f, "-");
        return [.. f[6..dash].Select(x => x.Split(':')[0])];
    }

    /// <summary>Everything a mount line says about a mount: its options, the filesystem's, and the optional fields.</summary>
    private static HashSet<string> Tokens(string line)
    {
        var f = line.Split(' ');
        var dash = Array.IndexOf(f, "-");
        var set = OptionalFields(line);
        set.UnionWith(f[5].Split(','));
        if (dash + 3 < f.Length) set.UnionWith(f[dash + 3].Split(','));
        return set;
    }
}
