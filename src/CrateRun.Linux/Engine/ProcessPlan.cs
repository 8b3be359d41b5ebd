using CrateRun.Core;
using CrateRun.Core.Oci;
using CrateRun.Core.Security;
using CrateRun.Core.Setup;
using CrateRun.Linux.Process;

namespace CrateRun.Linux.Engine;

/// <summary>The process part of a launch (user, capabilities, limits, seccomp) from an OCI process.</summary>
public static class ProcessPlan
{
    private static readonly string[] RlimitNames =
    [
        "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC",
        "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE",
        "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
    ];

    /// <summary>
    /// A hard limit above the runtime's own needs CAP_SYS_RESOURCE: without it setrlimit in the
    /// C stage fails with EPERM. Refused here, before anything is made, in one line.
    /// </summary>
    private static void CheckRaisable(string type, int resource, ulong hard)
    {
        var own = ResourceLimits.Hard(resource);
        if (hard <= own || ResourceLimits.CanRaise) return;
        static string Text(ulong v) => v == ulong.MaxValue ? "unlimited" : v.ToString(System.Globalization.CultureInfo.InvariantCulture);
        throw new UsageException($"rlimit {type}: the hard limit {Text(hard)} is above the runtime's own ({Text(own)}), and raising a hard limit needs CAP_SYS_RESOURCE, which this runtime does not hold");
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    public static void Apply(LaunchSpec l, Spec spec, Core.Oci.Process p, bool userNamespace)
    {
        if (p.Args is not { Count: > 0 }) throw new UsageException("process.args must name a command");
        UserIds.Validate(p.User); // -1 would mean "unchanged" to setresuid: root
        if (string.IsNullOrEmpty(p.Cwd) || !p.Cwd.StartsWith('/'))
            throw new UsageException($"process.cwd '{p.Cwd}' must be an absolute path");
        l.Argv = [.. p.Args];
        l.Envp = [.. ProcessEnvironment.WithoutDuplicates(p.Env ?? [])]; // as runc: a variable given twice has its last value
        l.Cwd = p.Cwd;
        l.Terminal = p.Terminal;
        if (p.ConsoleSize is { } cs)
        {
            l.ConsoleRows = (ushort)cs.Height;
            l.ConsoleCols = (ushort)cs.Width;
        }
        l.SetUser = true;
        l.Uid = p.User.Uid;
        l.Gid = p.User.Gid;
        l.Groups = [.. p.User.AdditionalGids ?? []];
        // setgroups is denied in a user namespace whose maps a user wrote alone, and may be in one joined by path:
        // the groups stay as they are there; elsewhere (root's maps, newgidmap's with a range) none are kept (crun does the same)
        if (userNamespace && l.Groups.Length == 0 && (!SetupPlanner.HasNamespace(spec, "user") || UserNamespaces.DeniesSetgroups(spec.Linux?.UidMappings, spec.Linux?.GidMappings)))
            l.Groups = null;
        l.Umask = p.User.Umask is { } um ? (int)um : -1;
        l.NoNewPrivileges = p.NoNewPrivileges;
        // LSM labels are applied where the host has that LSM, refused (one line) where it has not
        SetupPlanner.CheckSecurityLabels(spec, p, new HostInfo(false, [], AppArmor: Lsm.AppArmorEnabled, Selinux: Lsm.SelinuxEnabled));
        l.ApparmorProfile = NullIfEmpty(p.ApparmorProfile);
        l.SelinuxLabel = NullIfEmpty(p.SelinuxLabel);
        l.MountLabel = NullIfEmpty(spec.Linux?.MountLabel);
        // procattrs: applied by the C stage, or refused here in one line
        ProcessAttributes.RefuseUnsupported(spec.Linux);
        l.Scheduler = ProcessAttributes.Scheduler(p.Scheduler);
        l.IoPriority = ProcessAttributes.IoPriority(p.IoPriority);
        l.Personality = ProcessAttributes.Personality(spec.Linux?.Personality);
        l.TimeOffsets = ProcessAttributes.TimeOffsets(spec.Linux); // timens
        if (p.Capabilities is { } caps)
        {
            var last = Processes.LastCap();
            l.SetCaps = true;
            l.LastCap = last;
            l.CapBounding = Capabilities.Mask(caps.Bounding, last);
            l.CapEffective = Capabilities.Mask(caps.Effective, last);
            l.CapPermitted = Capabilities.Mask(caps.Permitted, last);
            l.CapInheritable = Capabilities.Mask(caps.Inheritable, last);
            l.CapAmbient = Capabilities.Mask(caps.Ambient, last);
        }
        foreach (var r in p.Rlimits ?? [])
        {
            var i = Array.IndexOf(RlimitNames, r.Type);
            if (i < 0) throw new UsageException($"unknown rlimit type '{r.Type}'");
            if (r.Soft > r.Hard) throw new UsageException($"rlimit {r.Type}: soft limit {r.Soft} is above the hard limit {r.Hard}");
            CheckRaisable(r.Type, i, r.Hard);
            l.Rlimits.Add(((uint)i, r.Soft, r.Hard));
        }
        if (spec.Linux?.Seccomp is { } seccomp)
        {
            var program = SeccompCompiler.Compile(seccomp);
            l.SeccompFilter = program.Filter;
            l.SeccompFlags = program.Flags;
        }
    }
}
