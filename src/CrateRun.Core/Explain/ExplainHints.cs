namespace CrateRun.Core.Explain;

/// <summary>What to check when a step fails: by the call that failed and its errno.</summary>
public static class ExplainHints
{
    public const int EPERM = 1, ENOENT = 2, EACCES = 13, EBUSY = 16, EEXIST = 17, ENOTDIR = 20, EINVAL = 22, ENOSPC = 28, ELOOP = 40;

    public static string For(string call, int errno, string? stepName = null) => (call, errno) switch
    {
        ("open", ENOENT) when stepName == "bind" => "the bind mount's source does not exist on the host: create it, or fix the mount's \"source\"",
        ("open", ENOENT) => "a path the step needs does not exist: check the source on the host and the target in the rootfs",
        ("open", ELOOP) or ("open", ENOTDIR) => "the mount point is a symlink or not a directory; proc and sysfs need a plain directory in the rootfs",
        ("open", EACCES) => "the runtime may not reach that path (a user namespace cannot search a 0700 directory it does not own)",
        ("mount", ENOENT) => "the filesystem type or the source does not exist (is the module loaded? is the path there?)",
        ("mount", EINVAL) => "the kernel refused the options: check the mount's type and \"options\"",
        ("mount", EPERM) => "mounting needs CAP_SYS_ADMIN in the mount namespace's owner user namespace; some filesystems cannot be mounted in a user namespace",
        ("mount", EBUSY) => "something is mounted there already, or the mount is in use",
        ("pivot_root", EINVAL) => "pivot_root needs the new root to be a mount point not on a shared parent mount (try --no-pivot on a ramfs root)",
        ("mkdir", EEXIST) or ("symlink", EEXIST) => "a file of another type is already in the way in the rootfs",
        ("mknod", EPERM) => "creating device nodes needs CAP_MKNOD in the initial user namespace: in a user namespace devices are bound instead",
        ("setgroups", EPERM) => "in a user namespace setgroups is denied until /proc/PID/setgroups says allow (a rootless runtime cannot set groups)",
        ("setuid", EINVAL) or ("setgid", EINVAL) => "that uid/gid is not mapped in the container's user namespace: check uidMappings/gidMappings",
        ("exec", ENOENT) => "the command was not found in the rootfs: check the path and PATH in the container's environment",
        ("exec", EACCES) => "the file is not executable (or is a directory): check its mode in the rootfs",
        ("seccomp", EINVAL) => "the kernel refused the BPF program or the filter flags",
        ("seccomp", EACCES) => "loading a filter needs no_new_privs or CAP_SYS_ADMIN",
        ("chdir", ENOENT) => "the working directory does not exist in the rootfs",
        ("setrlimit", EPERM) => "a hard limit above the runtime's own needs CAP_SYS_RESOURCE (check `ulimit -H`)",
        ("write", ENOSPC) => "no space on the device: for a cgroup, the cgroup hierarchy's limit was reached",
        ("write", EINVAL) => "the kernel refused the value written",
        ("clone", EINVAL) => "a namespace flag the kernel refuses here (a user namespace from a multi-threaded caller, or a type it does not support)",
        ("clone", ENOSPC) => "too many namespaces of a type (see /proc/sys/user/max_*_namespaces)",
        (_, EPERM) => "operation not permitted: a capability is missing (a user namespace, a seccomp filter, or an LSM refused it)",
        _ => "see the docs page for what this step needs",
    };
}
