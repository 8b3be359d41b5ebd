using System.Formats.Tar;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// Issue 11: `cp CTR:PATH -` writes a tar stream, `cp - CTR:DIR` extracts one (Docker's cp). GNU tar
/// reads what we write and writes what we read; hostile archives (a ".." entry, an absolute one,
/// entries through symlinks planted in the container) are refused or kept inside the destination,
/// checked from inside the container and on the host.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class CpTarTests(CrateRunFixture f)
{
    private string NewDir(string prefix) =>
        Directory.CreateDirectory(Path.Combine(f.TempBase, prefix + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    private static Task<ProcResult> Bash(string script) => Proc.Run("/bin/bash", ["-c", "set -o pipefail; " + script]);

    [RootFact]
    public async Task Cp_to_stdout_is_a_tar_GNU_tar_reads_with_modes_and_links_kept()
    {
        var id = await f.Detached("mkdir -p /t/d/sub && echo inner > /t/d/sub/f && chmod 750 /t/d/sub && chmod 640 /t/d/sub/f"
            + " && ln -s ../sub/f /t/d/link && ln -s /etc /t/evil && echo ready; sleep 60", "--tmpfs", "/t");
        var host = NewDir("cptar-out");
        try
        {
            await f.WaitForLog(id, "ready");
            var list = await Bash($"{f.ShellCommand("cp", id + ":/t/d", "-")} | tar -tvf -");
            Assert.True(list.ExitCode == 0, list.ToString());
            Assert.Contains(list.OutLines, l => l.StartsWith("drwxr-x---", StringComparison.Ordinal) && l.EndsWith(" d/sub/", StringComparison.Ordinal));
            Assert.Contains(list.OutLines, l => l.StartsWith("-rw-r-----", StringComparison.Ordinal) && l.EndsWith(" d/sub/f", StringComparison.Ordinal));
            Assert.Contains(list.OutLines, l => l.StartsWith("lrwxrwxrwx", StringComparison.Ordinal) && l.EndsWith(" d/link -> ../sub/f", StringComparison.Ordinal));

            var x = await Bash($"{f.ShellCommand("cp", id + ":/t/d", "-")} | tar -C {host} -xpf -");
            Assert.True(x.ExitCode == 0, x.ToString());
            Assert.Equal("inner\n", File.ReadAllText(Path.Combine(host, "d/sub/f")));
            Assert.Equal((UnixFileMode)0x1A0 /* 0640 */, File.GetUnixFileMode(Path.Combine(host, "d/sub/f")));
            Assert.Equal("../sub/f", new FileInfo(Path.Combine(host, "d/link")).LinkTarget);

            // a path through a symlink planted in the container: the container's /etc, never the host's
            var passwd = await Bash($"{f.ShellCommand("cp", id + ":/t/evil/passwd", "-")} | tar -xOf -");
            Assert.True(passwd.ExitCode == 0, passwd.ToString());
            Assert.Equal(File.ReadAllText(Path.Combine(f.Rootfs, "etc/passwd")), passwd.Stdout);
            Assert.NotEqual(File.ReadAllText("/etc/passwd"), passwd.Stdout);
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    [RootFact]
    public async Task Cp_from_stdin_extracts_GNU_tars_archive_into_the_directory()
    {
        var id = await f.Detached("mkdir /t/in && echo ready; sleep 60", "--tmpfs", "/t");
        var src = NewDir("cptar-in");
        try
        {
            await f.WaitForLog(id, "ready");
            Directory.CreateDirectory(Path.Combine(src, "tree/deep"));
            File.WriteAllText(Path.Combine(src, "tree/deep/x"), "x\n");
            File.SetUnixFileMode(Path.Combine(src, "tree/deep/x"), (UnixFileMode)0x1E4 /* 0744 */);
            File.SetUnixFileMode(Path.Combine(src, "tree/deep"), (UnixFileMode)0x1E9 /* 0751 */);
            File.CreateSymbolicLink(Path.Combine(src, "tree/rel"), "deep/x");
            var r = await Bash($"tar -C {src} -cf - tree | {f.ShellCommand("cp", "-", id + ":/t/in")}");
            Assert.True(r.ExitCode == 0, r.ToString());
            var inside = await f.Cr("exec", id, "sh", "-c", "stat -c '%a %n' /t/in/tree/deep /t/in/tree/deep/x; cat /t/in/tree/rel; readlink /t/in/tree/rel");
            Assert.Equal(["751 /t/in/tree/deep", "744 /t/in/tree/deep/x", "x", "deep/x"], inside.OutLines);

            // the destination must be a directory; garbage is not a tar
            var notDir = await f.CrWith("", null, "cp", "-", id + ":/t/in/tree/deep/x");
            Assert.True(notDir.ExitCode == 125, notDir.ToString());
            Assert.Contains("must be an existing directory", Assert.Single(notDir.ErrLines));
            var garbage = await f.CrWith(new string('z', 2000), null, "cp", "-", id + ":/t/in");
            Assert.True(garbage.ExitCode == 125, garbage.ToString());
            Assert.Contains("not a valid tar", Assert.Single(garbage.ErrLines));
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    /// <summary>A tar made of these entries (hostile names are what TarWriter writes as given).</summary>
    private static string Archive(string dir, string name, params TarEntry[] entries)
    {
        var path = Path.Combine(dir, name + ".tar");
        using var file = File.Create(path);
        using var w = new TarWriter(file, TarEntryFormat.Pax);
        foreach (var e in entries) w.WriteEntry(e);
        return path;
    }

    private static PaxTarEntry File_(string name, string content) =>
        new(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(content)), Mode = (UnixFileMode)0x1A4 };

    private static PaxTarEntry Link(string name, string target, TarEntryType type = TarEntryType.SymbolicLink) => new(type, name) { LinkName = target };

    [RootFact]
    public async Task Hostile_entries_are_refused_or_kept_inside_the_destination()
    {
        var probe = "cptar-probe-" + Guid.NewGuid().ToString("N")[..8];
        // /t/in/etc-link and /t/in/up lead to the container's /etc: entries must not go through them
        var id = await f.Detached("mkdir -p /t/in && ln -s /etc /t/in/etc-link && ln -s ../../../../../../etc /t/in/up && echo ready; sleep 60", "--tmpfs", "/t");
        var dir = NewDir("cptar-evil");
        try
        {
            await f.WaitForLog(id, "ready");
            var cases = new (string Name, TarEntry[] Entries, string Refusal)[]
            {
                ("dotdot", [File_("../" + probe, "escaped\n")], "'..'"),
                ("dotdot-deep", [File_("a/../../" + probe, "escaped\n")], "'..'"),
                ("abs-link", [File_("etc-link/" + probe, "escaped\n")], "symlink that leads out"),
                ("rel-link", [File_("up/" + probe, "escaped\n")], "symlink that leads out"),
                ("own-link", [Link("mine", "/etc"), File_("mine/" + probe, "escaped\n")], "symlink that leads out"),
                ("hardlink", [Link("hl", "../../etc/passwd", TarEntryType.HardLink)], "'..'"),
            };
            foreach (var (name, entries, refusal) in cases)
            {
                var r = await Bash($"{f.ShellCommand("cp", "-", id + ":/t/in")} < {Archive(dir, name, entries)}");
                Assert.True(r.ExitCode == 125, name + ": " + r);
                Assert.Contains(refusal, Assert.Single(r.ErrLines));
            }
            // an absolute name lands below the destination (as GNU tar extracts it)
            var abs = await Bash($"{f.ShellCommand("cp", "-", id + ":/t/in")} < {Archive(dir, "abs", File_("/" + probe, "contained\n"))}");
            Assert.True(abs.ExitCode == 0, abs.ToString());

            var look = await f.Cr("exec", id, "sh", "-c", $"cat /t/in/{probe}; ls /etc /t /t/in | grep -c {probe}");
            Assert.Equal("contained", look.OutLines[0]);
            Assert.Equal("1", look.OutLines[1]); // only /t/in/PROBE: nothing in the container's /etc, nor in /t
            Assert.False(File.Exists("/etc/" + probe), "cp - wrote into the host's /etc");
            Assert.False(File.Exists(Path.Combine(f.Rootfs, "etc", probe)));
            Assert.False(File.Exists(Path.Combine(f.TempBase, probe)));
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }
}
