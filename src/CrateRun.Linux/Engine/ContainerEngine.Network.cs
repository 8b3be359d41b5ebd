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

    private Task? _attaching;

    /// <summary>
    /// CNI ADD starts once the namespace exists and runs while the child makes its mounts; it is
    /// joined (<see cref="AwaitNetworks"/>) before any hook runs and before the container counts as
    /// created, so the network is there before the process can start (the spec's createRuntime moment).
    /// It runs on its own thread: the launching thread may sit in the container's cgroup (v1).
    /// </summary>
    private void AttachNetworks(ContainerRecord r, int pid)
    {
        if (r.Network?.Mode == Core.Network.Slirp4netnsPlan.Mode) Networking.AttachSlirp4netns(r, pid);
        if (r.Network?.Mode != "cni") return;
        var networking = Networking;
        _attaching = Task.Run(() => networking.Attach(r, pid));
    }

    /// <summary>Waits for the ADD begun by <see cref="AttachNetworks"/>; its failure is thrown here.</summary>
    private void AwaitNetworks()
    {
        var attaching = _attaching;
        _attaching = null;
        attaching?.GetAwaiter().GetResult();
    }

    /// <summary>On a failed create: the ADD has finished (made or undone) before DEL looks at what it left.</summary>
    private void AwaitNetworksQuietly()
    {
        try { AwaitNetworks(); }
        catch (Exception) { } // the create's own error is the one reported
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
