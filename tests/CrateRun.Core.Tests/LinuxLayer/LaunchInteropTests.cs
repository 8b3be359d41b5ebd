using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using CrateRun.Core.Setup;
using Launch = CrateRun.Linux.Interop.Launch;

namespace CrateRun.Core.Tests.LinuxLayer;

/// <summary>The C# mirror of Native/launch.h: sizes, offsets and every shared constant.</summary>
public class LaunchInteropTests
{
    private static readonly Lazy<string> Header = new(() => File.ReadAllText(Repo.File("src/CrateRun.Linux/Native/launch.h")));

    /// <summary>NAME → value of "PREFIX_NAME = N" enum members and "#define PREFIX_NAME N" macros.</summary>
    private static Dictionary<string, long> Constants(string prefix)
    {
        var map = new Dictionary<string, long>();
        foreach (Match m in Regex.Matches(Header.Value, $@"(?:#define\s+{prefix}_(\w+)\s+|\b{prefix}_(\w+)\s*=\s*)(0x[0-9a-fA-F]+|\d+)\b"))
        {
            var name = m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value;
            var text = m.Groups[3].Value;
            map[name] = text.StartsWith("0x", StringComparison.Ordinal) ? Convert.ToInt64(text[2..], 16) : long.Parse(text);
        }
        return map;
    }

    /// <summary>ROOT_PROPAGATION / RootPropagation / MsgRootPropagation → ROOTPROPAGATION.</summary>
    private static string Key(string name) => name.Replace("_", "").ToUpperInvariant();

    [Fact]
    public unsafe void Struct_sizes_match_the_c_side()
    {
        Assert.Equal(464, sizeof(Launch.Plan));
        Assert.Equal(32, sizeof(Launch.Hook));
        Assert.Equal(112, sizeof(Launch.Step));
        Assert.Equal(24, sizeof(Launch.Msg));
        Assert.Equal(24, sizeof(Launch.Rlimit));
        // explain
        Assert.Equal(48, sizeof(Launch.TraceRecord));
        Assert.Equal(16, sizeof(Launch.TraceHeader));
        Assert.Equal(392, (int)Marshal.OffsetOf<Launch.Plan>(nameof(Launch.Plan.Trace)));
    }

    [Theory]
    // offsetof(struct crt_plan, ...) from gcc on x86_64
    [InlineData(nameof(Launch.Plan.SyncFd), 80)]
    [InlineData(nameof(Launch.Plan.ConsoleRows), 108)]
    [InlineData(nameof(Launch.Plan.Groups), 136)]
    [InlineData(nameof(Launch.Plan.CapBounding), 160)]
    [InlineData(nameof(Launch.Plan.SeccompFilter), 208)]
    [InlineData(nameof(Launch.Plan.SeccompFlags), 216)]
    [InlineData(nameof(Launch.Plan.Rlimits), 224)]
    [InlineData(nameof(Launch.Plan.Steps), 240)]
    [InlineData(nameof(Launch.Plan.Cwd), 248)]
    [InlineData(nameof(Launch.Plan.Argv), 256)]
    [InlineData(nameof(Launch.Plan.Envp), 264)]
    [InlineData(nameof(Launch.Plan.MemoryTasksFd), 448)]
    [InlineData(nameof(Launch.Plan.RuntimeSyncFd), 456)]
    public void Plan_field_offsets_match_gcc(string field, int offset) =>
        Assert.Equal(offset, (int)Marshal.OffsetOf<Launch.Plan>(field));

    [Fact]
    public void Step_pointers_start_after_the_numbers() =>
        Assert.Equal(48, (int)Marshal.OffsetOf<Launch.Step>(nameof(Launch.Step.Source)));

    /// <summary>conform: the id-mapped tree's fd follows rec_clear_flags (offsetof(struct crt_step, idmap_fd) from gcc).</summary>
    [Fact]
    public void Step_idmap_fd_is_at_the_end() =>
        Assert.Equal(104, (int)Marshal.OffsetOf<Launch.Step>(nameof(Launch.Step.IdmapFd)));

    [Fact]
    public void The_header_is_found_and_parsed()
    {
        Assert.Contains("struct crt_plan", Header.Value);
        Assert.True(Constants("CRT_OP").Count >= 14);
        Assert.True(Constants("CRT_F").Count >= 7);
    }

    [Fact]
    public void StepOp_values_are_the_CRT_OP_values()
    {
        var c = Constants("CRT_OP").ToDictionary(kv => Key(kv.Key), kv => kv.Value);
        var cs = Enum.GetValues<StepOp>().ToDictionary(v => Key(v.ToString()), v => (long)v);
        Assert.Equal(c.OrderBy(kv => kv.Key), cs.OrderBy(kv => kv.Key));
    }

    [Fact]
    public void StepFlags_values_are_the_CRT_F_values()
    {
        var c = Constants("CRT_F").ToDictionary(kv => Key(kv.Key), kv => kv.Value);
        var cs = Enum.GetValues<StepOptions>().Where(v => v != StepOptions.None).ToDictionary(v => Key(v.ToString()), v => (long)v);
        Assert.Equal(c.OrderBy(kv => kv.Key), cs.OrderBy(kv => kv.Key));
    }

    [Fact]
    public void Message_types_are_the_CRT_MSG_values()
    {
        var c = Constants("CRT_MSG").ToDictionary(kv => Key(kv.Key), kv => kv.Value);
        var consts = typeof(Launch).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.Name.StartsWith("Msg", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(consts);
        foreach (var f in consts)
        {
            var key = Key(f.Name["Msg".Length..]);
            Assert.True(c.ContainsKey(key), $"{f.Name} has no CRT_MSG_ counterpart in launch.h");
            Assert.True(c[key] == (int)f.GetRawConstantValue()!, $"{f.Name} = {f.GetRawConstantValue()}, launch.h says {c[key]}");
        }
    }

    [Fact]
    public void Call_names_follow_enum_crt_call()
    {
        var body = Regex.Match(Header.Value, @"enum crt_call\s*\{(.*?)\};", RegexOptions.Singleline).Groups[1].Value;
        var members = Regex.Matches(body, @"CRT_CALL_(\w+)").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal("SETNS", members[0]);
        Assert.Contains("CRT_CALL_SETNS = 1", body);
        Assert.DoesNotContain(members.Skip(1), m => Regex.IsMatch(body, $@"CRT_CALL_{m}\s*="));
        Assert.Equal(members.Count + 1, Launch.CallNames.Length);
        Assert.Equal("EXEC_LOOKUP", members[Launch.CallExecLookup - 1]);
        Assert.Equal("exec", Launch.CallNames[Launch.CallExecLookup]);
        Assert.Equal("setns", Launch.CallNames[members.IndexOf("SETNS") + 1]);
        Assert.Equal("mount", Launch.CallNames[members.IndexOf("MOUNT") + 1]);
        Assert.Equal("pivot_root", Launch.CallNames[members.IndexOf("PIVOT_ROOT") + 1]);
        Assert.Equal("setdomainname", Launch.CallNames[members.IndexOf("SETDOMAINNAME") + 1]);
        Assert.Equal("loopback", Launch.CallNames[members.IndexOf("NETLINK") + 1]);
        Assert.Equal("setsid", Launch.CallNames[members.IndexOf("SETSID") + 1]);
    }

    [Fact]
    public void Max_join_is_CRT_MAX_JOIN() =>
        Assert.Equal(Launch.MaxJoin, Constants("CRT_MAX")["JOIN"]);
}
