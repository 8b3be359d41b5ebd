using System.Buffers.Binary;
using System.Text;

namespace CrateRun.Core.Tests.Security;

/// <summary>
/// Classic BPF as the kernel runs a seccomp filter: the checks of bpf_check_classic and seccomp_check_filter, and an
/// interpreter over a synthetic struct seccomp_data. Instructions are packed as in SeccompProgram.Filter
/// (code | jt &lt;&lt; 16 | jf &lt;&lt; 24 | k &lt;&lt; 32).
/// </summary>
internal static class BpfInterpreter
{
    public const int MaxInstructions = 4096;
    private const int SeccompDataSize = 64, MemWords = 16;

    // classes
    private const int Ld = 0x00, Ldx = 0x01, St = 0x02, Stx = 0x03, Alu = 0x04, Jmp = 0x05, Ret = 0x06, Misc = 0x07;

    // ld/ldx fields
    private const int W = 0x00, Imm = 0x00, Abs = 0x20, Mem = 0x60, Len = 0x80;

    // alu/jmp fields
    private const int Add = 0x00, Sub = 0x10, Mul = 0x20, Div = 0x30, Or = 0x40, And = 0x50, Lsh = 0x60, Rsh = 0x70,
        Neg = 0x80, Mod = 0x90, Xor = 0xA0;

    private const int Ja = 0x00, Jeq = 0x10, Jgt = 0x20, Jge = 0x30, Jset = 0x40;
    private const int SrcK = 0x00, SrcX = 0x08, RvalK = 0x00, RvalA = 0x10, Tax = 0x00, Txa = 0x80;

    public readonly record struct Insn(ushort Code, byte Jt, byte Jf, uint K);

    public static Insn Decode(ulong packed) =>
        new((ushort)packed, (byte)(packed >> 16), (byte)(packed >> 24), (uint)(packed >> 32));

    /// <summary>Throws <see cref="InvalidOperationException"/> where the kernel would refuse the program (EINVAL).</summary>
    public static void Validate(ulong[] program)
    {
        var len = program.Length;
        if (len == 0 || len > MaxInstructions) throw new InvalidOperationException($"bad program length {len}");
        for (var pc = 0; pc < len; pc++)
        {
            var i = Decode(program[pc]);
            string? error = i.Code switch
            {
                Ld | W | Abs => i.K % 4 != 0 || i.K >= SeccompDataSize ? "LD ABS outside seccomp_data or unaligned" : null,
                Ld | W | Len or Ldx | W | Len or Ld | Imm or Ldx | Imm or Ret | RvalK or Ret | RvalA
                    or Misc | Tax or Misc | Txa => null,
                Ld | Mem or Ldx | Mem or St or Stx => i.K >= MemWords ? "scratch slot out of range" : null,
                Alu | Div | SrcK or Alu | Mod | SrcK => i.K == 0 ? "division by constant 0" : null,
                Alu | Lsh | SrcK or Alu | Rsh | SrcK => i.K >= 32 ? "shift out of range" : null,
                Alu | Add | SrcK or Alu | Sub | SrcK or Alu | Mul | SrcK or Alu | Or | SrcK or Alu | And | SrcK
                    or Alu | Xor | SrcK or Alu | Add | SrcX or Alu | Sub | SrcX or Alu | Mul | SrcX or Alu | Div | SrcX
                    or Alu | Or | SrcX or Alu | And | SrcX or Alu | Lsh | SrcX or Alu | Rsh | SrcX or Alu | Mod | SrcX
                    or Alu | Xor | SrcX or Alu | Neg => null,
                Jmp | Ja => i.K >= (uint)(len - pc - 1) ? "JA out of range" : null,
                Jmp | Jeq | SrcK or Jmp | Jgt | SrcK or Jmp | Jge | SrcK or Jmp | Jset | SrcK or Jmp | Jeq | SrcX
                    or Jmp | Jgt | SrcX or Jmp | Jge | SrcX or Jmp | Jset | SrcX =>
                    pc + 1 + i.Jt >= len || pc + 1 + i.Jf >= len ? "conditional jump out of range" : null,
                _ => $"opcode 0x{i.Code:x2} not allowed in seccomp",
            };
            if (error is not null) throw new InvalidOperationException($"insn {pc}: {error}");
        }
        if ((Decode(program[^1]).Code & 0x07) != Ret) throw new InvalidOperationException("last instruction is not RET");
        CheckLoadsAfterStores(program);
    }

    /// <summary>The kernel's check_load_and_stores: no scratch slot is read on a path that has not written it.</summary>
    private static void CheckLoadsAfterStores(ulong[] program)
    {
        var masks = new ushort[program.Length];
        Array.Fill(masks, (ushort)0xFFFF);
        ushort valid = 0;
        for (var pc = 0; pc < program.Length; pc++)
        {
            valid &= masks[pc];
            var i = Decode(program[pc]);
            switch (i.Code)
            {
                case St or Stx: valid |= (ushort)(1 << (int)i.K); break;
                case Ld | Mem or Ldx | Mem:
                    if ((valid & (1 << (int)i.K)) == 0) throw new InvalidOperationException($"insn {pc}: reads M[{i.K}] before a store");
                    break;
                case Jmp | Ja: masks[pc + 1 + (int)i.K] &= valid; valid = 0xFFFF; break;
                case Ret | RvalK or Ret | RvalA: valid = 0xFFFF; break;
                default:
                    if ((i.Code & 0x07) == Jmp)
                    {
                        masks[pc + 1 + i.Jt] &= valid;
                        masks[pc + 1 + i.Jf] &= valid;
                        valid = 0xFFFF;
                    }
                    break;
            }
        }
    }

    /// <summary>Runs the filter for one system call and returns its SECCOMP_RET_* value.</summary>
    public static uint Run(ulong[] program, uint arch, uint nr, params ulong[] args) => Run(program, arch, nr, out _, args);

    /// <summary>Like <see cref="Run(ulong[], uint, uint, ulong[])"/>, counting the instructions executed.</summary>
    public static uint Run(ulong[] program, uint arch, uint nr, out int steps, params ulong[] args)
    {
        Validate(program);
        steps = 0;
        Span<byte> data = stackalloc byte[SeccompDataSize];
        data.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(data, nr);
        BinaryPrimitives.WriteUInt32LittleEndian(data[4..], arch);
        for (var a = 0; a < Math.Min(args.Length, 6); a++) BinaryPrimitives.WriteUInt64LittleEndian(data[(16 + 8 * a)..], args[a]);

        uint acc = 0, x = 0;
        Span<uint> mem = stackalloc uint[MemWords];
        mem.Clear();
        for (var pc = 0; pc < program.Length; pc++)
        {
            steps++;
            var i = Decode(program[pc]);
            uint Src() => (i.Code & SrcX) != 0 ? x : i.K;
            switch (i.Code & 0x07)
            {
                case Ld:
                    acc = (i.Code & 0xE0) switch
                    {
                        Abs => BinaryPrimitives.ReadUInt32LittleEndian(data[(int)i.K..]),
                        Len => SeccompDataSize,
                        Mem => mem[(int)i.K],
                        _ => i.K,
                    };
                    break;
                case Ldx:
                    x = (i.Code & 0xE0) switch { Len => SeccompDataSize, Mem => mem[(int)i.K], _ => i.K };
                    break;
                case St: mem[(int)i.K] = acc; break;
                case Stx: mem[(int)i.K] = x; break;
                case Alu:
                    acc = (i.Code & 0xF0) switch
                    {
                        Add => acc + Src(),
                        Sub => acc - Src(),
                        Mul => acc * Src(),
                        Div => Src() == 0 ? throw new DivideByZeroException() : acc / Src(),
                        Mod => Src() == 0 ? throw new DivideByZeroException() : acc % Src(),
                        Or => acc | Src(),
                        And => acc & Src(),
                        Xor => acc ^ Src(),
                        Lsh => acc << (int)Src(),
                        Rsh => acc >> (int)Src(),
                        Neg => (uint)-(int)acc,
                        _ => throw new InvalidOperationException($"alu 0x{i.Code:x2}"),
                    };
                    break;
                case Jmp:
                    if ((i.Code & 0xF0) == Ja)
                    {
                        pc += (int)i.K;
                        break;
                    }
                    var taken = (i.Code & 0xF0) switch
                    {
                        Jeq => acc == Src(),
                        Jgt => acc > Src(),
                        Jge => acc >= Src(),
                        Jset => (acc & Src()) != 0,
                        _ => throw new InvalidOperationException($"jmp 0x{i.Code:x2}"),
                    };
                    pc += taken ? i.Jt : i.Jf;
                    break;
                case Ret:
                    return (i.Code & RvalA) != 0 ? acc : i.K;
                case Misc:
                    if ((i.Code & 0xF8) == Txa) acc = x;
                    else x = acc;
                    break;
            }
        }
        throw new InvalidOperationException("ran off the end of the program");
    }

    /// <summary>One line per instruction, for failure messages.</summary>
    public static string Disassemble(ulong[] program)
    {
        var sb = new StringBuilder();
        for (var pc = 0; pc < program.Length; pc++)
        {
            var i = Decode(program[pc]);
            var text = i.Code switch
            {
                Ld | W | Abs => $"ld [{i.K}]",
                Alu | And | SrcK => $"and #0x{i.K:x}",
                Ret | RvalK => $"ret #0x{i.K:x8}",
                Jmp | Ja => $"ja {pc + 1 + i.K}",
                Jmp | Jeq | SrcK => $"jeq #0x{i.K:x}, {pc + 1 + i.Jt}, {pc + 1 + i.Jf}",
                Jmp | Jgt | SrcK => $"jgt #0x{i.K:x}, {pc + 1 + i.Jt}, {pc + 1 + i.Jf}",
                Jmp | Jge | SrcK => $"jge #0x{i.K:x}, {pc + 1 + i.Jt}, {pc + 1 + i.Jf}",
                Jmp | Jset | SrcK => $"jset #0x{i.K:x}, {pc + 1 + i.Jt}, {pc + 1 + i.Jf}",
                _ => $"code 0x{i.Code:x2} jt {i.Jt} jf {i.Jf} k 0x{i.K:x}",
            };
            sb.Append(pc.ToString().PadLeft(4)).Append(": ").AppendLine(text);
        }
        return sb.ToString();
    }
}
