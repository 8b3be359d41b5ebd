using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// Bad input: each is refused with the right exit code and one line naming the problem, and
/// leaves nothing behind (no state directory, no cgroup, no process).
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class BadInputTests(CrateRunFixture f)
{
    /// <summary>Placeholders: {rootfs} the good rootfs, {bad} a scratch directory, {hostdir} an existing host directory.</summary>
    public static TheoryData<string, string[], int, string> Cases => new()
    {
        // rootfs
        { "rootfs /", ["--rootfs", "/"], 125, "'/'" },
        { "rootfs //", ["--rootfs", "//"], 125, "'//'" },
        { "rootfs /.", ["--rootfs", "/."], 125, "'/.'" },
        { "rootfs /tmp/..", ["--rootfs", "/tmp/.."], 125, "'/tmp/..'" },
        { "rootfs symlink to /", ["--rootfs", "{bad}/link-to-root"], 125, "link-to-root" },
        { "rootfs symlink chain to /", ["--rootfs", "{bad}/link-to-link"], 125, "link-to-link" },
        { "rootfs missing", ["--rootfs", "{bad}/missing"], 125, "{bad}/missing" },
        { "rootfs is a file", ["--rootfs", "{bad}/a-file"], 125, "{bad}/a-file" },
        { "rootfs without bin/usr/etc", ["--rootfs", "{bad}/empty"], 125, "{bad}/empty" },
        // resource flags
        { "memory abc", ["--memory", "abc", "--rootfs", "{rootfs}"], 125, "--memory" },
        { "memory 1k", ["--memory", "1k", "--rootfs", "{rootfs}"], 125, "--memory" },
        { "memory -5m", ["--memory", "-5m", "--rootfs", "{rootfs}"], 125, "--memory" },
        { "memory 12x", ["-m", "12x", "--rootfs", "{rootfs}"], 125, "--memory" },
        { "memory empty", ["--memory", "", "--rootfs", "{rootfs}"], 125, "--memory" },
        { "cpu one number", ["--cpu", "50000", "--rootfs", "{rootfs}"], 125, "--cpu" },
        { "cpu words", ["--cpu", "abc def", "--rootfs", "{rootfs}"], 125, "--cpu" },
        { "cpu zero quota", ["--cpu", "0 100000", "--rootfs", "{rootfs}"], 125, "--cpu" },
        { "cpu zero period", ["--cpu", "50000 0", "--rootfs", "{rootfs}"], 125, "--cpu" },
        { "cpu negative", ["--cpu", "-5 100000", "--rootfs", "{rootfs}"], 125, "--cpu" },
        { "cpus 0", ["--cpus", "0", "--rootfs", "{rootfs}"], 125, "--cpus" },
        { "cpus -1", ["--cpus", "-1", "--rootfs", "{rootfs}"], 125, "--cpus" },
        { "cpus abc", ["--cpus", "abc", "--rootfs", "{rootfs}"], 125, "--cpus" },
        { "cpus 0.001", ["--cpus", "0.001", "--rootfs", "{rootfs}"], 125, "--cpus" },
        { "pids 0", ["--pids", "0", "--rootfs", "{rootfs}"], 125, "--pids" },
        { "pids abc", ["--pids", "abc", "--rootfs", "{rootfs}"], 125, "--pids" },
        { "pids -5", ["--pids", "-5", "--rootfs", "{rootfs}"], 125, "--pids" },
        // volumes
        { "volume relative host path", ["-v", "relative/dir:/mnt", "--rootfs", "{rootfs}"], 125, "relative/dir" },
        { "volume missing host path", ["-v", "{bad}/no-such-dir:/mnt", "--rootfs", "{rootfs}"], 125, "{bad}/no-such-dir" },
        { "volume relative container path", ["-v", "{hostdir}:mnt", "--rootfs", "{rootfs}"], 125, "mnt" },
        // (-v with one absolute path is Docker's anonymous volume, no longer bad input: NamedVolumeTests)
        { "volume bad mode", ["-v", "{hostdir}:/mnt:rx", "--rootfs", "{rootfs}"], 125, "rx" },
        { "volume over /", ["-v", "{hostdir}:/", "--rootfs", "{rootfs}"], 125, "root directory /" },
        { "volume over //.", ["-v", "{hostdir}://.", "--rootfs", "{rootfs}"], 125, "root directory /" },
        { "tmpfs over /", ["--tmpfs", "/", "--rootfs", "{rootfs}"], 125, "root directory /" },
        { "volume over /proc", ["-v", "{hostdir}:/proc", "--rootfs", "{rootfs}"], 125, "/proc" },
        { "volume inside /proc", ["-v", "{hostdir}:/proc/sys/kernel", "--rootfs", "{rootfs}"], 125, "/proc" },
        // process
        { "workdir relative", ["-w", "relative", "--rootfs", "{rootfs}"], 125, "relative" },
        // a missing workdir is made (as Docker does); one that cannot be made is named
        { "workdir below a file", ["-w", "/data/hello.txt/sub", "--rootfs", "{rootfs}"], 125, "/data/hello.txt/sub" },
        // hostnames: RFC 1123, at most 64 characters (the kernel's limit)
        { "hostname of 65 characters", ["--hostname", new string('a', 65), "--rootfs", "{rootfs}"], 125, "--hostname" },
        { "hostname with a space", ["--hostname", "a b", "--rootfs", "{rootfs}"], 125, "--hostname" },
        { "hostname with a slash", ["--hostname", "a/b", "--rootfs", "{rootfs}"], 125, "--hostname" },
        { "hostname starting with -", ["--hostname=-ab", "--rootfs", "{rootfs}"], 125, "--hostname" },
        { "hostname with an empty label", ["--hostname", "a..b", "--rootfs", "{rootfs}"], 125, "--hostname" },
        { "user not a number", ["-u", "bob", "--rootfs", "{rootfs}"], 125, "bob" },
        { "command not executable", ["--rootfs", "{rootfs}", "--", "/not-executable"], 126, "/not-executable" },
        { "command missing", ["--rootfs", "{rootfs}", "--", "/no/such/cmd"], 127, "/no/such/cmd" },
        { "command missing in PATH", ["--rootfs", "{rootfs}", "--", "no-such-cmd"], 127, "no-such-cmd" },
        { "no command", ["--rootfs", "{rootfs}"], 125, "command" },
        { "no rootfs", ["--", "/bin/true"], 125, "--rootfs" },
        // names as Docker allows them: [a-zA-Z0-9][a-zA-Z0-9_.-]+
        { "name starting with _", ["--name", "_x", "--rootfs", "{rootfs}"], 125, "'_x'" },
        { "name starting with -", ["--name=-x", "--rootfs", "{rootfs}"], 125, "'-x'" },
        { "name with +", ["--name", "a+b", "--rootfs", "{rootfs}"], 125, "'a+b'" },
        // devices
        { "device a regular file", ["--device", "{bad}/a-file", "--rootfs", "{rootfs}"], 125, "{bad}/a-file is not a device node" },
    };

    private string BadDir()
    {
        var bad = Path.Combine(f.TempBase, "bad");
        if (Directory.Exists(bad)) return bad;
        Directory.CreateDirectory(Path.Combine(bad, "empty"));
        Directory.CreateDirectory(Path.Combine(bad, "hostdir"));
        File.WriteAllText(Path.Combine(bad, "a-file"), "not a directory\n");
        File.CreateSymbolicLink(Path.Combine(bad, "link-to-root"), "/");
        File.CreateSymbolicLink(Path.Combine(bad, "link-to-link"), Path.Combine(bad, "link-to-root"));
        return bad;
    }

    private string Expand(string s, string bad) =>
        s.Replace("{rootfs}", f.Rootfs).Replace("{bad}", bad).Replace("{hostdir}", Path.Combine(bad, "hostdir"));

    [RootTheory]
    [MemberData(nameof(Cases))]
    public async Task IsRefused_AndLeavesNothing(string name, string[] args, int code, string mention)
    {
        var bad = BadDir();
        var argv = args.Select(a => Expand(a, bad)).ToList();
        // a command, when the case itself has none
        if (!argv.Contains("--") && name != "no command") argv.AddRange(["--", "/bin/true"]);
        var before = Snapshot.Take(f);
        var r = await f.Run([.. argv]);
        Assert.True(r.ExitCode == code, $"{name}: expected exit {code}\n{r}");
        var line = Assert.Single(r.ErrLines);
        Assert.StartsWith("craterun: ", line);
        Assert.Contains(Expand(mention, bad), line);
        Assert.Equal("", r.Stdout);
        before.AssertNothingLeft(f, r);
    }

    [RootFact]
    public async Task RootfsThatIsABindMountOfSlash_IsRefused()
    {
        var dir = Path.Combine(f.TempBase, "bind-of-root");
        Directory.CreateDirectory(dir);
        var cid = f.NewCidFile();
        var before = Snapshot.Take(f);
        // the bind mount lives in a private mount namespace that ends with the command
        var r = await Proc.Run("unshare", ["-m", "--propagation", "private", "sh", "-c",
            "mount --bind / \"$1\" && exec \"$2\" --root \"$3\" run --rm --cidfile \"$4\" --rootfs \"$1\" -- /bin/true",
            "sh", dir, f.Binary, f.StateRoot, cid], env: f.Env);
        r.Id = f.ReadCidFile(cid);
        Assert.True(r.ExitCode == 125, r.ToString());
        var line = Assert.Single(r.ErrLines);
        Assert.StartsWith("craterun: ", line);
        Assert.Contains(dir, line);
        before.AssertNothingLeft(f, r);
        Assert.DoesNotContain(HostState.MountInfo(), l => l.Contains(dir, StringComparison.Ordinal));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
    }

    [RootFact]
    public async Task RootfsThatIsABindMountOfSlash_ViaASymlink_IsRefused()
    {
        var dir = Path.Combine(f.TempBase, "bind-of-root-2");
        var link = Path.Combine(f.TempBase, "link-to-bind-of-root");
        Directory.CreateDirectory(dir);
        if (!File.Exists(link) && !Directory.Exists(link)) File.CreateSymbolicLink(link, dir);
        var cid = f.NewCidFile();
        var before = Snapshot.Take(f);
        var r = await Proc.Run("unshare", ["-m", "--propagation", "private", "sh", "-c",
            "mount --bind / \"$1\" && exec \"$2\" --root \"$3\" run --rm --cidfile \"$4\" --rootfs \"$5\" -- /bin/true",
            "sh", dir, f.Binary, f.StateRoot, cid, link], env: f.Env);
        r.Id = f.ReadCidFile(cid);
        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.StartsWith("craterun: ", Assert.Single(r.ErrLines));
        before.AssertNothingLeft(f, r);
    }
}
