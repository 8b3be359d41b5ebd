using System.Text.Json;
using System.Text.RegularExpressions;
using CrateRun.Core.Explain;
using CrateRun.Core.Setup;
using CrateRun.Linux.Explain;
using CrateRun.Linux.Process;
using Launch = CrateRun.Linux.Interop.Launch;

namespace CrateRun.Core.Tests.Explain;

/// <summary>The C stage's step records (launch.h, struct crt_trace_rec) in plain words.</summary>
public class TraceDecoderTests
{
    private static readonly Lazy<string> Header = new(() => File.ReadAllText(Repo.File("src/CrateRun.Linux/Native/launch.h")));

    [Fact]
    public void Record_kinds_are_the_CRT_T_values_of_launch_h()
    {
        var c = Regex.Matches(Header.Value, @"\bCRT_T_(\w+)\s*=\s*(\d+)").ToDictionary(m => m.Groups[1].Value.Replace("_", ""), m => int.Parse(m.Groups[2].Value));
        var cs = typeof(TraceDecoder).GetFields().Where(f => f.IsLiteral && f.FieldType == typeof(int))
            .ToDictionary(f => f.Name.ToUpperInvariant(), f => (int)f.GetRawConstantValue()!);
        Assert.True(c.Count >= 27);
        Assert.Equal(c.OrderBy(kv => kv.Key), cs.OrderBy(kv => kv.Key));
    }

    [Fact]
    public unsafe void The_trace_magic_is_launch_h_s()
    {
        var m = Regex.Match(Header.Value, @"#define CRT_TRACE_MAGIC (0x[0-9a-fA-F]+)");
        Assert.Equal(Launch.TraceMagic, Convert.ToUInt32(m.Groups[1].Value[2..], 16));
    }

    private static Launch.TraceRecord Rec(int what, int step = -1, ulong arg = 0, int call = 0, int err = 0, long result = 0) =>
        new() { What = what, Step = step, Arg = arg, Call = call, Err = err, Result = result, StartNs = 1_000_000, EndNs = 1_250_000 };

    [Fact]
    public void A_clone_names_each_flag_with_why_and_the_pid()
    {
        var flags = CloneFlags.NewNs | CloneFlags.NewPid | CloneFlags.NewNet | CloneFlags.NewUts | CloneFlags.NewIpc;
        var e = TraceDecoder.Describe(Rec(TraceDecoder.Clone, arg: flags, result: 4242), new TraceContext(new LaunchSpec { CloneFlags = flags }, null, "/r"));
        Assert.Equal(ExplainTopic.Namespaces, e.Topic);
        Assert.Equal("docs/namespaces.md", e.Docs);
        Assert.Contains("clone(CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWNET|CLONE_NEWPID|SIGCHLD) = 4242", e.Call);
        foreach (var name in new[] { "CLONE_NEWNS", "CLONE_NEWUTS", "CLONE_NEWIPC", "CLONE_NEWNET", "CLONE_NEWPID" })
            Assert.Contains(e.Why!, w => w.StartsWith(name + ": ", StringComparison.Ordinal));
        Assert.Equal(250, e.Micros);
        Assert.Null(e.Errno);
    }

    [Fact]
    public void A_mount_shows_source_target_flags_and_where_the_target_resolved()
    {
        var steps = new List<SetupStep> { new(StepOp.Mount, "/proc", "proc", "proc", MountFlags: MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec) };
        var e = TraceDecoder.Describe(Rec(TraceDecoder.Step, step: 0, arg: (ulong)StepOp.Mount), new TraceContext(new LaunchSpec { Steps = steps }, null, "/tmp/rootfs"));
        Assert.Equal(ExplainTopic.ProcAndDev, e.Topic);
        Assert.Contains("fsopen(\"proc\")", e.Call);
        Assert.Contains(e.Why!, w => w.Contains("MS_NOSUID|MS_NODEV|MS_NOEXEC") && w.Contains("target /proc"));
        Assert.Contains(e.Why!, w => w.Contains("RESOLVE_IN_ROOT") && w.Contains("/tmp/rootfs/proc"));
    }

    [Fact]
    public void A_failed_bind_is_the_failing_step_with_errno_and_a_hint()
    {
        var steps = new List<SetupStep> { new(StepOp.Mount, "/data", "/no/such/dir", Flags: StepOptions.Bind | StepOptions.Recursive) };
        var e = TraceDecoder.Describe(Rec(TraceDecoder.Step, step: 0, call: 5 /* CRT_CALL_OPEN */, err: 2), new TraceContext(new LaunchSpec { Steps = steps }, null, "/r"));
        Assert.Equal("bind", e.Step);
        Assert.Equal(2, e.Errno);
        Assert.StartsWith("open: ", e.Error);
        Assert.Contains("source does not exist", e.Hint);
        Assert.Contains("/no/such/dir", e.Text);
    }

    [Fact]
    public void The_bounding_set_step_names_what_it_dropped()
    {
        var keep = (1UL << 0) | (1UL << 5); // CAP_CHOWN, CAP_KILL
        var e = TraceDecoder.Describe(Rec(TraceDecoder.CapBset, arg: keep), new TraceContext(new LaunchSpec { LastCap = 40 }, null, null));
        Assert.Equal(ExplainTopic.Capabilities, e.Topic);
        Assert.Contains("drop 39 capabilities", e.Text);
        Assert.Contains("CAP_SYS_ADMIN", e.Why![0]);
        Assert.DoesNotContain("CAP_CHOWN", e.Why![0]);
        Assert.DoesNotContain("CAP_KILL ", e.Why![0] + " ");
    }

    [Fact]
    public void The_seccomp_step_gives_profile_rules_and_bpf_size()
    {
        var spec = new Core.Oci.Spec
        {
            Linux = new Core.Oci.Linux
            {
                Seccomp = new Core.Oci.LinuxSeccomp
                {
                    DefaultAction = "SCMP_ACT_ERRNO", Architectures = ["SCMP_ARCH_X86_64"],
                    Syscalls = [new() { Names = ["read", "write"], Action = "SCMP_ACT_ALLOW" }, new() { Names = ["clone"], Action = "SCMP_ACT_ALLOW" }],
                },
            },
        };
        var e = TraceDecoder.Describe(Rec(TraceDecoder.Seccomp, arg: 120), new TraceContext(null, spec, null));
        Assert.Contains(e.Why!, w => w.Contains("SCMP_ACT_ERRNO") && w.Contains("2 rules naming 3 syscalls"));
        Assert.Contains(e.Why!, w => w.Contains("120 instructions (960 bytes)"));
    }

    [Fact]
    public void Json_lines_parse_back_with_the_same_step()
    {
        var e = TraceDecoder.Describe(Rec(TraceDecoder.Setuid, arg: 1000), new TraceContext(null, null, null));
        e.Seq = 7;
        var line = ExplainText.Json(e);
        Assert.EndsWith("\n", line);
        Assert.DoesNotContain('\n', line.TrimEnd('\n'));
        using var doc = JsonDocument.Parse(line);
        Assert.Equal(7, doc.RootElement.GetProperty("seq").GetInt32());
        Assert.Equal("setuid", doc.RootElement.GetProperty("step").GetString());
        Assert.Equal("Process", doc.RootElement.GetProperty("topic").GetString());
        Assert.Equal("setresuid(1000, 1000, 1000)", doc.RootElement.GetProperty("call").GetString());
        Assert.Equal("docs/the-process.md", doc.RootElement.GetProperty("docs").GetString());
        Assert.Equal(250, doc.RootElement.GetProperty("micros").GetDouble());
    }

    [Fact]
    public void Text_shows_the_step_the_call_the_cost_and_the_page()
    {
        var e = new ExplainEvent { Seq = 3, Topic = ExplainTopic.Rootfs, Step = "bind", Text = "bind /a on /b", Call = "open_tree(\"/a\")", Micros = 12, Errno = 2, Error = "open: No such file or directory", Hint = "the source does not exist" };
        var text = ExplainText.Text(e);
        Assert.Matches(@"^\[  3\] bind /a on /b +12 µs\n", text);
        Assert.Contains("FAILED: open: No such file or directory (errno 2)", text);
        Assert.Contains("hint: the source does not exist", text);
        Assert.Contains("→ docs/rootfs-and-pivot-root.md", text);
    }
}
