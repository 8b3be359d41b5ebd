using System.Text.RegularExpressions;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// User namespaces: a rootless run by a brand-new unprivileged user (created here with useradd,
/// removed with userdel -r), and --userns with a mapped range as root.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed partial class RootlessTests(CrateRunFixture f, SecurityFixture s) : IClassFixture<SecurityFixture>
{
    [RootFact]
    public async Task Rootless_NewUser_IsRootInside_MappedToItsOwnUid_LimitsRefused()
    {
        var user = "crt" + Guid.NewGuid().ToString("N")[..12];
        var add = await Proc.Run("useradd", ["-m", "-s", "/bin/sh", user]);
        Assert.True(add.ExitCode == 0, add.ToString());
        var uid = -1;
        string bin = "", home = "";
        try
        {
            // no subordinate ids (useradd may have given some): the one mapping a user may write itself
            await SetSubordinateIds(user, wanted: false);
            uid = int.Parse((await Proc.Run("id", ["-u", user])).Stdout.Trim());
            var gid = int.Parse((await Proc.Run("id", ["-g", user])).Stdout.Trim());
            home = (await Proc.Run("getent", ["passwd", user])).Stdout.Trim().Split(':')[5];
            Assert.True(uid > 0, $"useradd gave {user} uid {uid}");
            // copies the user can read (the fixture's own are below a 0700 directory)
            bin = s.CopyBinary();
            var rootfs = await s.CopyRootfs(f);
            // the probe's mount point: the user cannot make it in a rootfs owned by host root
            Directory.CreateDirectory(Path.Combine(rootfs, "opt", "escape"));
            // nor the mount points of the /etc files every container gets bound (the rootfs has hostname only)
            foreach (var etc in new[] { "hosts", "resolv.conf" }) File.WriteAllText(Path.Combine(rootfs, "etc", etc), "");

            // 1. root inside, mapped to the user's own uid/gid; the default protections stay on
            var r = await AsUser(user, home, bin, "run", "--rm", "-v", s.ProbeVolume, "--rootfs", rootfs, "--", "/bin/sh", "-c",
                "echo uid=$(id -u) gid=$(id -g); echo \"uidmap=$(cat /proc/self/uid_map)\"; echo \"gidmap=$(cat /proc/self/gid_map)\"; " +
                "grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status; " +
                $"{SecurityFixture.ProbeInside} keyctl; mkdir -p /dev/shm/m; mount -t tmpfs t /dev/shm/m && echo MOUNTED; echo end");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("uid=0 gid=0", r.Stdout);
            Assert.Equal($"0 {uid} 1", Squash(Field(r.Stdout, "uidmap=")));
            Assert.Equal($"0 {gid} 1", Squash(Field(r.Stdout, "gidmap=")));
            // which the first run says, in one line (and no later run: see 3.)
            var notice = Assert.Single(r.ErrLines, l => l.Contains("map your uid alone"));
            Assert.Contains("/etc/subuid", notice);
            Assert.Equal(1, ProbeOutput.StatusNumber(r.Stdout, "NoNewPrivs"));
            Assert.Equal(2, ProbeOutput.StatusNumber(r.Stdout, "Seccomp"));
            Assert.Equal(0x00000000a80425fbUL, ProbeOutput.StatusHex(r.Stdout, "CapEff"));
            Assert.Equal("EPERM", ProbeOutput.Of(r, "keyctl"));
            Assert.DoesNotContain("MOUNTED", r.Stdout);
            // its state lives in its own home
            Assert.True(Directory.Exists(Path.Combine(home, ".craterun")), "no ~/.craterun for the rootless user");

            // 2. from the host, the container's process is the user, not root
            var d = await AsUser(user, home, bin, "run", "-d", "--rootfs", rootfs, "--", "sleep", "60");
            Assert.True(d.ExitCode == 0, d.ToString());
            var id = d.Stdout.Trim();
            var inspect = await AsUser(user, home, bin, "inspect", id);
            var pid = int.Parse(PidField().Match(inspect.Stdout).Groups[1].Value);
            var status = File.ReadAllText($"/proc/{pid}/status");
            Assert.Equal($"{uid}\t{uid}\t{uid}\t{uid}", StatusLine(status, "Uid"));
            Assert.Equal($"{gid}\t{gid}\t{gid}\t{gid}", StatusLine(status, "Gid"));
            var rm = await AsUser(user, home, bin, "rm", "-f", id);
            Assert.True(rm.ExitCode == 0, rm.ToString());

            // 3. resource limits need a cgroup the user may not have: one clear line, exit 125
            var m = await AsUser(user, home, bin, "run", "--rm", "--memory", "64m", "--rootfs", rootfs, "--", "/bin/true");
            Assert.True(m.ExitCode == 125, m.ToString());
            var line = Assert.Single(m.ErrLines);
            Assert.StartsWith("craterun: ", line);
            Assert.Empty(m.Stdout);
        }
        finally
        {
            await RemoveUserAndWhatItLeft(user, uid, home, bin);
            Assert.NotEqual(0, (await Proc.Run("id", [user])).ExitCode);
        }
    }

    /// <summary>craterun as the user, with --network none as the default (the suite's rule outside a network sandbox).</summary>
    private static Task<ProcResult> AsUser(string user, string home, string bin, params string[] args) =>
        Proc.Run("setpriv", AsUserArgs(user, home, "none", bin, args), timeout: TimeSpan.FromSeconds(60));

    /// <summary>setpriv ... env -i ... BIN ARGS: the user's own ids and groups, a clean environment, CRATERUN_NETWORK=<paramref name="network"/> ("" = the product's default).</summary>
    private static string[] AsUserArgs(string user, string home, string network, string bin, string[] args) =>
        ["--reuid", user, "--regid", user, "--init-groups", "--", "/usr/bin/env", "-i", $"HOME={home}", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            $"CRATERUN_NETWORK={network}", bin, .. args];

    /// <summary>
    /// The test user's containers (rm -f, with its own binary), then any process still running as it (by pid),
    /// then the user and its home (userdel -r; it also says that the user had no mail spool: harmless).
    /// </summary>
    private static async Task RemoveUserAndWhatItLeft(string user, int uid, string home, string bin)
    {
        if (bin.Length > 0 && home.Length > 0)
        {
            var left = await AsUser(user, home, bin, "ps", "-a", "-q");
            foreach (var id in left.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                await AsUser(user, home, bin, "rm", "-f", id);
        }
        if (uid > 0) KillProcessesOf(uid);
        var del = await Proc.Run("userdel", ["-r", user]);
        Assert.True(del.ExitCode == 0, del.ToString());
    }

    /// <summary>SIGKILL, by pid, any process still running as <paramref name="uid"/> (there should be none).</summary>
    private static void KillProcessesOf(int uid)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                if (StatusLine(File.ReadAllText(Path.Combine(dir, "status")), "Uid").Split('\t')[0] == uid.ToString())
                    Native.kill(pid, Native.SIGKILL);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    [RootFact]
    public async Task Userns_MappedRange_AsRoot_RootfsStillRootsInside_ProcessIsHostUid100000()
    {
        const string script = "echo \"uidmap=$(cat /proc/self/uid_map)\"; echo \"gidmap=$(cat /proc/self/gid_map)\"; " +
            "stat -c 'owner %u:%g %n' /bin/busybox /etc/passwd /; echo uid=$(id -u); echo ready; sleep 60";
        // host uid 100000 must be able to reach the rootfs: a copy below a world-readable directory
        var rootfs = await s.CopyRootfs(f);
        var run = await f.Run("-d", "--userns", "0:100000:65536", "--rootfs", rootfs, "--", "/bin/sh", "-c", script);
        Assert.True(run.ExitCode == 0, run.ToString());
        var id = run.Id!;
        var plain = await f.Detached("sleep 60");
        try
        {
            // the fixture's rootfs sits below a 0700 directory host uid 100000 cannot search: refused, with a reason
            var closed = await f.Run("--rm", "--userns", "0:100000:65536", "--rootfs", f.Rootfs, "--", "/bin/true");
            if (closed.ExitCode != 0)
            {
                Assert.Equal(125, closed.ExitCode);
                var why = Assert.Single(closed.ErrLines);
                Assert.StartsWith("craterun: ", why);
                Assert.Contains(f.Rootfs, why);
            }

            await f.WaitForLog(id, "ready");
            var logs = (await f.Cr("logs", id)).Stdout;
            Assert.Equal("0 100000 65536", Squash(Field(logs, "uidmap=")));
            Assert.Equal("0 100000 65536", Squash(Field(logs, "gidmap=")));
            // id-mapped rootfs: host root's files are root's inside (not nobody's)
            Assert.Contains("owner 0:0 /bin/busybox", logs);
            Assert.Contains("owner 0:0 /etc/passwd", logs);
            Assert.Contains("owner 0:0 /", logs);
            Assert.Contains("uid=0", logs);

            // from the host: the container's process is uid 100000, a default container's is 0
            var pid = (await f.Inspect(id)).GetProperty("pid").GetInt32();
            var status = File.ReadAllText($"/proc/{pid}/status");
            Assert.Equal("100000\t100000\t100000\t100000", StatusLine(status, "Uid"));
            Assert.Equal("100000\t100000\t100000\t100000", StatusLine(status, "Gid"));
            var plainPid = (await f.Inspect(plain)).GetProperty("pid").GetInt32();
            Assert.Equal("0\t0\t0\t0", StatusLine(File.ReadAllText($"/proc/{plainPid}/status"), "Uid"));
            // and the rootfs on the host still belongs to root
            Assert.Equal("0", (await Proc.Run("stat", ["-c", "%u", Path.Combine(f.Rootfs, "bin", "busybox")])).Stdout.Trim());
        }
        finally
        {
            await f.RemoveForce(id, plain);
        }
    }

    private static string Field(string text, string prefix) =>
        text.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))?[prefix.Length..]
        ?? throw new Xunit.Sdk.XunitException($"no '{prefix}' line in\n{text}");

    private static string Squash(string s) => string.Join(' ', s.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries));

    private static string StatusLine(string status, string key) =>
        status.Split('\n').First(l => l.StartsWith(key + ":", StringComparison.Ordinal))[(key.Length + 1)..].Trim();

    [GeneratedRegex("\"pid\"\\s*:\\s*(\\d+)")]
    private static partial Regex PidField();
}
