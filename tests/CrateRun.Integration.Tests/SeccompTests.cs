using System.Text.Json.Nodes;
using CrateRun.Core.Oci;
using CrateRun.Core.Security;
using CrateRun.Core.Tests.Security;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// linux.seccomp through the OCI face, as an outside tester drives it: nothing of the runtime runs under the user's
/// filter (a minimal allow-list is enough, with and without no_new_privs), two conditions on one argument mean either
/// (as runc and crun read them), calls newer than the profile get ENOSYS (so glibc falls back), SCMP_ACT_NOTIFY on
/// exec reaches the agent, and startContainer hooks run under the container's filter. The raw calls come from
/// tests/fixtures/escape/probe.c (static, bound read-only at /opt/escape).
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class SeccompTests(CrateRunFixture f, SecurityFixture s) : IClassFixture<SecurityFixture>
{
    private const string P = SecurityFixture.ProbeInside;

    /// <summary>
    /// What a static busybox `echo` runs, traced with strace (execve, the libc start-up calls, write, exit_group).
    /// </summary>
    private static readonly string[] EchoNeeds =
    [
        "execve", "arch_prctl", "brk", "set_tid_address", "set_robust_list", "rseq", "prlimit64", "mprotect", "getrandom",
        "readlink", "prctl", "getuid", "write", "exit_group",
    ];

    /// <summary>runc spec's capabilities (no CAP_SYS_ADMIN).</summary>
    private static readonly string[] RuncCaps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

    // ---- 1. nothing of the runtime runs under the user's filter -------------------------------------------

    /// <summary>
    /// A deny-by-default profile that allows only what `echo` needs. With no_new_privs nothing but execve follows the
    /// filter; without, loading it needs CAP_SYS_ADMIN, so the capset that drops it follows too (the kernel's
    /// requirement, as with runc and crun) — unless the process keeps CAP_SYS_ADMIN, where again only execve does.
    /// Without `write` the same profile leaves echo mute: the filter is really in force.
    /// </summary>
    [RootTheory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(false, true)]
    public async Task MinimalAllowList_IsAllTheContainerNeeds(bool noNewPrivileges, bool sysAdmin)
    {
        var caps = sysAdmin ? [.. RuncCaps, "CAP_SYS_ADMIN"] : RuncCaps;
        var names = noNewPrivileges || sysAdmin ? EchoNeeds : [.. EchoNeeds, "capset"];
        var profile = Profile("SCMP_ACT_ERRNO", new JsonObject { ["names"] = Names(names), ["action"] = "SCMP_ACT_ALLOW" });

        var r = await RunOci(Config(["/bin/echo", "hello from a minimal profile"], profile, noNewPrivileges, caps));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("hello from a minimal profile", r.Stdout.Trim());

        var mute = Profile("SCMP_ACT_ERRNO", new JsonObject { ["names"] = Names([.. names.Where(n => n != "write")]), ["action"] = "SCMP_ACT_ALLOW" });
        var m = await RunOci(Config(["/bin/echo", "hello"], mute, noNewPrivileges, caps));
        Assert.DoesNotContain("hello", m.Stdout);
        Assert.DoesNotContain("container setup failed", m.Stderr);
    }

    /// <summary>
    /// SCMP_ACT_ERRNO on getcwd must not break create (the runtime checks its cwd before the filter); the container's
    /// own getcwd gets the profile's errno.
    /// </summary>
    [RootTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ProfileDenyingGetcwd_CreateWorks_TheContainersGetcwdFails(bool noNewPrivileges)
    {
        var profile = Profile("SCMP_ACT_ALLOW", new JsonObject { ["names"] = Names(["getcwd"]), ["action"] = "SCMP_ACT_ERRNO", ["errnoRet"] = 42 });
        var r = await RunOci(Config([P, "sc", "getcwd"], profile, noNewPrivileges, RuncCaps));
        Assert.True(r.ExitCode == 1, r.ToString()); // the probe's exit code when its call failed
        Assert.DoesNotContain("container setup failed", r.Stderr);
        Assert.Equal("ENOMSG", ProbeOutput.Of(r, "getcwd")); // errnoRet 42
    }

    // ---- 2. several conditions on one argument ---------------------------------------------------------

    /// <summary>
    /// A deny-by-default profile (every x86_64 call allowed but personality) with one entry allowing personality for
    /// two values of argument 0 (two SCMP_CMP_EQ on index 0): runc and crun add each condition as its own rule, so
    /// either value is allowed; any other value gets the default errno.
    /// </summary>
    [RootFact]
    public async Task TwoConditionsOnOneArgument_EitherValueIsAllowed()
    {
        var profile = Profile("SCMP_ACT_ERRNO",
            new JsonObject { ["names"] = Names(SyscallTable.X86_64.Keys.Where(n => n != "personality").Order()), ["action"] = "SCMP_ACT_ALLOW" },
            new JsonObject
            {
                ["names"] = Names(["personality"]), ["action"] = "SCMP_ACT_ALLOW",
                ["args"] = new JsonArray(Arg(0, "SCMP_CMP_EQ", 0x8), Arg(0, "SCMP_CMP_EQ", 0x20008)),
            });
        profile["defaultErrnoRet"] = 42;
        var script = $"{P} sc personality 0x8; {P} sc personality 0x20008; {P} sc personality 0x400000";
        var r = await RunOci(Config(["/bin/sh", "-c", script], profile, true, RuncCaps));
        Assert.True(r.ExitCode is 0 or 1, r.ToString());
        Assert.Equal("ok", ProbeOutput.Of(r, "personality 0x8"));
        Assert.Equal("ok", ProbeOutput.Of(r, "personality 0x20008"));
        Assert.Equal("ENOMSG", ProbeOutput.Of(r, "personality 0x400000")); // defaultErrnoRet 42
    }

    // ---- 3. calls newer than the profile: ENOSYS ---------------------------------------------------------

    /// <summary>
    /// A profile written before clone3 existed: it allows every x86_64 call numbered below clone3 except getpriority,
    /// with EPERM... as defaultErrnoRet 42. glibc's pthread_create tries clone3 and falls back to clone only on ENOSYS,
    /// so threads work; a call below the highest named one that the profile leaves out gets defaultErrnoRet.
    /// </summary>
    [RootFact]
    public async Task ProfileOlderThanClone3_GetsEnosys_SoGlibcThreadsFallBack()
    {
        var clone3 = SyscallTable.X86_64["clone3"];
        var old = SyscallTable.X86_64.Where(kv => kv.Value < clone3 && kv.Key != "getpriority").Select(kv => kv.Key).Order();
        var profile = Profile("SCMP_ACT_ERRNO", new JsonObject { ["names"] = Names([.. old]), ["action"] = "SCMP_ACT_ALLOW" });
        profile["defaultErrnoRet"] = 42;
        var script = $"{P} thread; {P} sc clone3; {P} sc getpriority";
        var r = await RunOci(Config(["/bin/sh", "-c", script], profile, true, RuncCaps));
        Assert.True(r.ExitCode is 0 or 1, r.ToString());
        Assert.Equal("ok", ProbeOutput.Of(r, "thread"));           // clone3: ENOSYS, then clone
        Assert.Equal("ENOSYS", ProbeOutput.Of(r, "clone3"));
        Assert.Equal("ENOMSG", ProbeOutput.Of(r, "getpriority"));  // named range, left out: defaultErrnoRet
    }

    // ---- 4. SCMP_ACT_NOTIFY on exec, startContainer hooks under the filter -------------------------------------

    /// <summary>
    /// `exec` of a process in a container whose profile has SCMP_ACT_NOTIFY: the new process has a filter and a
    /// listener of its own, which goes to the agent at listenerPath with the process state (the exec'd pid, the
    /// container "running"); the agent answers the exec'd process's mkdir.
    /// </summary>
    [RootFact]
    public async Task Exec_WithNotify_HandsItsListenerToTheAgent()
    {
        var dir = s.NewDir("notify-exec");
        var sock = Path.Combine(dir, "agent.sock");
        var profile = Profile("SCMP_ACT_ALLOW", new JsonObject { ["names"] = Names(["mkdir", "mkdirat"]), ["action"] = "SCMP_ACT_NOTIFY" });
        profile["listenerPath"] = sock;
        profile["listenerMetadata"] = "exec-test";
        var root = Path.Combine(dir, "oci-root");
        var id = "notify-exec-" + Guid.NewGuid().ToString("N")[..8];
        var bundle = Bundle(dir, Config(["/bin/sleep", "60"], profile, true, RuncCaps));
        // the first agent takes the container process's listener (at create) and waits on it
        using var createAgent = new AgentSlot { Process = Agent(sock, 18) };
        using var execAgent = new AgentSlot();
        try
        {
            await WaitForSocket(sock);
            var c = await Proc.Run(Oci(), ["--root", root, "create", "--bundle", bundle, id], timeout: TimeSpan.FromSeconds(30));
            Assert.True(c.ExitCode == 0, c.ToString());
            var st = await Proc.Run(Oci(), ["--root", root, "start", id], timeout: TimeSpan.FromSeconds(30));
            Assert.True(st.ExitCode == 0, st.ToString());
            var initPid = int.Parse((await Proc.Run(Oci(), ["--root", root, "state", id])).Stdout.Split("\"pid\":")[1].Split(',', '}')[0]);

            // a second agent on the same path for the exec'd process
            File.Delete(sock);
            execAgent.Process = Agent(sock, 18);
            await WaitForSocket(sock);
            var e = await Proc.Run(Oci(), ["--root", root, "exec", id, P, "sc", "mkdir", "/tmp/notified-by-exec"], timeout: TimeSpan.FromSeconds(30));
            Assert.True(execAgent.Process.WaitForExit(10_000), "the exec agent never finished");
            var log = await execAgent.Process.StandardOutput.ReadToEndAsync();
            Assert.True(e.ExitCode is 0 or 1, e + "\n--- agent ---\n" + log);
            Assert.Equal("EXDEV", ProbeOutput.Of(e, "mkdir /tmp/notified-by-exec")); // the agent's answer
            Assert.Contains("\"fds\":[\"seccompFd\"]", log);
            Assert.Contains("\"metadata\":\"exec-test\"", log);
            Assert.Contains("\"status\":\"running\"", log);
            Assert.Contains($"\"pid\":{initPid}", log);                 // state.pid: the container's process
            Assert.Matches(@"agent: notified syscall=83 pid=\d+", log);  // mkdir, from the exec'd process
        }
        finally
        {
            await Proc.Run(Oci(), ["--root", root, "delete", "--force", id]);
        }
    }

    /// <summary>
    /// startContainer hooks run in the container, after start, as its process will: under its seccomp filter (and its
    /// no_new_privs). The hook's mkdir gets the profile's errno; it reports what it saw in the container's /tmp.
    /// </summary>
    [RootTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task StartContainerHook_RunsUnderTheContainersFilter(bool noNewPrivileges)
    {
        var profile = Profile("SCMP_ACT_ALLOW", new JsonObject { ["names"] = Names(["mkdir", "mkdirat"]), ["action"] = "SCMP_ACT_ERRNO", ["errnoRet"] = 18 });
        var config = Config(["/bin/cat", "/tmp/hook.out"], profile, noNewPrivileges, RuncCaps);
        config["hooks"] = new JsonObject
        {
            ["startContainer"] = new JsonArray(new JsonObject
            {
                ["path"] = "/bin/sh",
                ["args"] = new JsonArray("sh", "-c", $"{P} sc mkdir /tmp/hook-dir > /tmp/hook.out; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status >> /tmp/hook.out"),
            }),
        };
        var r = await RunOci(config);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("EXDEV", ProbeOutput.Of(r, "mkdir /tmp/hook-dir"));
        Assert.Equal(2, ProbeOutput.StatusNumber(r.Stdout, "Seccomp"));
        Assert.Equal(noNewPrivileges ? 1 : 0, ProbeOutput.StatusNumber(r.Stdout, "NoNewPrivs"));
    }

    // ---- real profiles -----------------------------------------------------------------------------------

    /// <summary>
    /// containers-common's seccomp.json (podman's default, /usr/share/containers/seccomp.json), turned into
    /// linux.seccomp as podman does for runc's default capabilities: a shell and the usual tools work, the refused
    /// calls get its errnos (EPERM for the listed ones, defaultErrnoRet ENOSYS for the rest).
    /// </summary>
    [RootFact]
    public async Task PodmansProfile_ShellWorks_RefusedCallsGetItsErrnos()
    {
        var profile = ContainersProfile.ToLinuxSeccomp(ContainersProfile.Path, RuncCaps);
        var node = JsonNode.Parse(OciJson.Write(profile))!.AsObject();
        var script = $"echo shell-ok; mkdir -p /tmp/a/b && ls -d /tmp/a/b; {P} thread; {P} sc clock_settime; " +
                     $"{P} sc personality 0x8; {P} sc personality 0x400000";
        var r = await RunOci(Config(["/bin/sh", "-c", script], node, true, RuncCaps));
        Assert.True(r.ExitCode is 0 or 1, r.ToString());
        Assert.Contains("shell-ok", r.Stdout);
        Assert.Contains("/tmp/a/b", r.Stdout);
        Assert.Equal("ok", ProbeOutput.Of(r, "thread"));
        Assert.Equal("EPERM", ProbeOutput.Of(r, "clock_settime"));        // listed: SCMP_ACT_ERRNO without CAP_SYS_TIME
        Assert.Equal("ok", ProbeOutput.Of(r, "personality 0x8"));         // one of its allowed values
        Assert.Equal("ENOSYS", ProbeOutput.Of(r, "personality 0x400000")); // no rule holds: defaultErrnoRet 38
    }

    // ---- helpers -----------------------------------------------------------------------------------------

    private static JsonArray Names(IEnumerable<string> names) => new([.. names.Select(n => (JsonNode)n!)]);

    private static JsonObject Arg(int index, string op, ulong value) =>
        new() { ["index"] = index, ["op"] = op, ["value"] = value };

    private static JsonObject Profile(string defaultAction, params JsonObject[] syscalls) => new()
    {
        ["defaultAction"] = defaultAction,
        ["architectures"] = new JsonArray("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
        ["syscalls"] = new JsonArray([.. syscalls]),
    };

    private JsonObject Config(string[] args, JsonObject seccomp, bool noNewPrivileges, string[] caps)
    {
        JsonArray Caps() => new([.. caps.Select(c => (JsonNode)c!)]);
        return new JsonObject
        {
            ["ociVersion"] = "1.2.0",
            ["process"] = new JsonObject
            {
                ["args"] = new JsonArray([.. args.Select(a => (JsonNode)a!)]),
                ["cwd"] = "/",
                ["env"] = new JsonArray("PATH=/bin:/usr/bin"),
                ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
                ["noNewPrivileges"] = noNewPrivileges,
                ["capabilities"] = new JsonObject { ["bounding"] = Caps(), ["effective"] = Caps(), ["permitted"] = Caps() },
            },
            ["root"] = new JsonObject { ["path"] = f.Rootfs },
            ["mounts"] = new JsonArray(
                new JsonObject { ["destination"] = "/proc", ["type"] = "proc", ["source"] = "proc" },
                new JsonObject { ["destination"] = "/tmp", ["type"] = "tmpfs", ["source"] = "tmpfs" },
                new JsonObject { ["destination"] = "/opt/escape", ["type"] = "bind", ["source"] = s.ProbeDir, ["options"] = new JsonArray("rbind", "ro") }),
            ["linux"] = new JsonObject
            {
                ["namespaces"] = new JsonArray(
                    new JsonObject { ["type"] = "pid" }, new JsonObject { ["type"] = "mount" }, new JsonObject { ["type"] = "ipc" },
                    new JsonObject { ["type"] = "uts" }, new JsonObject { ["type"] = "network" }),
                ["seccomp"] = seccomp,
            },
        };
    }

    private static string Bundle(string dir, JsonObject config)
    {
        var bundle = Path.Combine(dir, "bundle-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(bundle);
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        return bundle;
    }

    /// <summary>craterun-oci run: create, start, wait, delete.</summary>
    private async Task<ProcResult> RunOci(JsonObject config)
    {
        var dir = s.NewDir("oci");
        var id = "seccomp-" + Guid.NewGuid().ToString("N")[..8];
        var root = Path.Combine(dir, "oci-root");
        var r = await Proc.Run(Oci(), ["--root", root, "run", "--bundle", Bundle(dir, config), id], timeout: TimeSpan.FromSeconds(30));
        Assert.False(Directory.Exists(Path.Combine(root, id)), "state left behind\n" + r);
        return r;
    }

    private string Oci()
    {
        var link = Path.Combine(Path.GetDirectoryName(f.Binary)!, "craterun-oci");
        return File.Exists(link) ? link : throw new InvalidOperationException($"{link} is missing (dotnet publish makes it)");
    }

    private System.Diagnostics.Process Agent(string sock, int errno) =>
        System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(Path.Combine(s.ProbeDir, "probe"))
        {
            ArgumentList = { "seccomp-agent", sock, errno.ToString() },
            RedirectStandardOutput = true,
        })!;

    private static async Task WaitForSocket(string sock)
    {
        for (var i = 0; i < 100 && !File.Exists(sock); i++) await Task.Delay(20);
        Assert.True(File.Exists(sock), $"the agent never listened on {sock}");
    }

    /// <summary>An agent started later in a test, killed at the end if it is still there.</summary>
    private sealed class AgentSlot : IDisposable
    {
        public System.Diagnostics.Process? Process { get; set; }

        public void Dispose()
        {
            if (Process is null) return;
            if (!Process.HasExited) Process.Kill();
            Process.Dispose();
        }
    }
}
