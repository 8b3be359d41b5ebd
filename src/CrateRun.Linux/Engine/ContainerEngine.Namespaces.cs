using CrateRun.Core;
using CrateRun.Linux.Process;

namespace CrateRun.Linux.Engine;

public sealed partial class ContainerEngine
{
    /// <summary>
    /// --ipc/--pid/--uts container:ID: the running container's namespace of that type, as the
    /// path the new container joins (checked before anything is registered).
    /// </summary>
    public string NamespacePathOf(string container, string type, string flag)
    {
        var id = Store.Resolve(container);
        var other = Store.Load(id);
        if (other.Pid == 0 || !Processes.IsAlive(other.Pid, other.PidStartTime))
            throw new CrateRunException($"{flag} container:{container}: container {ContainerId.Short(id)} is not running");
        // Docker's rule: only a container made to share its IPC namespace (--ipc shareable) lends it
        if (type == "ipc" && other.Face == "docker" && !Core.Config.RunFlags.IpcJoinable(other.IpcMode))
            throw new CrateRunException($"{flag} container:{container}: container {ContainerId.Short(id)} has a non-shareable IPC namespace (--ipc {other.IpcMode ?? Core.Config.RunFlags.IpcPrivate}); run it with --ipc shareable");
        return $"/proc/{other.Pid}/ns/{CloneFlags.Of(type).File}";
    }
}
