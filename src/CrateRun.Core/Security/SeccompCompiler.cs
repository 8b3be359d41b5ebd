using CrateRun.Core.Oci;

namespace CrateRun.Core.Security;

/// <summary>
/// A compiled seccomp filter, ready for seccomp(SECCOMP_SET_MODE_FILTER, <see cref="Flags"/>, &amp;prog).
/// </summary>
/// <param name="Filter">
/// The struct sock_filter array, one instruction per element packed as its little-endian memory image:
/// <c>code | jt &lt;&lt; 16 | jf &lt;&lt; 24 | k &lt;&lt; 32</c>. Pin it and pass it as sock_fprog.filter with
/// sock_fprog.len = Filter.Length.
/// </param>
/// <param name="Flags">SECCOMP_FILTER_FLAG_* for seccomp(2), from the profile's flags (plus NEW_LISTENER when needed).</param>
/// <param name="NeedsListener">
/// The profile uses SCMP_ACT_NOTIFY: seccomp(2) returns a notification fd (SECCOMP_FILTER_FLAG_NEW_LISTENER is set)
/// that has to reach the listener at linux.seccomp.listenerPath.
/// </param>
public sealed record SeccompProgram(ulong[] Filter, uint Flags, bool NeedsListener)
{
    /// <summary>
    /// Names that no architecture of the filter knows, in profile order. They are skipped, as runc/libseccomp
    /// skip names the kernel or the architecture does not have (Docker's profile lists arm-only and 32-bit names).
    /// </summary>
    public IReadOnlyList<string> UnknownSyscalls { get; init; } = [];
}

/// <summary>
/// Compiles an OCI linux.seccomp profile to a classic BPF seccomp program, without libseccomp.
/// </summary>
/// <remarks>
/// <para>
/// Architectures. Only x86_64 kernels are targeted, with their three ABIs: SCMP_ARCH_X86_64 (always in the filter, as the
/// native architecture is in a libseccomp filter), SCMP_ARCH_X86 (i386: audit arch 0x40000003, its own numbers, see
/// <see cref="SyscallTable.I386"/>) and SCMP_ARCH_X32 (audit arch x86_64, numbers with bit 30 set, see
/// <see cref="SyscallTable.X32"/>). Other SCMP_ARCH_* names are accepted and ignored: an x86_64 kernel never reports them.
/// A system call from an architecture that is not in the filter gets SECCOMP_RET_KILL_PROCESS (libseccomp's "bad arch"
/// action; libseccomp's default is KILL_THREAD, runc keeps it, a single-threaded process dies either way). An x32 call
/// (x86_64 arch, nr with bit 30 set) when SCMP_ARCH_X32 is not listed is killed the same way, as libseccomp does, so that
/// a deny-list written for x86_64 numbers cannot be bypassed through the x32 numbers either.
/// </para>
/// <para>
/// Rules, as runc and crun build them with libseccomp (checked against libseccomp 2.5 itself, see
/// SeccompLibseccompTests). An entry whose action is the default action is dropped (runc skips it as redundant). The
/// conditions of one entry are ANDed when each names a different argument index; when two of them name the same index
/// (a range written as GE and LE, two EQ values) the entry becomes one rule per condition, ORed: runc's and crun's "each
/// condition as a separate rule" fallback, which is what a profile written for them gets. SCMP_CMP_MASKED_EQ compares
/// (arg &amp; value) with (valueTwo &amp; value), as libseccomp does. For one system call, the first unconditional rule
/// decides alone, wherever it stands (libseccomp keeps the first it is given and drops the call's conditional rules for
/// it); otherwise the conditional rules apply in profile order, the first whose conditions all hold deciding, and none
/// holding means the default action. (libseccomp orders a call's conditional rules by its own decision tree, not by the
/// profile; the two differ only for rules of different actions whose conditions overlap, which no known profile has.)
/// Arguments are compared as unsigned 64-bit values (hi and lo words of seccomp_data.args[i]); on the 32-bit ABIs (i386
/// and x32, as libseccomp treats them) only the low word is loaded and the comparison is made against the zero-extended
/// argument, so a value with high bits set is decided at compile time.
/// </para>
/// <para>
/// Calls newer than the profile get ENOSYS, as runc's -ENOSYS stub gives them (libcontainer/seccomp/patchbpf): unless
/// the default action lets calls run (ALLOW, LOG, TRACE), a number above the highest number named anywhere in the
/// profile (any action, names this architecture knows) returns SECCOMP_RET_ERRNO|ENOSYS instead of the default, so
/// that libc falls back from a call the profile never heard of (clone3, faccessat2, ...) as it does on an older kernel.
/// This is done per listed architecture (SCMP_ARCH_X86_64, SCMP_ARCH_X32 with its own numbers, told apart by bit 30
/// of the number as runc does, and SCMP_ARCH_X86); an architecture that is not listed, or whose highest named number
/// is 0, gets no such range.
/// </para>
/// <para>
/// Layout. After the architecture check the program is a binary search over syscall-number intervals (JGE), whose leaves
/// are a RET or, for a call with argument rules, that call's rule chain. Adjacent numbers with the same action share one
/// interval, so Docker's profile needs a few hundred instructions and about 8 comparisons per call. Only instructions the
/// kernel's seccomp action cache can emulate (LD nr/arch, JEQ/JGE/JGT K, JA, AND K, RET K) are used on the dispatch path,
/// so calls that are always allowed get cached by the kernel. A conditional jump farther than 255 goes through an
/// inserted BPF_JA (32-bit offset).
/// </para>
/// </remarks>
public static class SeccompCompiler
{
    /// <summary>AUDIT_ARCH_X86_64 (also x32).</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1707", Justification = "x86_64 is the architecture's name (AUDIT_ARCH_X86_64, SCMP_ARCH_X86_64).")]
    public const uint AuditArchX86_64 = 0xC000_003E;

    /// <summary>AUDIT_ARCH_I386.</summary>
    public const uint AuditArchI386 = 0x4000_0003;

    /// <summary>BPF_MAXINSNS: the longest program the kernel accepts.</summary>
    public const int MaxInstructions = 4096;

    public const uint RetKillProcess = 0x8000_0000, RetKillThread = 0x0000_0000, RetTrap = 0x0003_0000,
        RetErrno = 0x0005_0000, RetUserNotif = 0x7FC0_0000, RetTrace = 0x7FF0_0000, RetLog = 0x7FFC_0000,
        RetAllow = 0x7FFF_0000;

    public const uint FlagTsync = 1, FlagLog = 2, FlagSpecAllow = 4, FlagNewListener = 8, FlagTsyncEsrch = 16,
        FlagWaitKillableRecv = 32;

    /// <summary>The action for a call from an architecture the filter does not list.</summary>
    public const uint BadArchAction = RetKillProcess;

    private const uint Eperm = 1, Enosys = 38;

    /// <summary>What a call newer than the profile gets (runc's -ENOSYS stub).</summary>
    public const uint RetEnosys = RetErrno | Enosys;

    // seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6];
    private const uint OffsetNr = 0, OffsetArch = 4, OffsetArgs = 16;

    // classic BPF opcodes (linux/filter.h, linux/bpf_common.h)
    internal const ushort LdWAbs = 0x20, JmpJa = 0x05, JmpJeqK = 0x15, JmpJgtK = 0x25, JmpJgeK = 0x35, AluAndK = 0x54,
        RetK = 0x06;

    private static readonly Dictionary<string, uint> FilterFlags = new(StringComparer.Ordinal)
    {
        ["SECCOMP_FILTER_FLAG_TSYNC"] = FlagTsync,
        ["SECCOMP_FILTER_FLAG_LOG"] = FlagLog,
        ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"] = FlagSpecAllow,
        ["SECCOMP_FILTER_FLAG_NEW_LISTENER"] = FlagNewListener,
        ["SECCOMP_FILTER_FLAG_TSYNC_ESRCH"] = FlagTsyncEsrch,
        ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"] = FlagWaitKillableRecv,
    };

    /// <summary>Architectures libseccomp knows that an x86_64 kernel never reports: accepted, without effect.</summary>
    private static readonly HashSet<string> ForeignArchitectures = new(StringComparer.Ordinal)
    {
        "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32",
        "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
        "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64",
        "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
    };

    private enum CmpOp { Ne, Lt, Le, Eq, Ge, Gt, MaskedEq }

    private readonly record struct Condition(int Index, CmpOp Op, ulong Value, ulong ValueTwo);

    private sealed record Rule(uint Action, Condition[] Conditions);

    /// <summary>What an interval of syscall numbers does: a fixed return value, or one call's rule chain.</summary>
    private abstract record Leaf;

    private sealed record RetLeaf(uint Ret) : Leaf;

    /// <summary>One call's rules; <paramref name="Is32"/>: a 32-bit ABI (i386, x32), whose arguments are compared as 32-bit values.</summary>
    private sealed record RulesLeaf(List<Rule> Rules, uint Fallback, bool Is32) : Leaf;

    /// <summary>
    /// The program of <paramref name="profile"/>: the stored one for the default profile
    /// (<see cref="PrecompiledSeccomp"/>, identical by test), otherwise <see cref="CompileProfile"/>.
    /// </summary>
    /// <exception cref="FormatException">As <see cref="CompileProfile"/>.</exception>
    public static SeccompProgram Compile(LinuxSeccomp profile) => PrecompiledSeccomp.Find(profile) ?? CompileProfile(profile);

    /// <summary>Compiles <paramref name="profile"/>.</summary>
    /// <exception cref="FormatException">
    /// An unknown action, comparison operator, flag or architecture, an argument index above 5, an errnoRet above
    /// 65535, or a program longer than <see cref="MaxInstructions"/>.
    /// </exception>
    public static SeccompProgram CompileProfile(LinuxSeccomp profile)
    {
        ArgumentNullException.ThrowIfNull(profile);

        var defaultRet = ParseAction(profile.DefaultAction, profile.DefaultErrnoRet, "defaultAction");
        var needsListener = IsNotify(defaultRet);

        uint flags = 0;
        foreach (var name in profile.Flags ?? [])
        {
            if (!FilterFlags.TryGetValue(name, out var flag))
                throw new FormatException($"seccomp: unknown flag \"{name}\"");
            flags |= flag;
        }

        bool x86_64 = false, x32 = false, i386 = false;
        foreach (var arch in profile.Architectures ?? [])
        {
            switch (arch)
            {
                case "SCMP_ARCH_X86_64" or "SCMP_ARCH_NATIVE": x86_64 = true; break;
                case "SCMP_ARCH_X32": x32 = true; break;
                case "SCMP_ARCH_X86": i386 = true; break;
                default:
                    if (!ForeignArchitectures.Contains(arch))
                        throw new FormatException($"seccomp: unknown architecture \"{arch}\"");
                    break;
            }
        }

        // number -> rules in profile order, per ABI
        var rules64 = new Dictionary<uint, List<Rule>>();
        var rulesX32 = new Dictionary<uint, List<Rule>>();
        var rules386 = new Dictionary<uint, List<Rule>>();
        var unknown = new List<string>();
        var unknownSeen = new HashSet<string>(StringComparer.Ordinal);
        uint highest64 = 0, highestX32 = 0, highest386 = 0; // the highest number named, per ABI
        var syscalls = profile.Syscalls ?? [];
        for (var s = 0; s < syscalls.Count; s++)
        {
            var call = syscalls[s];
            var what = $"syscalls[{s}]";
            var action = ParseAction(call.Action, call.ErrnoRet, what + ".action");
            needsListener |= IsNotify(action);
            // a rule that returns the default changes nothing (runc does not add it)
            var rules = action == defaultRet ? [] : RulesOf(action, ParseConditions(call.Args, what));
            foreach (var name in call.Names ?? [])
            {
                var known = Add(rules64, SyscallTable.X86_64, name, rules, ref highest64);
                known |= x32 && Add(rulesX32, SyscallTable.X32, name, rules, ref highestX32);
                known |= i386 && Add(rules386, SyscallTable.I386, name, rules, ref highest386);
                if (!known && unknownSeen.Add(name)) unknown.Add(name);
            }
        }

        if (needsListener) flags |= FlagNewListener;
        if ((flags & FlagTsync) != 0 && (flags & FlagNewListener) != 0 && (flags & FlagTsyncEsrch) == 0)
            throw new FormatException("seccomp: SECCOMP_FILTER_FLAG_TSYNC with a listener (SCMP_ACT_NOTIFY) needs SECCOMP_FILTER_FLAG_TSYNC_ESRCH");

        // An x32 call when x32 is not in the filter: a foreign architecture (libseccomp)
        var x32Gap = new RetLeaf(x32 ? defaultRet : BadArchAction);
        var gap = new RetLeaf(defaultRet);
        var enosys = new RetLeaf(RetEnosys);
        // runc's -ENOSYS stub: per listed ABI whose highest named number is not 0, when the default stops calls
        var stub = !(defaultRet is RetAllow or RetLog || (defaultRet & 0xFFFF_0000) == RetTrace);
        ulong? newer64 = stub && x86_64 && highest64 != 0 ? highest64 + 1UL : null;
        ulong? newerX32 = stub && x32 && highestX32 != 0 ? highestX32 + 1UL : null;
        ulong? newer386 = stub && i386 && highest386 != 0 ? highest386 + 1UL : null;
        const ulong Bit30 = SyscallTable.X32SyscallBit, Bit31 = 0x8000_0000;
        var points64 = Leaves(rules64, defaultRet, is32: false);
        var pointsX32 = x32 ? Leaves(rulesX32, defaultRet, is32: true) : [];
        var intervals64 = BuildIntervals(
        [
            // x86_64 numbers: the rules, then ENOSYS above the highest named one
            (0, newer64 ?? Bit30, gap, points64),
            (newer64 ?? Bit30, Bit30, enosys, []),
            // bit 30 set: x32 numbers, the same way
            (Bit30, newerX32 ?? Bit31, x32Gap, pointsX32),
            (newerX32 ?? Bit31, Bit31, enosys, []),
            // no call has bit 31 set; the stub still tells them apart by bit 30
            (Bit31, Bit31 | Bit30, newer64 is null ? x32Gap : enosys, []),
            (Bit31 | Bit30, uint.MaxValue, newerX32 is null ? x32Gap : enosys, []),
            // -1, a call a tracer skipped: libseccomp lets it reach the rules (the default), whatever x32 is
            (uint.MaxValue, 1UL << 32, newerX32 is null ? gap : enosys, []),
        ]);

        var asm = new Assembler();
        var section64 = asm.NewLabel();
        var section386 = asm.NewLabel();
        asm.Stmt(LdWAbs, OffsetArch);
        asm.Jump(JmpJeqK, AuditArchX86_64, section64, Assembler.Next);
        if (i386) asm.Jump(JmpJeqK, AuditArchI386, section386, Assembler.Next);
        asm.Stmt(RetK, BadArchAction);

        asm.Bind(section64);
        asm.Stmt(LdWAbs, OffsetNr);
        EmitTree(asm, intervals64, 0, intervals64.Count);

        if (i386)
        {
            var intervals386 = BuildIntervals(
            [
                (0, newer386 ?? 1UL << 32, gap, Leaves(rules386, defaultRet, is32: true)),
                (newer386 ?? 1UL << 32, 1UL << 32, enosys, []),
            ]);
            asm.Bind(section386);
            asm.Stmt(LdWAbs, OffsetNr);
            EmitTree(asm, intervals386, 0, intervals386.Count);
        }

        var filter = asm.Link();
        if (filter.Length > MaxInstructions)
            throw new FormatException($"seccomp: the profile compiles to {filter.Length} BPF instructions, more than the kernel's {MaxInstructions}");
        return new SeccompProgram(filter, flags, needsListener) { UnknownSyscalls = unknown };
    }

    private static bool Add(Dictionary<uint, List<Rule>> rules, IReadOnlyDictionary<string, uint> table, string name,
        List<Rule> toAdd, ref uint highest)
    {
        if (!table.TryGetValue(name, out var nr)) return false;
        highest = Math.Max(highest, nr);
        if (toAdd.Count == 0) return true;
        if (!rules.TryGetValue(nr, out var list)) rules[nr] = list = [];
        list.AddRange(toAdd);
        return true;
    }

    /// <summary>
    /// The rules one profile entry makes: one rule with every condition ANDed, or, when two conditions compare the same
    /// argument, one rule per condition (ORed), as runc and crun add such an entry to libseccomp.
    /// </summary>
    private static List<Rule> RulesOf(uint action, Condition[] conditions)
    {
        var sameIndexTwice = conditions.GroupBy(c => c.Index).Any(g => g.Count() > 1);
        return sameIndexTwice ? [.. conditions.Select(c => new Rule(action, [c]))] : [new Rule(action, conditions)];
    }

    private static bool IsNotify(uint ret) => (ret & 0xFFFF_0000) == RetUserNotif;

    private static uint ParseAction(string action, uint? errnoRet, string what)
    {
        uint Data()
        {
            var e = errnoRet ?? Eperm;
            if (e > 0xFFFF) throw new FormatException($"seccomp: {what}: errnoRet {e} does not fit SECCOMP_RET_DATA (16 bits)");
            return e;
        }

        return action switch
        {
            "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => RetKillThread,
            "SCMP_ACT_KILL_PROCESS" => RetKillProcess,
            "SCMP_ACT_TRAP" => RetTrap,
            "SCMP_ACT_ERRNO" => RetErrno | Data(),
            "SCMP_ACT_TRACE" => RetTrace | Data(),
            "SCMP_ACT_ALLOW" => RetAllow,
            "SCMP_ACT_LOG" => RetLog,
            "SCMP_ACT_NOTIFY" => RetUserNotif,
            _ => throw new FormatException($"seccomp: {what}: unknown action \"{action}\""),
        };
    }

    private static Condition[] ParseConditions(List<LinuxSeccompArg>? args, string what)
    {
        if (args is null || args.Count == 0) return [];
        var conditions = new Condition[args.Count];
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (a.Index > 5) throw new FormatException($"seccomp: {what}.args[{i}]: argument index {a.Index} is not 0-5");
            var op = a.Op switch
            {
                "SCMP_CMP_NE" => CmpOp.Ne,
                "SCMP_CMP_LT" => CmpOp.Lt,
                "SCMP_CMP_LE" => CmpOp.Le,
                "SCMP_CMP_EQ" => CmpOp.Eq,
                "SCMP_CMP_GE" => CmpOp.Ge,
                "SCMP_CMP_GT" => CmpOp.Gt,
                "SCMP_CMP_MASKED_EQ" => CmpOp.MaskedEq,
                _ => throw new FormatException($"seccomp: {what}.args[{i}]: unknown operator \"{a.Op}\""),
            };
            // libseccomp compares (arg & value) with (valueTwo & value): bits outside the mask never count
            conditions[i] = new Condition((int)a.Index, op, a.Value, op == CmpOp.MaskedEq ? a.ValueTwo & a.Value : a.ValueTwo);
        }
        return conditions;
    }

    /// <summary>One leaf per number that does not simply take the default action.</summary>
    private static List<(uint Nr, Leaf Leaf)> Leaves(Dictionary<uint, List<Rule>> rules, uint defaultRet, bool is32)
    {
        var leaves = new List<(uint, Leaf)>();
        foreach (var (nr, all) in rules)
        {
            // the first unconditional rule decides alone, wherever it stands: libseccomp keeps the first one it is
            // given and drops the call's conditional rules for it; trailing rules that return the default change nothing
            var unconditional = all.Find(r => r.Conditions.Length == 0);
            var list = unconditional is null ? new List<Rule>(all) : [unconditional];
            while (list.Count > 0 && list[^1].Action == defaultRet) list.RemoveAt(list.Count - 1);
            if (list.Count == 0) continue;
            leaves.Add((nr, list is [{ Conditions.Length: 0 } only] ? new RetLeaf(only.Action) : new RulesLeaf(list, defaultRet, is32)));
        }
        leaves.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return leaves;
    }

    /// <summary>
    /// Cuts [0, 2^32) into intervals, each with one leaf: the given numbers, and between them each region's gap leaf.
    /// Neighbouring intervals that return the same value are merged.
    /// </summary>
    private static List<(uint Start, Leaf Leaf)> BuildIntervals(List<(ulong Start, ulong End, Leaf Gap, List<(uint Nr, Leaf Leaf)> Points)> regions)
    {
        var intervals = new List<(uint Start, Leaf Leaf)>();
        void Append(ulong start, Leaf leaf)
        {
            if (intervals.Count > 0 && leaf is RetLeaf && intervals[^1].Leaf == leaf) return;
            intervals.Add(((uint)start, leaf));
        }

        foreach (var (start, end, gap, points) in regions)
        {
            var cursor = start;
            foreach (var (nr, leaf) in points)
            {
                if (nr < start || nr >= end) continue;
                if (nr > cursor) Append(cursor, gap);
                Append(nr, leaf);
                cursor = (ulong)nr + 1;
            }
            if (cursor < end) Append(cursor, gap);
        }
        return intervals;
    }

    /// <summary>Binary search on the number in A over intervals [from, to); intervals[from] starts at the lowest possible nr.</summary>
    private static void EmitTree(Assembler asm, List<(uint Start, Leaf Leaf)> intervals, int from, int to)
    {
        if (to - from == 1)
        {
            EmitLeaf(asm, intervals[from].Leaf);
            return;
        }
        var mid = (from + to) / 2;
        var upper = asm.NewLabel();
        asm.Jump(JmpJgeK, intervals[mid].Start, upper, Assembler.Next);
        EmitTree(asm, intervals, from, mid);
        asm.Bind(upper);
        EmitTree(asm, intervals, mid, to);
    }

    private static void EmitLeaf(Assembler asm, Leaf leaf)
    {
        switch (leaf)
        {
            case RetLeaf r:
                asm.Stmt(RetK, r.Ret);
                return;
            case RulesLeaf chain:
                foreach (var rule in chain.Rules)
                {
                    if (rule.Conditions.Length == 0)
                    {
                        asm.Stmt(RetK, rule.Action);
                        return;
                    }
                    var nextRule = asm.NewLabel();
                    foreach (var c in rule.Conditions) EmitCondition(asm, c, nextRule, is64: !chain.Is32);
                    asm.Stmt(RetK, rule.Action);
                    asm.Bind(nextRule);
                }
                asm.Stmt(RetK, chain.Fallback);
                return;
        }
    }

    /// <summary>Falls through when <paramref name="c"/> holds, jumps to <paramref name="fail"/> when not. Clobbers A.</summary>
    private static void EmitCondition(Assembler asm, Condition c, int fail, bool is64)
    {
        var lo = OffsetArgs + 8 * (uint)c.Index;
        var hi = lo + 4;
        uint vl = (uint)c.Value, vh = (uint)(c.Value >> 32);
        uint el = (uint)c.ValueTwo, eh = (uint)(c.ValueTwo >> 32);
        var pass = asm.NewLabel();
        const int Next = Assembler.Next;

        if (!is64)
        {
            // 32-bit ABI: only the low word is loaded; the argument is taken as zero-extended, so whatever
            // the high word of the value decides is decided here.
            var (alwaysFail, alwaysPass) = c.Op switch
            {
                CmpOp.Eq or CmpOp.Gt or CmpOp.Ge => (vh != 0, false),
                CmpOp.Ne or CmpOp.Lt or CmpOp.Le => (false, vh != 0),
                CmpOp.MaskedEq => (eh != 0, false),
                _ => (false, false),
            };
            if (alwaysFail) asm.Ja(fail);
            else if (!alwaysPass) EmitWord(asm, c.Op, lo, vl, el, pass, fail);
            asm.Bind(pass);
            return;
        }

        switch (c.Op)
        {
            case CmpOp.Eq:
                asm.Stmt(LdWAbs, hi);
                asm.Jump(JmpJeqK, vh, Next, fail);
                asm.Stmt(LdWAbs, lo);
                asm.Jump(JmpJeqK, vl, pass, fail);
                break;
            case CmpOp.Ne:
                asm.Stmt(LdWAbs, hi);
                asm.Jump(JmpJeqK, vh, Next, pass);
                asm.Stmt(LdWAbs, lo);
                asm.Jump(JmpJeqK, vl, fail, pass);
                break;
            case CmpOp.Gt or CmpOp.Ge:
                asm.Stmt(LdWAbs, hi);
                asm.Jump(JmpJgtK, vh, pass, Next);
                asm.Jump(JmpJeqK, vh, Next, fail);
                EmitWord(asm, c.Op, lo, vl, 0, pass, fail);
                break;
            case CmpOp.Lt or CmpOp.Le:
                asm.Stmt(LdWAbs, hi);
                asm.Jump(JmpJgtK, vh, fail, Next);
                asm.Jump(JmpJeqK, vh, Next, pass);
                EmitWord(asm, c.Op, lo, vl, 0, pass, fail);
                break;
            case CmpOp.MaskedEq:
                // (arg & Value) == ValueTwo, word by word; a word whose mask and expected value are 0 always matches
                if ((vh | eh) != 0)
                {
                    asm.Stmt(LdWAbs, hi);
                    if (vh != 0xFFFF_FFFF) asm.Stmt(AluAndK, vh);
                    asm.Jump(JmpJeqK, eh, Next, fail);
                }
                if ((vl | el) != 0) EmitWord(asm, CmpOp.MaskedEq, lo, vl, el, pass, fail);
                break;
        }
        asm.Bind(pass);
    }

    /// <summary>Loads the 32-bit word at <paramref name="offset"/> and compares it.</summary>
    private static void EmitWord(Assembler asm, CmpOp op, uint offset, uint value, uint expected, int pass, int fail)
    {
        asm.Stmt(LdWAbs, offset);
        switch (op)
        {
            case CmpOp.Eq: asm.Jump(JmpJeqK, value, pass, fail); break;
            case CmpOp.Ne: asm.Jump(JmpJeqK, value, fail, pass); break;
            case CmpOp.Gt: asm.Jump(JmpJgtK, value, pass, fail); break;
            case CmpOp.Ge: asm.Jump(JmpJgeK, value, pass, fail); break;
            case CmpOp.Lt: asm.Jump(JmpJgeK, value, fail, pass); break;
            case CmpOp.Le: asm.Jump(JmpJgtK, value, fail, pass); break;
            case CmpOp.MaskedEq:
                if (value != 0xFFFF_FFFF) asm.Stmt(AluAndK, value);
                asm.Jump(JmpJeqK, expected, pass, fail);
                break;
        }
    }

    /// <summary>
    /// Collects instructions with symbolic, forward-only jump targets and lays them out, giving a conditional jump
    /// whose target is more than 255 instructions away a BPF_JA right after it.
    /// </summary>
    private sealed class Assembler
    {
        /// <summary>The jump target "the next instruction".</summary>
        public const int Next = -1;

        private readonly List<(ushort Code, uint K, int Jt, int Jf)> _code = [];
        private readonly List<int> _labels = [];

        public int NewLabel()
        {
            _labels.Add(-1);
            return _labels.Count - 1;
        }

        public void Bind(int label) => _labels[label] = _code.Count;

        public void Stmt(ushort code, uint k) => _code.Add((code, k, Next, Next));

        public void Jump(ushort code, uint k, int jt, int jf) => _code.Add((code, k, jt, jf));

        public void Ja(int target) => _code.Add((JmpJa, 0, target, Next));

        private static bool IsConditional(ushort code) => (code & 0x07) == 0x05 && code != JmpJa;

        private int Target(int i, int label)
        {
            if (label == Next) return i + 1;
            var target = _labels[label];
            if (target <= i || target >= _code.Count)
                throw new InvalidOperationException($"seccomp compiler: bad jump from {i} to {target}");
            return target;
        }

        public ulong[] Link()
        {
            var n = _code.Count;
            var farT = new bool[n];
            var farF = new bool[n];
            var pos = new int[n + 1];
            for (var changed = true; changed;)
            {
                changed = false;
                for (int i = 0, p = 0; i <= n; i++)
                {
                    pos[i] = p;
                    if (i < n) p += 1 + (farT[i] ? 1 : 0) + (farF[i] ? 1 : 0);
                }
                for (var i = 0; i < n; i++)
                {
                    var (code, _, jt, jf) = _code[i];
                    if (!IsConditional(code)) continue;
                    if (!farT[i] && pos[Target(i, jt)] - pos[i] - 1 > 255) farT[i] = changed = true;
                    if (!farF[i] && pos[Target(i, jf)] - pos[i] - 1 > 255) farF[i] = changed = true;
                }
            }

            var output = new ulong[pos[n]];
            for (var i = 0; i < n; i++)
            {
                var (code, k, jt, jf) = _code[i];
                var at = pos[i];
                if (code == JmpJa)
                {
                    output[at] = Pack(JmpJa, 0, 0, (uint)(pos[Target(i, jt)] - at - 1));
                }
                else if (IsConditional(code))
                {
                    int t = pos[Target(i, jt)], f = pos[Target(i, jf)];
                    var trampolineT = at + 1;
                    var trampolineF = at + 1 + (farT[i] ? 1 : 0);
                    var offT = farT[i] ? 0 : t - at - 1;
                    var offF = farF[i] ? trampolineF - at - 1 : f - at - 1;
                    output[at] = Pack(code, (byte)offT, (byte)offF, k);
                    if (farT[i]) output[trampolineT] = Pack(JmpJa, 0, 0, (uint)(t - trampolineT - 1));
                    if (farF[i]) output[trampolineF] = Pack(JmpJa, 0, 0, (uint)(f - trampolineF - 1));
                }
                else
                {
                    output[at] = Pack(code, 0, 0, k);
                }
            }
            return output;
        }

        private static ulong Pack(ushort code, byte jt, byte jf, uint k) =>
            code | (ulong)jt << 16 | (ulong)jf << 24 | (ulong)k << 32;
    }
}
