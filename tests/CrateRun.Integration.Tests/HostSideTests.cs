using System.Text.Json.Nodes;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// What the runtime does on the host side for a container must not be steered by the
/// container's files or by the words of its command line.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class HostSideTests(CrateRunFixture f)
{
    [RootFact]
    public async Task User_names_resolve_in_the_containers_own_passwd_never_through_its_symlinks_or_fifos()
    {
        var dir = Path.Combine(f.TempBase, "passwd-" + Guid.NewGuid().ToString("N")[..8]);
        var rootfs = Path.Combine(dir, "rootfs");
        var made = await Proc.Run("/bin/bash", [Prerequisites.MakeRootfsScript, rootfs], timeout: TimeSpan.FromSeconds(120));
        Assert.True(made.ExitCode == 0, made.ToString());
        var passwd = Path.Combine(rootfs, "etc", "passwd");
        Directory.CreateDirectory(Path.GetDirectoryName(passwd)!);

        // an ordinary passwd: the name resolves
        File.Delete(passwd);
        File.WriteAllText(passwd, "root:x:0:0::/root:/bin/sh\ntester:x:1234:1235::/:/bin/sh\n");
        var ok = await f.Run(["--rm", "-u", "tester", "--rootfs", rootfs, "--", "/bin/sh", "-c", "id -u; id -g"]);
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Equal("1234\n1235\n", ok.Stdout);

        // a symlink to a host file: it resolves inside the rootfs, where nothing is
        var hostFile = Path.Combine(dir, "host-passwd");
        File.WriteAllText(hostFile, "hostuser:x:4242:4242::/:/bin/sh\n");
        File.Delete(passwd);
        File.CreateSymbolicLink(passwd, hostFile);
        var link = await f.Run(["--rm", "-u", "hostuser", "--rootfs", rootfs, "--", "id", "-u"]);
        Assert.True(link.ExitCode == 125 && link.Stderr.Contains("hostuser"), link.ToString());
        Assert.DoesNotContain("4242", link.Stdout);

        // a FIFO: refused at once, not read (a read would block the root CLI forever)
        File.Delete(passwd);
        Assert.Equal(0, (await Proc.Run("/usr/bin/mkfifo", [passwd])).ExitCode);
        var fifo = await f.RunWith(null, TimeSpan.FromSeconds(15), "--rm", "-u", "tester", "--rootfs", rootfs, "--", "id", "-u");
        Assert.False(fifo.TimedOut, fifo.ToString());
        Assert.True(fifo.ExitCode == 125 && fifo.Stderr.Contains("not a regular file"), fifo.ToString());
    }

    [RootFact]
    public async Task The_word_exec_in_a_run_command_line_does_not_make_run_behave_as_exec()
    {
        // the container's argv ends in "exec": run must not re-execute itself from a sealed copy
        // (the exec-only CVE-2019-5736 guard) nor start a second monitor
        var run = await f.Run(["-d", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "sleep 30", "exec"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        var id = run.Stdout.Trim();
        try
        {
            var meta = JsonNode.Parse(File.ReadAllText(Path.Combine(f.StateDir(id), "metadata.json")))!;
            var monitor = (int)meta["monitorPid"]!;
            Assert.True(monitor > 0, meta.ToJsonString());
            var exe = File.ResolveLinkTarget($"/proc/{monitor}/exe", false)?.ToString() ?? "";
            Assert.Equal(Path.GetFullPath(f.Binary), exe); // neither the memfd nor the read-only overlay copy
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    /// <summary>
    /// exec's re-execution from a read-only copy of the binary (CVE-2019-5736) happens before the .NET runtime
    /// starts (Native/sealed_exec.c, from the constructor): the managed runtime starts once per exec, in the copy.
    /// Each start prints its "main" timing mark; before, an exec printed two (the first process, then the copy).
    /// </summary>
    [RootTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Exec_starts_the_managed_runtime_once_already_running_from_the_read_only_copy(bool ociFace)
    {
        var id = await f.Detached("sleep 30");
        try
        {
            var env = f.EnvWith(new Dictionary<string, string> { ["CRATERUN_TIMING"] = "1" });
            string[] args = ociFace ? ["oci", "--root", f.StateRoot, "exec", id, "/bin/sh", "-c", "exit 7"] : ["--root", f.StateRoot, "exec", id, "/bin/sh", "-c", "exit 7"];
            var exec = await Proc.Run(f.Binary, args, env: env);
            Assert.True(exec.ExitCode == 7, exec.ToString());
            var starts = exec.Stderr.Split('\n').Count(l => l.StartsWith("[timing ", StringComparison.Ordinal) && l.EndsWith(" ms  main", StringComparison.Ordinal));
            Assert.True(starts == 1, $"{starts} managed starts\n{exec}");
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }
}
