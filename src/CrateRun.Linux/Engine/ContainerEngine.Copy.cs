using CrateRun.Core;
using CrateRun.Core.State;
using CrateRun.Linux.Process;

namespace CrateRun.Linux.Engine;

/// <summary>`craterun cp`: which tree is the container's root, running or not.</summary>
public sealed partial class ContainerEngine
{
    /// <summary>
    /// The container's root as seen from the host: for a live container /proc/PID/root (lookups
    /// from it walk the container's own mounts: its volumes and tmpfs); else its rootfs directory.
    /// </summary>
    public string CopyRoot(string id)
    {
        var r = Store.Load(id);
        if (CurrentStatus(r) is ContainerStatus.Running or ContainerStatus.Created && r.Pid > 0) return $"/proc/{r.Pid}/root";
        if (r.Rootfs.Length == 0 || !Directory.Exists(r.Rootfs))
            throw new CrateRunException($"container {id} has no root filesystem to copy from or to (status {CurrentStatus(r)})");
        return r.Rootfs;
    }

    public void CopyOut(string id, string containerPath, string hostPath) => ContainerFiles.CopyOut(CopyRoot(id), containerPath, hostPath);

    public void CopyIn(string id, string hostPath, string containerPath) => ContainerFiles.CopyIn(hostPath, CopyRoot(id), containerPath);

    /// <summary>cp CTR:PATH -: the path as a tar stream.</summary>
    public void CopyOutTar(string id, string containerPath, Stream output) => ContainerFiles.WriteTar(CopyRoot(id), containerPath, output);

    /// <summary>cp - CTR:DIR: a tar stream extracted into the container's directory.</summary>
    public int CopyInTar(string id, Stream input, string containerPath) => ContainerFiles.ExtractTar(input, CopyRoot(id), containerPath);
}
