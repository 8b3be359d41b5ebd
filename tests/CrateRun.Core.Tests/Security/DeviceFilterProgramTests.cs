using CrateRun.Core.Oci;
using CrateRun.Core.Security;

namespace CrateRun.Core.Tests.Security;

/// <summary>The v2 device program, run in a tiny eBPF interpreter over (type, access, major, minor).</summary>
public class DeviceFilterProgramTests
{
    private const int Block = 1, Char = 2, Mknod = 1, Read = 2, Write = 4;

    private static readonly List<LinuxDeviceCgroup> DockerLike =
    [
        new() { Allow = false, Access = "rwm" },
        new() { Allow = true, Type = "c", Major = 1, Minor = 3, Access = "rwm" },
        new() { Allow = true, Type = "c", Access = "m" },
        new() { Allow = true, Type = "b", Access = "m" },
        new() { Allow = true, Type = "c", Major = 136, Access = "rw" },
    ];

    [Theory]
    [InlineData(Char, Read | Write, 1, 3, 1)]    // /dev/null
    [InlineData(Block, Read, 8, 0, 0)]           // a disk
    [InlineData(Block, Mknod, 8, 0, 1)]          // mknod of it is fine
    [InlineData(Char, Read | Write, 136, 5, 1)]  // a pty
    [InlineData(Char, Mknod | Read, 136, 5, 0)]  // asks for more than the rule gives
    [InlineData(Char, Read, 10, 200, 0)]         // not allowed
    public void Docker_like_rules_decide(int type, int access, int major, int minor, int expected) =>
        Assert.Equal(expected, Run(DeviceFilterProgram.Build(DockerLike), type, access, major, minor));

    [Fact]
    public void A_later_rule_overrides_an_earlier_one_and_no_match_denies()
    {
        var rules = new List<LinuxDeviceCgroup>
        {
            new() { Allow = true, Type = "c", Major = 1, Access = "rwm" },
            new() { Allow = false, Type = "c", Major = 1, Minor = 5, Access = "rwm" },
        };
        var p = DeviceFilterProgram.Build(rules);
        Assert.Equal(1, Run(p, Char, Read, 1, 3));
        Assert.Equal(0, Run(p, Char, Read, 1, 5));
        Assert.Equal(0, Run(p, Block, Read, 1, 3));
    }

    [Fact]
    public void Allow_all_is_one_unconditional_block_with_nothing_unreachable()
    {
        var p = DeviceFilterProgram.Build([new LinuxDeviceCgroup { Allow = true, Access = "rwm" }]);
        Assert.Equal(1, Run(p, Block, Read | Write, 8, 0));
        Assert.Equal(0x95, (int)(p[^1] & 0xff)); // ends in exit, no dead code after it
        Assert.Equal(8, p.Length);
    }

    /// <summary>Just enough of eBPF for these programs.</summary>
    private static int Run(ulong[] prog, int type, int access, int major, int minor)
    {
        var ctx = new[] { (uint)(access << 16 | type), (uint)major, (uint)minor };
        var r = new ulong[11];
        for (var pc = 0; pc < prog.Length; pc++)
        {
            var i = prog[pc];
            var code = (byte)i;
            var dst = (int)(i >> 8) & 0xf;
            var src = (int)(i >> 12) & 0xf;
            var off = (short)(i >> 16);
            var imm = (int)(i >> 32);
            switch (code)
            {
                case 0x61: r[dst] = ctx[off / 4]; break;
                case 0xbf: r[dst] = r[src]; break;
                case 0xb7: r[dst] = (ulong)imm; break;
                case 0x54: r[dst] = (uint)r[dst] & (uint)imm; break;
                case 0x74: r[dst] = (uint)r[dst] >> imm; break;
                case 0x55: if (r[dst] != (ulong)(long)imm) pc += off; break;
                case 0x45: if ((r[dst] & (ulong)(long)imm) != 0) pc += off; break;
                case 0x95: return (int)r[0];
                default: throw new InvalidOperationException($"opcode 0x{code:x2}");
            }
        }
        throw new InvalidOperationException("fell off the end");
    }
}
