using System.Runtime.InteropServices;
using CrateRun.Core.Oci;

namespace CrateRun.Core.Tests.Security;

/// <summary>
/// The ground truth for what a profile means under runc: the filter libseccomp itself builds (libseccomp.so.2, which runc,
/// crun and podman link against; installed with them), fed the way runc's libcontainer/seccomp feeds it (InitSeccomp and
/// matchCall: entries with the default action skipped, names resolved for the native architecture, an entry naming one
/// argument index twice added as one rule per condition), run in <see cref="BpfInterpreter"/>, with runc's -ENOSYS stub
/// (patchbpf) in front: a listed architecture's number above the highest one the profile names gets ENOSYS unless the
/// default action is ALLOW, LOG or TRACE.
/// </summary>
internal static partial class LibseccompReference
{
    private const string Lib = "libseccomp.so.2";
    private const uint ArchX86_64 = 0xC000_003E, ArchI386 = 0x4000_0003, ArchX32 = 0x4000_003E;
    private const uint AttrActBadArch = 2, AttrOptimize = 8;

    [StructLayout(LayoutKind.Sequential)]
    private struct ArgCmp
    {
        public uint Arg;
        public int Op;
        public ulong DatumA, DatumB;
    }

    [LibraryImport(Lib, EntryPoint = "seccomp_init")]
    private static partial nint Init(uint defaultAction);

    [LibraryImport(Lib, EntryPoint = "seccomp_release")]
    private static partial void Release(nint ctx);

    [LibraryImport(Lib, EntryPoint = "seccomp_arch_add")]
    private static partial int ArchAdd(nint ctx, uint arch);

    [LibraryImport(Lib, EntryPoint = "seccomp_attr_set")]
    private static partial int AttrSet(nint ctx, uint attr, uint value);

    [LibraryImport(Lib, EntryPoint = "seccomp_syscall_resolve_name", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Resolve(string name);

    [LibraryImport(Lib, EntryPoint = "seccomp_rule_add_array")]
    private static unsafe partial int RuleAdd(nint ctx, uint action, int syscall, uint count, ArgCmp* args);

    [LibraryImport(Lib, EntryPoint = "seccomp_export_bpf")]
    private static partial int ExportBpf(nint ctx, int fd);

    [LibraryImport("libc", EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "pread")]
    private static unsafe partial nint Pread(int fd, byte* buf, nint count, long offset);

    [LibraryImport(Lib, EntryPoint = "seccomp_syscall_resolve_name_arch", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ResolveArch(uint arch, string name);

    /// <summary>Whether this libseccomp knows <paramref name="name"/> on one of the x86 ABIs.</summary>
    public static bool Knows(string name) =>
        ResolveArch(ArchX86_64, name) >= 0 || ResolveArch(ArchI386, name) >= 0 || ResolveArch(ArchX32, name) >= 0;

    /// <summary>Whether libseccomp.so.2 can be loaded; the message says how to get it when not.</summary>
    public static string? Missing()
    {
        if (NativeLibrary.TryLoad(Lib, out var h)) { NativeLibrary.Free(h); return null; }
        return "libseccomp.so.2 is missing (apt-get install -y libseccomp2; runc and podman depend on it)";
    }

    private static uint Action(string action, uint? errnoRet) => action switch
    {
        "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => 0,
        "SCMP_ACT_KILL_PROCESS" => 0x8000_0000,
        "SCMP_ACT_TRAP" => 0x0003_0000,
        "SCMP_ACT_ERRNO" => 0x0005_0000 | (errnoRet ?? 1),
        "SCMP_ACT_TRACE" => 0x7FF0_0000 | (errnoRet ?? 1),
        "SCMP_ACT_ALLOW" => 0x7FFF_0000,
        "SCMP_ACT_LOG" => 0x7FFC_0000,
        "SCMP_ACT_NOTIFY" => 0x7FC0_0000,
        _ => throw new ArgumentException(action),
    };

    private static int Op(string op) => op switch
    {
        "SCMP_CMP_NE" => 1,
        "SCMP_CMP_LT" => 2,
        "SCMP_CMP_LE" => 3,
        "SCMP_CMP_EQ" => 4,
        "SCMP_CMP_GE" => 5,
        "SCMP_CMP_GT" => 6,
        "SCMP_CMP_MASKED_EQ" => 7,
        _ => throw new ArgumentException(op),
    };

    /// <summary>libseccomp's program for <paramref name="profile"/> (no stub), with KILL_PROCESS for a foreign architecture.</summary>
    public static unsafe ulong[] Build(LinuxSeccomp profile)
    {
        var defaultAction = Action(profile.DefaultAction, profile.DefaultErrnoRet);
        var ctx = Init(defaultAction);
        if (ctx == 0) throw new InvalidOperationException("seccomp_init failed");
        try
        {
            // the same bad-architecture action as ours, so that the programs may be compared everywhere
            Check(AttrSet(ctx, AttrActBadArch, 0x8000_0000), "attr badarch");
            foreach (var arch in profile.Architectures ?? [])
            {
                var token = arch switch { "SCMP_ARCH_X86_64" => ArchX86_64, "SCMP_ARCH_X86" => ArchI386, "SCMP_ARCH_X32" => ArchX32, _ => 0u };
                if (token == 0) continue;
                var rc = ArchAdd(ctx, token);
                if (rc != 0 && rc != -17 /* EEXIST: the native one */) Check(rc, "arch_add " + arch);
            }
            if ((profile.Syscalls?.Count ?? 0) > 32) Check(AttrSet(ctx, AttrOptimize, 2), "attr optimize");
            foreach (var call in profile.Syscalls ?? [])
            {
                var action = Action(call.Action, call.ErrnoRet);
                if (action == defaultAction) continue; // runc: "This rule is redundant, silently skip it"
                var args = (call.Args ?? []).Select(a => new ArgCmp { Arg = a.Index, Op = Op(a.Op), DatumA = a.Value, DatumB = a.ValueTwo }).ToArray();
                var separate = args.GroupBy(a => a.Arg).Any(g => g.Count() > 1);
                foreach (var name in call.Names)
                {
                    var nr = Resolve(name);
                    if (nr == -1) continue; // __NR_SCMP_ERROR, unknown: runc ignores it (other negatives are libseccomp's pseudo numbers)
                    if (args.Length == 0)
                        Check(RuleAdd(ctx, action, nr, 0, null), "rule " + name);
                    else if (separate)
                        foreach (var one in args) { var c = one; Check(RuleAdd(ctx, action, nr, 1, &c), "rule " + name); }
                    else
                        fixed (ArgCmp* p = args) Check(RuleAdd(ctx, action, nr, (uint)args.Length, p), "rule " + name);
                }
            }
            var fd = MemfdCreate("libseccomp-bpf", 1 /* MFD_CLOEXEC */);
            if (fd < 0) throw new InvalidOperationException("memfd_create failed");
            try
            {
                Check(ExportBpf(ctx, fd), "export_bpf");
                var bytes = new byte[8 * 4096 + 8];
                nint n;
                fixed (byte* b = bytes) n = Pread(fd, b, bytes.Length, 0);
                if (n <= 0 || n % 8 != 0) throw new InvalidOperationException($"export_bpf wrote {n} bytes");
                return [.. Enumerable.Range(0, (int)n / 8).Select(i => BitConverter.ToUInt64(bytes, 8 * i))];
            }
            finally { _ = Close(fd); }
        }
        finally { Release(ctx); }
    }

    private static void Check(int rc, string what)
    {
        if (rc < 0) throw new InvalidOperationException($"libseccomp {what}: error {-rc}");
    }

    /// <summary>runc's -ENOSYS stub: the return value for numbers it answers itself, null for those it passes to libseccomp's filter.</summary>
    public static uint? Stub(LinuxSeccomp profile, uint arch, uint nr)
    {
        var defaultAction = Action(profile.DefaultAction, profile.DefaultErrnoRet);
        if (defaultAction is 0x7FFF_0000 or 0x7FFC_0000 || (defaultAction & 0xFFFF_0000) == 0x7FF0_0000) return null;
        var arches = profile.Architectures ?? [];
        uint Highest(IReadOnlyDictionary<string, uint> t) =>
            (profile.Syscalls ?? []).SelectMany(c => c.Names).Select(n => t.TryGetValue(n, out var v) ? v : 0).DefaultIfEmpty(0u).Max();
        const uint Enosys = 0x0005_0000 | 38, Bit30 = 0x4000_0000;
        if (arch == ArchX86_64 && (nr & Bit30) == 0 && arches.Contains("SCMP_ARCH_X86_64"))
            return Highest(Core.Security.SyscallTable.X86_64) is > 0 and var h && nr > h ? Enosys : null;
        if (arch == ArchX86_64 && (nr & Bit30) != 0 && arches.Contains("SCMP_ARCH_X32"))
            return Highest(Core.Security.SyscallTable.X32) is > 0 and var h && nr > h ? Enosys : null;
        if (arch == ArchI386 && arches.Contains("SCMP_ARCH_X86"))
            return Highest(Core.Security.SyscallTable.I386) is > 0 and var h && nr > h ? Enosys : null;
        return null;
    }
}
