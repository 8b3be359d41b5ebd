using System.Runtime.InteropServices;
using CrateRun.Core;
using CrateRun.Core.Config;
using CrateRun.Core.State;

namespace CrateRun.Linux.Engine;

public sealed partial class ContainerEngine
{
    /// <summary>The host-side /dev/shm of a --ipc shareable container: ROOT/ID/shm (Docker's ShmPath).</summary>
    public const string SharedShmDir = "shm";

    /// <summary>
    /// --ipc shareable and container:ID, as Docker shares them: POSIX shared memory lives in the
    /// files of /dev/shm, not in the IPC namespace, so a shareable container's /dev/shm is a tmpfs
    /// mounted on the host (ROOT/ID/shm, its size and options those of the config's /dev/shm) and
    /// bound into it; a container that joins its IPC namespace binds the same one. Rewrites the
    /// config's /dev/shm mount accordingly; true when this created a mount (undone by
    /// <see cref="UnmountSharedShm"/>). Rootless there is no host mount to make: each keeps its own.
    /// </summary>
    private bool PrepareSharedShm(ContainerRecord r, Core.Oci.Spec spec)
    {
        if (!Environment.IsPrivilegedProcess || r.Face != "docker") return false;
        var shm = spec.Mounts?.FirstOrDefault(m => m.Destination == "/dev/shm" && m.Type == "tmpfs");
        if (shm is null) return false;
        string source;
        var made = false;
        if (r.IpcMode == RunFlags.IpcShareable)
        {
            source = Store.PathOf(r.Id, SharedShmDir);
            Directory.CreateDirectory(source);
            // the config's own options: size=, mode=1777, nosuid/noexec/nodev
            var flags = 0UL;
            var data = new List<string>();
            foreach (var o in shm.Options ?? [])
            {
                switch (o)
                {
                    case "nosuid": flags |= 0x2; break;
                    case "nodev": flags |= 0x4; break;
                    case "noexec": flags |= 0x8; break;
                    default: data.Add(o); break;
                }
            }
            Interop.Check(Interop.Images.mount("shm", source, "tmpfs", flags, string.Join(',', data)), "mount", source);
            made = true;
        }
        else if (r.IpcMode?.StartsWith("container:", StringComparison.Ordinal) == true)
        {
            source = Store.PathOf(r.IpcMode["container:".Length..], SharedShmDir);
            if (!IsMountPoint(source)) return false; // a donor of --ipc host, or made before shm was shared: /dev/shm of its own
        }
        else return false;
        shm.Type = "bind";
        shm.Source = source;
        shm.Options = ["rbind", "nosuid", "nodev", "noexec"];
        return made;
    }

    /// <summary>Whether <paramref name="path"/> is a mount point (its device differs from its parent's).</summary>
    private static bool IsMountPoint(string path)
    {
        try
        {
            var mountinfo = File.ReadAllLines("/proc/self/mountinfo");
            return mountinfo.Any(l => l.Split(' ') is { Length: > 4 } f && f[4] == path);
        }
        catch (IOException) { return false; }
    }

    /// <summary>Unmounts a shareable container's host-side /dev/shm (when it has one); containers that joined it keep theirs.</summary>
    public void UnmountSharedShm(string id)
    {
        if (!Environment.IsPrivilegedProcess) return;
        var target = Store.PathOf(id, SharedShmDir);
        if (!Directory.Exists(target)) return;
        if (Interop.Images.umount2(target, Interop.Images.MNT_DETACH | Interop.Images.UMOUNT_NOFOLLOW) == -1)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is not (Interop.EINVAL or Interop.ENOENT)) throw new SyscallException("umount2", target, errno); // EINVAL: not mounted
        }
    }
}
