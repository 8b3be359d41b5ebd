using CrateRun.Core.State;
using CrateRun.Linux.Network;

namespace CrateRun.Linux.Engine;

/// <summary>The engine's networking steps (craterun run's containers only: an OCI client brings its own).</summary>
public sealed partial class ContainerEngine
{
    private ContainerNetworking? _networking;
    public ContainerNetworking Networking => _networking ??= new ContainerNetworking(Store);

    private void PrepareNetworkFiles(ContainerRecord r)
    {
        if (r.Network is not null) Networking.WriteEtcFiles(r);
    }

    private void AttachNetworks(ContainerRecord r, int pid)
    {
        if (r.Network?.Mode == Core.Network.Slirp4netnsPlan.Mode) Networking.AttachSlirp4netns(r, pid);
        if (r.Network?.Mode != "cni") return;
        // the launching thread may sit in the container's cgroup (v1): the plugins run from another thread
        Task.Run(() => Networking.Attach(r, pid)).GetAwaiter().GetResult();
    }

    /// <summary>DEL of whatever ADD made for the container; nothing when it has no networks.</summary>
    private void DetachNetworks(string id, ContainerRecord? r)
    {
        Networking.StopSlirp4netns(id); // by its pid file: also when create failed before the record knew of it
        if (r is not null && r.Network?.Mode != "cni") return;
        Networking.Detach(id, r, Warn);
    }

    /// <summary>Networks of containers whose process and monitor both died (a monitor killed with SIGKILL) are released.</summary>
    public void ReleaseOrphanNetworks() => Networking.SweepOrphans();
}
