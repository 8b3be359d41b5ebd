namespace CrateRun.Core.Setup;

/// <summary>What one step does; mirrors <c>enum crt_op</c> in Native/launch.h.</summary>
public enum StepOp
{
    RootPropagation = 1,
    BindRootfs = 2,
    Mount = 3,
    Mknod = 4,
    Symlink = 5,
    Mkdir = 6,
    PivotRoot = 7,
    SetPropagation = 8,
    MakeReadonly = 9,
    Mask = 10,
    WriteFile = 11,
    SetHostname = 12,
    SetDomainname = 13,
    LoopbackUp = 14,
    EnterCgroup = 15,
    Hooks = 16,
    // mounts
    HideHostFs = 17,
}

/// <summary>Step options (bit flags); mirror the CRT_F_* values in Native/launch.h.</summary>
[Flags]
public enum StepOptions : uint
{
    None = 0,
    Bind = 0x1,
    Readonly = 0x2,
    Recursive = 0x4,
    Optional = 0x8,
    NoPivot = 0x10,
    File = 0x20,
    BindDev = 0x40,
    Idmap = 0x80,
    // mounts
    PrivateParent = 0x100,
    PlainDir = 0x200,
    CopyUp = 0x400,
    // conform: id-mapped bind mounts
    /// <summary>Mount (bind): the runtime hands over a detached, id-mapped tree of Source (IdmapUids/IdmapGids).</summary>
    IdmapMount = 0x800,
    /// <summary>With IdmapMount: the mapping covers every mount of the tree (ridmap), not only its top (idmap).</summary>
    IdmapRecursive = 0x1000,
    // rootless: images
    /// <summary>BindRootfs: mount a new overlayfs (Data: its options) on the rootfs directory instead of binding it.</summary>
    Overlay = 0x2000,
}

/// <summary>
/// One step of container setup, run by the C stage inside the new mount namespace. Paths in
/// <see cref="Target"/> are inside the container and never resolve outside its root.
/// </summary>
public sealed record SetupStep(
    StepOp Op,
    string? Target = null,
    string? Source = null,
    string? FsType = null,
    string? Data = null,
    StepOptions Flags = StepOptions.None,
    ulong MountFlags = 0,
    ulong Propagation = 0,
    ulong Dev = 0,
    uint Mode = 0,
    uint Uid = 0,
    uint Gid = 0)
{
    /// <summary>Mount: MS_* flags the options clear on the mount itself (rw, suid, atime...).</summary>
    public ulong ClearFlags { get; init; }

    /// <summary>Bind mount: MS_* flags set on every mount of the tree (rro, rnosuid...).</summary>
    public ulong RecursiveSetFlags { get; init; }

    /// <summary>Bind mount: MS_* flags cleared on every mount of the tree (rrw, rsuid...).</summary>
    public ulong RecursiveClearFlags { get; init; }

    /// <summary>Id-mapped bind (StepOptions.IdmapMount): the uid mapping of its user namespace (containerID hostID size lines).</summary>
    public IReadOnlyList<Oci.LinuxIdMapping>? IdmapUids { get; init; }

    /// <summary>Id-mapped bind (StepOptions.IdmapMount): the gid mapping of its user namespace.</summary>
    public IReadOnlyList<Oci.LinuxIdMapping>? IdmapGids { get; init; }

    /// <summary>A short human description, used in error messages ("mount proc on /proc").</summary>
    public string Describe() => Op switch
    {
        StepOp.RootPropagation => "make / private/slave (mount propagation)",
        StepOp.BindRootfs => Flags.HasFlag(StepOptions.Idmap) ? $"mount an id-mapped rootfs {Source}" : $"bind the rootfs {Source} onto itself",
        StepOp.Mount when Flags.HasFlag(StepOptions.IdmapMount) => $"bind {Source} on {Target} id-mapped",
        StepOp.Mount when Flags.HasFlag(StepOptions.Bind) => $"bind {Source} on {Target}",
        StepOp.Mount => $"mount {FsType} on {Target}",
        StepOp.Mknod when Flags.HasFlag(StepOptions.BindDev) => $"bind device {Source} on {Target}",
        StepOp.Mknod => $"create device {Target}",
        StepOp.Symlink => $"symlink {Target} -> {Source}",
        StepOp.Mkdir => $"create directory {Target}",
        StepOp.PivotRoot => Flags.HasFlag(StepOptions.NoPivot) ? "move the rootfs to / (no pivot)" : "pivot_root into the rootfs",
        StepOp.SetPropagation => $"set propagation of {Target}",
        StepOp.MakeReadonly => $"make {Target} read-only",
        StepOp.Mask => $"mask {Target}",
        StepOp.WriteFile => $"write {Source} to {Target}",
        StepOp.SetHostname => $"set hostname {Source}",
        StepOp.SetDomainname => $"set domainname {Source}",
        StepOp.LoopbackUp => "bring up the loopback interface",
        StepOp.EnterCgroup => "enter the cgroup and its namespace",
        StepOp.Hooks => "run the prestart, createRuntime and createContainer hooks",
        StepOp.HideHostFs => $"hide the host's {Target} (no pivot)",
        _ => Op.ToString(),
    };
}
