using System.Diagnostics;
using CrateRun.Core.Oci;
using CrateRun.Core.Security;
using Xunit.Abstractions;

namespace CrateRun.Core.Tests.Security;

public class SeccompCompilerTests(ITestOutputHelper output)
{
    private const uint X86_64 = 0xC000_003E, I386 = 0x4000_0003, Aarch64 = 0xC000_00B7, X32Bit = 0x4000_0000;
    private const uint Allow = 0x7FFF_0000, KillProcess = 0x8000_0000, KillThread = 0, Trap = 0x0003_0000,
        Errno = 0x0005_0000, Trace = 0x7FF0_0000, Log = 0x7FFC_0000, Notify = 0x7FC0_0000;
    private const uint Eperm = Errno | 1, Enosys = Errno | 38;

    private const ulong CloneNewUser = 0x1000_0000, CloneNewNs = 0x0002_0000, Sigchld = 17;
    private const ulong CloneVm = 0x100, CloneFs = 0x200, CloneFiles = 0x400, CloneSighand = 0x800, CloneThread = 0x1_0000;

    private static uint Nr(string name) => SyscallTable.X86_64[name];

    private static LinuxSyscall Rule(string action, params string[] names) => new() { Names = [.. names], Action = action };

    private static LinuxSyscall Rule(string action, string name, params LinuxSeccompArg[] args) =>
        new() { Names = [name], Action = action, Args = [.. args] };

    private static LinuxSeccompArg Arg(uint index, string op, ulong value, ulong valueTwo = 0) =>
        new() { Index = index, Op = op, Value = value, ValueTwo = valueTwo };

    private static LinuxSeccomp Profile(string defaultAction, params LinuxSyscall[] syscalls) =>
        new() { DefaultAction = defaultAction, Architectures = ["SCMP_ARCH_X86_64"], Syscalls = [.. syscalls] };

    private static SeccompProgram Compile(LinuxSeccomp profile)
    {
        var program = SeccompCompiler.Compile(profile);
        BpfInterpreter.Validate(program.Filter);
        Assert.InRange(program.Filter.Length, 1, SeccompCompiler.MaxInstructions);
        return program;
    }

    private static uint Run(SeccompProgram program, string name, params ulong[] args) =>
        BpfInterpreter.Run(program.Filter, X86_64, Nr(name), args);

    // ---- basics ------------------------------------------------------------------------------------

    [Fact]
    public void Listed_calls_are_allowed_and_others_get_the_default_errno()
    {
        var program = Compile(Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", "read", "write", "exit_group")));
        Assert.Equal(Allow, Run(program, "read"));
        Assert.Equal(Allow, Run(program, "write"));
        Assert.Equal(Allow, Run(program, "exit_group"));
        Assert.Equal(Eperm, Run(program, "open"));
        Assert.Equal(Eperm, Run(program, "mount"));
        // above exit_group (231), the highest number named: newer than the profile (see the ENOSYS tests)
        Assert.Equal(Enosys, Run(program, "keyctl"));
        Assert.Equal(Enosys, BpfInterpreter.Run(program.Filter, X86_64, 10_000));
        Assert.Equal(0u, program.Flags);
        Assert.False(program.NeedsListener);
        Assert.Empty(program.UnknownSyscalls);
    }

    [Fact]
    public void Default_errno_comes_from_defaultErrnoRet_and_rule_errno_from_errnoRet()
    {
        var profile = Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ERRNO", "mkdir"), Rule("SCMP_ACT_ALLOW", "read"));
        profile.DefaultErrnoRet = 38;
        profile.Syscalls![0].ErrnoRet = 13;
        var program = Compile(profile);
        Assert.Equal(Errno | 38, Run(program, "open"));
        Assert.Equal(Errno | 13, Run(program, "mkdir"));
        Assert.Equal(Allow, Run(program, "read"));

        // a rule's ERRNO without errnoRet is EPERM, not the default's errno
        profile.Syscalls![0].ErrnoRet = null;
        Assert.Equal(Eperm, Run(Compile(profile), "mkdir"));
    }

    [Theory]
    [InlineData("SCMP_ACT_KILL", KillThread)]
    [InlineData("SCMP_ACT_KILL_THREAD", KillThread)]
    [InlineData("SCMP_ACT_KILL_PROCESS", KillProcess)]
    [InlineData("SCMP_ACT_TRAP", Trap)]
    [InlineData("SCMP_ACT_ERRNO", Errno | 1)]
    [InlineData("SCMP_ACT_TRACE", Trace | 1)]
    [InlineData("SCMP_ACT_ALLOW", Allow)]
    [InlineData("SCMP_ACT_LOG", Log)]
    [InlineData("SCMP_ACT_NOTIFY", Notify)]
    public void Every_action_encodes(string action, uint expected)
    {
        // as a rule's action
        var asRule = Compile(Profile(action == "SCMP_ACT_ALLOW" ? "SCMP_ACT_ERRNO" : "SCMP_ACT_ALLOW", Rule(action, "getpid")));
        Assert.Equal(expected, Run(asRule, "getpid"));
        // as the default action
        // (getpid is below gettid, the highest number named: no newer-than-the-profile ENOSYS for it)
        var asDefault = Compile(Profile(action, Rule(action == "SCMP_ACT_LOG" ? "SCMP_ACT_ALLOW" : "SCMP_ACT_LOG", "gettid")));
        Assert.Equal(expected, Run(asDefault, "getpid"));

        var notify = action == "SCMP_ACT_NOTIFY";
        Assert.Equal(notify, asRule.NeedsListener);
        Assert.Equal(notify, asDefault.NeedsListener);
        Assert.Equal(notify ? SeccompCompiler.FlagNewListener : 0, asRule.Flags);
    }

    [Fact]
    public void Errno_and_trace_carry_errnoRet()
    {
        var errno = Rule("SCMP_ACT_ERRNO", "mount");
        errno.ErrnoRet = 13;
        var trace = Rule("SCMP_ACT_TRACE", "umount2");
        trace.ErrnoRet = 42;
        var program = Compile(Profile("SCMP_ACT_ALLOW", errno, trace));
        Assert.Equal(Errno | 13, Run(program, "mount"));
        Assert.Equal(Trace | 42, Run(program, "umount2"));

        var defaultTrace = Profile("SCMP_ACT_TRACE", Rule("SCMP_ACT_ALLOW", "read"));
        defaultTrace.DefaultErrnoRet = 7;
        Assert.Equal(Trace | 7, Run(Compile(defaultTrace), "write"));

        errno.ErrnoRet = 0x1_0000;
        Assert.Throws<FormatException>(() => SeccompCompiler.Compile(Profile("SCMP_ACT_ALLOW", errno)));
    }

    [Fact]
    public void Flags_map_to_seccomp_filter_flags()
    {
        var profile = Profile("SCMP_ACT_ALLOW");
        profile.Flags = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"];
        Assert.Equal(1u | 2 | 4, Compile(profile).Flags);

        profile.Flags = ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_TSYNC_ESRCH", "SECCOMP_FILTER_FLAG_TSYNC"];
        profile.Syscalls = [Rule("SCMP_ACT_NOTIFY", "mknod")];
        var program = Compile(profile);
        Assert.Equal(32u | 16 | 8 | 1, program.Flags);
        Assert.True(program.NeedsListener);

        // TSYNC with a listener needs TSYNC_ESRCH (the kernel refuses it otherwise)
        profile.Flags = ["SECCOMP_FILTER_FLAG_TSYNC"];
        Assert.Throws<FormatException>(() => SeccompCompiler.Compile(profile));

        profile.Flags = ["SECCOMP_FILTER_FLAG_BOGUS"];
        var e = Assert.Throws<FormatException>(() => SeccompCompiler.Compile(profile));
        Assert.Contains("SECCOMP_FILTER_FLAG_BOGUS", e.Message);
    }

    [Fact]
    public void Unknown_action_op_architecture_and_argument_index_are_format_errors()
    {
        var e = Assert.Throws<FormatException>(() => SeccompCompiler.Compile(Profile("SCMP_ACT_NOPE")));
        Assert.Contains("SCMP_ACT_NOPE", e.Message);

        e = Assert.Throws<FormatException>(() => SeccompCompiler.Compile(Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_EXPLODE", "read"))));
        Assert.Contains("SCMP_ACT_EXPLODE", e.Message);

        // checked even for a name that is skipped
        e = Assert.Throws<FormatException>(() => SeccompCompiler.Compile(
            Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", "no_such_call", Arg(0, "SCMP_CMP_APPROX", 1)))));
        Assert.Contains("SCMP_CMP_APPROX", e.Message);

        e = Assert.Throws<FormatException>(() => SeccompCompiler.Compile(
            Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", "read", Arg(6, "SCMP_CMP_EQ", 1)))));
        Assert.Contains("6", e.Message);

        var profile = Profile("SCMP_ACT_ALLOW");
        profile.Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"];
        e = Assert.Throws<FormatException>(() => SeccompCompiler.Compile(profile));
        Assert.Contains("SCMP_ARCH_VAX", e.Message);
    }

    [Fact]
    public void Unknown_syscall_names_are_skipped_and_reported()
    {
        var program = Compile(Profile("SCMP_ACT_ERRNO",
            Rule("SCMP_ACT_ALLOW", "read", "frobnicate", "chown32", "arm_fadvise64_64", "frobnicate"),
            Rule("SCMP_ACT_ALLOW", "write")));
        Assert.Equal(["frobnicate", "chown32", "arm_fadvise64_64"], program.UnknownSyscalls);
        Assert.Equal(Allow, Run(program, "read"));
        Assert.Equal(Allow, Run(program, "write"));

        // chown32 is an i386 call: known once the filter covers i386
        var profile = Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", "read", "chown32"));
        profile.Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"];
        program = Compile(profile);
        Assert.Empty(program.UnknownSyscalls);
        Assert.Equal(Allow, BpfInterpreter.Run(program.Filter, I386, SyscallTable.I386["chown32"]));
    }

    // ---- architectures -----------------------------------------------------------------------------

    [Fact]
    public void A_foreign_architecture_is_killed()
    {
        var program = Compile(Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", "mount")));
        Assert.Equal(KillProcess, BpfInterpreter.Run(program.Filter, Aarch64, 0));
        Assert.Equal(KillProcess, BpfInterpreter.Run(program.Filter, I386, 3)); // i386 not listed
        Assert.Equal(Allow, BpfInterpreter.Run(program.Filter, X86_64, 0));

        // known names of other architectures are accepted and change nothing
        var profile = Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", "mount"));
        profile.Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"];
        Assert.Equal(program.Filter, Compile(profile).Filter);
        profile.Architectures = null; // none listed: the native architecture only
        Assert.Equal(program.Filter, Compile(profile).Filter);
    }

    [Fact]
    public void I386_uses_its_own_numbers()
    {
        var profile = Profile("SCMP_ACT_ERRNO",
            Rule("SCMP_ACT_ALLOW", "read", "write"),
            Rule("SCMP_ACT_ALLOW", "personality", Arg(0, "SCMP_CMP_EQ", 8)));
        profile.Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"];
        var program = Compile(profile);
        Assert.Equal(3u, SyscallTable.I386["read"]);
        Assert.Equal(Allow, BpfInterpreter.Run(program.Filter, I386, 3));
        Assert.Equal(Allow, BpfInterpreter.Run(program.Filter, I386, 4));
        Assert.Equal(Eperm, BpfInterpreter.Run(program.Filter, I386, 0)); // restart_syscall on i386, read on x86_64
        Assert.Equal(Allow, BpfInterpreter.Run(program.Filter, X86_64, 0));
        var personality = SyscallTable.I386["personality"];
        Assert.Equal(Allow, BpfInterpreter.Run(program.Filter, I386, personality, 8));
        Assert.Equal(Eperm, BpfInterpreter.Run(program.Filter, I386, personality, 9));
        // i386 arguments are 32-bit: the filter reads only the low word
        Assert.Equal(Allow, BpfInterpreter.Run(program.Filter, I386, personality, 0xDEAD_0000_0000_0008));
    }

    [Fact]
    public void X32_calls_are_killed_when_x32_is_not_listed()
    {
        // as libseccomp does: x32 is then an architecture the filter does not know
        var program = Compile(Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", "read", "write")));
        Assert.Equal(Allow, Run(program, "read"));
        Assert.Equal(KillProcess, BpfInterpreter.Run(program.Filter, X86_64, X32Bit | 0)); // x32 read
        Assert.Equal(KillProcess, BpfInterpreter.Run(program.Filter, X86_64, X32Bit | 1));
        Assert.Equal(Eperm, BpfInterpreter.Run(program.Filter, X86_64, uint.MaxValue)); // -1 (skipped by a tracer): the default

        // under an allowing default too: x32 cannot bypass a deny list written for x86_64 numbers
        var denyList = Compile(Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", "keyctl")));
        Assert.Equal(Eperm, Run(denyList, "keyctl"));
        Assert.Equal(Allow, Run(denyList, "read"));
        Assert.Equal(KillProcess, BpfInterpreter.Run(denyList.Filter, X86_64, X32Bit | Nr("keyctl")));
        Assert.Equal(KillProcess, BpfInterpreter.Run(denyList.Filter, X86_64, X32Bit | 0));
    }

    [Fact]
    public void X32_calls_follow_the_rules_when_x32_is_listed()
    {
        var profile = Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", "keyctl", "rt_sigaction"));
        profile.Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"];
        var program = Compile(profile);
        Assert.Equal(Eperm, BpfInterpreter.Run(program.Filter, X86_64, X32Bit | Nr("keyctl")));
        Assert.Equal(Allow, BpfInterpreter.Run(program.Filter, X86_64, X32Bit | 0));
        // x32's rt_sigaction is 512, not x86_64's 13
        Assert.Equal(X32Bit | 512, SyscallTable.X32["rt_sigaction"]);
        Assert.Equal(Eperm, BpfInterpreter.Run(program.Filter, X86_64, X32Bit | 512));
        Assert.Equal(Allow, BpfInterpreter.Run(program.Filter, X86_64, X32Bit | 13));
        Assert.Equal(Eperm, BpfInterpreter.Run(program.Filter, X86_64, 13));
        Assert.Equal(Allow, BpfInterpreter.Run(program.Filter, X86_64, 512));
    }

    // ---- arguments ---------------------------------------------------------------------------------

    [Fact]
    public void Comparisons_span_the_high_word()
    {
        var program = Compile(Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", "mmap", Arg(1, "SCMP_CMP_GT", 0x1_0000_0000))));
        Assert.Equal(Allow, Run(program, "mmap", 0, 0x1_0000_0001));
        Assert.Equal(Allow, Run(program, "mmap", 0, 0x2_0000_0000));
        Assert.Equal(Allow, Run(program, "mmap", 0, ulong.MaxValue));
        Assert.Equal(Eperm, Run(program, "mmap", 0, 0x1_0000_0000));
        Assert.Equal(Eperm, Run(program, "mmap", 0, 0xFFFF_FFFF));
        Assert.Equal(Eperm, Run(program, "mmap", 0, 0x2)); // low word 2 > 0, high word 0 < 1
        Assert.Equal(Eperm, Run(program, "mmap", 0x1_0000_0001, 0)); // another argument
    }

    [Fact]
    public void Masked_eq_compares_the_masked_bits()
    {
        var program = Compile(Profile("SCMP_ACT_ERRNO",
            Rule("SCMP_ACT_ALLOW", "fcntl", Arg(1, "SCMP_CMP_MASKED_EQ", 0xFF00_0000_0000_00F0, 0x1200_0000_0000_0030))));
        Assert.Equal(Allow, Run(program, "fcntl", 0, 0x1200_0000_0000_0030));
        Assert.Equal(Allow, Run(program, "fcntl", 0, 0x12FF_FFFF_FFFF_FF3F));
        Assert.Equal(Eperm, Run(program, "fcntl", 0, 0x1300_0000_0000_0030));
        Assert.Equal(Eperm, Run(program, "fcntl", 0, 0x1200_0000_0000_0040));
        Assert.Equal(Eperm, Run(program, "fcntl", 0, 0x30));
    }

    [Fact]
    public void Conditions_on_different_arguments_are_anded_and_rules_are_ored_in_profile_order()
    {
        var first = Rule("SCMP_ACT_ERRNO", "ioctl", Arg(0, "SCMP_CMP_EQ", 1), Arg(1, "SCMP_CMP_EQ", 0x5401));
        first.ErrnoRet = 25;
        var program = Compile(Profile("SCMP_ACT_ERRNO",
            first,
            Rule("SCMP_ACT_ALLOW", "ioctl", Arg(0, "SCMP_CMP_LT", 3)),
            Rule("SCMP_ACT_LOG", "ioctl", Arg(1, "SCMP_CMP_EQ", 7)),
            Rule("SCMP_ACT_ALLOW", "ioctl", Arg(0, "SCMP_CMP_GE", 100), Arg(2, "SCMP_CMP_LE", 200))));
        Assert.Equal(Errno | 25, Run(program, "ioctl", 1, 0x5401)); // first rule wins over the second
        Assert.Equal(Allow, Run(program, "ioctl", 1, 0x5402));
        Assert.Equal(Allow, Run(program, "ioctl", 2, 7)); // second before third
        Assert.Equal(Log, Run(program, "ioctl", 3, 7));
        Assert.Equal(Allow, Run(program, "ioctl", 150, 0, 200));
        Assert.Equal(Eperm, Run(program, "ioctl", 150, 0, 201));  // arg 2 fails: AND
        Assert.Equal(Eperm, Run(program, "ioctl", 99, 0, 0));     // arg 0 fails: AND
    }

    /// <summary>
    /// Two conditions on one argument: runc and crun add each condition as a rule of its own (libseccomp then ORs
    /// them), so either value is enough; conditions on other arguments of that entry become rules of their own too.
    /// </summary>
    [Fact]
    public void Conditions_on_the_same_argument_are_separate_rules_ored()
    {
        // the reported case: one entry allowing personality for either of two values
        var either = Compile(Profile("SCMP_ACT_ERRNO",
            Rule("SCMP_ACT_ALLOW", "personality", Arg(0, "SCMP_CMP_EQ", 0x0), Arg(0, "SCMP_CMP_EQ", 0x20008)),
            Rule("SCMP_ACT_ALLOW", "read", "write", "exit_group")));
        Assert.Equal(Allow, Run(either, "personality", 0x0));
        Assert.Equal(Allow, Run(either, "personality", 0x20008));
        Assert.Equal(Eperm, Run(either, "personality", 0x8));

        // a "range" written as GE and LE on one index is an OR too (anything passes one of them)
        var range = Compile(Profile("SCMP_ACT_ERRNO",
            Rule("SCMP_ACT_ALLOW", "ioctl", Arg(0, "SCMP_CMP_GE", 100), Arg(0, "SCMP_CMP_LE", 200)),
            Rule("SCMP_ACT_ALLOW", "exit_group")));
        foreach (var fd in new ulong[] { 0, 99, 150, 201, ulong.MaxValue })
            Assert.True(Allow == Run(range, "ioctl", fd), $"ioctl({fd})");

        // once an index repeats, every condition of the entry stands alone, those on other indexes too
        var mixed = Compile(Profile("SCMP_ACT_ERRNO",
            Rule("SCMP_ACT_ALLOW", "socket", Arg(0, "SCMP_CMP_EQ", 1), Arg(0, "SCMP_CMP_EQ", 2), Arg(1, "SCMP_CMP_EQ", 5)),
            Rule("SCMP_ACT_ALLOW", "exit_group")));
        Assert.Equal(Allow, Run(mixed, "socket", 1, 1));
        Assert.Equal(Allow, Run(mixed, "socket", 2, 1));
        Assert.Equal(Allow, Run(mixed, "socket", 10, 5));
        Assert.Equal(Eperm, Run(mixed, "socket", 10, 1));

        // the same on i386 (low words) and for a deny entry under an allowing default
        var i386 = Profile("SCMP_ACT_ALLOW",
            Rule("SCMP_ACT_KILL_PROCESS", "personality", Arg(0, "SCMP_CMP_EQ", 0x8), Arg(0, "SCMP_CMP_EQ", 0x400000)));
        i386.Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"];
        var deny = Compile(i386);
        foreach (var arch in new[] { X86_64, I386 })
        {
            var nr = arch == I386 ? SyscallTable.I386["personality"] : Nr("personality");
            Assert.Equal(KillProcess, BpfInterpreter.Run(deny.Filter, arch, nr, 0x8));
            Assert.Equal(KillProcess, BpfInterpreter.Run(deny.Filter, arch, nr, 0x400000));
            Assert.Equal(Allow, BpfInterpreter.Run(deny.Filter, arch, nr, 0x0));
        }
    }

    [Fact]
    public void The_first_unconditional_rule_decides_alone_and_default_rules_are_dropped()
    {
        var shadowed = Compile(Profile("SCMP_ACT_ERRNO",
            Rule("SCMP_ACT_ALLOW", "read"),
            Rule("SCMP_ACT_KILL", "read", Arg(0, "SCMP_CMP_EQ", 3))));
        Assert.Equal(Allow, Run(shadowed, "read", 3));

        var plain = Compile(Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", "read", "exit_group")));
        var withTrailingDefault = Compile(Profile("SCMP_ACT_ERRNO",
            Rule("SCMP_ACT_ALLOW", "read", "exit_group"),
            Rule("SCMP_ACT_ERRNO", "write", Arg(0, "SCMP_CMP_EQ", 3)),
            Rule("SCMP_ACT_ERRNO", "write")));
        Assert.Equal(plain.Filter, withTrailingDefault.Filter);

        // a rule with the default action is dropped even before a different one, as runc never adds it:
        // write(3) is allowed by the second rule
        var dropped = Compile(Profile("SCMP_ACT_ERRNO",
            Rule("SCMP_ACT_ERRNO", "write", Arg(0, "SCMP_CMP_EQ", 3)),
            Rule("SCMP_ACT_ALLOW", "write")));
        Assert.Equal(Allow, Run(dropped, "write", 3));
        Assert.Equal(Allow, Run(dropped, "write", 4));
        // an unconditional entry decides alone even after a conditional one of another action (libseccomp drops
        // the conditional rules of a call that has an unconditional one), and the first unconditional one wins
        var other = Rule("SCMP_ACT_ERRNO", "write", Arg(0, "SCMP_CMP_EQ", 3));
        other.ErrnoRet = 9;
        var after = Compile(Profile("SCMP_ACT_ERRNO", other, Rule("SCMP_ACT_ALLOW", "write"), Rule("SCMP_ACT_KILL", "write")));
        Assert.Equal(Allow, Run(after, "write", 3));
        Assert.Equal(Allow, Run(after, "write", 4));
    }

    // ---- calls newer than the profile: ENOSYS (runc's -ENOSYS stub) -----------------------------------

    [Fact]
    public void Calls_above_the_highest_named_number_get_enosys_when_the_default_stops_calls()
    {
        // an old allow-list: names up to openat (257); clone3 (435) and faccessat2 (439) are newer
        var old = Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", "read", "write", "clone", "openat", "exit_group"));
        var program = Compile(old);
        Assert.Equal(Allow, Run(program, "openat"));
        Assert.Equal(Eperm, Run(program, "mount"));          // 165: below openat, not named: the default
        Assert.Equal(Eperm, Run(program, "getdents64"));     // 217: below too
        Assert.Equal(Enosys, Run(program, "clone3"));        // above: glibc falls back to clone
        Assert.Equal(Enosys, Run(program, "faccessat2"));
        Assert.Equal(Enosys, BpfInterpreter.Run(program.Filter, X86_64, Nr("openat") + 1));
        Assert.Equal(Enosys, BpfInterpreter.Run(program.Filter, X86_64, X32Bit - 1));
        Assert.Equal(Enosys, BpfInterpreter.Run(program.Filter, X86_64, 0x8000_0001)); // bit 30 clear: an x86_64 number
        Assert.Equal(KillProcess, BpfInterpreter.Run(program.Filter, X86_64, X32Bit | 0)); // x32 not listed: killed

        // the highest named number counts whatever its entry does, a default-action entry too
        var withDenied = Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", "read", "exit_group"), Rule("SCMP_ACT_ERRNO", "clone3"));
        Assert.Equal(Eperm, Run(Compile(withDenied), "clone3"));
        Assert.Equal(Eperm, Run(Compile(withDenied), "openat"));
        Assert.Equal(Enosys, BpfInterpreter.Run(Compile(withDenied).Filter, X86_64, Nr("clone3") + 1));

        // defaultErrnoRet is honoured below the highest number, the stub's ENOSYS above it
        old.DefaultErrnoRet = 13;
        Assert.Equal(Errno | 13, Run(Compile(old), "mount"));
        Assert.Equal(Enosys, Run(Compile(old), "clone3"));

        // every default that stops calls gets the stub: kill, trap, notify, errno
        foreach (var def in new[] { "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_NOTIFY" })
            Assert.True(Enosys == Run(Compile(Profile(def, Rule("SCMP_ACT_ALLOW", "read", "openat"))), "clone3"), def);
    }

    [Theory]
    [InlineData("SCMP_ACT_ALLOW", Allow)]
    [InlineData("SCMP_ACT_LOG", Log)]
    [InlineData("SCMP_ACT_TRACE", Trace | 1)]
    public void No_enosys_when_the_default_lets_calls_run(string defaultAction, uint expected)
    {
        var program = Compile(Profile(defaultAction, Rule("SCMP_ACT_ERRNO", "mount")));
        Assert.Equal(expected, Run(program, "clone3"));
        Assert.Equal(expected, BpfInterpreter.Run(program.Filter, X86_64, 1000));
    }

    [Fact]
    public void Enosys_only_for_listed_architectures_each_with_its_own_highest_number()
    {
        var profile = Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", "read", "openat"));
        // no architectures listed: runc adds no stub (it only looks at the listed ones)
        profile.Architectures = [];
        Assert.Equal(Eperm, Run(Compile(profile), "clone3"));

        profile.Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];
        var program = Compile(profile);
        Assert.Equal(Enosys, Run(program, "clone3"));
        // i386: openat is 295 there; 296 and up are newer
        Assert.Equal(Allow, BpfInterpreter.Run(program.Filter, I386, SyscallTable.I386["openat"]));
        Assert.Equal(Eperm, BpfInterpreter.Run(program.Filter, I386, SyscallTable.I386["mount"]));
        Assert.Equal(Enosys, BpfInterpreter.Run(program.Filter, I386, SyscallTable.I386["clone3"]));
        // x32: its own numbers, bit 30 set
        Assert.Equal(Allow, BpfInterpreter.Run(program.Filter, X86_64, SyscallTable.X32["openat"]));
        Assert.Equal(Eperm, BpfInterpreter.Run(program.Filter, X86_64, SyscallTable.X32["mount"]));
        Assert.Equal(Enosys, BpfInterpreter.Run(program.Filter, X86_64, SyscallTable.X32["clone3"]));
        Assert.Equal(Enosys, BpfInterpreter.Run(program.Filter, X86_64, 0xC000_0000)); // bit 30 set: an x32 number

        // only read (number 0) named: the highest is 0, and runc then adds no stub
        Assert.Equal(Eperm, Run(Compile(Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", "read"))), "write"));
    }

    public static TheoryData<string> Ops =>
        ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];

    private static readonly ulong[] Edges =
    [
        0, 1, 2, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF, 0x1_0000_0000, 0x1_0000_0001, 0x1_FFFF_FFFF,
        0x2_0000_0000, 0x1234_5678_9ABC_DEF0, 0x8000_0000_0000_0000, 0xFFFF_FFFF_0000_0000, ulong.MaxValue - 1, ulong.MaxValue,
    ];

    [Theory]
    [MemberData(nameof(Ops))]
    public void Every_operator_matches_64_bit_semantics_on_x86_64_and_32_bit_semantics_on_i386(string op)
    {
        var random = new Random(op.Sum(c => c)); // deterministic per operator
        var values = Edges.Concat(Enumerable.Range(0, 8).Select(_ => (ulong)random.NextInt64() ^ ((ulong)random.Next() << 33))).ToArray();
        foreach (var value in values)
        {
            var valueTwo = op == "SCMP_CMP_MASKED_EQ" ? values[random.Next(values.Length)] & value : 0;
            var profile = Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", "read", Arg(2, op, value, valueTwo)));
            profile.Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"];
            var program = Compile(profile);
            var args = values.Concat(values.Select(v => v + 1)).Concat(values.Select(v => v - 1))
                .Concat([value, value + 1, value - 1, value + 0x1_0000_0000, value - 0x1_0000_0000, value ^ 0xFFFF_FFFF, valueTwo, valueTwo | 0x1_0000]);
            foreach (var arg in args)
            {
                var expect64 = Holds(op, arg, value, valueTwo) ? Allow : Eperm;
                Assert.True(expect64 == BpfInterpreter.Run(program.Filter, X86_64, 0, 0, 0, arg),
                    $"{op} 0x{value:x} (0x{valueTwo:x}) on x86_64 arg 0x{arg:x}\n{BpfInterpreter.Disassemble(program.Filter)}");
                var expect32 = Holds(op, arg & 0xFFFF_FFFF, value, valueTwo) ? Allow : Eperm;
                Assert.True(expect32 == BpfInterpreter.Run(program.Filter, I386, 3, 0, 0, arg),
                    $"{op} 0x{value:x} (0x{valueTwo:x}) on i386 arg 0x{arg:x}\n{BpfInterpreter.Disassemble(program.Filter)}");
            }
        }
    }

    private static bool Holds(string op, ulong arg, ulong value, ulong valueTwo) => op switch
    {
        "SCMP_CMP_NE" => arg != value,
        "SCMP_CMP_LT" => arg < value,
        "SCMP_CMP_LE" => arg <= value,
        "SCMP_CMP_EQ" => arg == value,
        "SCMP_CMP_GE" => arg >= value,
        "SCMP_CMP_GT" => arg > value,
        "SCMP_CMP_MASKED_EQ" => (arg & value) == valueTwo,
        _ => throw new ArgumentException(op),
    };

    // ---- layout ------------------------------------------------------------------------------------

    [Fact]
    public void Long_programs_get_trampolines_and_keep_every_jump_in_range()
    {
        // every x86_64 call gets a chain of argument rules: the search tree's jumps span thousands of instructions
        var syscalls = SyscallTable.X86_64.Keys.Order(StringComparer.Ordinal).Take(150)
            .Select((name, i) => Rule(i % 3 == 0 ? "SCMP_ACT_LOG" : "SCMP_ACT_ALLOW", name,
                Arg(0, "SCMP_CMP_EQ", (ulong)i), Arg(1, "SCMP_CMP_NE", 0x1_0000_0000 + (ulong)i), Arg(2, "SCMP_CMP_GT", 5)))
            .ToArray();
        var profile = Profile("SCMP_ACT_ERRNO", syscalls);
        var program = Compile(profile);
        output.WriteLine($"{program.Filter.Length} instructions");
        Assert.True(program.Filter.Length > 1000);
        Assert.Contains(program.Filter, i => BpfInterpreter.Decode(i).Code == 0x05); // BPF_JA trampolines
        AssertJumpsInRange(program.Filter);

        foreach (var (name, nr) in SyscallTable.X86_64)
        {
            var i = Array.FindIndex(syscalls, s => s.Names[0] == name);
            ulong[][] argSets = [[0, 0, 0], [(ulong)Math.Max(i, 0), 0, 6], [(ulong)Math.Max(i, 0), 0x1_0000_0000 + (ulong)i, 6], [(ulong)Math.Max(i, 0), 1, 5]];
            foreach (var args in argSets)
                Assert.Equal(Reference(profile, X86_64, nr, args), BpfInterpreter.Run(program.Filter, X86_64, nr, args));
        }
    }

    [Fact]
    public void A_profile_beyond_4096_instructions_is_refused()
    {
        var syscalls = SyscallTable.X86_64.Keys
            .SelectMany(name => Enumerable.Range(0, 3).Select(i => Rule("SCMP_ACT_ALLOW", name, Arg(0, "SCMP_CMP_EQ", (ulong)i), Arg(1, "SCMP_CMP_EQ", (ulong)i))))
            .ToArray();
        var e = Assert.Throws<FormatException>(() => SeccompCompiler.Compile(Profile("SCMP_ACT_ERRNO", syscalls)));
        Assert.Contains("4096", e.Message);
    }

    private static void AssertJumpsInRange(ulong[] filter)
    {
        for (var pc = 0; pc < filter.Length; pc++)
        {
            var i = BpfInterpreter.Decode(filter[pc]);
            if ((i.Code & 0x07) != 0x05) continue;
            if (i.Code == 0x05) Assert.True(pc + 1 + (long)i.K < filter.Length, $"JA at {pc}");
            else
            {
                Assert.InRange(i.Jt, 0, 255);
                Assert.InRange(i.Jf, 0, 255);
                Assert.True(pc + 1 + i.Jt < filter.Length && pc + 1 + i.Jf < filter.Length, $"jump at {pc}");
            }
        }
    }

    // ---- Docker's default profile ------------------------------------------------------------------

    private static readonly HashSet<string> NoCaps = [];
    private static readonly HashSet<string> DockerDefaultCaps =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ];
    private static readonly HashSet<string> SysAdmin = ["CAP_SYS_ADMIN"];
    private static readonly HashSet<string> AllCaps =
    [
        "CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_MODULE", "CAP_SYS_BOOT", "CAP_SYS_TIME", "CAP_SYS_CHROOT", "CAP_SYS_PACCT",
        "CAP_SYS_RAWIO", "CAP_SYSLOG", "CAP_SYS_NICE", "CAP_SYS_TTY_CONFIG", "CAP_DAC_READ_SEARCH", "CAP_BPF", "CAP_PERFMON",
    ];

    private static SeccompProgram Docker(IReadOnlySet<string> caps) => Compile(DefaultSeccompProfile.Create(caps));

    [Fact]
    public void Docker_profile_compiles_within_the_kernel_limits()
    {
        foreach (var caps in new[] { NoCaps, DockerDefaultCaps, SysAdmin, AllCaps })
        {
            var program = Docker(caps);
            Assert.InRange(program.Filter.Length, 1, 4096);
            AssertJumpsInRange(program.Filter);
            Assert.Equal(0u, program.Flags);
            Assert.False(program.NeedsListener);
            Assert.Equal(["recv", "send"], program.UnknownSyscalls); // arm/ppc socket calls
        }

        var profile = DefaultSeccompProfile.Create(NoCaps);
        Assert.Equal("SCMP_ACT_ERRNO", profile.DefaultAction);
        Assert.Equal(1u, profile.DefaultErrnoRet);
        Assert.DoesNotContain(profile.Syscalls!.SelectMany(s => s.Names), n => n is "keyctl" or "add_key" or "request_key");
        // a round trip through JSON compiles to the same program
        var json = OciJson.Write(profile);
        Assert.Equal(SeccompCompiler.Compile(profile).Filter, SeccompCompiler.Compile(OciJson.ReadSeccomp(json)).Filter);
    }

    [Fact]
    public void Docker_profile_allows_the_ordinary_and_denies_the_dangerous()
    {
        var program = Docker(DockerDefaultCaps);
        foreach (var name in new[] { "read", "write", "execve", "openat", "mmap", "futex", "exit_group", "rt_sigreturn", "arch_prctl", "chroot", "fchmodat2" })
            Assert.True(Allow == Run(program, name), name);
        foreach (var name in new[] { "keyctl", "add_key", "request_key", "mount", "umount2", "unshare", "setns", "ptrace", "process_vm_readv", "kexec_load", "init_module", "reboot", "bpf", "io_uring_setup", "open_by_handle_at", "userfaultfd", "swapon", "pivot_root" })
            Assert.True(Eperm == Run(program, name), name);
        Assert.Equal(Enosys, BpfInterpreter.Run(program.Filter, X86_64, 470)); // not a call yet: newer than the profile
    }

    [Fact]
    public void Docker_profile_gates_calls_on_capabilities()
    {
        var none = Docker(NoCaps);
        var admin = Docker(SysAdmin);
        var all = Docker(AllCaps);
        foreach (var name in new[] { "mount", "umount2", "unshare", "setns", "sethostname", "fsopen", "move_mount", "lsm_list_modules" })
        {
            Assert.True(Eperm == Run(none, name), name);
            Assert.True(Allow == Run(admin, name), name);
        }
        Assert.Equal(Eperm, Run(admin, "ptrace"));
        Assert.Equal(Allow, Run(all, "ptrace"));
        foreach (var name in new[] { "ptrace", "process_vm_writev", "kcmp", "init_module", "finit_module", "delete_module", "reboot", "settimeofday", "clock_settime", "chroot", "acct", "iopl", "ioperm", "syslog", "mbind", "set_mempolicy", "vhangup", "open_by_handle_at", "bpf", "perf_event_open" })
        {
            Assert.True(Eperm == Run(none, name), name);
            Assert.True(Allow == Run(all, name), name);
        }
        foreach (var name in new[] { "keyctl", "add_key", "request_key", "kexec_load", "io_uring_enter", "swapoff" })
            Assert.True(Eperm == Run(all, name), name);
    }

    [Fact]
    public void Docker_profile_clone_clone3_personality_and_socket()
    {
        var none = Docker(NoCaps);
        Assert.Equal(Allow, Run(none, "clone", Sigchld));
        Assert.Equal(Allow, Run(none, "clone", CloneVm | CloneFs | CloneFiles | CloneSighand | CloneThread));
        Assert.Equal(Eperm, Run(none, "clone", CloneNewUser | Sigchld));
        Assert.Equal(Eperm, Run(none, "clone", CloneNewNs));
        Assert.Equal(Allow, Run(none, "clone", 0xFFFF_FFFF_0000_0000 | Sigchld)); // bits outside the mask
        Assert.Equal(Enosys, Run(none, "clone3"));

        var admin = Docker(SysAdmin);
        Assert.Equal(Allow, Run(admin, "clone", CloneNewUser | Sigchld));
        Assert.Equal(Allow, Run(admin, "clone3"));

        foreach (var persona in new ulong[] { 0x0, 0x8, 0x20000, 0x20008, 0xFFFF_FFFF })
            Assert.True(Allow == Run(none, "personality", persona), $"personality 0x{persona:x}");
        foreach (var persona in new ulong[] { 0x400000, 0x1, 0x0040_0008, 0xFFFF_FFFF_FFFF_FFFF, 0x1_0000_0008 })
            Assert.True(Eperm == Run(none, "personality", persona), $"personality 0x{persona:x}");

        Assert.Equal(Allow, Run(none, "socket", 2, 1, 0)); // AF_INET
        Assert.Equal(Allow, Run(none, "socket", 1, 1, 0)); // AF_UNIX
        Assert.Equal(Eperm, Run(none, "socket", 40, 1, 0)); // AF_VSOCK
        Assert.Equal(Allow, Run(none, "socket", 0x1_0000_0028, 1, 0)); // not 40 as a 64-bit value
    }

    [Fact]
    public void Docker_profile_covers_i386_and_x32()
    {
        var program = Docker(NoCaps);
        foreach (var name in new[] { "read", "write", "execve", "socketcall", "_llseek", "mmap2", "fstat64", "chown32", "ugetrlimit", "waitpid", "sigreturn" })
            Assert.True(Allow == BpfInterpreter.Run(program.Filter, I386, SyscallTable.I386[name]), name);
        foreach (var name in new[] { "keyctl", "mount", "unshare", "ptrace", "vm86" })
            Assert.True(Eperm == BpfInterpreter.Run(program.Filter, I386, SyscallTable.I386[name]), name);
        Assert.Equal(Allow, BpfInterpreter.Run(program.Filter, I386, SyscallTable.I386["clone"], Sigchld));
        Assert.Equal(Eperm, BpfInterpreter.Run(program.Filter, I386, SyscallTable.I386["clone"], CloneNewUser));

        Assert.Equal(Allow, BpfInterpreter.Run(program.Filter, X86_64, SyscallTable.X32["read"]));
        Assert.Equal(Allow, BpfInterpreter.Run(program.Filter, X86_64, SyscallTable.X32["rt_sigaction"]));
        Assert.Equal(Eperm, BpfInterpreter.Run(program.Filter, X86_64, SyscallTable.X32["keyctl"]));
        Assert.Equal(Eperm, BpfInterpreter.Run(program.Filter, X86_64, X32Bit | 13)); // x86_64-only number

        Assert.Equal(KillProcess, BpfInterpreter.Run(program.Filter, Aarch64, 63));
    }

    [Fact]
    public void Docker_profile_matches_the_reference_semantics_for_every_number()
    {
        ulong[][] argSets =
        [
            [0, 0, 0], [Sigchld], [CloneNewUser | Sigchld], [0x8], [0x20008], [0xFFFF_FFFF], [0x1_FFFF_FFFF], [0x400000],
            [40, 1, 0], [2, 1, 0], [0x7E02_0000], [ulong.MaxValue, ulong.MaxValue, ulong.MaxValue],
        ];
        var numbers64 = SyscallTable.X86_64.Values.Concat(SyscallTable.X32.Values)
            .Concat<uint>([470, 500, 1000, X32Bit - 1, X32Bit + 600, uint.MaxValue]).ToArray();
        var numbers386 = SyscallTable.I386.Values.Concat<uint>([470, 1000, uint.MaxValue]).ToArray();
        foreach (var caps in new[] { NoCaps, DockerDefaultCaps, AllCaps })
        {
            var profile = DefaultSeccompProfile.Create(caps);
            var program = Compile(profile);
            foreach (var args in argSets)
            {
                foreach (var nr in numbers64)
                    Assert.True(Reference(profile, X86_64, nr, args) == BpfInterpreter.Run(program.Filter, X86_64, nr, args), $"x86_64 nr 0x{nr:x}");
                foreach (var nr in numbers386)
                    Assert.True(Reference(profile, I386, nr, args) == BpfInterpreter.Run(program.Filter, I386, nr, args), $"i386 nr {nr}");
            }
        }
    }

    // ---- other real profiles ---------------------------------------------------------------------------

    private static readonly ulong[][] ArgSets =
    [
        [0, 0, 0], [Sigchld], [CloneNewUser | Sigchld], [0x8], [0x20008], [0xFFFF_FFFF], [0x1_FFFF_FFFF], [0x400000],
        [16, 3, 9], [40, 1, 0], [2, 1, 0], [0x7E02_0000], [ulong.MaxValue, ulong.MaxValue, ulong.MaxValue],
    ];

    private static void AssertMatchesReference(LinuxSeccomp profile)
    {
        var program = Compile(profile);
        var numbers64 = SyscallTable.X86_64.Values.Concat(SyscallTable.X32.Values)
            .Concat<uint>([470, 500, 1000, X32Bit - 1, X32Bit + 600, 0x8000_0001, 0xC000_0001, uint.MaxValue]).ToArray();
        var numbers386 = SyscallTable.I386.Values.Concat<uint>([470, 1000, uint.MaxValue]).ToArray();
        foreach (var args in ArgSets)
        {
            foreach (var nr in numbers64)
                Assert.True(Reference(profile, X86_64, nr, args) == BpfInterpreter.Run(program.Filter, X86_64, nr, args), $"x86_64 nr 0x{nr:x}");
            foreach (var nr in numbers386)
                Assert.True(Reference(profile, I386, nr, args) == BpfInterpreter.Run(program.Filter, I386, nr, args), $"i386 nr {nr}");
        }
    }

    /// <summary>podman's default (containers-common seccomp.json), for runc's default capabilities and for all.</summary>
    [Fact]
    public void Podman_profile_compiles_and_means_what_runc_makes_of_it()
    {
        string[] runcCaps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
        foreach (var caps in new[] { runcCaps, [.. AllCaps] })
        {
            var profile = ContainersProfile.ToLinuxSeccomp(ContainersProfile.Path, caps);
            Assert.Equal(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], profile.Architectures);
            Assert.Equal(38u, profile.DefaultErrnoRet);
            AssertMatchesReference(profile);
        }
        var program = Compile(ContainersProfile.ToLinuxSeccomp(ContainersProfile.Path, runcCaps));
        Assert.Equal(Allow, Run(program, "clone3"));
        Assert.Equal(Allow, Run(program, "personality", 0x8));
        Assert.Equal(Errno | 38, Run(program, "personality", 0x400000)); // no rule holds: its defaultErrnoRet
        Assert.Equal(Eperm, Run(program, "clock_settime"));              // refused without CAP_SYS_TIME
        // NETLINK_AUDIT sockets: EINVAL without CAP_AUDIT_WRITE (two conditions on different arguments, ANDed)
        var noAudit = Compile(ContainersProfile.ToLinuxSeccomp(ContainersProfile.Path, ["CAP_KILL"]));
        Assert.Equal(Errno | 22, Run(noAudit, "socket", 16, 3, 9));
        Assert.Equal(Allow, Run(noAudit, "socket", 16, 3, 0));
        Assert.Equal(Allow, Run(program, "socket", 16, 3, 9));
        output.WriteLine($"podman profile (runc caps): {program.Filter.Length} instructions");
    }

    /// <summary>A deny-by-default allow-list of what a static busybox echo runs (strace).</summary>
    [Fact]
    public void Minimal_allow_list()
    {
        string[] echo = ["execve", "arch_prctl", "brk", "set_tid_address", "set_robust_list", "rseq", "prlimit64", "mprotect",
            "getrandom", "readlink", "prctl", "getuid", "write", "exit_group"];
        var profile = Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", echo));
        var program = Compile(profile);
        foreach (var name in echo) Assert.True(Allow == Run(program, name), name);
        foreach (var name in new[] { "read", "openat", "close", "getcwd", "chdir", "capset", "sendto" })
            Assert.True(Eperm == Run(program, name), name);
        Assert.Equal(Enosys, Run(program, "clone3"));      // above rseq (334), the highest named
        Assert.Equal(Enosys, Run(program, "close_range")); // 436: newer too
        AssertMatchesReference(profile);
        output.WriteLine($"minimal allow-list: {program.Filter.Length} instructions");
    }

    [Fact]
    public void Docker_profile_figures()
    {
        var profile = DefaultSeccompProfile.Create(DockerDefaultCaps);
        var cold = Stopwatch.StartNew();
        var program = SeccompCompiler.Compile(profile);
        cold.Stop();
        const int Rounds = 200;
        var warm = Stopwatch.StartNew();
        for (var i = 0; i < Rounds; i++) SeccompCompiler.Compile(profile);
        warm.Stop();
        output.WriteLine($"Docker profile (default caps): {program.Filter.Length} instructions; compile cold {cold.Elapsed.TotalMilliseconds:F2} ms, warm {warm.Elapsed.TotalMilliseconds / Rounds * 1000:F0} us");
        foreach (var (label, caps) in new[] { ("no caps", NoCaps), ("CAP_SYS_ADMIN", SysAdmin), ("all gated caps", AllCaps) })
            output.WriteLine($"Docker profile ({label}): {SeccompCompiler.Compile(DefaultSeccompProfile.Create(caps)).Filter.Length} instructions");

        // instructions run per call (arch check, search tree, argument rules), over every x86_64 number
        var steps = SyscallTable.X86_64.Values.Select(nr =>
        {
            BpfInterpreter.Run(program.Filter, X86_64, nr, out var n, 0x8, 0, 0);
            return n;
        }).ToArray();
        output.WriteLine($"instructions run per x86_64 call: max {steps.Max()}, mean {steps.Average():F1}");
        Assert.InRange(steps.Max(), 1, 64);
    }

    // ---- reference semantics -----------------------------------------------------------------------

    /// <summary>
    /// What a profile means under runc + libseccomp, evaluated on the model: entries whose action is the default are
    /// not added; an entry naming one argument index twice is one rule per condition; the first rule in profile order
    /// whose conditions all hold decides, else the default; runc's -ENOSYS stub first gives ENOSYS to numbers above
    /// the highest named one of a listed ABI (x86_64 / x32 told apart by bit 30) unless the default lets calls run.
    /// </summary>
    private static uint Reference(LinuxSeccomp profile, uint arch, uint nr, ulong[] args)
    {
        var arches = profile.Architectures ?? [];
        var defaultAction = Action(profile.DefaultAction, profile.DefaultErrnoRet);
        var stub = defaultAction is not (Allow or Log) && (defaultAction & 0xFFFF_0000) != Trace;
        uint Highest(IReadOnlyDictionary<string, uint> t) =>
            (profile.Syscalls ?? []).SelectMany(c => c.Names).Select(n => t.TryGetValue(n, out var v) ? v : 0).DefaultIfEmpty(0u).Max();

        if (stub && arch == X86_64 && (nr & X32Bit) == 0 && arches.Contains("SCMP_ARCH_X86_64") && Highest(SyscallTable.X86_64) is > 0 and var h64 && nr > h64)
            return Enosys;
        if (stub && arch == X86_64 && (nr & X32Bit) != 0 && arches.Contains("SCMP_ARCH_X32") && Highest(SyscallTable.X32) is > 0 and var hx32 && nr > hx32)
            return Enosys;
        if (stub && arch == I386 && arches.Contains("SCMP_ARCH_X86") && Highest(SyscallTable.I386) is > 0 and var h386 && nr > h386)
            return Enosys;

        IReadOnlyDictionary<string, uint> table;
        var is32 = false;
        if (arch == X86_64 && nr >= X32Bit)
        {
            if (!arches.Contains("SCMP_ARCH_X32")) return nr == uint.MaxValue ? defaultAction : KillProcess;
            (table, is32) = (SyscallTable.X32, true);
        }
        else if (arch == X86_64) table = SyscallTable.X86_64;
        else if (arch == I386 && arches.Contains("SCMP_ARCH_X86")) (table, is32) = (SyscallTable.I386, true);
        else return KillProcess;

        var entries = (profile.Syscalls ?? [])
            .Where(c => c.Names.Any(n => table.TryGetValue(n, out var v) && v == nr))
            .Select(c => (Action: Action(c.Action, c.ErrnoRet), Conditions: c.Args ?? []))
            .Where(e => e.Action != defaultAction).ToList();
        // the first entry without conditions decides alone
        if (entries.FirstOrDefault(e => e.Conditions.Count == 0) is { Action: var only, Conditions: [] }) return only;
        foreach (var (action, conditions) in entries)
        {
            bool HoldsFor(LinuxSeccompArg a)
            {
                var value = a.Index < args.Length ? args[a.Index] : 0;
                return Holds(a.Op, is32 ? value & 0xFFFF_FFFF : value, a.Value, a.Op == "SCMP_CMP_MASKED_EQ" ? a.ValueTwo & a.Value : a.ValueTwo);
            }
            var separate = conditions.GroupBy(a => a.Index).Any(g => g.Count() > 1);
            if (separate ? conditions.Any(HoldsFor) : conditions.All(HoldsFor)) return action;
        }
        return defaultAction;
    }

    private static uint Action(string action, uint? errnoRet) => action switch
    {
        "SCMP_ACT_ALLOW" => Allow,
        "SCMP_ACT_ERRNO" => Errno | (errnoRet ?? 1),
        "SCMP_ACT_TRACE" => Trace | (errnoRet ?? 1),
        "SCMP_ACT_LOG" => Log,
        "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => KillThread,
        "SCMP_ACT_KILL_PROCESS" => KillProcess,
        "SCMP_ACT_TRAP" => Trap,
        "SCMP_ACT_NOTIFY" => Notify,
        _ => throw new ArgumentException(action),
    };
}
