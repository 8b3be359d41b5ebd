using System.Runtime.InteropServices;
using CrateRun.Core;
using CrateRun.Core.Images;
using CrateRun.Core.Oci;
using static CrateRun.Linux.Interop.Images;

namespace CrateRun.Linux.Images;

/// <summary>
/// The root of a container made from an image: an overlayfs whose lower layers are the image's
/// snapshots (top layer first) and whose upper and work directories are the container's own,
/// mounted on ROOT/ID/rootfs by the engine before the container is created, unmounted when its
/// process has exited and (again, harmlessly) before its directory is removed.
/// </summary>
public static unsafe class ImageRootfs
{
    /// <summary>Set by `run IMAGE`: the image's reference (for people) and its snapshots, bottom first, comma-separated.</summary>
    public const string ImageAnnotation = "io.craterun.image", SnapshotsAnnotation = "io.craterun.image.snapshots";

    /// <summary>
    /// Set by `run --rm IMAGE`: the overlay is mounted "volatile" (Linux 5.10+): no sync of the upper
    /// filesystem on fsync, syncfs or unmount. A container removed when it exits has nothing to keep
    /// across a crash (podman does the same for --rm); the synchronous unmount otherwise flushes the
    /// whole host filesystem the state dir is on, which was most of what an image cost over --rootfs.
    /// </summary>
    public const string VolatileAnnotation = "io.craterun.image.volatile";
    public const string MountDir = "rootfs", UpperDir = "upper", WorkDir = "work";

    public static bool IsImageContainer(IDictionary<string, string>? annotations) => annotations?.ContainsKey(SnapshotsAnnotation) == true;

    /// <summary>
    /// Mounts the overlay for a container whose config carries <see cref="SnapshotsAnnotation"/>;
    /// returns false (and does nothing) for any other container. The config's root.path must be the
    /// container's own rootfs directory. Rootless, nothing is mounted here (an unprivileged user may
    /// mount an overlay only in a mount namespace of its own user namespace): the same overlay comes
    /// back as <paramref name="inContainer"/>, options the container's C stage mounts on its root
    /// (with <c>userxattr</c>: opaque directories are user.overlay.opaque, see LayerUnpacker).
    /// </summary>
    public static bool MountIfImage(Spec spec, string containerDir, string stateRoot, out string? inContainer)
    {
        inContainer = null;
        if (spec.Annotations?.GetValueOrDefault(SnapshotsAnnotation) is not { } list) return false;
        var target = Path.Combine(containerDir, MountDir);
        if (Path.GetFullPath(spec.Root?.Path ?? "", containerDir) != target)
            throw new UsageException($"a container made from an image has its root at {target}, not {spec.Root?.Path}");
        var store = new ImageStore(stateRoot);
        var lowers = list.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(h => store.SnapshotPath("sha256:" + h)).Reverse().ToList();
        if (lowers.Count == 0) throw new UsageException($"annotation {SnapshotsAnnotation} lists no snapshot");
        foreach (var l in lowers.Where(l => !Directory.Exists(l)))
            throw new CrateRunException($"image layer {Path.GetFileName(l)[..12]} is missing from the image store (removed with rmi -f?)");
        if (Environment.IsPrivilegedProcess && InitLayerOf(store, "sha256:" + Path.GetFileName(lowers[0]), lowers) is { } init) lowers.Insert(0, init);
        var dirMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(Path.Combine(containerDir, UpperDir), dirMode | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        Directory.CreateDirectory(Path.Combine(containerDir, WorkDir), dirMode);
        Directory.CreateDirectory(target, dirMode);
        if (!Environment.IsPrivilegedProcess)
        {
            // before the container maps the user's range: a snapshot unpacked without one gets the owners it recorded
            store.GiveOwnersWhereOnlyRecorded(lowers);
            inContainer = OverlayOptions(lowers, Path.Combine(containerDir, UpperDir), Path.Combine(containerDir, WorkDir));
            return false;
        }
        MountOverlay(lowers, Path.Combine(containerDir, UpperDir), Path.Combine(containerDir, WorkDir), target,
            spec.Annotations.GetValueOrDefault(VolatileAnnotation) == "true");
        return true;
    }

    /// <summary>
    /// The image's init layer (<see cref="ImageStore.InitLayer"/>) for the files every container of
    /// the Docker face binds over (/etc/hosts, /etc/resolv.conf, /etc/hostname). It only saves work:
    /// when it cannot be made (a full disk, ...), the container makes the files in its upper directory, as before.
    /// </summary>
    private static string? InitLayerOf(ImageStore store, string topChainId, IReadOnlyList<string> lowersTopFirst)
    {
        try { return store.InitLayer(topChainId, lowersTopFirst, Core.Network.NetworkSpec.EtcBinds.Select(b => b.Destination.TrimStart('/'))); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SyscallException) { return null; }
    }

    /// <summary>
    /// "lowerdir+=TOP,...,lowerdir+=BOTTOM,upperdir=U,workdir=W,userxattr": one fsconfig per
    /// option in the C stage (make_fs in launch.c), so the number of layers has no limit.
    /// </summary>
    public static string OverlayOptions(IReadOnlyList<string> lowersTopFirst, string upper, string work)
    {
        foreach (var p in lowersTopFirst.Append(upper).Append(work).Where(p => p.Contains(',') || p.Contains('=')))
            throw new CrateRunException($"a rootless image container cannot use the path {p}: ',' and '=' separate overlay options");
        return string.Join(',', lowersTopFirst.Select(l => "lowerdir+=" + l).Append("upperdir=" + upper).Append("workdir=" + work).Append("userxattr"));
    }

    /// <summary>
    /// fsopen("overlay") + one fsconfig("lowerdir+") per layer (Linux 6.8+): no limit on the number
    /// of layers, where mount(2)'s option string stops at one page (about 60 snapshot paths). Older
    /// kernels get the classic "lowerdir=a:b:c" string.
    /// </summary>
    public static void MountOverlay(IReadOnlyList<string> lowersTopFirst, string upper, string work, string target, bool volatileUpper = false)
    {
        using var fs = new SafeFd(Interop.Check(fsopen("overlay", FSOPEN_CLOEXEC), "fsopen", "overlay"));
        var perLayer = fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", lowersTopFirst[0], 0) == 0;
        if (perLayer)
        {
            foreach (var l in lowersTopFirst.Skip(1)) Config(fs, "lowerdir+", l);
        }
        else
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != Interop.EINVAL) throw new SyscallException("fsconfig", "lowerdir+ " + lowersTopFirst[0], errno);
            Config(fs, "lowerdir", string.Join(':', lowersTopFirst)); // before 6.8: one string, at most a page
        }
        Config(fs, "upperdir", upper);
        Config(fs, "workdir", work);
        // before 5.10 overlayfs has no "volatile" (EINVAL): the mount is then as durable as ever, only slower to unmount
        if (volatileUpper && fsconfig(fs, FSCONFIG_SET_FLAG, "volatile", null, 0) != 0 && Marshal.GetLastPInvokeError() != Interop.EINVAL)
            throw new SyscallException("fsconfig", "volatile", Marshal.GetLastPInvokeError());
        Interop.Check(fsconfig(fs, FSCONFIG_CMD_CREATE, null, null, 0), "fsconfig", "overlay create (" + KernelLog(fs) + ")");
        using var mnt = new SafeFd(Interop.Check(fsmount(fs, FSMOUNT_CLOEXEC, 0), "fsmount", "overlay"));
        Interop.Check(move_mount(mnt.Fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH), "move_mount", target);
    }

    private static void Config(SafeFd fs, string key, string value) =>
        Interop.Check(fsconfig(fs, FSCONFIG_SET_STRING, key, value, 0), "fsconfig", $"{key} {value} ({KernelLog(fs)})");

    /// <summary>The messages the filesystem left on its fs context (why a create failed).</summary>
    private static string KernelLog(SafeFd fs)
    {
        var buf = stackalloc byte[512];
        var messages = new List<string>();
        nint n;
        while ((n = read(fs, buf, 512)) > 0) messages.Add(System.Text.Encoding.UTF8.GetString(buf, (int)n).Trim());
        return messages.Count == 0 ? "no message" : string.Join("; ", messages);
    }

    /// <summary>Unmounts the container's overlay if it is mounted (lazily: a process still inside keeps it alive in its own namespace).</summary>
    public static void Unmount(string containerDir)
    {
        if (!Environment.IsPrivilegedProcess) return; // rootless: it was mounted in the container's own namespace, gone with it
        var target = Path.Combine(containerDir, MountDir);
        if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) == -1)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is not (Interop.EINVAL or Interop.ENOENT)) throw new SyscallException("umount2", target, errno); // EINVAL: not mounted
        }
    }

    /// <summary>The snapshot keys (chain ids) a container's config names, for the store's garbage collection.</summary>
    public static IEnumerable<string> SnapshotsOf(Dictionary<string, string>? annotations) =>
        annotations?.GetValueOrDefault(SnapshotsAnnotation)?.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(h => "sha256:" + h) ?? [];
}
