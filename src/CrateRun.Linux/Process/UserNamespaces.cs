using System.Runtime.InteropServices;
using CrateRun.Core.Oci;

namespace CrateRun.Linux.Process;

/// <summary>uid/gid maps of a new user namespace, and id-mapped mounts into it.</summary>
// docs/user-namespaces.md
public static unsafe class UserNamespaces
{
    public static uint Uid => Interop.Sys.getuid();
    public static uint Gid => Interop.Sys.getgid();

    private static string Lines(List<LinuxIdMapping> m) => string.Concat(m.Select(x => $"{x.ContainerId} {x.HostId} {x.Size}\n"));

    /// <summary>
    /// Writes /proc/PID/{uid,gid}_map. Root writes any mapping. An unprivileged user may map
    /// only its own ids (after denying setgroups); anything wider goes through newuidmap and
    /// newgidmap, which check /etc/subuid and /etc/subgid.
    /// </summary>
    public static void WriteMaps(int pid, List<LinuxIdMapping>? uids, List<LinuxIdMapping>? gids)
    {
        if (uids is not { Count: > 0 } || gids is not { Count: > 0 })
            throw new Core.UsageException("a new user namespace needs linux.uidMappings and linux.gidMappings");
        if (Environment.IsPrivilegedProcess)
        {
            File.WriteAllText($"/proc/{pid}/uid_map", Lines(uids));
            File.WriteAllText($"/proc/{pid}/gid_map", Lines(gids));
            return;
        }
        if (DeniesSetgroups(uids, gids))
        {
            File.WriteAllText($"/proc/{pid}/uid_map", Lines(uids));
            File.WriteAllText($"/proc/{pid}/setgroups", "deny");
            File.WriteAllText($"/proc/{pid}/gid_map", Lines(gids));
            return;
        }
        RunHelper("newuidmap", pid, uids);
        RunHelper("newgidmap", pid, gids);
    }

    /// <summary>
    /// These maps are the only ones an unprivileged user may write itself (its own uid and gid), which
    /// needs setgroups denied first; anything wider goes through newuidmap/newgidmap, and root's maps
    /// leave setgroups allowed.
    /// </summary>
    public static bool DeniesSetgroups(List<LinuxIdMapping>? uids, List<LinuxIdMapping>? gids) =>
        !Environment.IsPrivilegedProcess && uids is [{ Size: 1 } u] && u.HostId == Uid && gids is [{ Size: 1 } g] && g.HostId == Gid;

    private static void RunHelper(string tool, int pid, List<LinuxIdMapping> maps)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(tool) { RedirectStandardError = true };
        psi.ArgumentList.Add(pid.ToString());
        foreach (var m in maps)
        {
            psi.ArgumentList.Add(m.ContainerId.ToString());
            psi.ArgumentList.Add(m.HostId.ToString());
            psi.ArgumentList.Add(m.Size.ToString());
        }
        try
        {
            using var p = System.Diagnostics.Process.Start(psi)!;
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new Core.CrateRunException($"{tool} failed: {err.Trim()}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new Core.CrateRunException($"{tool} is needed for this id mapping (apt-get install uidmap): {e.Message}");
        }
    }

    private const uint OpenTreeClone = 1, OpenTreeCloexec = 0x80000, AtRecursive = 0x8000, AtEmptyPath = 0x1000;
    private const ulong MountAttrIdmap = 0x00100000;

    [StructLayout(LayoutKind.Sequential)]
    private struct MountAttr
    {
        public ulong AttrSet, AttrClr, Propagation, UsernsFd;
    }

    /// <summary>
    /// A detached copy of <paramref name="path"/> whose ids are seen through the user
    /// namespace of <paramref name="pid"/>: a file of host uid 0 is uid 0 inside.
    /// </summary>
    public static SafeFd IdmappedTree(string path, int pid)
    {
        var nsPath = $"/proc/{pid}/ns/user";
        using var ns = new SafeFd(Interop.Check(Interop.Sys.open(nsPath, Interop.Sys.O_RDONLY | Interop.Sys.O_CLOEXEC, 0), "open", nsPath));
        var tree = new SafeFd(Interop.Check(Interop.Sys.open_tree(-100 /* AT_FDCWD */, path, OpenTreeClone | OpenTreeCloexec | AtRecursive), "open_tree", path));
        var attr = new MountAttr { AttrSet = MountAttrIdmap, UsernsFd = (ulong)ns.Fd };
        if (Interop.Sys.mount_setattr(tree, "", AtEmptyPath | AtRecursive, &attr, (nuint)sizeof(MountAttr)) != 0)
        {
            var err = Marshal.GetLastPInvokeError();
            tree.Dispose();
            throw new SyscallException("mount_setattr", $"{path}, MOUNT_ATTR_IDMAP (the filesystem may not support id-mapped mounts)", err);
        }
        return tree;
    }
}
