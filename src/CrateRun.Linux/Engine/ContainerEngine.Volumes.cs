using CrateRun.Core.Oci;
using CrateRun.Core.State;
using CrateRun.Core.Volumes;
using CrateRun.Linux.Process;
using CrateRun.Linux.Volumes;

namespace CrateRun.Linux.Engine;

/// <summary>Named volumes: made when a container naming them is registered, filled from its image, anonymous ones removed with it.</summary>
public sealed partial class ContainerEngine
{
    public VolumeStore Volumes => new(Store);

    /// <summary>
    /// Docker's copy-up: a volume still empty when a container made from an image mounts it is given
    /// the image's content at the mount's path (owners and modes kept), unless mounted with nocopy.
    /// Done before the launch: the container's mounts are made by its own process.
    /// </summary>
    private void PopulateVolumes(Spec spec, string rootfs)
    {
        var noCopy = VolumeNames.NoCopy(spec.Annotations);
        var volumes = Volumes;
        foreach (var name in VolumeNames.UsedBy(spec.Annotations).Except(noCopy))
        {
            var data = volumes.DataDir(name);
            foreach (var mount in spec.Mounts?.Where(m => m.Type == "bind" && m.Source == data) ?? [])
            {
                if (!Directory.Exists(data) || !volumes.IsEmpty(name)) break;
                ContainerFiles.CopyContentsOut(rootfs, mount.Destination, data);
            }
        }
    }

    /// <summary>rm -v, --rm, a failed creation: the container's anonymous volumes go (when nothing else uses them).</summary>
    public void RemoveAnonymousVolumes(ContainerRecord r)
    {
        try { Volumes.RemoveAnonymous(r.Annotations); }
        catch (Core.CrateRunException e) { Warn($"container {r.Id}: its anonymous volumes were not removed: {e.Message}"); }
    }
}
