using CrateRun.Core.Oci;

namespace CrateRun.Core.Security;

/// <summary>
/// cgroup v2 has no devices controller: access to device nodes is decided by an eBPF program
/// of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup. This builds that program from
/// the OCI device rules: later rules override earlier ones, so they are checked last-first;
/// no match denies. Pure: the kernel sees the bytes only in CgroupV2Manager.
/// </summary>
public static class DeviceFilterProgram
{
    // struct bpf_cgroup_dev_ctx { u32 access_type /* access << 16 | type */; u32 major; u32 minor; }
    private const short OffAccessType = 0, OffMajor = 4, OffMinor = 8;
    private const int TypeBlock = 1, TypeChar = 2;           // BPF_DEVCG_DEV_*
    private const int AccMknod = 1, AccRead = 2, AccWrite = 4; // BPF_DEVCG_ACC_*

    // eBPF opcodes used
    private const byte LdxMemW = 0x61, Mov64Reg = 0xbf, Mov64Imm = 0xb7, And32Imm = 0x54, Rsh32Imm = 0x74,
        JneImm = 0x55, JsetImm = 0x45, Exit = 0x95;

    /// <summary>One eBPF instruction, as the kernel lays it out (struct bpf_insn, 8 bytes).</summary>
    public static ulong Insn(byte code, byte dst, byte src, short off, int imm) =>
        code | ((ulong)(byte)((dst & 0xf) | (src << 4)) << 8) | ((ulong)(ushort)off << 16) | ((ulong)(uint)imm << 32);

    public static ulong[] Build(IReadOnlyList<LinuxDeviceCgroup> rules)
    {
        var prog = new List<ulong>
        {
            // r2 = type, r3 = access, r4 = major, r5 = minor
            Insn(LdxMemW, 2, 1, OffAccessType, 0),
            Insn(Mov64Reg, 3, 2, 0, 0),
            Insn(And32Imm, 2, 0, 0, 0xffff),
            Insn(Rsh32Imm, 3, 0, 0, 16),
            Insn(LdxMemW, 4, 1, OffMajor, 0),
            Insn(LdxMemW, 5, 1, OffMinor, 0),
        };
        for (var i = rules.Count - 1; i >= 0; i--)
        {
            var (block, unconditional) = RuleBlock(rules[i]);
            prog.AddRange(block);
            // a rule matching every device decides for all earlier ones (the verifier refuses unreachable code)
            if (unconditional) return [.. prog];
        }
        prog.Add(Insn(Mov64Imm, 0, 0, 0, 0)); // nothing matched: deny
        prog.Add(Insn(Exit, 0, 0, 0, 0));
        return [.. prog];
    }

    /// <summary>"if every condition holds, return allow/deny"; each failed condition jumps past the block.</summary>
    private static (List<ulong> Block, bool Unconditional) RuleBlock(LinuxDeviceCgroup r)
    {
        var tests = new List<(byte Code, byte Reg, int Imm)>();
        var type = string.IsNullOrEmpty(r.Type) ? "a" : r.Type;
        if (type != "a")
            tests.Add((JneImm, 2, type switch
            {
                "b" => TypeBlock,
                "c" or "u" => TypeChar,
                _ => throw new UsageException($"device rule: unknown type '{type}'"),
            }));
        var access = string.IsNullOrEmpty(r.Access) ? "rwm" : r.Access;
        var mask = 0;
        foreach (var c in access)
            mask |= c switch { 'r' => AccRead, 'w' => AccWrite, 'm' => AccMknod, _ => throw new UsageException($"device rule: bad access '{access}'") };
        var missing = ~mask & (AccRead | AccWrite | AccMknod);
        if (missing != 0) tests.Add((JsetImm, 3, missing)); // asks for something the rule does not cover
        if (r.Major is { } ma and >= 0) tests.Add((JneImm, 4, (int)ma));
        if (r.Minor is { } mi and >= 0) tests.Add((JneImm, 5, (int)mi));
        var block = new List<ulong>();
        for (var t = 0; t < tests.Count; t++)
        {
            // jump over the remaining tests and the two return instructions
            var skip = (short)(tests.Count - t - 1 + 2);
            block.Add(Insn(tests[t].Code, tests[t].Reg, 0, skip, tests[t].Imm));
        }
        block.Add(Insn(Mov64Imm, 0, 0, 0, r.Allow ? 1 : 0));
        block.Add(Insn(Exit, 0, 0, 0, 0));
        return (block, tests.Count == 0);
    }
}
