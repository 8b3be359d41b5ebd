using CrateRun.Core.Oci;
using CrateRun.Core.Security;
using Xunit.Abstractions;

namespace CrateRun.Core.Tests.Security;

/// <summary>
/// Our compiler against the ground truth: the filter libseccomp builds from the same profile, fed as runc feeds it,
/// behind runc's -ENOSYS stub (<see cref="LibseccompReference"/>). Both programs run in <see cref="BpfInterpreter"/>
/// for every number of the three x86 ABIs and a set of argument values; every answer must be the same. Names that this
/// libseccomp does not know are left out of the profile first (runc would skip them; we know newer calls).
/// </summary>
public class SeccompLibseccompTests(ITestOutputHelper output)
{
    private const uint X86_64 = 0xC000_003E, I386 = 0x4000_0003;

    private static readonly ulong[] Values = [0, 1, 2, 3, 8, 9, 16, 0x20008, 0x400000, 0x7E02_0000, 0xFFFF_FFFF, 0x1_0000_0008, ulong.MaxValue];

    private static LinuxSeccomp KnownToLibseccomp(LinuxSeccomp profile, HashSet<string> known) => new()
    {
        DefaultAction = profile.DefaultAction,
        DefaultErrnoRet = profile.DefaultErrnoRet,
        Architectures = profile.Architectures,
        Syscalls = [.. (profile.Syscalls ?? []).Select(c => new LinuxSyscall { Names = [.. c.Names.Where(known.Contains)], Action = c.Action, ErrnoRet = c.ErrnoRet, Args = c.Args })
            .Where(c => c.Names.Count > 0)],
    };

    /// <summary>Returns the number of disagreements, and prints the first few.</summary>
    private int Compare(string label, LinuxSeccomp profile, IEnumerable<ulong[]> argSets, IEnumerable<uint>? numbers = null)
    {
        var ours = SeccompCompiler.Compile(profile).Filter;
        var theirs = LibseccompReference.Build(profile);
        BpfInterpreter.Validate(ours);
        var n64 = (numbers ?? SyscallTable.X86_64.Values.Concat(SyscallTable.X32.Values)
            .Concat<uint>([470, 1000, 0x3FFF_FFFF, 0x4000_0300, 0x8000_0001, 0xC000_0001, uint.MaxValue])).ToArray();
        var n386 = (numbers is null ? SyscallTable.I386.Values.Concat<uint>([470, 1000, uint.MaxValue]) : numbers).ToArray();
        var differences = 0;
        foreach (var args in argSets)
        {
            foreach (var (arch, nrs) in new[] { (X86_64, n64), (I386, n386) })
            {
                foreach (var nr in nrs)
                {
                    var expected = LibseccompReference.Stub(profile, arch, nr) ?? BpfInterpreter.Run(theirs, arch, nr, args);
                    var actual = BpfInterpreter.Run(ours, arch, nr, args);
                    if (expected == actual) continue;
                    if (differences++ < 10)
                        output.WriteLine($"{label}: arch 0x{arch:x} nr 0x{nr:x} args [{string.Join(", ", args.Select(a => $"0x{a:x}"))}]: libseccomp+runc 0x{expected:x8}, ours 0x{actual:x8}");
                }
            }
        }
        output.WriteLine($"{label}: {ours.Length} instructions (libseccomp {theirs.Length}), {differences} differences");
        return differences;
    }

    private static HashSet<string> Known()
    {
        Assert.True(LibseccompReference.Missing() is null, LibseccompReference.Missing());
        return [.. SyscallTable.X86_64.Keys.Concat(SyscallTable.I386.Keys).Concat(SyscallTable.X32.Keys).Distinct().Where(LibseccompReference.Knows)];
    }

    private static IEnumerable<ulong[]> FewArgs() =>
        from a in Values from b in new ulong[] { 0, 3, 9 } select new[] { a, b, b == 9 ? 9UL : 0 };

    [Fact]
    public void Docker_podman_and_minimal_profiles_mean_the_same_as_under_runc()
    {
        var known = Known();
        var total = 0;
        foreach (var caps in new IReadOnlySet<string>[] { new HashSet<string>(), new HashSet<string> { "CAP_SYS_ADMIN" }, new HashSet<string> { "CAP_SYS_PTRACE", "CAP_SYS_BOOT" } })
            total += Compare($"docker caps [{string.Join(",", caps)}]", KnownToLibseccomp(DefaultSeccompProfile.Create(caps), known), FewArgs());
        foreach (var caps in new[] { new[] { "CAP_AUDIT_WRITE", "CAP_KILL" }, new[] { "CAP_KILL" }, new[] { "CAP_SYS_ADMIN", "CAP_SYS_TIME" } })
            total += Compare($"podman caps [{string.Join(",", caps)}]", KnownToLibseccomp(ContainersProfile.ToLinuxSeccomp(ContainersProfile.Path, caps), known), FewArgs());
        var minimal = new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            Architectures = ["SCMP_ARCH_X86_64"],
            Syscalls = [new LinuxSyscall { Names = ["execve", "arch_prctl", "brk", "set_tid_address", "set_robust_list", "rseq", "prlimit64", "mprotect", "getrandom", "readlink", "prctl", "getuid", "write", "exit_group"], Action = "SCMP_ACT_ALLOW" }],
        };
        total += Compare("minimal", minimal, [[0, 0, 0]]);
        Assert.Equal(0, total);
    }

    /// <summary>
    /// Random small profiles with several entries for the same calls: conditions on one or several arguments (the same
    /// index twice included), MASKED_EQ with bits outside the mask, entries with the default action, unconditional
    /// entries of any action before and after conditional ones. The conditional entries of one call share one action:
    /// libseccomp orders overlapping conditional rules of different actions by its own tree, which we do not copy
    /// (see SeccompCompiler's remarks).
    /// </summary>
    [Fact]
    public void Random_overlapping_profiles_mean_the_same_as_under_runc()
    {
        var known = Known();
        string[] calls = ["personality", "ioctl", "socket"];
        string[] actions = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_LOG", "SCMP_ACT_TRAP"];
        string[] ops = ["SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_GE", "SCMP_CMP_MASKED_EQ"];
        ulong[] small = [0, 3, 8, 9, 0x20008];
        var random = new Random(20261129);
        var numbers = calls.Select(c => SyscallTable.X86_64[c]).Concat(calls.Select(c => SyscallTable.I386.GetValueOrDefault(c))).Concat<uint>([0, 1, 500, 0x4000_0001, 0x8000_0001, 0xC000_0001]).ToArray();
        var argSets = (from a in small from b in small from c in new ulong[] { 0, 9 } select new[] { a, b, c }).ToArray();
        int failing = 0, rangeMerges = 0;
        for (var round = 0; round < 300; round++)
        {
            var profile = new LinuxSeccomp
            {
                DefaultAction = random.Next(3) == 0 ? "SCMP_ACT_ALLOW" : "SCMP_ACT_ERRNO",
                DefaultErrnoRet = random.Next(2) == 0 ? null : 42,
                Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                Syscalls = [new LinuxSyscall { Names = ["read", "write", "exit_group"], Action = "SCMP_ACT_ALLOW" }],
            };
            var conditionalAction = calls.ToDictionary(c => c, _ => (actions[random.Next(actions.Length)], (uint)random.Next(1, 4)));
            for (var e = random.Next(1, 5); e > 0; e--)
            {
                var call = calls[random.Next(calls.Length)];
                var n = random.Next(0, 3);
                var (action, errno) = n > 0 ? conditionalAction[call] : (actions[random.Next(actions.Length)], (uint)random.Next(1, 4));
                var entry = new LinuxSyscall { Names = [call], Action = action };
                if (entry.Action == "SCMP_ACT_ERRNO") entry.ErrnoRet = errno;
                if (n > 0)
                    entry.Args = [.. Enumerable.Range(0, n).Select(_ => new LinuxSeccompArg
                    {
                        Index = (uint)random.Next(0, 2), Op = ops[random.Next(ops.Length)], Value = small[random.Next(small.Length)],
                        ValueTwo = small[random.Next(small.Length)] & 0xF,
                    })];
                profile.Syscalls.Add(entry);
            }
            try { _ = LibseccompReference.Build(profile); }
            catch (InvalidOperationException ex) { output.WriteLine($"round {round}: libseccomp refuses it ({ex.Message}), runc would fail too"); continue; }
            var json = OciJson.Write(profile);
            var differs = Compare($"round {round}", KnownToLibseccomp(profile, known), argSets, numbers) > 0;
            if (!differs) continue;
            if (RangesOverlapAcrossRules(profile))
            {
                // libseccomp merges range comparisons of one argument from several rules into one tree and may
                // then match more than any rule says; we keep each rule's own meaning
                rangeMerges++;
                output.WriteLine("(libseccomp tree merge of ranges) " + json);
                continue;
            }
            failing++;
            output.WriteLine(json);
        }
        output.WriteLine($"{rangeMerges} profiles differ only where libseccomp merges ranges of one argument across rules");
        Assert.Equal(0, failing);
    }

    /// <summary>Two conditional rules of one call that both compare one argument index with a range operator.</summary>
    private static bool RangesOverlapAcrossRules(LinuxSeccomp profile) =>
        (profile.Syscalls ?? []).Where(c => c.Args is { Count: > 0 }).SelectMany(c => c.Names.Select(n => (Name: n, Call: c)))
            .GroupBy(x => x.Name)
            .Any(g => g.SelectMany(x => x.Call.Args!.Where(a => a.Op is "SCMP_CMP_LT" or "SCMP_CMP_LE" or "SCMP_CMP_GT" or "SCMP_CMP_GE")
                    .Select(a => (Rule: x.Call, a.Index)))
                .GroupBy(r => r.Index).Any(ix => ix.Select(r => r.Rule).Distinct().Count() > 1));
}
