using CrateRun.Core.Oci;
using CrateRun.Core.Security;
using CrateRun.Core.Setup;

namespace CrateRun.Core.Config;

/// <summary>What `spec` writes and what `features` reports.</summary>
public static class DefaultSpecs
{
    /// <summary>A config.json like `runc spec`: sh in a busybox-style rootfs, Docker's defaults for security.</summary>
    public static Spec Create(bool rootless)
    {
        var spec = SpecBuilder.Build("runc", new RunOptions { Rootfs = "rootfs", Command = ["sh"], Tty = true });
        spec.Hostname = "craterun";
        spec.Annotations = null;
        spec.Linux!.CgroupsPath = null;
        spec.Linux.Seccomp = null;
        spec.Process!.Env = [SpecBuilder.DefaultPath, "TERM=xterm"];
        if (rootless)
        {
            spec.Linux.Namespaces!.Add(new LinuxNamespace { Type = "user" });
            spec.Linux.UidMappings = [new LinuxIdMapping { ContainerId = 0, HostId = 1000, Size = 1 }];
            spec.Linux.GidMappings = [new LinuxIdMapping { ContainerId = 0, HostId = 1000, Size = 1 }];
            spec.Mounts!.RemoveAll(m => m.Type == "cgroup");
            foreach (var m in spec.Mounts.Where(m => m.Type == "devpts")) m.Options!.RemoveAll(o => o == "gid=5");
        }
        return spec;
    }

    public static Features Features() => new()
    {
        OciVersionMin = "1.0.0",
        OciVersionMax = SpecBuilder.OciVersion,
        Hooks = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        MountOptions = ["ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "sync", "async", "dirsync", "mand", "nomand",
            "noatime", "atime", "nodiratime", "diratime", "relatime", "norelatime", "strictatime", "nostrictatime", "bind", "rbind",
            "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable", "remount", "silent", "loud",
            "nosymfollow", "symfollow", "lazytime", "nolazytime", "iversion", "noiversion", "defaults", "tmpcopyup",
            "rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec", "rnodiratime", "rdiratime", "rnoatime", "ratime",
            "rrelatime", "rnorelatime", "rstrictatime", "rnostrictatime", "rnosymfollow", "rsymfollow", "idmap", "ridmap"],
        Linux = new FeaturesLinux
        {
            Namespaces = ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            Capabilities = [.. Capabilities.All],
            Cgroup = new FeaturesCgroup { V1 = true, V2 = true, Systemd = false, SystemdUser = false, Rdma = false },
            Seccomp = new FeaturesSeccomp
            {
                Enabled = true,
                Actions = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                    "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP", "SCMP_ACT_NOTIFY"],
                Operators = ["SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_GT", "SCMP_CMP_GE", "SCMP_CMP_MASKED_EQ"],
                Archs = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                KnownFlags = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
                SupportedFlags = ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
            },
            // features.md: whether support is built in, whatever the host has. Both labels are
            // applied at execve where the host enables that LSM, and refused where it does not.
            Apparmor = new FeaturesApparmor { Enabled = true },
            Selinux = new FeaturesSelinux { Enabled = true },
            IntelRdt = new FeaturesIntelRdt { Enabled = false },
            MountExtensions = new FeaturesMountExtensions { IdMap = new FeaturesIdMap { Enabled = true } }, // idmap, ridmap, mounts[].uidMappings
        },
    };
}
