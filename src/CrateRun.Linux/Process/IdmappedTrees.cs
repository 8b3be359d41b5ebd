using System.Runtime.InteropServices;
using CrateRun.Core.Oci;
using CrateRun.Core.Setup;

namespace CrateRun.Linux.Process;

/// <summary>
/// The id-mapped bind mounts of a launch (runtime-spec "idmap"/"ridmap", a mount's
/// uidMappings/gidMappings), made by the runtime before clone: a detached copy of each source
/// (open_tree) whose ids are seen through a user namespace holding the mount's mapping
/// (mount_setattr MOUNT_ATTR_IDMAP). The container process inherits the fds and attaches them
/// (launch.c, CRT_F_IDMAPPED). The runtime makes them because mount_setattr needs
/// CAP_SYS_ADMIN where the source's filesystem was mounted: a container in a user namespace
/// of its own does not have it. Disposing closes the runtime's copies.
/// </summary>
public sealed unsafe class IdmappedTrees : IDisposable
{
    private const uint OpenTreeClone = 1, OpenTreeCloexec = 0x80000, AtRecursive = 0x8000, AtEmptyPath = 0x1000;
    private const ulong MountAttrIdmap = 0x00100000;

    [StructLayout(LayoutKind.Sequential)]
    private struct MountAttr
    {
        public ulong AttrSet, AttrClr, Propagation, UsernsFd;
    }

    private readonly SafeFd?[] _trees;

    private IdmappedTrees(int count) => _trees = new SafeFd?[count];

    /// <summary>The tree of each step that asks for one (StepOptions.IdmapMount), in plan order.</summary>
    public static IdmappedTrees Make(IReadOnlyList<SetupStep> steps)
    {
        var trees = new IdmappedTrees(steps.Count);
        try
        {
            for (var i = 0; i < steps.Count; i++)
                if (steps[i].Flags.HasFlag(StepOptions.IdmapMount))
                    trees._trees[i] = Make(steps[i]);
            return trees;
        }
        catch
        {
            trees.Dispose();
            throw;
        }
    }

    /// <summary>The fd handed to the C stage for step <paramref name="index"/>, -1 = none.</summary>
    public int FdOf(int index) => _trees[index]?.Fd ?? -1;

    public void Dispose()
    {
        foreach (var t in _trees) t?.Dispose();
    }

    private static SafeFd Make(SetupStep step)
    {
        var what = $"id-mapped mount on {step.Target}";
        if (!Environment.IsPrivilegedProcess)
            throw new Core.UsageException($"{what}: needs a runtime running as root (CAP_SYS_ADMIN where {step.Source} is mounted)");
        using var userns = UserNamespaceOf(what, step.IdmapUids!, step.IdmapGids!);
        // idmap maps the top mount; ridmap every mount of an rbind's tree
        var recursive = step.Flags.HasFlag(StepOptions.Recursive) ? AtRecursive : 0;
        var fd = Interop.Sys.open_tree(-100 /* AT_FDCWD */, step.Source!, OpenTreeClone | OpenTreeCloexec | recursive);
        if (fd < 0) throw new SyscallException("open_tree", $"{step.Source}, for the {what}", Marshal.GetLastPInvokeError());
        var tree = new SafeFd(fd);
        var attr = new MountAttr { AttrSet = MountAttrIdmap, UsernsFd = (ulong)userns.Fd };
        var flags = AtEmptyPath | (step.Flags.HasFlag(StepOptions.IdmapRecursive) ? AtRecursive : 0);
        if (Interop.Sys.mount_setattr(tree, "", flags, &attr, (nuint)sizeof(MountAttr)) != 0)
        {
            var err = Marshal.GetLastPInvokeError();
            tree.Dispose();
            throw new SyscallException("mount_setattr", $"{step.Source}, MOUNT_ATTR_IDMAP for the {what} (the filesystem may not support id-mapped mounts)", err);
        }
        return tree;
    }

    /// <summary>
    /// A user namespace with the given mapping: a child of the C stage waits in a new one
    /// (crt_userns_holder) while we write its maps and open its ns file; the open fd keeps
    /// the namespace once the child is killed and reaped.
    /// </summary>
    private static SafeFd UserNamespaceOf(string what, IReadOnlyList<LinuxIdMapping> uids, IReadOnlyList<LinuxIdMapping> gids)
    {
        var pid = Interop.Launch.crt_userns_holder();
        if (pid < 0) throw new SyscallException("clone", $"CLONE_NEWUSER, for the {what}", -pid);
        try
        {
            WriteMap(pid, "uid_map", uids, what);
            WriteMap(pid, "gid_map", gids, what);
            var path = $"/proc/{pid}/ns/user";
            return new SafeFd(Interop.Check(Interop.Sys.open(path, Interop.Sys.O_RDONLY | Interop.Sys.O_CLOEXEC, 0), "open", path));
        }
        finally
        {
            // our own child, not reaped yet: its pid cannot have been reused
            Interop.Sys.kill(pid, Interop.Sys.SIGKILL);
            Launcher.Reap(pid);
        }
    }

    private static void WriteMap(int pid, string file, IReadOnlyList<LinuxIdMapping> maps, string what)
    {
        try
        {
            File.WriteAllText($"/proc/{pid}/{file}", string.Concat(maps.Select(m => $"{m.ContainerId} {m.HostId} {m.Size}\n")));
        }
        catch (IOException e)
        {
            throw new Core.UsageException($"{what}: the kernel refused its {(file == "uid_map" ? "uidMappings" : "gidMappings")} ({e.Message})");
        }
    }
}
