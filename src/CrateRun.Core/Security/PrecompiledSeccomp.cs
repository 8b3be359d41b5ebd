using CrateRun.Core.Oci;

namespace CrateRun.Core.Security;

/// <summary>
/// The BPF program of the profile nearly every `craterun run` loads: <see cref="DefaultSeccompProfile"/> for
/// Docker's default capabilities. Compiling it at each start cost about 0.8 ms of the run (cold code: the
/// syscall tables, rule grouping, interval tree); the program is fixed for a given build, so it is stored
/// compiled (PrecompiledSeccomp.Data.cs) and only checked for equality here. Any other profile is compiled.
/// </summary>
/// <remarks>
/// The stored program is what <see cref="SeccompCompiler.CompileProfile"/> makes of the profile: a unit test
/// (PrecompiledSeccompTests) compiles it and compares, and rewrites the data file when asked to
/// (CRATERUN_REGENERATE_SECCOMP=1), so a change to the profile or the compiler cannot go unnoticed.
/// </remarks>
public static partial class PrecompiledSeccomp
{
    /// <summary>The capabilities the stored program was made for: Docker's default set.</summary>
    public static IReadOnlySet<string> Capabilities { get; } = new HashSet<string>(Security.Capabilities.DockerDefault, StringComparer.Ordinal);

    /// <summary>The stored program when <paramref name="profile"/> is the default profile for <see cref="Capabilities"/>, else null.</summary>
    public static SeccompProgram? Find(LinuxSeccomp profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        if (!Same(profile, DefaultSeccompProfile.Create(Capabilities))) return null;
        return new SeccompProgram(DockerDefaultFilter.ToArray(), DockerDefaultFlags, NeedsListener: false) { UnknownSyscalls = DockerDefaultUnknownSyscalls };
    }

    /// <summary>
    /// Equal in everything <see cref="SeccompCompiler"/> reads: actions, errno values, architectures, flags,
    /// and each rule's names and conditions in order (listenerPath and listenerMetadata are not part of the program).
    /// </summary>
    public static bool Same(LinuxSeccomp a, LinuxSeccomp b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.DefaultAction != b.DefaultAction || a.DefaultErrnoRet != b.DefaultErrnoRet) return false;
        if (!SameList(a.Architectures, b.Architectures) || !SameList(a.Flags, b.Flags)) return false;
        var x = a.Syscalls ?? [];
        var y = b.Syscalls ?? [];
        if (x.Count != y.Count) return false;
        for (var i = 0; i < x.Count; i++)
        {
            if (x[i].Action != y[i].Action || x[i].ErrnoRet != y[i].ErrnoRet || !SameList(x[i].Names, y[i].Names)) return false;
            var p = x[i].Args ?? [];
            var q = y[i].Args ?? [];
            if (p.Count != q.Count) return false;
            for (var j = 0; j < p.Count; j++)
            {
                if (p[j].Index != q[j].Index || p[j].Op != q[j].Op || p[j].Value != q[j].Value || p[j].ValueTwo != q[j].ValueTwo)
                    return false;
            }
        }
        return true;
    }

    private static bool SameList(List<string>? a, List<string>? b)
    {
        a ??= [];
        b ??= [];
        if (a.Count != b.Count) return false;
        for (var i = 0; i < a.Count; i++)
        {
            if (!string.Equals(a[i], b[i], StringComparison.Ordinal)) return false;
        }
        return true;
    }
}
